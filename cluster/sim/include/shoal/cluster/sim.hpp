#pragma once
/// \file
/// The deterministic simulation (`shoal-sim`, docs/simulation.md): the real coordinator
/// engine, real worker engines and real clients (remote::Client's engine), over
/// in-process connections, on a virtual clock, a simulated network and a paced
/// disk, all driven by one seed. Faults come from the seed (worker kills, coordinator kills and restarts on
/// its journal, broken connections, delayed and reordered deliveries, slow and failing
/// journal writes, wall-clock jumps); after the run its invariants are checked. The same
/// seed gives the same run: the same events, the same trace hash.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace shoal::sim {

struct SimOptions {
  std::uint64_t seed = 1;
  /// Keep every event's line (RunReport::trace); the hash is computed either way.
  bool trace = false;
  /// No faults: the seed still shapes the cluster, the work and the network's delays.
  bool faults = true;
  /// Planted bug (test-only): the coordinator drops the nth result a worker reports (0:
  /// none). The invariants must catch it.
  std::uint64_t drop_result = 0;
  /// Faults the seed planned that are left out (by their number, from 0): shrinking a
  /// failing seed to the faults it needs.
  std::set<std::uint64_t> without_faults;
};

struct RunReport {
  std::uint64_t seed = 0;
  std::uint64_t trace_hash = 0;  // FNV-1a over every event's line
  std::uint64_t events = 0;
  std::uint64_t virtual_ms = 0;  // how long the run lasted on the virtual clock
  std::uint64_t tasks = 0, done = 0, failed = 0;  // as the clients saw them
  std::uint64_t faults = 0;          // injected (a planned fault may find nothing to do)
  std::uint64_t planned_faults = 0;  // the seed's plan
  std::string shape;  // "4 workers (1 with a gpu), 2 clients, journal on"
  std::vector<std::string> violations;
  std::vector<std::string> trace;  // with SimOptions::trace
  [[nodiscard]] bool ok() const noexcept { return violations.empty(); }
};

/// Runs one seed to its end and checks the invariants.
[[nodiscard]] RunReport simulate(const SimOptions& options);

/// `shoal-sim`'s main: flags, a run per seed, a line per failing seed. Returns the exit
/// status (0 every seed held, 1 one did not, 2 bad flags).
int sim_main(int argc, char** argv);

}  // namespace shoal::sim
