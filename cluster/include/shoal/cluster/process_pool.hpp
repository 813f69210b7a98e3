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
#include <span>
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

  /// Python's Executor.map(fn, *iterables, timeout, chunksize): fn(x, y, ...) for every
  /// element of the ranges (zipped, shortest wins), submitted at once in chunks (one task
  /// each, its items called in turn by one worker); the results read lazily in input
  /// order, each item's exception thrown at that item. A trailing MapOptions (chunksize,
  /// 0 = automatic: about four chunks per worker; timeout) or a duration (the timeout) may
  /// follow the ranges:
  ///
  ///     for (auto v : pool.map(&fn, xs, ys, shoal::MapOptions{.chunksize = 64})) ...
  ///     auto all = pool.map(&fn, xs).to_vector();
  template <typename R, typename... P, typename... Args>
  auto map(R (*fn)(P...), const Args&... args) {
    check();
    const auto& entry = remote::detail::find_cached(reinterpret_cast<void (*)()>(fn));
    if (!entry)
      throw NotRegistered("the function passed to ProcessPoolExecutor::map", "this process (register it with SHOAL_REMOTE)");
    using T = typename remote::detail::coro_traits<R>::value;
    auto results = cluster_->client().map_entry<T, std::decay_t<P>...>(*entry, slots_, args...);
    std::vector<detail::StateBase*> states;
    states.reserve(results.size());
    for (const auto& f : results.futures()) states.push_back(f.state());
    track_all(states);
    return results;
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
  void track_all(std::span<detail::StateBase* const> states);

  std::unique_ptr<LocalCluster> cluster_;
  std::size_t slots_ = 1;  // its processes: map's automatic chunk size
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace shoal
