// The deterministic simulation (cluster/sim, docs/simulation.md): the CI-sized run of
// `make test`, the same seed giving the same run, and a planted bug caught.

#include <catch2/catch.hpp>

#include <string>

#include "shoal/cluster/sim.hpp"

using shoal::sim::RunReport;
using shoal::sim::SimOptions;
using shoal::sim::simulate;

namespace {

// Runs seeds [first, first + n): the reports of those that failed.
std::vector<RunReport> failing(std::uint64_t first, std::uint64_t n, SimOptions o = {}) {
  std::vector<RunReport> bad;
  for (auto s = first; s < first + n; ++s) {
    o.seed = s;
    auto r = simulate(o);
    if (!r.ok()) bad.push_back(std::move(r));
  }
  return bad;
}

std::string describe(const std::vector<RunReport>& bad) {
  std::string out;
  for (auto& r : bad) out += "seed " + std::to_string(r.seed) + " (" + r.shape + "): " + r.violations.front() + "\n";
  return out;
}

}  // namespace

// The CI-sized run: 300 seeds with faults, in six parts (ctest runs them side by side).
#define SHOAL_SEEDS(first, last)                                                               \
  TEST_CASE("simulation: seeds " #first " to " #last " hold their invariants under faults", "[sim]") { \
    auto bad = failing(first, (last) - (first) + 1);                                           \
    INFO(describe(bad));                                                                        \
    CHECK(bad.empty());                                                                         \
  }
SHOAL_SEEDS(1, 50)
SHOAL_SEEDS(51, 100)
SHOAL_SEEDS(101, 150)
SHOAL_SEEDS(151, 200)
SHOAL_SEEDS(201, 250)
SHOAL_SEEDS(251, 300)
#undef SHOAL_SEEDS

TEST_CASE("simulation: the same seed gives the same run, event for event", "[sim]") {
  SimOptions o;
  o.seed = 42;
  o.trace = true;
  auto a = simulate(o);
  auto b = simulate(o);
  REQUIRE(a.events > 100);
  CHECK(a.faults + a.tasks > 0);
  CHECK(a.trace_hash == b.trace_hash);
  CHECK(a.trace == b.trace);
  o.seed = 43;
  auto c = simulate(o);
  CHECK(c.trace_hash != a.trace_hash);
  // The trace hash does not depend on keeping the trace.
  o.seed = 42;
  o.trace = false;
  CHECK(simulate(o).trace_hash == a.trace_hash);
}

TEST_CASE("simulation: a run without faults is the same run but for the faults", "[sim]") {
  SimOptions o;
  o.seed = 9;
  o.faults = false;
  auto r = simulate(o);
  CHECK(r.ok());
  CHECK(r.faults == 0);
  CHECK(r.tasks > 0);
}

// The invariants are not vacuous: a coordinator that drops one result (a test-only
// switch in the engine) is caught within the CI-sized run, and the report says which task.
TEST_CASE("simulation: a planted bug, one dropped result, is caught", "[sim]") {
  SimOptions o;
  o.drop_result = 20;
  auto bad = failing(1, 100, o);
  REQUIRE_FALSE(bad.empty());
  bool never_ended = false;
  for (auto& r : bad)
    for (auto& v : r.violations) never_ended = never_ended || v.find("never ended") != std::string::npos;
  CHECK(never_ended);
}

// Leaving out a seed's planned faults (--without-fault, --shrink) keeps the rest of the run.
TEST_CASE("simulation: leaving out a planned fault changes only what it did", "[sim]") {
  SimOptions o;
  std::uint64_t seed = 1;
  RunReport full;
  for (; seed < 50; ++seed) {  // a seed whose plan has a fault that did something
    o.seed = seed;
    full = simulate(o);
    if (full.faults > 0) break;
  }
  REQUIRE(full.faults > 0);
  for (std::uint64_t i = 0; i < full.planned_faults; ++i) o.without_faults.insert(i);
  auto none = simulate(o);
  CHECK(none.faults == 0);
  CHECK(none.ok());
  SimOptions off;
  off.seed = seed;
  off.faults = false;
  CHECK(simulate(off).trace_hash == none.trace_hash);
}
