#pragma once
/// \file
/// wait(): Python's asyncio.wait. Waits for some of a set of futures or tasks and splits
/// them into done and pending. Never cancels them, never raises on timeout.

#include <chrono>
#include <optional>
#include <vector>

#include "shoal/detail/awaitables.hpp"

namespace shoal {

/// When wait() returns (Python's constants, and Asio's wait_for_one / wait_for_one_error
/// / wait_for_all).
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

struct WaitOptions {
  /// No timeout when empty.
  std::optional<std::chrono::nanoseconds> timeout{};  // {}: no -Wmissing-field-initializers on {.return_when = ...}
  ReturnWhen return_when = ALL_COMPLETED;
};

/// The futures split by state, each list in input order.
template <typename F>
struct WaitResult {
  std::vector<F> done;
  std::vector<F> pending;
};

namespace detail {
inline WaitSet::Condition wait_condition(ReturnWhen w) noexcept {
  return w == FIRST_COMPLETED   ? WaitSet::any_ready
         : w == FIRST_EXCEPTION ? WaitSet::all_or_first_exception
                                : WaitSet::all_ready;
}

template <typename F>
Coro<WaitResult<F>> wait_impl(std::vector<F> fs, WaitOptions opts) {
  auto ws = make_ref<WaitSet>(fs.size());
  for (std::size_t i = 0; i < fs.size(); ++i) ws->watch(i, fs[i].state());
  Unwatch guard(*ws);
  WaitSet::Condition cond = wait_condition(opts.return_when);
  std::optional<Clock::time_point> deadline;
  if (opts.timeout) deadline = deadline_in(*opts.timeout);
  co_await suspend_on(ws, cond, deadline, OnCancel::abandon);
  WaitResult<F> r;
  for (auto& f : fs) (f.done() ? r.done : r.pending).push_back(f);
  co_return r;
}
}  // namespace detail

/// What wait() returns: awaited by a coroutine (asyncio.wait), or blocked on by a thread
/// with get() or a conversion (concurrent.futures.wait).
template <typename F>
class [[nodiscard]] WaitCall : public Coro<WaitResult<F>> {
 public:
  WaitCall(std::vector<F> fs, WaitOptions opts)
      : Coro<WaitResult<F>>(detail::wait_impl(fs, opts)), fs_(std::move(fs)), opts_(opts) {}

  /// Blocks the calling thread per the options: concurrent.futures.wait.
  WaitResult<F> get() && {
    auto ws = detail::make_ref<detail::WaitSet>(fs_.size());
    for (std::size_t i = 0; i < fs_.size(); ++i) ws->watch(i, fs_[i].state());
    detail::Unwatch guard(*ws);
    std::optional<detail::Clock::time_point> deadline;
    if (opts_.timeout) deadline = detail::deadline_in(*opts_.timeout);
    detail::block_on(ws, detail::wait_condition(opts_.return_when), deadline);
    WaitResult<F> r;
    for (auto& f : fs_) (f.done() ? r.done : r.pending).push_back(f);
    return r;
  }
  operator WaitResult<F>() && { return std::move(*this).get(); }

 private:
  std::vector<F> fs_;
  WaitOptions opts_;
};

/// Waits per `opts` for futures or tasks and returns {done, pending}; never cancels them
/// and never raises on timeout. Throws ValueError for an empty set. In a coroutine, await
/// it (CancelledError if the awaiting task is cancelled; the futures are left alone):
///     auto [done, pending] = co_await shoal::wait(tasks, {.timeout = 1s, .return_when = shoal::FIRST_COMPLETED});
/// On a thread, block on it:
///     shoal::WaitResult<shoal::Future<int>> r = shoal::wait(futures, {.timeout = 1s});
template <typename F>
WaitCall<F> wait(std::vector<F> fs, WaitOptions opts = {}) {
  if (fs.empty()) throw ValueError("wait() needs at least one future or task");
  return WaitCall<F>(std::move(fs), opts);
}

}  // namespace shoal
