// Replay bundles without a cluster: saved and loaded, refused when damaged or foreign,
// and run here with their arguments and dependencies (remote/replay.hpp).

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <shoal/remote/map.hpp>
#include <shoal/remote/registry.hpp>
#include <shoal/remote/replay.hpp>
#include <shoal/shoal.hpp>

#include "support/daemons.hpp"

namespace codec = shoal::codec;
namespace remote = shoal::remote;

namespace replay_fns {
std::int64_t halve(std::int64_t x) {
  if (x % 2) throw shoal::ValueError(std::to_string(x) + " is odd");
  return x / 2;
}
SHOAL_REMOTE(halve)
}  // namespace replay_fns

namespace {

remote::ReplayBundle bundle_of(std::int64_t x) {
  auto entry = remote::Registry::global().find("halve");
  REQUIRE(entry);
  remote::ReplayBundle b;
  b.task_id = 7;
  b.function = "halve";
  b.signature = entry->signature;
  b.signature_hash = entry->signature_hash;
  b.args = codec::encode(std::tuple<std::int64_t>{x});
  b.error_type = "shoal::ValueError";
  b.error_message = "as it failed there";
  b.worker = "w3";
  b.host = "h";
  b.pid = 42;
  b.libraries = {"/opt/tasks/libx.so"};
  return b;
}

}  // namespace

TEST_CASE("run_replay calls the registered function with the kept arguments", "[replay]") {
  CHECK(codec::decode<std::int64_t>(remote::run_replay(bundle_of(10))) == 5);
  CHECK_THROWS_WITH(remote::run_replay(bundle_of(3)), "3 is odd");
  auto missing = bundle_of(2);
  missing.function = "no_such_function";
  CHECK_THROWS_AS(remote::run_replay(missing), shoal::NotRegistered);
  auto other = bundle_of(2);
  other.signature_hash ^= 1;
  other.signature = "int64(string)";
  CHECK_THROWS_WITH(remote::run_replay(other), Catch::Contains("is int64(int64) here, but the task was submitted for "
                                                               "int64(string)"));
}

TEST_CASE("a map chunk replays its items in order as a worker runs them, each failure its item's", "[replay]") {
  auto b = bundle_of(0);
  b.method = "map";
  std::vector<shoal::Bytes> items{codec::encode(std::tuple<std::int64_t>{4}), codec::encode(std::tuple<std::int64_t>{5}),
                                  codec::encode(std::tuple<std::int64_t>{6})};
  b.args = codec::encode(std::tuple<std::vector<shoal::Bytes>>{items});
  auto out = codec::decode<std::vector<remote::MapOutcome>>(remote::run_replay(b));
  REQUIRE(out.size() == 3);
  CHECK(codec::decode<std::int64_t>(out[0].value) == 2);
  REQUIRE(out[1].error);
  CHECK(out[1].error->message == "5 is odd");
  CHECK(codec::decode<std::int64_t>(out[2].value) == 3);
}

TEST_CASE("a saved bundle loads back whole and private, and damaged and foreign files are refused", "[replay]") {
  shoal::test::TempDir dir;
  auto b = bundle_of(8);
  b.deps = {codec::encode(std::string("a dependency's value"))};
  remote::save_bundle(b, dir.file("t.replay"));
  CHECK(remote::load_bundle(dir.file("t.replay")) == b);
  CHECK((std::filesystem::status(dir.file("t.replay")).permissions() & std::filesystem::perms::group_all) ==
        std::filesystem::perms::none);
  // An existing file is made private too (O_TRUNC keeps a mode: review finding).
  std::ofstream(dir.file("open.replay")) << "x";
  std::filesystem::permissions(dir.file("open.replay"), std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  remote::save_bundle(b, dir.file("open.replay"));
  CHECK((std::filesystem::status(dir.file("open.replay")).permissions() & std::filesystem::perms::others_all) ==
        std::filesystem::perms::none);
  // Never written through a symlink.
  std::filesystem::create_symlink(dir.file("target"), dir.file("link"));
  CHECK_THROWS(remote::save_bundle(b, dir.file("link")));
  CHECK_FALSE(std::filesystem::exists(dir.file("target")));
  // Not a bundle; a bundle of another format; a truncated one.
  std::ofstream(dir.file("junk")) << "hello";
  CHECK_THROWS_WITH(remote::load_bundle(dir.file("junk")), Catch::Contains("is not a replay bundle"));
  std::string text;
  {
    std::ifstream in(dir.file("t.replay"), std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto version_at = std::string("shoal replay bundle\n").size();
  std::string future = text;
  future[version_at] = 9;
  std::ofstream(dir.file("v9"), std::ios::binary) << future;
  CHECK_THROWS_WITH(remote::load_bundle(dir.file("v9")), Catch::Contains("of format 9; this build reads format 1"));
  std::ofstream(dir.file("cut"), std::ios::binary) << text.substr(0, text.size() - 10);
  CHECK_THROWS_AS(remote::load_bundle(dir.file("cut")), shoal::DecodeError);
  CHECK_THROWS_WITH(remote::load_bundle(dir.file("absent")), Catch::Contains("cannot read the replay bundle"));
}

TEST_CASE("describe_bundle says where the task ran and how it failed", "[replay]") {
  auto b = bundle_of(1);
  b.crash_signal = 11;
  auto text = remote::describe_bundle(b);
  CHECK(text.find("task 7: halve int64(int64), attempt 0") == 0);
  CHECK(text.find("ran on w3 (h, pid 42)") != std::string::npos);
  CHECK(text.find("it crashed its worker: SIGSEGV") != std::string::npos);
  CHECK(text.find("failed with shoal::ValueError: as it failed there") != std::string::npos);
}
