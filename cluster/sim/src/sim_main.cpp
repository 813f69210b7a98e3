// shoal-sim: runs seeds of the deterministic simulation (docs/simulation.md).

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "shoal/cluster/sim.hpp"

namespace shoal::sim {

namespace {

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void print_failure(const RunReport& r, const SimOptions& o) {
  std::cout << "seed " << r.seed << " FAILED (" << r.shape << ", " << r.faults << " faults): " << r.violations.size()
            << " violation(s)\n";
  for (std::size_t i = 0; i < r.violations.size() && i < 10; ++i) std::cout << "  " << r.violations[i] << "\n";
  std::cout << "  again: shoal-sim --seed " << r.seed << (o.faults ? "" : " --no-faults")
            << (o.drop_result ? " --drop-result " + std::to_string(o.drop_result) : std::string()) << " --trace\n";
}

// Leaves out each planned fault in turn, keeping it out while the seed still fails: the
// faults that are left are the ones the failure needs.
void shrink(SimOptions o, const RunReport& first) {
  std::cout << "shrinking seed " << o.seed << " (" << first.planned_faults << " planned faults)\n";
  for (std::uint64_t i = 0; i < first.planned_faults; ++i) {
    auto trial = o;
    trial.without_faults.insert(i);
    if (!simulate(trial).ok()) o = trial;
  }
  std::string kept, args;
  for (std::uint64_t i = 0; i < first.planned_faults; ++i)
    if (!o.without_faults.count(i)) kept += (kept.empty() ? "" : ", ") + std::to_string(i);
  for (auto i : o.without_faults) args += " --without-fault " + std::to_string(i);
  auto r = simulate(o);
  std::cout << "it still fails with fault(s) " << (kept.empty() ? std::string("none") : kept) << " of "
            << first.planned_faults << ":\n  shoal-sim --seed " << o.seed << args << " --trace\n";
  if (!r.violations.empty()) std::cout << "  " << r.violations.front() << "\n";
}

}  // namespace

int sim_main(int argc, char** argv) {
  CLI::App app{
      "shoal-sim: the coordinator, worker and client engines on a virtual clock, a simulated\n"
      "network and disk, and faults, all from one seed (docs/simulation.md). Each run ends with its invariants\n"
      "checked: every accepted task ends (a value or a typed error), each result reaches its client once, no\n"
      "accepted task is lost with a journal on, no task runs without the resources it asked for, values are\n"
      "those due. The same seed gives the same run and trace hash."};
  std::uint64_t seed = 1, seeds = 1;
  bool trace = false, no_faults = false, do_shrink = false, quiet = false;
  SimOptions o;
  std::vector<std::uint64_t> without;
  app.add_option("--seed", seed, "The (first) seed")->capture_default_str();
  app.add_option("--seeds", seeds, "How many seeds, from --seed on")->capture_default_str()->check(CLI::Range(1ull, 1'000'000'000ull));
  app.add_flag("--trace", trace, "Print every event of the run (one seed)");
  app.add_flag("--no-faults", no_faults, "Inject no faults (the seed still shapes the cluster, the work and the delays)");
  app.add_option("--without-fault", without, "Leave out the seed's planned fault N (from 0; repeatable)");
  app.add_flag("--shrink", do_shrink, "For a failing seed: find the planned faults its failure needs");
  app.add_option("--drop-result", o.drop_result,
                 "Test-only: plant a bug (the coordinator drops its Nth result) to see the invariants catch it");
  app.add_flag("-q,--quiet", quiet, "Only failing seeds and the summary");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (trace && seeds != 1) {
    std::cerr << "shoal-sim: --trace prints one run: give one seed (--seed S)\n";
    return 2;
  }
  o.trace = trace;
  o.faults = !no_faults;
  o.without_faults.insert(without.begin(), without.end());

  auto began = std::chrono::steady_clock::now();
  std::uint64_t failed = 0, tasks = 0, faults = 0, virtual_ms = 0, mix = 0xcbf29ce484222325ull;
  for (std::uint64_t s = seed; s < seed + seeds; ++s) {
    o.seed = s;
    RunReport r;
    try {
      r = simulate(o);
    } catch (const std::exception& e) {
      std::cout << "seed " << s << " FAILED: the run threw: " << e.what() << "\n";
      ++failed;
      continue;
    }
    tasks += r.tasks;
    faults += r.faults;
    virtual_ms += r.virtual_ms;
    mix = (mix ^ r.trace_hash) * 0x100000001b3ull;
    if (trace)
      for (auto& line : r.trace) std::cout << line << "\n";
    if (!r.ok()) {
      ++failed;
      print_failure(r, o);
      if (do_shrink && o.faults) shrink(o, r);
    } else if (!quiet && seeds == 1) {
      std::cout << "seed " << s << " held: " << r.shape << "; " << r.tasks << " tasks (" << r.done << " done, "
                << r.failed << " failed), " << r.faults << " faults, " << r.events << " events, "
                << r.virtual_ms << " virtual ms\n";
    }
    if (seeds == 1) std::cout << "trace hash " << hex(r.trace_hash) << "\n";
    if (seeds >= 10'000 && (s - seed + 1) % 5000 == 0)
      std::cerr << "shoal-sim: " << (s - seed + 1) << " of " << seeds << " seeds run, " << failed << " failed\n";
  }
  auto real_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count();
  if (seeds > 1)
    std::cout << seeds << " seeds (" << seed << ".." << seed + seeds - 1 << "): " << (seeds - failed) << " held, "
              << failed << " failed; " << tasks << " tasks, " << faults << " faults, " << virtual_ms / 1000
              << " virtual s in " << real_ms << " ms; hash of the traces " << hex(mix) << "\n";
  return failed ? 1 : 0;
}

}  // namespace shoal::sim
