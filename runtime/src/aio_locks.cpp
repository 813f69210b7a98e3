// The aio primitives of Python's Lib/asyncio/locks.py: Lock, Event, Condition, Semaphore
// (and BoundedSemaphore), Barrier. Each follows CPython 3.13 line for line; the comments
// say where C++ had to differ (no await inside a catch or finally block, so the error is
// kept in an exception_ptr and handled after the try).

#include <asio/execution_context.hpp>
#include <atomic>
#include <cstdint>
#include <exception>
#include <string>

#include "shoal/aio/barrier.hpp"
#include "shoal/aio/bounded_semaphore.hpp"
#include "shoal/aio/condition.hpp"
#include "shoal/aio/event.hpp"
#include "shoal/aio/lock.hpp"
#include "shoal/aio/semaphore.hpp"
#include "shoal/core/loop.hpp"

namespace shoal::aio {

namespace detail {

namespace {
/// A number per io_context, never reused: an Asio service lives exactly as long as its
/// io_context, so a new loop gets a new number even at a recycled address.
class LoopIdentity : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;
  explicit LoopIdentity(asio::execution_context& ctx)
      : service(ctx), value(next.fetch_add(1, std::memory_order_relaxed)) {}
  const std::uint64_t value;

 private:
  void shutdown() override {}
  static inline std::atomic<std::uint64_t> next{1};
};
asio::execution_context::id LoopIdentity::id;
}  // namespace

void LoopBound::check_loop(const char* what) {
  Loop* running = shoal::detail::running_loop();
  if (!running) return;
  std::uint64_t id = asio::use_service<LoopIdentity>(running->context()).value;
  if (loop_id_ == 0) {
    loop_id_ = id;
    return;
  }
  if (loop_id_ != id)
    throw InvalidStateError(std::string("this aio::") + what + " is bound to a different event loop");
}

}  // namespace detail

namespace {

std::string with_waiters(std::string extra, std::size_t waiters) {
  if (waiters) extra += ", waiters:" + std::to_string(waiters);
  return extra;
}

}  // namespace

// --- Lock -----------------------------------------------------------------------------

Coro<void> Lock::acquire() {
  // Fair scheduling: a caller waits its turn behind the waiters. Jumping the queue when
  // every waiter was cancelled is an optimization.
  bool all_cancelled = true;
  waiters_.for_each([&](detail::Waiter& w) { return all_cancelled = w.fut.cancelled(); });
  if (!locked_ && all_cancelled) {
    locked_ = true;
    co_return;
  }

  bound_.check_loop("Lock");
  detail::Enlisted waiter(waiters_);
  std::exception_ptr error;  // CancelledError, in practice
  try {
    co_await waiter.fut().wait();
  } catch (...) {
    error = std::current_exception();
  }
  waiter.unlink();
  if (error) {
    // Keep the lock's invariant: when it is free (and not about to be taken by us) and
    // someone waits, the first waiter must be woken. It may be us who swallowed the
    // wake-up that release() sent, and we are leaving.
    if (!locked_) wake_up_first();
    std::rethrow_exception(error);
  }
  locked_ = true;
}

Coro<Acquired<Lock>> Lock::scoped() {
  co_await acquire();
  co_return Acquired<Lock>(*this);
}

void Lock::release() {
  if (!locked_) throw InvalidStateError("Lock is not acquired");
  locked_ = false;
  wake_up_first();
}

void Lock::wake_up_first() {
  detail::Waiter* first = waiters_.front();
  // A done future means the first waiter is already set to wake up (or was cancelled and
  // will pass the wake-up on when it runs).
  if (first && !first->fut.done()) first->fut.set_result();
}

std::string Lock::repr() const {
  return "<shoal::aio::Lock [" + with_waiters(locked_ ? "locked" : "unlocked", waiters_.size()) + "]>";
}

// --- Event ----------------------------------------------------------------------------

