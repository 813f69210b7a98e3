#pragma once
// WaitSet: how a coroutine suspends until some of a set of futures complete, a deadline
// passes, or it is cancelled. One WaitSet serves Future::wait, gather, wait, wait_for,
// shield, as_completed and TaskGroup: the waiter nodes live inside it (one allocation for
// any number of futures), and a single Sleeper per suspension decides which of the three
// wake-up sources came first.

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "shoal/detail/state.hpp"
#include "shoal/sync/deadline.hpp"

namespace shoal::detail {

using Clock = std::chrono::steady_clock;

/// The deadline `timeout` from now, or none when it lies past what the clock can count (a
/// huge timeout means no timeout, as in Python: `hours::max()`, `nanoseconds::max()`).
inline std::optional<Clock::time_point> deadline_in(std::chrono::nanoseconds timeout) noexcept {
  auto d = deadline_after(timeout);
  if (d == Clock::time_point::max()) return std::nullopt;
  return d;
}

/// Why a suspended coroutine was resumed.
enum class Wake : std::uint8_t { ready, timeout, cancelled };

/// What a wait does when the coroutine suspended on it is cancelled.
enum class OnCancel : std::uint8_t {
  /// Cancel every watched future that is not done and keep waiting until all are done
  /// (awaiting a task, gather, wait_for, TaskGroup). A plain future that refuses (it is
  /// already running on a thread) ends the wait at once.
  forward,
  /// Stop waiting at once and leave the futures alone (shield, wait, as_completed).
  abandon,
};

/// The io_context of the loop running this thread, if it runs `ex`; empty otherwise.
std::weak_ptr<void> running_loop_context(const Executor& ex) noexcept;

struct SuspendResult {
  Wake wake;
  /// The cancellation reached this wait before it was woken (and was acted on per OnCancel).
  bool cancel_seen;
};

class Sleeper;

class WaitSet : public RefCounted {
 public:
  /// Evaluated under the WaitSet's lock each time a watched future completes.
  using Condition = bool (*)(const WaitSet&) noexcept;

  explicit WaitSet(std::size_t n);
  ~WaitSet() override;

  /// Watches `s` as member `i`. A state that is already done is ready at once.
  void watch(std::size_t i, StateBase* s);
  /// Stops watching every member that has not completed, dropping their references early.
  void unwatch() noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  [[nodiscard]] StateBase& state(std::size_t i) const noexcept { return *nodes_[i].state; }
  /// True when a member failed or was cancelled.
  [[nodiscard]] bool has_failure() const noexcept;
  /// Members completed so far, in completion order.
  [[nodiscard]] std::vector<std::uint32_t> ready() const;
  /// Takes the next completed member not yet taken (as_completed); -1 when none is. With a
  /// cutoff, members that completed after it are never taken.
  [[nodiscard]] long take_next() noexcept;
  /// Members completing after `t` stop counting for take_next(). Before any watch().
  void set_cutoff(Clock::time_point t) noexcept { cutoff_ = t; }

  // Conditions.
  static bool any_ready(const WaitSet& ws) noexcept { return ws.ready_.size() > ws.taken_; }
  static bool all_ready(const WaitSet& ws) noexcept { return ws.ready_.size() == ws.nodes_.size(); }
  /// gather: all done, or one failed or was cancelled.
  static bool all_or_first_failure(const WaitSet& ws) noexcept;
  /// FIRST_EXCEPTION: all done, or one failed (cancelled does not count).
  static bool all_or_first_exception(const WaitSet& ws) noexcept;

  // Used by the Sleeper.
  /// Installs `s` as the sleeper, or returns false when `cond` already holds.
  bool arm(Sleeper* s, Condition cond) noexcept;
  void disarm(Sleeper* s) noexcept;
  /// Forwards a cancellation to every watched state that is not done; false when a plain
  /// future refused it. Afterwards the sleeper wakes only when all are done.
  bool forward_cancel() noexcept;

