#pragma once
/// \file
/// Future<T> and Promise<T>: Python's asyncio.Future and concurrent.futures.Future in one
/// thread-safe type. Set it from any thread; await it from a coroutine on any loop
/// (`co_await fut.wait()`); block on it from a thread off the loop (`fut.result(1s)`).
/// The thread pool and the remote client return this same type.

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "shoal/core/coro.hpp"
#include "shoal/core/error.hpp"
#include "shoal/detail/context_data.hpp"
#include "shoal/detail/state.hpp"
#include "shoal/detail/wait_set.hpp"

namespace shoal {

class Loop;
namespace detail {
/// The loop running on this thread, or null.
Loop* running_loop() noexcept;
/// Reports an exception escaping a done-callback (Python logs it and goes on).
void report_callback_exception(std::exception_ptr e) noexcept;
/// The executor and io_context of the loop running on this thread; false when none runs.
bool running_loop_home(Executor& ex, std::weak_ptr<void>& ctx) noexcept;

/// The state of a future that belongs to a loop (made on its thread, as Python's
/// asyncio.Future()): its done-callbacks run on that loop, posted.
template <typename T>
class LoopState final : public State<T> {
 public:
  LoopState(Executor ex, std::weak_ptr<void> ctx) noexcept : ex_(std::move(ex)), ctx_(std::move(ctx)) {}
  bool post_callback(Callback* cb) noexcept override {
    // Held through the post: the loop cannot be destroyed under it (see Sleeper::loop_).
    std::shared_ptr<void> keep = ctx_.lock();
    if (!keep) return false;
    post_callback_to(ex_, cb);
    return true;
  }

 private:
  Executor ex_;
  std::weak_ptr<void> ctx_;
};

/// A new state: bound to the loop running on this thread, if one does.
template <typename T>
State<T>* new_state() {
  Executor ex;
  std::weak_ptr<void> ctx;
  if (running_loop_home(ex, ctx)) return new LoopState<T>(std::move(ex), std::move(ctx));
  return new State<T>();
}

/// Makes a Future that belongs to no loop, wherever it is made (shoal's own waiters).
struct Unbound {};
}  // namespace detail

/// What add_done_callback returns: names the callback for remove_done_callback. Move-only;
/// ignoring it is fine.
class CallbackId {
 public:
  CallbackId() = default;
  CallbackId(CallbackId&& o) noexcept : st_(std::move(o.st_)), node_(std::exchange(o.node_, nullptr)) {}
  CallbackId& operator=(CallbackId&& o) noexcept {
    st_ = std::move(o.st_);
    node_ = std::exchange(o.node_, nullptr);
    return *this;
  }

 private:
  template <typename>
  friend class Future;
  CallbackId(detail::Ref<detail::StateBase> st, detail::Callback* node) noexcept : st_(std::move(st)), node_(node) {}
  detail::Ref<detail::StateBase> st_;
  detail::Callback* node_ = nullptr;
};

template <typename T>
class Task;

/// A result that will exist later. Copies share one state, like Python references.
template <typename T = void>
class [[nodiscard]] Future {
 public:
  using value_type = detail::value_t<T>;

  /// A new pending future (Python's `Future()`). Made on a running loop's thread, it
  /// belongs to that loop: its done-callbacks run there (see add_done_callback).
  Future() : st_(detail::Ref<detail::State<T>>::adopt(detail::new_state<T>())) {}
  /// A pending future that belongs to no loop (callbacks as concurrent.futures runs them).
  explicit Future(detail::Unbound) : st_(detail::Ref<detail::State<T>>::adopt(new detail::State<T>())) {}

  /// True once it has a result, an exception, or was cancelled.
  [[nodiscard]] bool done() const noexcept { return st_->done(); }
  [[nodiscard]] bool cancelled() const noexcept { return st_->cancelled(); }
  /// True while a thread is running the work behind it (it can no longer be cancelled).
  [[nodiscard]] bool running() const noexcept { return st_->running(); }

  /// Cancels a pending future and runs its callbacks; false when it is already running or
  /// done. On a Task: asks the coroutine to stop (CancelledError at its next await).
  bool cancel() { return st_->cancel(); }

