// Lock, RLock, Condition, Semaphore, Event and Barrier: the out-of-line parts. Semaphore,
// Event and Barrier follow CPython's Lib/threading.py over a Condition, so that their
// edge cases (Event.wait() true after set(); clear(), a barrier's draining and resetting
// states) are Python's.

#include <mutex>

#include "futex.hpp"
#include "shoal/sync/barrier.hpp"
#include "shoal/sync/bounded_semaphore.hpp"
#include "shoal/sync/condition.hpp"
#include "shoal/sync/event.hpp"
#include "shoal/sync/lock.hpp"
#include "shoal/sync/rlock.hpp"
#include "shoal/sync/semaphore.hpp"
#include "shoal/thread/thread.hpp"

namespace shoal {

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

// --- Lock ---------------------------------------------------------------------------------

bool Lock::acquire_slow(detail::SteadyClock::time_point deadline) {
  // A short spin first: a critical section is often shorter than a sleep and a wake-up.
  std::uint32_t c = state_.load(std::memory_order_relaxed);
  for (int i = 0; i < 64 && c != unlocked; ++i) {
    cpu_relax();
    c = state_.load(std::memory_order_relaxed);
  }
  if (c == unlocked &&
      state_.compare_exchange_strong(c, locked_no_waiters, std::memory_order_acquire,
                                     std::memory_order_relaxed))
    return true;
  // From here we may sleep, so we announce it with state 2; whoever takes the lock on this
  // path keeps the 2, since other sleepers may remain (a spare wake-up is harmless).
  if (c != locked_with_waiters) c = state_.exchange(locked_with_waiters, std::memory_order_acquire);
  while (c != unlocked) {
    if (!detail::futex_wait(&state_, locked_with_waiters, deadline)) {
      // Timed out: one last try, so that a release racing the deadline is not missed.
      c = unlocked;
      return state_.compare_exchange_strong(c, locked_with_waiters, std::memory_order_acquire,
                                            std::memory_order_relaxed);
    }
    c = state_.exchange(locked_with_waiters, std::memory_order_acquire);
  }
  return true;
}

void Lock::release_slow(std::uint32_t prev) {
  if (prev == unlocked) throw InvalidStateError("release unlocked lock");
  detail::futex_wake(&state_, 1);  // prev was 2: someone may be asleep
}

// --- RLock --------------------------------------------------------------------------------

bool RLock::acquire(bool blocking) {
  const std::uint64_t me = get_ident();
  if (owner_.load(std::memory_order_relaxed) == me) {
    ++count_;
    return true;
  }
  if (!lock_.acquire(blocking)) return false;
  owner_.store(me, std::memory_order_relaxed);
  count_ = 1;
  return true;
}

bool RLock::acquire_until(detail::SteadyClock::time_point deadline) {
  const std::uint64_t me = get_ident();
  if (owner_.load(std::memory_order_relaxed) == me) {
    ++count_;
    return true;
  }
  if (!lock_.acquire(false)) {
    const auto now = detail::SteadyClock::now();
    if (deadline <= now) return false;
    if (deadline == detail::SteadyClock::time_point::max())
      lock_.acquire();
    else if (!lock_.acquire(deadline - now))
      return false;
  }
  owner_.store(me, std::memory_order_relaxed);
  count_ = 1;
  return true;
}

void RLock::release() {
  if (owner_.load(std::memory_order_relaxed) != get_ident())
    throw InvalidStateError("cannot release un-acquired lock");
  if (--count_ == 0) {
    owner_.store(0, std::memory_order_relaxed);
    lock_.release();
  }
}

bool RLock::is_owned() const noexcept { return owner_.load(std::memory_order_relaxed) == get_ident(); }

std::size_t RLock::recursion_count() const noexcept { return is_owned() ? count_ : 0; }

std::size_t RLock::release_save() {
  if (!is_owned()) throw InvalidStateError("cannot release un-acquired lock");
  const std::size_t count = count_;
  count_ = 0;
  owner_.store(0, std::memory_order_relaxed);
  lock_.release();
  return count;
}

void RLock::acquire_restore(std::size_t count) {
  lock_.acquire();
  owner_.store(get_ident(), std::memory_order_relaxed);
  count_ = count;
}

// --- Condition ----------------------------------------------------------------------------

void Condition::wake_locked(Waiter* w) noexcept {
  if (w->prev)
    w->prev->next = w->next;
  else
    head_ = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    tail_ = w->prev;
  w->queued = false;
  // release: pairs with the waiter's acquire load. The wake is issued under mu_, and the
  // waiter takes mu_ before it returns, so `w` (on the waiter's stack) outlives this call.
  w->signaled.store(1, std::memory_order_release);
  detail::futex_wake(&w->signaled, 1);
}

bool Condition::wait_until(detail::SteadyClock::time_point deadline) {
  if (!is_owned()) throw InvalidStateError("cannot wait on un-acquired lock");
  Waiter w;
  {
    std::lock_guard hold(mu_);
    w.prev = tail_;
    if (tail_)
      tail_->next = &w;
    else
      head_ = &w;
    tail_ = &w;
  }
  std::size_t saved = 0;
  if (plain_)
    plain_->release();
  else
    saved = rlock_->release_save();

  while (w.signaled.load(std::memory_order_acquire) == 0)
    if (!detail::futex_wait(&w.signaled, 0, deadline)) break;

  bool notified = true;
  {
    std::lock_guard hold(mu_);
    if (w.queued) {  // timed out, and no notify() took us meanwhile
      notified = false;
      if (w.prev)
        w.prev->next = w.next;
      else
        head_ = w.next;
      if (w.next)
        w.next->prev = w.prev;
      else
        tail_ = w.prev;
    }
  }
  if (plain_)
    plain_->acquire();
  else
    rlock_->acquire_restore(saved);
  return notified;
}

void Condition::notify(std::size_t n) {
  if (!is_owned()) throw InvalidStateError("cannot notify on un-acquired lock");
  std::lock_guard hold(mu_);
  while (n > 0 && head_) {
    wake_locked(head_);
    --n;
  }
}

void Condition::notify_all() {
  if (!is_owned()) throw InvalidStateError("cannot notify on un-acquired lock");
  std::lock_guard hold(mu_);
  while (head_) wake_locked(head_);
}

// --- Semaphore ----------------------------------------------------------------------------

Semaphore::Semaphore(std::int64_t value) : Semaphore(value, false) {}

Semaphore::Semaphore(std::int64_t value, bool bounded)
    : value_(value < 0 ? 0 : static_cast<std::size_t>(value)), bound_(value_), bounded_(bounded) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
}