 private:
  struct Node : Waiter {
    WaitSet* owner = nullptr;
    StateBase* state = nullptr;  // a reference is held
    std::uint32_t index = 0;
    bool fired = false;  // under mu_: its notify ran, nothing to unwatch
  };
  void on_ready(std::uint32_t i, bool at_watch = false) noexcept;

  mutable SpinLock mu_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> ready_;
  std::size_t taken_ = 0;
  std::vector<bool> late_;  // with a cutoff: ready_[k] completed after it
  std::optional<Clock::time_point> cutoff_;
  std::size_t failures_ = 0;    // ready members that failed or were cancelled
  std::size_t exceptions_ = 0;  // ready members that failed (not cancelled)
  Condition cond_ = nullptr;
  Sleeper* sleeper_ = nullptr;  // holds a reference while armed
};

/// Unwatches on scope exit, however the waiting coroutine leaves.
class Unwatch {
 public:
  explicit Unwatch(WaitSet& ws) noexcept : ws_(ws) {}
  Unwatch(const Unwatch&) = delete;
  Unwatch& operator=(const Unwatch&) = delete;
  ~Unwatch() { ws_.unwatch(); }

 private:
  WaitSet& ws_;
};

/// One suspension of one coroutine. The first of fire(ready), the deadline and the
/// cancellation wins; the coroutine is resumed by a post to its own executor, never inline.
class Sleeper : public RefCounted {
 public:
  /// Thread-safe; only the first call has an effect.
  void fire(Wake w) noexcept;

 protected:
  Sleeper(Ref<WaitSet> ws, OnCancel policy) : ws_(std::move(ws)), policy_(policy) {}
  /// Runs on the coroutine's executor: resumes it.
  virtual void resume(Wake w) noexcept = 0;
  /// Posts resume(w) to the coroutine's executor.
  virtual void post_resume(Wake w) noexcept = 0;
  void on_cancel() noexcept;

  Ref<WaitSet> ws_;
  OnCancel policy_;
  // The io_context of the loop the coroutine runs on, when it is a shoal Loop. fire()
  // holds it while posting from another thread, so that the loop finishing and being
  // destroyed meanwhile cannot free the scheduler under asio::post.
  std::weak_ptr<void> loop_;
  bool on_loop_ = false;  // loop_ was set
  std::atomic<bool> woken_{false};
  bool cancel_seen_ = false;  // the coroutine's executor only
  bool forwarding_ = false;   // on_cancel() is forwarding (the coroutine's executor only)
};

template <typename Handler>
class SleeperImpl final : public Sleeper {
 public:
  SleeperImpl(Handler h, Ref<WaitSet> ws, OnCancel policy)
      : Sleeper(std::move(ws), policy),
        handler_(std::move(h)),
        ex_(asio::get_associated_executor(handler_)),
        work_(asio::prefer(ex_, asio::execution::outstanding_work.tracked)),
        slot_(asio::get_associated_cancellation_slot(handler_)) {
    if constexpr (std::is_convertible_v<asio::associated_executor_t<Handler>, Executor>)
    {
      loop_ = running_loop_context(ex_);
      on_loop_ = !loop_.expired();
    }
  }

  void start(WaitSet::Condition cond, std::optional<Clock::time_point> deadline) {
    if (slot_.is_connected()) slot_.template emplace<CancelFn>(Ref<SleeperImpl>(this));
    if (deadline) {
      timer_.emplace(ex_, *deadline);
      timer_->async_wait([self = Ref<SleeperImpl>(this)](const asio::error_code& ec) {
        if (!ec) self->fire(Wake::timeout);
      });
    }
    if (!ws_->arm(this, cond)) fire(Wake::ready);
  }

 private:
  struct CancelFn {
    explicit CancelFn(Ref<SleeperImpl> s) : self(std::move(s)) {}  // emplace() constructs it with ()
    Ref<SleeperImpl> self;
    void operator()(asio::cancellation_type type) const noexcept {
      if (type != asio::cancellation_type::none) self->on_cancel();
    }
  };
  struct Resume {
    Ref<SleeperImpl> self;
    Wake w;
    void operator()() const noexcept { self->resume(w); }
  };

