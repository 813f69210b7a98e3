#pragma once
/// \file
/// ThreadPoolExecutor: Python's concurrent.futures.ThreadPoolExecutor. submit() returns
/// the same Future<T> a coroutine awaits, gathers or waits on.

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "shoal/core/future.hpp"
#include "shoal/exec/map_results.hpp"

namespace shoal::detail {
/// True once exit() has begun (main returned, or exit() was called).
bool program_exiting() noexcept;
/// Throws InvalidStateError naming `executor` once exit() has begun.
void refuse_if_exiting(const char* executor);
}  // namespace shoal::detail

namespace shoal {

struct ThreadPoolOptions {
  /// Worker threads are named "<prefix>_<n>" (the OS keeps 15 characters).
  std::string thread_name_prefix = "shoal-pool";
  /// Runs first in every worker thread. If it throws, the pool is broken: pending and
  /// later submissions fail with BrokenExecutor.
  std::function<void()> initializer = {};
};

namespace detail {

/// A queued call: the pool runs it once, or drops it (shutdown with cancel_futures, a
/// broken pool). Owned by the queue through one reference.
class WorkItem {
 public:
  WorkItem* next_ = nullptr;
  virtual void run() noexcept = 0;
  /// Never runs: cancelled (`e` null) or failed with `e`.
  virtual void drop(std::exception_ptr e) noexcept = 0;

 protected:
  ~WorkItem() = default;
};

template <typename R, typename Call>
class PoolCall final : public State<R>, public WorkItem {
 public:
  explicit PoolCall(Call c) : call_(std::in_place, std::move(c)) {}
  void run() noexcept override {
    Ref<PoolCall> self = Ref<PoolCall>::adopt(this);  // the queue's reference
    bool go = false;
    try {
      go = this->set_running_or_notify_cancel();
    } catch (const InvalidStateError&) {
      // Completed by hand (set_result on the future) before it ran: leave it alone.
    }
    if (!go) {
      call_.reset();
      return;
    }
    // The call and its arguments are destroyed before the result is published: the
    // future, which lives in this same allocation, keeps only the result (Python's worker
    // drops the work item after running it).
    try {
      if constexpr (std::is_void_v<R>) {
        (*call_)();
        call_.reset();
        this->try_set_value();
      } else {
        R r = (*call_)();
        call_.reset();
        this->try_set_value(std::move(r));
      }
    } catch (...) {
      call_.reset();
      this->try_set_exception(std::current_exception());
    }
  }
  void drop(std::exception_ptr e) noexcept override {
    Ref<PoolCall> self = Ref<PoolCall>::adopt(this);
    call_.reset();
    if (e)
      this->try_set_exception(std::move(e));
    else
      this->cancel();
  }

 private:
  std::optional<Call> call_;  // empty once run or dropped
};

class PoolCore;

}  // namespace detail

/// A pool of at most max_workers threads running submitted calls in FIFO order.
///     shoal::ThreadPoolExecutor pool(8);
///     auto f = pool.submit(add, 2, 3);
///     int five = f.result();                 // or, in a coroutine: co_await f.wait()
/// The destructor is Python's `with` exit: shutdown(wait=true).
class ThreadPoolExecutor {
 public:
  /// Python's default: min(32, cpu_count + 4).
  static std::size_t default_max_workers() noexcept;

  explicit ThreadPoolExecutor(std::size_t max_workers = default_max_workers(),
                              ThreadPoolOptions options = {});
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;
  ~ThreadPoolExecutor();

  /// Schedules fn(args...) (copied or moved in) and returns its future. Throws
  /// InvalidStateError after shutdown, BrokenExecutor when the pool is broken.
  template <typename F, typename... A>
  auto submit(F&& fn, A&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>;
    auto call = [fn = std::forward<F>(fn), ... args = std::forward<A>(args)]() mutable -> R {
      return std::invoke(fn, args...);
    };
    using Item = detail::PoolCall<R, decltype(call)>;
    auto* item = new Item(std::move(call));
    Future<R> fut = Future<R>::from_state(detail::Ref<detail::State<R>>(item));
    enqueue(item);  // takes the reference `new` gave
    return fut;
  }

  /// Python's Executor.map: submits fn(x, y, ...) for every element of the ranges at
  /// once (zipped, shortest wins); the returned sequence yields results in input order,
  /// blocking for each and rethrowing its exception. A trailing std::chrono duration is
  /// an overall timeout (TimeoutError when an item is not ready by then). Dropping the
  /// sequence once an item was reached cancels what has not started; dropping it unread
  /// lets every call run.
  template <typename F, typename... Args>
  auto map(F fn, const Args&... args);

  /// Stops accepting work. cancel_futures cancels what has not started; wait joins the
  /// threads after they finish the rest. Idempotent.
  void shutdown(bool wait = true, bool cancel_futures = false);

  [[nodiscard]] std::size_t max_workers() const noexcept;
  /// Threads started so far (they start on demand, up to max_workers).
  [[nodiscard]] std::size_t thread_count() const noexcept;

 private:
  void enqueue(detail::WorkItem* item);
  template <typename R, typename F, typename Tuple, std::size_t... I>
  auto map_impl(F& fn, const Tuple& ranges, std::optional<std::chrono::nanoseconds> timeout,
                std::index_sequence<I...>);

  std::unique_ptr<detail::PoolCore> core_;
};

template <typename R, typename F, typename Tuple, std::size_t... I>
auto ThreadPoolExecutor::map_impl(F& fn, const Tuple& ranges,
                                  std::optional<std::chrono::nanoseconds> timeout,
                                  std::index_sequence<I...>) {
  std::vector<Future<R>> fs;
  auto its = std::make_tuple(std::begin(std::get<I>(ranges))...);
  auto ends = std::make_tuple(std::end(std::get<I>(ranges))...);
  while (((std::get<I>(its) != std::get<I>(ends)) && ...)) {
    fs.push_back(submit(fn, *std::get<I>(its)...));
    (++std::get<I>(its), ...);
  }
  return MapResults<R>(std::move(fs), timeout);
}

template <typename F, typename... Args>
auto ThreadPoolExecutor::map(F fn, const Args&... args) {
  constexpr std::size_t n = sizeof...(Args);
  auto all = std::forward_as_tuple(args...);
  using Last = std::remove_cvref_t<std::tuple_element_t<n - 1, std::tuple<Args...>>>;
  if constexpr (detail::is_duration<Last>::value) {
    auto timeout = detail::saturate_ns(std::get<n - 1>(all));  // a huge one means none
    auto idx = std::make_index_sequence<n - 1>{};
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      using R = std::invoke_result_t<F&, const std::remove_cvref_t<decltype(*std::begin(std::get<I>(all)))>&...>;
      return map_impl<R>(fn, all, timeout, std::index_sequence<I...>{});
    }(idx);
  } else {
    using R = std::invoke_result_t<F&, const std::remove_cvref_t<decltype(*std::begin(args))>&...>;
    return map_impl<R>(fn, all, std::nullopt, std::make_index_sequence<n>{});
  }
}

}  // namespace shoal