bool Semaphore::acquire(bool blocking) {
  std::lock_guard hold(lock_);
  while (value_ == 0) {
    if (!blocking) return false;
    cond_.wait();
  }
  --value_;
  return true;
}

bool Semaphore::acquire_until(detail::SteadyClock::time_point deadline) {
  std::lock_guard hold(lock_);
  while (value_ == 0) {
    if (detail::SteadyClock::now() >= deadline) return false;
    cond_.wait_until(deadline);
  }
  --value_;
  return true;
}

void Semaphore::release(std::size_t n) {
  if (n < 1) throw ValueError("n must be one or more");
  std::lock_guard hold(lock_);
  if (bounded_ && value_ + n > bound_) throw ValueError("Semaphore released too many times");
  value_ += n;
  cond_.notify(n);
}

std::size_t Semaphore::value() const {
  std::lock_guard hold(lock_);
  return value_;
}

// --- Event --------------------------------------------------------------------------------

void Event::set() {
  std::lock_guard hold(lock_);
  flag_.store(true, std::memory_order_release);
  cond_.notify_all();
}

void Event::clear() {
  std::lock_guard hold(lock_);
  flag_.store(false, std::memory_order_release);
}

bool Event::wait() { return is_set() || wait_until(detail::SteadyClock::time_point::max()); }

bool Event::wait_until(detail::SteadyClock::time_point deadline) {
  std::lock_guard hold(lock_);
  bool signaled = flag_.load(std::memory_order_relaxed);
  if (!signaled) signaled = cond_.wait_until(deadline);
  return signaled;
}

// --- Barrier ------------------------------------------------------------------------------

Barrier::Barrier(std::int64_t parties, std::function<void()> action,
                 std::optional<std::chrono::nanoseconds> timeout)
    : action_(std::move(action)),
      timeout_(timeout),
      parties_(parties < 1 ? 1 : static_cast<std::size_t>(parties)) {
  if (parties < 1) throw ValueError("parties must be >= 1");
}

std::size_t Barrier::wait() { return wait_with(timeout_); }

std::size_t Barrier::wait_with(std::optional<std::chrono::nanoseconds> timeout) {
  std::lock_guard hold(lock_);
  enter();  // waits while the previous round drains or a reset completes
  const std::size_t index = count_++;
  struct Leave {
    Barrier* b;
    ~Leave() {
      --b->count_;
      b->exit_round();
    }
  } leave{this};
  if (index + 1 == parties_)
    release_round();
  else
    wait_round(timeout);
  return index;
}

void Barrier::enter() {
  while (state_ == State::draining || state_ == State::resetting) cond_.wait();
  if (state_ == State::broken) throw BrokenBarrierError();
}

void Barrier::release_round() {
  try {
    if (action_) action_();
    state_ = State::draining;
    cond_.notify_all();
  } catch (...) {
    break_locked();  // the others get BrokenBarrierError, this thread the action's error
    throw;
  }
}

void Barrier::wait_round(std::optional<std::chrono::nanoseconds> timeout) {
  auto released = [this] { return state_ != State::filling; };
  const bool ok = timeout ? cond_.wait_for(released, *timeout) : cond_.wait_for(released);
  if (!ok) {
    break_locked();
    throw BrokenBarrierError("the barrier wait timed out");
  }
  if (state_ == State::broken || state_ == State::resetting) throw BrokenBarrierError();
}

void Barrier::exit_round() {
  // The last thread out of a drained or reset round opens the barrier for the next one.
  if (count_ == 0 && (state_ == State::draining || state_ == State::resetting)) {
    state_ = State::filling;
    cond_.notify_all();
  }
}

void Barrier::reset() {
  std::lock_guard hold(lock_);
  if (count_ > 0) {
    if (state_ == State::filling || state_ == State::broken) state_ = State::resetting;
  } else {
    state_ = State::filling;
  }
  cond_.notify_all();
}

void Barrier::abort() {
  std::lock_guard hold(lock_);
  break_locked();
}

void Barrier::break_locked() {
  state_ = State::broken;
  cond_.notify_all();
}

std::size_t Barrier::n_waiting() const {
  std::lock_guard hold(lock_);
  return state_ == State::filling ? count_ : 0;
}

bool Barrier::broken() const {
  std::lock_guard hold(lock_);
  return state_ == State::broken;
}

}  // namespace shoal
