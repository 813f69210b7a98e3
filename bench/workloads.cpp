// Workloads a user runs every day, on LocalCluster(2) (this binary re-executed as its
// workers, so the functions below exist there):
//   bench_workloads b5 N ROUNDS        N remote coroutine tasks each sleeping 10 ms: ms for
//                                      all of them, beside the ideal (10 ms: they overlap)
//   bench_workloads b6 ID CALLS US ROUNDS
//                                      a CPU-bound map: CALLS calls busy for US us each on 2
//                                      one-thread workers: the speedup over running them one
//                                      after another in this process (B6: 64 x 7.5 ms; B6s:
//                                      the same with 0.1 ms calls)
//   bench_workloads idle SECONDS ROUNDS
//                                      an idle LocalCluster(2) (registered, one task run):
//                                      the CPU its processes use, in % of one core, from
//                                      /proc, beside the goal (1%)

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster_common.hpp"
#include "common.hpp"
#include "shoal/cluster/local_cluster.hpp"
#include "shoal/core/sleep.hpp"

shoal::Coro<std::int64_t> nap_ms(std::int64_t ms) {
  co_await shoal::sleep(std::chrono::milliseconds(ms));
  co_return ms;
}
SHOAL_REMOTE(nap_ms)

// Busy for `us` microseconds: a CPU-bound call.
std::int64_t burn_us(std::int64_t us) {
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  std::int64_t spins = 0;
  while (std::chrono::steady_clock::now() < until) ++spins;
  return spins > 0 ? us : 0;
}
SHOAL_REMOTE(burn_us)

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int b5(int n, int rounds) {
  shoal::LocalCluster local(2, {.threads_per_worker = 1});
  auto& client = local.client();
  shoal::bench::wait_workers(client, 2);
  auto once = [&] {
    auto t0 = Clock::now();
    std::vector<shoal::Future<std::int64_t>> fs;
    fs.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) fs.push_back(client.submit(&nap_ms, std::int64_t{10}));
    for (auto& f : fs)
      if (f.result() != 10) std::abort();
    return seconds_since(t0) * 1000;
  };
  (void)once();
  std::vector<double> ms, ideal;
  for (int r = 0; r < rounds; ++r) {
    ms.push_back(once());
    ideal.push_back(10.0);
  }
  shoal::bench::print_result("B5", nullptr, "ms", ms);
  shoal::bench::print_result("B5", "ideal (10 ms, all overlapping)", "ms", ideal);
  return 0;
}

int b6(const char* id, int calls, int us, int rounds) {
  shoal::LocalCluster local(2, {.threads_per_worker = 1});
  auto& client = local.client();
  shoal::bench::wait_workers(client, 2);
  std::vector<double> speedups;
  for (int r = 0; r <= rounds; ++r) {  // round 0 warms up
    auto t0 = Clock::now();
    for (int i = 0; i < calls; ++i) (void)burn_us(us);
    double sequential = seconds_since(t0);
    t0 = Clock::now();
    std::vector<shoal::Future<std::int64_t>> fs;
    for (int i = 0; i < calls; ++i) fs.push_back(client.submit(&burn_us, std::int64_t{us}));
    for (auto& f : fs)
      if (f.result() != us) std::abort();
    double parallel = seconds_since(t0);
    if (r > 0) speedups.push_back(sequential / parallel);
  }
  shoal::bench::print_result(id, nullptr, "speedup", speedups);
  return 0;
}

// CPU time (clock ticks) of this process and its children, from /proc.
long long cpu_ticks() {
  auto ticks_of = [](const std::string& stat_path, int& ppid) -> long long {
    std::ifstream in(stat_path);
    std::string line;
    if (!std::getline(in, line)) return -1;
    auto close = line.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    long long f[20] = {};
    rest >> state;
    for (auto& v : f) rest >> v;  // fields 4.. : ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    ppid = static_cast<int>(f[0]);
    return f[10] + f[11];
  };
  int self = ::getpid(), ppid = 0;
  long long total = ticks_of("/proc/self/stat", ppid);
  if (DIR* d = ::opendir("/proc")) {
    while (auto* e = ::readdir(d)) {
      int pid = std::atoi(e->d_name);
      if (pid <= 0 || pid == self) continue;
      auto t = ticks_of("/proc/" + std::to_string(pid) + "/stat", ppid);
      if (t >= 0 && ppid == self) total += t;
    }
    ::closedir(d);
  }
  return total;
}

int idle(int seconds, int rounds) {
  shoal::LocalCluster local(2);
  auto& client = local.client();
  shoal::bench::wait_workers(client, 2);
  if (client.submit(&nap_ms, std::int64_t{1}).result() != 1) std::abort();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the start's own work settles
  double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::vector<double> percent, goal;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    auto c0 = cpu_ticks();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    auto used = static_cast<double>(cpu_ticks() - c0) / hz;
    percent.push_back(100.0 * used / seconds_since(t0));
    goal.push_back(1.0);
  }
  shoal::bench::print_result("IDLE", nullptr, "% of a core", percent);
  shoal::bench::print_result("IDLE", "goal (1% of a core)", "% of a core", goal);
  return 0;
}

int run_mode(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "b5";
  auto arg = [&](int i, int fallback) { return argc > i ? std::atoi(argv[i]) : fallback; };
  if (mode == "b5") return b5(arg(2, 1000), arg(3, 5));
  if (mode == "b6") return b6(argc > 2 ? argv[2] : "B6", arg(3, 64), arg(4, 7500), arg(5, 5));
  if (mode == "idle") return idle(arg(2, 10), arg(3, 1));
  std::fprintf(stderr, "usage: bench_workloads b5 N ROUNDS | b6 ID CALLS US ROUNDS | idle SECONDS ROUNDS\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_mode(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_workloads %s: %s\n", argc > 1 ? argv[1] : "b5", e.what());
    return 1;
  }
}
