#pragma once
/// \file
/// as_completed(): Python's asyncio.as_completed. Hands back futures in the order they
/// complete.

#include <chrono>
#include <optional>
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
      : fs_(std::move(fs)), ws_(detail::make_ref<detail::WaitSet>(fs_.size())), remaining_(fs_.size()) {
    for (std::size_t i = 0; i < fs_.size(); ++i) ws_->watch(i, fs_[i].state());
    if (timeout) deadline_ = detail::deadline_in(*timeout);
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
      waiting_ = true;
      struct Clear {
        bool& waiting;
        ~Clear() { waiting = false; }
      } clear{waiting_};
      auto r = co_await detail::suspend_on(ws_, detail::WaitSet::any_ready, deadline_,
                                           detail::OnCancel::abandon);
      if (r.wake == detail::Wake::timeout)
        throw TimeoutError("as_completed: " + std::to_string(remaining_) + " future(s) still pending at the deadline");
      i = ws_->take_next();
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
      if (detail::block_on(ws_, detail::WaitSet::any_ready, deadline_) == detail::Wake::timeout)
        throw TimeoutError("as_completed: " + std::to_string(remaining_) + " future(s) still pending at the deadline");
      i = ws_->take_next();
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
  std::vector<Future<T>> fs_;
  detail::Ref<detail::WaitSet> ws_;
  std::optional<detail::Clock::time_point> deadline_;
  std::size_t remaining_;
  bool waiting_ = false;  // a next() is suspended
};

/// Futures, tasks or coroutines (scheduled as tasks at once) in completion order, with an
/// optional overall timeout.
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
