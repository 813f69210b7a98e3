#pragma once
/// \file
/// timeout() and timeout_at(): Python's `async with asyncio.timeout(delay):`, a deadline
/// over a block of awaits that the block itself can move. C++ has no `async with`, so the
/// block is a callable returning a coroutine; it runs as a task of its own, which is what
/// the deadline cancels: nothing outside the block is touched.
///     auto page = co_await shoal::timeout(2s, [&](shoal::Timeout& t) -> shoal::Coro<Page> {
///       auto head = co_await fetch_head(url);
///       t.reschedule(t.when().value() + 1s);  // a big page: one more second
///       co_return co_await fetch_body(url, head);
///     });

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "shoal/detail/awaitables.hpp"

namespace shoal {

namespace detail {
template <typename F>
struct TimeoutScope;
}  // namespace detail

/// The deadline of one timeout() block (Python's asyncio.Timeout). Loop thread only.
class Timeout {
 public:
  using Clock = std::chrono::steady_clock;

  /// The deadline; empty: none.
  [[nodiscard]] std::optional<Clock::time_point> when() const noexcept { return when_; }
  /// Moves the deadline (empty: none). One in the past expires the block at the loop's
  /// next turn. InvalidStateError once the block has expired or ended.
  void reschedule(std::optional<Clock::time_point> when) {
    if (expired_ || ended_) throw InvalidStateError(std::string("reschedule() of a timeout that has ") + (expired_ ? "expired" : "ended"));
    timer_.cancel();
    when_ = when;
    arm();
  }
  /// True once the deadline passed and the block was cancelled for it.
  [[nodiscard]] bool expired() const noexcept { return expired_; }

 private:
  template <typename>
  friend struct detail::TimeoutScope;
  explicit Timeout(std::optional<Clock::time_point> when) : when_(when) {}
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;
  ~Timeout() { timer_.cancel(); }  // the timer's function must never outlive this

  void arm() {
    if (!when_) return;
    auto expire = [this] {
      if (ended_ || expired_) return;
      expired_ = true;
      block_->cancel();
    };
    // Already due: at the loop's next turn, after the block's first step, so that it is
    // cancelled at its first await (Python's call_soon for a deadline in the past).
    Loop& loop = get_running_loop();
    timer_ = *when_ <= Clock::now() ? loop.call_soon(expire) : loop.call_at(*when_, expire);
  }
  void end() noexcept {
    ended_ = true;
    timer_.cancel();
  }

  std::optional<Clock::time_point> when_;
  bool expired_ = false;
  bool ended_ = false;
  TimerHandle timer_;
  detail::Ref<detail::StateBase> block_;  // the block's task
};

namespace detail {

/// The block, its callable and its Timeout, kept together until the block has finished.
template <typename F>
struct TimeoutScope {
  using Made = std::conditional_t<std::is_invocable_v<F&, Timeout&>, std::invoke_result<F&, Timeout&>,
                                  std::invoke_result<F&>>;
  using T = awaited_t<typename Made::type>;

  TimeoutScope(F f, std::optional<Timeout::Clock::time_point> when) : fn(std::move(f)), tm(when) {}
  Coro<T> make() {
    if constexpr (std::is_invocable_v<F&, Timeout&>)
      return fn(tm);
    else
      return fn();
  }
  void start(const Future<T>& block) {
    tm.block_ = Ref<StateBase>(block.state());
    tm.arm();
  }
  void finish() noexcept { tm.end(); }
  F fn;  // the callable outlives the coroutine it made (its captures are the block's)
  Timeout tm;
};

template <typename F>
Coro<typename TimeoutScope<F>::T> timeout_impl(std::unique_ptr<TimeoutScope<F>> scope) {
  using T = typename TimeoutScope<F>::T;
  Future<T> block = create_task(scope->make());
  scope->start(block);
  auto ws = watch_one(block.state());
  Unwatch guard(*ws);
  bool cancelled = false;   // the awaiting task was cancelled: the block was cancelled with it
  bool late_cancel = false; // ...after the block had finished
  try {
    auto r = co_await suspend_on(ws, WaitSet::any_ready, std::nullopt, OnCancel::forward);
    cancelled = r.cancel_seen;
  } catch (const CancelledError&) {
    late_cancel = true;
  }
  scope->finish();
  if (late_cancel) {
    (void)block.state()->exception_ptr();  // its outcome is nobody's now: not "never retrieved"
    throw CancelledError("timeout(): the awaiting task was cancelled");
  }
  // The deadline's cancellation becomes TimeoutError; an outside one stays CancelledError
  // (Python's Timeout.__aexit__, which uncancels only its own request).
  if (block.cancelled() && scope->tm.expired() && !cancelled)
    throw TimeoutError("timeout(): the block did not finish by its deadline");
  co_return Future<T>::take(block.state_ref());
}

}  // namespace detail

/// Runs the block `body` (a callable returning a Coro, given the Timeout& if it takes
/// one) with a deadline `delay` from now: when it passes, the block is cancelled, and once
/// it has finished cancelling this throws TimeoutError. A block that catches the
/// cancellation and returns a value returns it. Cancelling the awaiting task cancels the
/// block and raises CancelledError. A delay too large to count means no deadline.
template <typename F, typename Rep, typename Period>
auto timeout(std::chrono::duration<Rep, Period> delay, F body) {
  auto d = detail::deadline_in(detail::saturate_ns(delay));
  return detail::timeout_impl(std::make_unique<detail::TimeoutScope<F>>(std::move(body), d));
}
/// timeout() with no deadline until the block reschedules one (Python's timeout(None)).
template <typename F>
auto timeout(std::nullopt_t, F body) {
  return detail::timeout_impl(std::make_unique<detail::TimeoutScope<F>>(std::move(body), std::nullopt));
}
/// timeout() with an absolute deadline on steady_clock (Python's asyncio.timeout_at);
/// empty: none.
template <typename F>
auto timeout_at(std::optional<std::chrono::steady_clock::time_point> when, F body) {
  return detail::timeout_impl(std::make_unique<detail::TimeoutScope<F>>(std::move(body), when));
}

}  // namespace shoal