  /// The result. When pending: blocks a thread that runs no loop (concurrent.futures);
  /// throws InvalidStateError on a loop's thread, where blocking would stop the loop
  /// (co_await wait() there). Throws the stored exception, or CancelledError.
  /// On a named future it refers into the future's state; on a temporary one
  /// (`client.workers().result()`) it is a copy, so that `for (auto& w :
  /// client.workers().result())` does not read a destroyed state (a move-only result is
  /// a reference either way: take() it).
  decltype(auto) result() const& {
    block_until_done(std::nullopt);
    return stored_result();
  }
  auto result() && -> std::conditional_t<std::is_void_v<T>, void, std::remove_cvref_t<T>>
    requires(std::is_void_v<T> || std::is_copy_constructible_v<T>)
  {
    block_until_done(std::nullopt);
    return stored_result();
  }
  /// The result, waiting at most `timeout`; throws TimeoutError when it passes.
  template <typename Rep, typename Period>
  decltype(auto) result(std::chrono::duration<Rep, Period> timeout) const& {
    block_until_done(detail::saturate_ns(timeout));
    return stored_result();
  }
  template <typename Rep, typename Period>
  auto result(std::chrono::duration<Rep, Period> timeout) && -> std::conditional_t<std::is_void_v<T>, void,
                                                                                   std::remove_cvref_t<T>>
    requires(std::is_void_v<T> || std::is_copy_constructible_v<T>)
  {
    block_until_done(detail::saturate_ns(timeout));
    return stored_result();
  }

  /// The exception it finished with, or null on success; throws CancelledError when
  /// cancelled. Waits like result().
  std::exception_ptr exception() const {
    block_until_done(std::nullopt);
    return stored_exception();
  }
  template <typename Rep, typename Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    block_until_done(detail::saturate_ns(timeout));
    return stored_exception();
  }

  /// Completes the future and runs its callbacks; InvalidStateError when already done.
  template <typename... A>
  void set_result(A&&... a) {
    if (!st_->try_set_value(std::forward<A>(a)...))
      throw InvalidStateError("set_result() on a future that is already done");
  }
  /// Fails the future; InvalidStateError when already done.
  void set_exception(std::exception_ptr e) {
    if (!e) throw ValueError("set_exception() needs an exception, not a null exception_ptr");
    if (!st_->try_set_exception(std::move(e)))
      throw InvalidStateError("set_exception() on a future that is already done");
  }
  /// concurrent.futures: marks the future running, or returns false when it was cancelled
  /// (the work must then not run).
  bool set_running_or_notify_cancel() { return st_->set_running_or_notify_cancel(); }

  /// Calls `fn(future)` once the future is done. A future that belongs to a loop (a task,
  /// or a Future made on a loop's thread) runs it on that loop, posted, never inside
  /// set_result or this call (Python's asyncio, call_soon); any other future (a thread
  /// pool's, a remote call's, a Promise's) runs it on the thread that completes it, or at
  /// once when it is already done (concurrent.futures). An exception from `fn` is reported
  /// and otherwise ignored, as in Python.
  template <typename F>
  CallbackId add_done_callback(F fn) {
    auto* node = new CallbackNode<F>(std::move(fn), st_);
    CallbackId id(detail::Ref<detail::StateBase>(st_.get()), node);
    if (!st_->add_waiter(node)) node->notify(node);
    return id;
  }
  /// Python's remove_done_callback: unregisters the callback `id` names; 1 when it was
  /// removed before running, 0 when it has run, is running or is not this future's.
  std::size_t remove_done_callback(CallbackId id) noexcept {
    if (!id.node_ || id.st_.get() != st_.get()) return 0;
    if (!st_->remove_waiter(id.node_)) return 0;
    id.node_->drop(id.node_);
    return 1;
  }

  /// Awaits the result from a coroutine: `int v = co_await fut.wait();`. If the awaiting
  /// coroutine is cancelled, the future is cancelled too (Python's semantics; use
  /// shield() to prevent it); a task keeps being awaited until it finishes cancelling.
  /// Throws the future's exception, or CancelledError.
  Coro<T> wait() const { return wait_on(st_); }

  /// The shared state (for shoal's combinators).
  [[nodiscard]] detail::StateBase* state() const noexcept { return st_.get(); }
  [[nodiscard]] const detail::Ref<detail::State<T>>& state_ref() const noexcept { return st_; }
  /// A future over an existing state (for executors that allocate the state with the work).
  static Future from_state(detail::Ref<detail::State<T>> st) noexcept { return Future(std::move(st)); }
  friend bool operator==(const Future& a, const Future& b) noexcept { return a.st_ == b.st_; }

