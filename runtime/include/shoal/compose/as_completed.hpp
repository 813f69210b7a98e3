#pragma once
/// \file
/// as_completed(): Python's asyncio.as_completed. Hands back futures in the order they
/// complete.

#include <chrono>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "shoal/detail/awaitables.hpp"

namespace shoal {

/// What as_completed() returns. In a coroutine, await next() (the object must outlive each
/// await):
///     auto it = shoal::as_completed(tasks, 5s);
///     while (it.has_next()) { auto t = co_await it.next(); use(t.result()); }
/// On a thread, iterate (concurrent.futures.as_completed; each step blocks):
///     for (auto f : shoal::as_completed(futures, 5s)) use(f.result());
template <typename T>
class AsCompleted {
 public:
  AsCompleted(std::vector<Future<T>> fs, std::optional<std::chrono::nanoseconds> timeout)
      : fs_(unique(std::move(fs))), ws_(detail::make_ref<detail::WaitSet>(fs_.size())), remaining_(fs_.size()) {
    if (timeout) deadline_ = detail::deadline_in(*timeout);
    // What completes after the deadline is not handed out as completed (Python stops
    // listening at the timeout).
    if (deadline_) ws_->set_cutoff(*deadline_);
    for (std::size_t i = 0; i < fs_.size(); ++i) ws_->watch(i, fs_[i].state());
  }
  // A moved-from AsCompleted has nothing left to hand out.
  AsCompleted(AsCompleted&& o) noexcept
      : fs_(std::move(o.fs_)), ws_(std::move(o.ws_)), deadline_(o.deadline_),
        remaining_(std::exchange(o.remaining_, 0)) {}
  AsCompleted& operator=(AsCompleted&& o) noexcept {
    if (this != &o) {
      if (ws_) ws_->unwatch();
      fs_ = std::move(o.fs_);
      ws_ = std::move(o.ws_);
      deadline_ = o.deadline_;
      remaining_ = std::exchange(o.remaining_, 0);
    }
    return *this;
  }
  ~AsCompleted() {
    if (ws_) ws_->unwatch();
  }

  /// True while some future has not been handed out.
  [[nodiscard]] bool has_next() const noexcept { return remaining_ > 0; }
  [[nodiscard]] std::size_t remaining() const noexcept { return remaining_; }

  /// The next future to complete (done when returned). Throws TimeoutError once the
  /// deadline passes, CancelledError when the awaiting task is cancelled (the futures are
  /// left alone), InvalidStateError when none is left or when another next() is still
  /// pending (await them one at a time).
  Coro<Future<T>> next() {
    if (remaining_ == 0) throw InvalidStateError("as_completed: every future was already returned");
    // The WaitSet wakes one suspended coroutine: a second one would never be woken.
    if (waiting_) throw InvalidStateError("as_completed: another next() is still pending");
    long i = ws_->take_next();
    if (i < 0) {
      if (past_deadline()) throw timeout_error();
      waiting_ = true;
      struct Clear {
        bool& waiting;
        ~Clear() { waiting = false; }
      } clear{waiting_};
      auto r = co_await detail::suspend_on(ws_, detail::WaitSet::any_ready, deadline_,
                                           detail::OnCancel::abandon);
      i = r.wake == detail::Wake::timeout ? -1 : ws_->take_next();
      if (i < 0) throw timeout_error();  // only a completion after the deadline woke it
    } else {
      SHOAL_DETAIL_DELIVER_CANCELLATION();
    }
    --remaining_;
    co_return fs_[static_cast<std::size_t>(i)];
  }

  /// Blocks the calling thread until the next future completes (TimeoutError at the
  /// deadline, InvalidStateError when none is left).
  Future<T> next_blocking() {
    if (remaining_ == 0) throw InvalidStateError("as_completed: every future was already returned");
    long i = ws_->take_next();
    if (i < 0) {
      if (past_deadline() ||
          detail::block_on(ws_, detail::WaitSet::any_ready, deadline_) == detail::Wake::timeout)
        throw timeout_error();
      i = ws_->take_next();
      if (i < 0) throw timeout_error();
    }
    --remaining_;
    return fs_[static_cast<std::size_t>(i)];
  }

  /// Blocking iteration for threads.
  class iterator {
   public:
    using value_type = Future<T>;
    using difference_type = std::ptrdiff_t;
    explicit iterator(AsCompleted* owner) : owner_(owner) { advance(); }
    iterator() = default;
    const Future<T>& operator*() const noexcept { return *current_; }
    iterator& operator++() {
      advance();
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return owner_ == o.owner_; }

   private:
    void advance() {
      if (owner_ && owner_->has_next())
        current_ = owner_->next_blocking();
      else
        owner_ = nullptr;
    }
    AsCompleted* owner_ = nullptr;
    std::optional<Future<T>> current_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

 private:
  // Python's as_completed works on a set: the same future given twice is handed out once.
  static std::vector<Future<T>> unique(std::vector<Future<T>> fs) {
    std::unordered_set<const detail::StateBase*> seen;
    std::erase_if(fs, [&](const Future<T>& f) { return !seen.insert(f.state()).second; });
    return fs;
  }
  [[nodiscard]] bool past_deadline() const noexcept {
    return deadline_ && detail::Clock::now() > *deadline_;
  }
  TimeoutError timeout_error() const {
    return TimeoutError("as_completed: " + std::to_string(remaining_) + " future(s) not completed by the deadline");
  }

  std::vector<Future<T>> fs_;
  detail::Ref<detail::WaitSet> ws_;
  std::optional<detail::Clock::time_point> deadline_;
  std::size_t remaining_;
  bool waiting_ = false;  // a next() is suspended
};

/// Futures, tasks or coroutines (scheduled as tasks at once) in completion order, with an
/// optional overall timeout. Each distinct future once (the same one given twice is handed
/// out once); what completes after the deadline is not handed out: TimeoutError instead.
template <typename R>
auto as_completed(R&& range, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  auto fs = detail::to_futures(std::forward<R>(range));
  using T = typename decltype(fs)::value_type;
  return AsCompleted<detail::awaited_t<T>>(std::move(fs), timeout);
}
/// as_completed() with a timeout of any duration type (one too large to count, such as
/// `hours::max()`, means no timeout).
template <typename R, typename Rep, typename Period>
auto as_completed(R&& range, std::chrono::duration<Rep, Period> timeout) {
  return as_completed(std::forward<R>(range), std::optional<std::chrono::nanoseconds>(detail::saturate_ns(timeout)));
}

}  // namespace shoal