void Event::set() {
  if (value_) return;
  value_ = true;
  waiters_.for_each([](detail::Waiter& w) {
    if (!w.fut.done()) w.fut.set_result();
    return true;
  });
}

Coro<void> Event::wait() {
  if (value_) co_return;
  bound_.check_loop("Event");
  detail::Enlisted waiter(waiters_);  // unlinked however this ends
  co_await waiter.fut().wait();
}

std::string Event::repr() const {
  return "<shoal::aio::Event [" + with_waiters(value_ ? "set" : "unset", waiters_.size()) + "]>";
}

// --- Condition ------------------------------------------------------------------------

Coro<Acquired<Condition>> Condition::scoped() {
  co_await acquire();
  co_return Acquired<Condition>(*this);
}

Coro<void> Condition::wait() {
  if (!locked()) throw InvalidStateError("cannot wait on un-acquired lock");
  bound_.check_loop("Condition");
  release();
  std::exception_ptr error;
  {
    detail::Enlisted waiter(waiters_);
    try {
      co_await waiter.fut().wait();
    } catch (...) {
      error = std::current_exception();
    }
  }
  // The lock must be re-acquired even when the wait failed or was cancelled. Only a
  // cancellation is retried (each one is delivered once): any other error would spin.
  for (;;) {
    try {
      co_await acquire();
      break;
    } catch (...) {
      error = std::current_exception();  // the most recent one is raised, as in Python
      if (!is_cancellation(error)) break;
    }
  }
  if (error) {
    // The error may have come after this waiter was notified: notify another one instead,
    // so that no notification is lost. A spurious wake-up, which the protocol allows.
    notify_some(1);
    std::rethrow_exception(error);
  }
}

void Condition::notify(std::size_t n) {
  if (!locked()) throw InvalidStateError("cannot notify on un-acquired lock");
  notify_some(n);
}

void Condition::notify_all() { notify(waiters_.size()); }

void Condition::notify_some(std::size_t n) {
  std::size_t woken = 0;
  waiters_.for_each([&](detail::Waiter& w) {
    if (woken >= n) return false;
    if (!w.fut.done()) {
      ++woken;
      w.fut.set_result();
    }
    return true;
  });
}

std::string Condition::repr() const {
  std::string extra = with_waiters(locked() ? "locked" : "unlocked", waiters_.size());
  return "<shoal::aio::Condition [" + extra + "]>";
}

// --- Semaphore ------------------------------------------------------------------------

Semaphore::Semaphore(std::ptrdiff_t value) : value_(value) {
  if (value < 0) throw ValueError("Semaphore initial value must be >= 0");
}

Semaphore::Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound) : Semaphore(value) { bound_ = bound; }

bool Semaphore::locked() const noexcept {
  // Due to the counter, or to FIFO: coroutines already waiting go first.
  if (value_ == 0) return true;
  bool waiting = false;
  waiters_.for_each([&](detail::Waiter& w) { return !(waiting = !w.fut.cancelled()); });
  return waiting;
}

Coro<void> Semaphore::acquire() {
  if (!locked()) {
    --value_;
    co_return;
  }

  bound_loop_.check_loop(bound_ ? "BoundedSemaphore" : "Semaphore");
  detail::Enlisted waiter(waiters_);
  std::exception_ptr error;  // CancelledError, in practice
  try {
    co_await waiter.fut().wait();
  } catch (...) {
    error = std::current_exception();
  }
  waiter.unlink();
  // wake_up_next() took our unit off the counter when it woke us. Leaving without it
  // (cancelled after the wake-up), we give it back. Python does this for CancelledError,
  // the only error expected here; any error is treated so.
  if (error && waiter.fut().done() && !waiter.fut().cancelled()) ++value_;
  // New waiters may have queued behind us (FIFO) although units were free: wake as many
  // as there are units.
  while (value_ > 0)
    if (!wake_up_next()) break;  // nobody left to wake
  if (error) std::rethrow_exception(error);
}

