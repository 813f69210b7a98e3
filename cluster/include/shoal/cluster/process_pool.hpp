#pragma once
/// \file
/// ProcessPoolExecutor: Python's concurrent.futures.ProcessPoolExecutor. Its workers are
/// this same program re-executed in worker mode (multiprocessing's spawn), so every
/// function registered with SHOAL_REMOTE can be submitted:
///
///     std::int64_t cpu_heavy(std::int64_t n);
///     SHOAL_REMOTE(cpu_heavy)
///
///     shoal::ProcessPoolExecutor pool(4);
///     auto f = pool.submit(&cpu_heavy, 30);         // shoal::Future<std::int64_t>
///     for (auto v : pool.map(&cpu_heavy, std::vector<std::int64_t>{1, 2, 3})) ...
///     pool.shutdown();                              // the destructor does it too
///
/// Differences from Python, by design: a worker that dies has its running task retried
/// on another (up to 3 times, then WorkerLost) and is replaced; the pool breaks
/// (BrokenExecutor) only when a worker's initializer fails.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/cluster/local_cluster.hpp"

namespace shoal {

struct ProcessPoolOptions {
  /// A worker exits after this many tasks and is replaced (0: never).
  std::uint32_t max_tasks_per_child = 0;
  /// Runs in each worker before it takes tasks: a registered function and its arguments
  /// (Registry::global().prepare(&fn, args...)). If it throws, the pool is broken.
  std::optional<remote::PreparedCall> initializer{};
};

class ProcessPoolExecutor {
 public:
  /// `max_workers` processes (0: one per core), one task at a time each.
  explicit ProcessPoolExecutor(unsigned max_workers = 0, ProcessPoolOptions options = {});
  ~ProcessPoolExecutor();
  ProcessPoolExecutor(const ProcessPoolExecutor&) = delete;
  ProcessPoolExecutor& operator=(const ProcessPoolExecutor&) = delete;

  /// Runs fn(args...) in a worker. InvalidStateError after shutdown(); BrokenExecutor
  /// once an initializer failed.
  template <typename R, typename... P, typename... A>
  auto submit(R (*fn)(P...), A&&... args) {
    check();
    auto f = cluster_->client().submit(fn, std::forward<A>(args)...);
    track(f.state());
    return f;
  }

  /// Python's Executor.map: fn(x) for every x, submitted at once; the results in order.
  template <typename R, typename P, typename Range>
  auto map(R (*fn)(P), const Range& xs) {
    using T = typename remote::detail::coro_traits<R>::value;
    std::vector<Future<T>> fs;
    for (const auto& x : xs) fs.push_back(submit(fn, x));
    std::vector<T> out;
    out.reserve(fs.size());
    for (auto& f : fs) out.push_back(f.result());
    return out;
  }

  /// Python's shutdown(wait, cancel_futures): no more submits; with cancel_futures the
  /// pending ones are cancelled; with wait, blocks until the rest finished and the
  /// workers exited.
  void shutdown(bool wait = true, bool cancel_futures = false);

  [[nodiscard]] std::vector<pid_t> worker_pids() const { return cluster_->worker_pids(); }
  [[nodiscard]] LocalCluster& cluster() noexcept { return *cluster_; }

 private:
  void check();
  void track(detail::StateBase* state);

  std::unique_ptr<LocalCluster> cluster_;
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace shoal
