#pragma once
/// \file
/// Loop: an event loop (one Asio io_context run by one thread), and run(), Python's
/// asyncio.run(). There is no hidden global loop: run() makes one, and code running on it
/// finds it with get_running_loop().

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

#include "shoal/core/coro.hpp"
#include "shoal/core/error.hpp"
#include "shoal/sync/deadline.hpp"

namespace shoal {

class Loop;
namespace detail {
class TaskCore;
struct TimerState;
/// The loop running on this thread, or null.
Loop* running_loop() noexcept;
}  // namespace detail

/// What call_soon, call_later and call_at return (Python's asyncio.Handle and
/// TimerHandle): cancel() stops the call if it has not started. Copies share the call.
class TimerHandle {
 public:
  using Clock = std::chrono::steady_clock;
  TimerHandle() = default;
  /// Prevents the call from running; a call already running or done is not affected.
  /// Safe from any thread. Idempotent.
  void cancel() noexcept;
  [[nodiscard]] bool cancelled() const noexcept;
  /// When the call is due (call_soon: when it was scheduled).
  [[nodiscard]] Clock::time_point when() const noexcept;

 private:
  friend class Loop;
  explicit TimerHandle(std::shared_ptr<detail::TimerState> st) noexcept : st_(std::move(st)) {}
  std::shared_ptr<detail::TimerState> st_;
};

/// An event loop. Tasks created on it belong to it: when the loop shuts down it cancels
/// those still running and waits for them to finish.
class Loop {
 public:
  Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  /// Shuts down (see shutdown()) if that was not done.
  ~Loop();

  /// Runs `main` as a task until it completes and returns its result (or throws its
  /// exception, or CancelledError). Other tasks keep their state for a later run.
  template <typename T>
  T run_until_complete(Coro<T> main);

  /// Runs what is ready now (handlers, tasks due to resume, timers that are due) without
  /// waiting, as this thread's running loop, and returns how many handlers ran. For a
  /// program that drives the loop from its own (a GUI's, the simulation's): call it
  /// until it returns 0 to run everything that became ready meanwhile. InvalidStateError
  /// on a thread that runs a loop already, or after shutdown().
  std::size_t poll();

  /// Cancels every task still running, runs the loop until they have finished, and stops
  /// the default thread pool (waiting for its running calls). Idempotent.
  void shutdown();

  /// Schedules `fn` to run on the loop's thread; safe from any thread (Python's
  /// call_soon_threadsafe). Runs when the loop next runs.
  template <typename F>
  void call_soon_threadsafe(F&& fn) {
    asio::post(*ctx_, std::forward<F>(fn));
  }

  /// Python's call_soon: runs `fn` on the loop's thread at its next turn, after what is
  /// already scheduled; the handle can cancel it. Safe from any thread.
  TimerHandle call_soon(std::function<void()> fn);
  /// Python's call_later: runs `fn` on the loop's thread once `delay` has passed (a
  /// negative delay is none; one too large to count, never). Safe from any thread.
  template <typename Rep, typename Period>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, std::function<void()> fn) {
    return call_at(detail::deadline_after(detail::saturate_ns(delay)), std::move(fn));
  }
  /// Python's call_at, on std::chrono::steady_clock (the loop's clock).
  TimerHandle call_at(std::chrono::steady_clock::time_point when, std::function<void()> fn);

  /// The executor of the loop's io_context.
  [[nodiscard]] Executor get_executor() noexcept { return ctx_->get_executor(); }
  [[nodiscard]] asio::io_context& context() noexcept { return *ctx_; }
  /// Weak ownership of the io_context, for threads that post to it.
  [[nodiscard]] std::weak_ptr<asio::io_context> context_weak() const noexcept { return ctx_; }
  /// True while run_until_complete() runs on some thread.
  [[nodiscard]] bool is_running() const noexcept { return running_.load(std::memory_order_acquire); }
  /// Tasks created on this loop that have started and not finished.
  [[nodiscard]] std::size_t task_count() const noexcept { return task_count_; }
  /// True once shutdown() began: tasks that have not started yet never will.
  [[nodiscard]] bool closing() const noexcept { return shut_down_.load(std::memory_order_acquire); }