 protected:
  explicit Future(detail::Ref<detail::State<T>> st) noexcept : st_(std::move(st)) {}
  detail::Ref<detail::State<T>> st_;

 private:
  template <typename>
  friend class Promise;
  template <typename>
  friend class Future;

  template <typename F>
  struct CallbackNode : detail::Callback {
    CallbackNode(F f, detail::Ref<detail::State<T>> s) : fn(std::move(f)), st(std::move(s)) {
      notify = [](detail::Waiter* w) noexcept {
        auto* self = static_cast<CallbackNode*>(w);
        if (!self->st->post_callback(self)) self->run(self);
      };
      run = [](detail::Callback* c) noexcept {
        auto* self = static_cast<CallbackNode*>(c);
        detail::CallbackScope scope(std::move(self->ctx));
        try {
          self->fn(Future(std::move(self->st)));
        } catch (...) {
          detail::report_callback_exception(std::current_exception());
        }
        delete self;
      };
      drop = [](detail::Callback* c) noexcept { delete static_cast<CallbackNode*>(c); };
    }
    F fn;
    detail::Ref<detail::State<T>> st;
    detail::Ref<detail::ContextData> ctx = detail::current_context_slot();  // it runs in a copy of it
  };

  void block_until_done(std::optional<std::chrono::nanoseconds> timeout) const {
    if (st_->done()) return;
    if (detail::running_loop())
      throw InvalidStateError(
          "result() of a pending future on an event loop's thread would block the loop: "
          "co_await fut.wait() instead");
    if (!st_->wait_blocking(timeout)) throw TimeoutError("the future's result did not arrive in time");
  }
  decltype(auto) stored_result() const {
    st_->rethrow_if_failed();
    if constexpr (std::is_void_v<T>)
      return;
    else
      return static_cast<const T&>(st_->value());
  }
  std::exception_ptr stored_exception() const {
    if (st_->cancelled()) st_->rethrow_if_failed();
    return st_->exception_ptr();
  }

 public:
  static Coro<T> wait_on(detail::Ref<detail::State<T>> st) {
    if (!st->done()) {
      auto ws = detail::watch_one(st.get());
      detail::Unwatch guard(*ws);
      co_await detail::suspend_on(ws, detail::WaitSet::any_ready, std::nullopt,
                                  detail::OnCancel::forward);
    } else {
      SHOAL_DETAIL_DELIVER_CANCELLATION();
    }
    co_return take(st);
  }

  /// The value of a done state, for an awaiting coroutine: copied, or moved out when T is
  /// move-only (such a result can be taken once).
  static T take(const detail::Ref<detail::State<T>>& st) {
    st->rethrow_if_failed();
    if constexpr (std::is_void_v<T>)
      return;
    else if constexpr (std::is_copy_constructible_v<T>)
      return st->value();
    else
      return std::move(st->value());
  }
};

/// The producer's side of a Future: sets it once. Destroying a Promise that never set its
/// future fails the future with BrokenPromise, so that no waiter hangs on lost work.
template <typename T = void>
class Promise {
 public:
  Promise() : st_(detail::Ref<detail::State<T>>::adopt(new detail::State<T>())) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& o) noexcept {
    if (this != &o) {
      abandon();
      st_ = std::move(o.st_);
    }
    return *this;
  }
  ~Promise() { abandon(); }

  /// The future this promise completes (any number of copies).
  [[nodiscard]] Future<T> get_future() const { return Future<T>(st_); }
  /// Same as Future::set_result.
  template <typename... A>
  void set_result(A&&... a) {
    get_future().set_result(std::forward<A>(a)...);
  }
  void set_exception(std::exception_ptr e) { get_future().set_exception(std::move(e)); }
  /// Sets the exception being handled: `catch (...) { p.set_current_exception(); }`.
  void set_current_exception() { set_exception(std::current_exception()); }
  bool set_running_or_notify_cancel() { return st_->set_running_or_notify_cancel(); }
  [[nodiscard]] bool cancelled() const noexcept { return st_->cancelled(); }

 private:
  void abandon() noexcept {
    if (st_ && !st_->done()) st_->try_set_exception(std::make_exception_ptr(BrokenPromise()));
  }
  detail::Ref<detail::State<T>> st_;
};

}  // namespace shoal
