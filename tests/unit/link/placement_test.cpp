// The placement vocabulary: resources as flags spell them, labels, the canonical key the
// journal keeps.

#include <catch2/catch.hpp>

#include "shoal/core/error.hpp"
#include "shoal/link/placement.hpp"

using Catch::Matchers::Contains;
using namespace shoal::link;
using shoal::ValueError;

TEST_CASE("resources parse as shoal-worker --resources spells them", "[link][placement]") {
  auto r = parse_resources("cpu=8, memory=16G,gpu=1,licence=2,scratch_memory=512Mi,half=0.5");
  CHECK(r.at("cpu") == 8);
  CHECK(r.at("memory") == 16.0 * (1 << 30));
  CHECK(r.at("gpu") == 1);
  CHECK(r.at("licence") == 2);
  CHECK(r.at("scratch_memory") == 512.0 * (1 << 20));
  CHECK(r.at("half") == 0.5);
  CHECK(parse_resources("").empty());
  CHECK(format_resources(parse_resources("memory=16G,gpu=1,cpu=0.25")) == "cpu=0.25,gpu=1,memory=16G");
  using namespace shoal::literals;
  CHECK(4_GiB == 4.0 * (1 << 30));
}

TEST_CASE("bad resources are refused naming the part that is wrong", "[link][placement]") {
  CHECK_THROWS_MATCHES(parse_resources("gpu"), ValueError, Catch::Matchers::Message(
      "resources: 'gpu' is not NAME=AMOUNT (e.g. gpu=1, memory=16G)"));
  CHECK_THROWS_WITH(parse_resources("gpu=one"), Contains("'one' is not an amount"));
  CHECK_THROWS_WITH(parse_resources("gpu=-1"), Contains("must be 0 to 1e14"));
  CHECK_THROWS_WITH(parse_resources("gpu=1e15"), Contains("must be 0 to 1e14"));
  CHECK_THROWS_WITH(parse_resources("g pu=1"), Contains("is not a name"));
  CHECK_THROWS_WITH(parse_resources("gpu=1,gpu=2"), Contains("given twice"));
  CHECK_THROWS_WITH(check_resources({{"nan", std::nan("")}}), Contains("must be 0 to 1e14"));
  std::string many;
  for (int i = 0; i < 40; ++i) many += "r" + std::to_string(i) + "=1,";
  CHECK_THROWS_WITH(parse_resources(many), Contains("at most 32 kinds"));
}

TEST_CASE("labels are KEY=VALUE, selector terms may say !=", "[link][placement]") {
  CHECK_NOTHROW(check_label("zone=a"));
  CHECK_NOTHROW(check_label("rack=r1/a:2"));
  CHECK_THROWS_WITH(check_label("zone"), Contains("is not KEY=VALUE"));
  CHECK_THROWS_WITH(check_label("zone!=a"), Contains("is not KEY=VALUE"));
  CHECK_THROWS_WITH(check_label("zone=a b"), Contains("the value is at most"));
  CHECK_NOTHROW(check_selector_term("disk!=hdd"));
  auto t = split_term("disk!=hdd");
  CHECK(t.key == "disk");
  CHECK(t.value == "hdd");
  CHECK(t.negate);
}

TEST_CASE("a placement's key is canonical and reads back the same", "[link][placement]") {
  Placement empty;
  CHECK(placement_key(empty).empty());
  CHECK(placement_key({.resources = {{"gpu", 0}}}).empty());  // asking for none is not asking
  Placement p{.resources = {{"memory", 4.0 * (1 << 30)}, {"gpu", 0.5}},
              .labels = {.required = {"zone=a", "disk!=hdd", "zone=a"}, .preferred = {"rack=1"}},
              .strategy = shoal::Strategy::pack,
              .priority = -3};
  auto key = placement_key(p);
  CHECK(key == "gpu=0.5,memory=4294967296;disk!=hdd,zone=a;rack=1;pack;-3");
  auto back = parse_placement_key(key);
  CHECK(placement_key(back) == key);
  CHECK(back.strategy == shoal::Strategy::pack);
  CHECK(back.priority == -3);
  CHECK(describe(p) == "gpu=0.5 memory=4G, zone=a, disk!=hdd, zone=a, prefers rack=1, pack, priority -3");
  CHECK_THROWS_AS(parse_placement_key("gpu=1;;"), ValueError);
  CHECK_THROWS_AS(parse_placement_key("gpu=1;;;sideways;0"), ValueError);
}

TEST_CASE("the machine offers its cores and its memory", "[link][placement]") {
  auto r = machine_resources();
  CHECK(r.at("cpu") >= 1);
  CHECK(r.at("memory") > 1 << 20);
}