  /// The pool behind to_thread() (Python's default executor), created on first use.
  asio::thread_pool& default_executor();

  // Used by tasks (loop thread only).
  void register_task(detail::TaskCore* t) noexcept;
  void unregister_task(detail::TaskCore* t) noexcept;
  /// Queues a task to start; one posted drain starts every task queued before it runs.
  void enqueue_launch(detail::TaskCore* t) noexcept;

 private:
  class Running {
   public:
    explicit Running(Loop& loop);
    ~Running();

   private:
    Loop& loop_;
    Loop* outer_;
  };
  void cancel_all_tasks();
  void drain_launches() noexcept;

  // Shared so that a thread inside asio::post to this loop (waking a coroutine) keeps the
  // io_context alive even if the loop is destroyed meanwhile: see Sleeper::fire.
  std::shared_ptr<asio::io_context> ctx_ = std::make_shared<asio::io_context>(1);
  // Atomic: other threads may ask while the loop starts or stops.
  std::atomic<bool> running_{false};
  std::atomic<bool> shut_down_{false};
  detail::TaskCore* tasks_ = nullptr;  // intrusive list of live tasks
  std::size_t task_count_ = 0;
  detail::TaskCore* launch_head_ = nullptr;  // tasks created, not started yet (FIFO)
  detail::TaskCore* launch_tail_ = nullptr;
  std::once_flag pool_once_;
  std::unique_ptr<asio::thread_pool> pool_;
};

/// The loop running on this thread; throws InvalidStateError when there is none
/// (Python's asyncio.get_running_loop()).
Loop& get_running_loop();

/// Runs `main` on a new loop, shuts the loop down (cancelling what is left), and returns
/// main's result: Python's asyncio.run(). Throws InvalidStateError when called from a
/// thread that is already running a loop.
///     int main() { return shoal::run(amain()); }
template <typename T>
T run(Coro<T> main) {
  // Refused before a Loop exists: destroying one on a thread running another loop
  // cannot shut it down (and reports that on stderr).
  if (detail::running_loop())
    throw InvalidStateError("this thread is already running an event loop: await instead of calling run()");
  Loop loop;
  if constexpr (std::is_void_v<T>) {
    loop.run_until_complete(std::move(main));
    loop.shutdown();
  } else {
    T result = loop.run_until_complete(std::move(main));
    loop.shutdown();
    return result;
  }
}

}  // namespace shoal

#include "shoal/core/task.hpp"

namespace shoal {

template <typename T>
Task<T> create_task(Coro<T> coro, CreateTaskOptions opts) {
  return create_task(get_running_loop().get_executor(), std::move(coro), std::move(opts));
}

template <typename T>
Task<T> create_task(Loop& loop, Coro<T> coro, CreateTaskOptions opts) {
  return create_task(loop.get_executor(), std::move(coro), std::move(opts));
}

template <typename T>
T Loop::run_until_complete(Coro<T> main) {
  if (shut_down_) throw InvalidStateError("run_until_complete() on a loop that was shut down");
  Running guard(*this);  // makes this the running loop of this thread
  Task<T> task = create_task(*this, std::move(main));
  // Stops the loop when main completes during this call only: if the loop was stopped
  // first (context().stop()), main completes later, in another run or in shutdown(),
  // and must not stop that one.
  auto this_run = std::make_shared<bool>(true);
  struct EndRun {
    std::shared_ptr<bool> flag;
    ~EndRun() { *flag = false; }
  } end_run{this_run};
  task.add_done_callback([this, this_run](const auto&) {
    if (*this_run) ctx_->stop();
  });
  // Holds the loop open while main waits on something no Asio operation tracks.
  auto work = asio::make_work_guard(*ctx_);
  ctx_->restart();
  ctx_->run();
  if (!task.done())
    throw InvalidStateError("the loop stopped before the main task completed");
  return Future<T>::take(task.state_ref());
}

}  // namespace shoal
