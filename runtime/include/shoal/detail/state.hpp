#pragma once
// The shared state behind Future<T>, Task<T> and Promise<T>: one allocation, a small
// mutex that is never held while user code runs, and an intrusive FIFO list of waiters
// (so awaiting or gathering allocates no node per waiter).

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "shoal/core/coro.hpp"
#include "shoal/core/error.hpp"
#include "shoal/detail/ref.hpp"
#include "shoal/detail/spin_lock.hpp"

namespace shoal::detail {

/// Python's future states, plus `running` from concurrent.futures (a running future can no
/// longer be cancelled).
enum class Phase : std::uint8_t { pending, running, finished, cancelled };

/// A node in a state's waiter list. `notify` runs once, after the state completed, on the
/// completing thread, with no lock held. The node must stay alive until notify returns or
/// remove_waiter() returned true.
struct Waiter {
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  void (*notify)(Waiter* self) noexcept = nullptr;
};

/// A done-callback's node: a waiter whose notify hands it to where it runs.
struct Callback : Waiter {
  /// Runs the user's function and frees the node.
  void (*run)(Callback* self) noexcept = nullptr;
  /// Frees the node without running it (its loop went away first).
  void (*drop)(Callback* self) noexcept = nullptr;
};

/// Posts `cb` to `ex` to run there; a loop destroyed before it runs drops it. Always
/// consumes `cb`: when the post itself fails (out of memory) the callback is dropped and
/// reported (it must not run, nor be freed again).
void post_callback_to(const Executor& ex, Callback* cb) noexcept;

/// Told when this thread is about to block on a future, and when it stops (a worker
/// frees the slot of a task that waits on its own child tasks, so that they can run).
struct BlockingHook {
  virtual void blocking(bool on) noexcept = 0;

 protected:
  ~BlockingHook() = default;
};
/// This thread's hook (null: none; one TLS load per blocking wait).
BlockingHook*& blocking_hook() noexcept;

class StateBase : public RefCounted {
 public:
  [[nodiscard]] Phase phase() const noexcept { return phase_.load(std::memory_order_acquire); }
  [[nodiscard]] bool done() const noexcept { return is_done(phase()); }
  [[nodiscard]] bool cancelled() const noexcept { return phase() == Phase::cancelled; }
  [[nodiscard]] bool running() const noexcept { return phase() == Phase::running; }
  /// Finished with an exception (not cancelled). Does not mark the exception retrieved.
  [[nodiscard]] bool failed() const noexcept {
    return phase() == Phase::finished && error_ != nullptr;
  }

  /// Registers `w`; returns false, registering nothing, when the state is already done.
  bool add_waiter(Waiter* w) noexcept;
  /// Unregisters `w`; false when it was no longer registered (the state completed, and
  /// its notify has run or is running).
  bool remove_waiter(Waiter* w) noexcept;

  /// Python's Future.cancel(): a pending future becomes cancelled and true is returned; a
  /// running or done one is left alone and false is returned. A task overrides this: it
  /// asks its coroutine to stop and returns true while it is not done.
  virtual bool cancel();
  /// True for tasks, whose cancel() is a request that completes later.
  [[nodiscard]] virtual bool is_task() const noexcept { return false; }
  /// Hands `cb` (a done-callback) to the loop this future belongs to, to run there
  /// (Python's call_soon); false when it belongs to none, or to one that can no longer
  /// run it: the caller then runs it on this thread (concurrent.futures).
  virtual bool post_callback(Callback* cb) noexcept {
    (void)cb;
    return false;
  }
  /// concurrent.futures' set_running_or_notify_cancel(): false when cancelled.
  bool set_running_or_notify_cancel();

  /// Fails the state; false when it was already done.
  bool try_set_exception(std::exception_ptr e);
  /// Cancels the state with `why` as the CancelledError it reports.
  bool try_set_cancelled(std::exception_ptr why = nullptr);

  /// The stored exception of a finished state (null on success), or the CancelledError
  /// of a cancelled one. Marks the outcome as retrieved.
  [[nodiscard]] std::exception_ptr exception_ptr() const noexcept;
  /// Throws the failure or cancellation, if any. The state must be done.
  void rethrow_if_failed() const;

  /// The stored exception without marking it retrieved (descriptions, logs).
  [[nodiscard]] std::exception_ptr peek_exception() const noexcept { return error_; }

  /// Blocks the calling thread until done or the timeout passes; true when done.
  bool wait_blocking(std::optional<std::chrono::nanoseconds> timeout) noexcept;

 protected:
  static bool is_done(Phase p) noexcept { return p == Phase::finished || p == Phase::cancelled; }
  ~StateBase() override;
  /// Failed, and nobody looked at the exception.
  [[nodiscard]] bool unretrieved_failure() const noexcept {
    return phase_.load(std::memory_order_relaxed) == Phase::finished && error_ &&
           !retrieved_.load(std::memory_order_relaxed);
  }

  /// Completes the state: runs `store` under the lock (it writes the result), publishes
  /// `final`, then notifies the waiters in FIFO order without the lock. False, calling
  /// nothing, when the state was already done.
  template <typename Store>
  bool finish(Phase final, std::exception_ptr e, Store&& store) {
    Waiter* list;
    {
      std::lock_guard lock(mu_);
      if (is_done(phase_.load(std::memory_order_relaxed))) return false;
      std::forward<Store>(store)();
      error_ = std::move(e);
      list = std::exchange(head_, nullptr);
      tail_ = nullptr;
      phase_.store(final, std::memory_order_release);
    }
    notify_all(list);
    return true;
  }

 private:
  static void notify_all(Waiter* list) noexcept;

  mutable SpinLock mu_;
  std::atomic<Phase> phase_{Phase::pending};
  mutable std::atomic<bool> retrieved_{false};
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  std::exception_ptr error_;
};

/// The state with storage for a T (std::monostate for void).
template <typename T>
class State : public StateBase {
 public:
  using value_type = value_t<T>;

  /// Sets the result; false when already done.
  template <typename... A>
  bool try_set_value(A&&... a) {
    return finish(Phase::finished, nullptr, [&] { value_.emplace(std::forward<A>(a)...); });
  }
  /// The value of a state that finished successfully.
  value_type& value() noexcept { return *value_; }

 private:
  std::optional<value_type> value_;
};

}  // namespace shoal::detail