  void post_resume(Wake w) noexcept override { asio::post(ex_, Resume{Ref<SleeperImpl>(this), w}); }

  void resume(Wake w) noexcept override {
    // Give back what ties this sleeper to the loop while on the loop's thread: the last
    // reference may be dropped later by the thread that completed the future, after the
    // loop is gone (the tracked work and the timer would then touch a freed io_context).
    timer_.reset();  // cancels the wait; its handler holds a reference and runs later
    work_ = ex_;     // untracked again
    if (slot_.is_connected()) slot_.clear();
    Handler h = std::move(handler_);
    std::move(h)(SuspendResult{w, cancel_seen_});
  }

  Handler handler_;
  asio::associated_executor_t<Handler> ex_;
  // A suspended coroutine is outstanding work, like a pending Asio operation: the loop
  // must not run dry while a thread is about to complete the future it waits on.
  asio::associated_executor_t<Handler> work_;
  asio::cancellation_slot slot_;
  std::optional<asio::steady_timer> timer_;
};

/// The Asio operation: completes with a SuspendResult.
template <typename Token>
auto async_suspend(Ref<WaitSet> ws, WaitSet::Condition cond,
                   std::optional<Clock::time_point> deadline, OnCancel policy, Token&& token) {
  return asio::async_initiate<Token, void(SuspendResult)>(
      [](auto handler, Ref<WaitSet> ws, WaitSet::Condition cond,
         std::optional<Clock::time_point> deadline, OnCancel policy) {
        using H = std::decay_t<decltype(handler)>;
        auto s = Ref<SleeperImpl<H>>::adopt(new SleeperImpl<H>(std::move(handler), std::move(ws), policy));
        s->start(cond, deadline);
      },
      token, std::move(ws), cond, deadline, policy);
}

/// Suspends the calling coroutine on `ws` until `cond` holds, the deadline passes, or (per
/// `policy`) it is cancelled. Throws CancelledError when the wait was abandoned because of
/// a cancellation, or when a cancellation arrived after the wake-up was already on its way
/// (Python's "cancel at the next await"). A cancellation that was forwarded is cleared from
/// the coroutine, so that it can await again after catching it, as in Python.
Coro<SuspendResult> suspend_on(Ref<WaitSet> ws, WaitSet::Condition cond,
                               std::optional<Clock::time_point> deadline, OnCancel policy);

/// Blocks the calling thread (not a coroutine) until `cond` holds on `ws` or the deadline
/// passes: the concurrent.futures side of wait() and as_completed(). Throws
/// InvalidStateError, without waiting, on a running loop's thread when `cond` does not
/// hold yet.
Wake block_on(const Ref<WaitSet>& ws, WaitSet::Condition cond,
              std::optional<Clock::time_point> deadline);

/// A WaitSet over one state.
Ref<WaitSet> watch_one(StateBase* s);

}  // namespace shoal::detail

/// Inside a shoal operation's coroutine: throws CancelledError when the coroutine was
/// cancelled while it was not suspended in a cancellable wait (sleep(0), a post), clearing
/// the cancellation first. A macro, because awaiting a nested coroutine would let Asio throw
/// its own operation_aborted error before the check could run.
#define SHOAL_DETAIL_DELIVER_CANCELLATION()                                     \
  do {                                                                          \
    ::asio::cancellation_state shoal_cs_ =                                      \
        co_await ::asio::this_coro::cancellation_state;                         \
    if (shoal_cs_.cancelled() != ::asio::cancellation_type::none) {             \
      co_await ::asio::this_coro::reset_cancellation_state();                  \
      throw ::shoal::CancelledError();                                          \
    }                                                                           \
  } while (false)

namespace shoal::detail {

}  // namespace shoal::detail