Coro<Acquired<Semaphore>> Semaphore::scoped() {
  co_await acquire();
  co_return Acquired<Semaphore>(*this);
}

void Semaphore::release() {
  if (bound_ && value_ >= *bound_) throw ValueError("BoundedSemaphore released too many times");
  ++value_;
  wake_up_next();
}

bool Semaphore::wake_up_next() {
  bool woke = false;
  waiters_.for_each([&](detail::Waiter& w) {
    if (w.fut.done()) return true;
    --value_;  // handed to this waiter now: nobody can take it in between
    w.fut.set_result();
    woke = true;
    return false;
  });
  return woke;
}

std::string Semaphore::repr() const {
  std::string extra = locked() ? "locked" : "unlocked, value:" + std::to_string(value_);
  return std::string("<shoal::aio::") + (bound_ ? "BoundedSemaphore" : "Semaphore") + " [" +
         with_waiters(std::move(extra), waiters_.size()) + "]>";
}

// --- Barrier --------------------------------------------------------------------------

namespace {
std::size_t checked_parties(std::ptrdiff_t parties) {
  if (parties < 1) throw ValueError("parties must be >= 1");
  return static_cast<std::size_t>(parties);
}
}  // namespace

Barrier::Barrier(std::ptrdiff_t parties) : parties_(checked_parties(parties)) {}

Coro<std::size_t> Barrier::wait() {
  auto held = co_await cond_.scoped();
  co_await block();  // while the barrier drains or resets
  std::size_t index = count_++;
  std::exception_ptr error;
  try {
    if (index + 1 == parties_)
      release_waiters();  // the last to arrive releases the others
    else
      co_await wait_released();
  } catch (...) {
    error = std::current_exception();
  }
  // Condition::wait re-acquired the lock whatever happened: the count is ours to fix.
  --count_;
  exit();  // wakes the coroutines waiting for the barrier to drain
  if (error) std::rethrow_exception(error);
  co_return index;
}

Coro<void> Barrier::block() {
  auto ready = [this] { return state_ != State::draining && state_ != State::resetting; };
  co_await cond_.wait_for(ready);
  if (state_ == State::broken) throw BrokenBarrierError("Barrier aborted");
}

void Barrier::release_waiters() {
  // Draining: later arrivals wait in block() until every released coroutine has left.
  state_ = State::draining;
  cond_.notify_all();
}

Coro<void> Barrier::wait_released() {
  auto filled = [this] { return state_ != State::filling; };
  co_await cond_.wait_for(filled);
  if (state_ == State::broken || state_ == State::resetting)
    throw BrokenBarrierError("Abort or reset of barrier");
}

void Barrier::exit() {
  // The last coroutine out ends the draining (or resetting) and lets the next round fill.
  if (count_ == 0) {
    if (state_ == State::resetting || state_ == State::draining) state_ = State::filling;
    cond_.notify_all();
  }
}

Coro<void> Barrier::reset() {
  auto held = co_await cond_.scoped();
  if (count_ > 0) {
    state_ = State::resetting;  // the waiters get BrokenBarrierError; the last out refills
  } else {
    state_ = State::filling;
  }
  cond_.notify_all();
}

Coro<void> Barrier::abort() {
  auto held = co_await cond_.scoped();
  state_ = State::broken;
  cond_.notify_all();
}

std::size_t Barrier::n_waiting() const noexcept { return state_ == State::filling ? count_ : 0; }

std::string Barrier::repr() const {
  static constexpr const char* names[] = {"filling", "draining", "resetting", "broken"};
  std::string extra = names[static_cast<int>(state_)];
  if (!broken()) extra += ", waiters:" + std::to_string(n_waiting()) + "/" + std::to_string(parties_);
  return "<shoal::aio::Barrier [" + extra + "]>";
}

}  // namespace shoal::aio
