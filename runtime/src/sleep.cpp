#include "shoal/core/sleep.hpp"

#include <asio/experimental/as_tuple.hpp>

namespace shoal::detail {

Coro<void> sleep_ns(std::chrono::nanoseconds d) {
  // Cancelled while running (no wait to interrupt): the timer below would not see it.
  SHOAL_DETAIL_DELIVER_CANCELLATION();
  if (d <= std::chrono::nanoseconds::zero()) {
    co_await asio::post(co_await asio::this_coro::executor, use_coro);
  } else {
    // now + d, saturated at the clock's end.
    auto now = std::chrono::steady_clock::now();
    auto at = d >= std::chrono::steady_clock::time_point::max() - now ? std::chrono::steady_clock::time_point::max()
                                                                      : now + d;
    asio::steady_timer timer(co_await asio::this_coro::executor, at);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(use_coro));
    (void)ec;  // operation_aborted means cancelled: delivered just below
  }
  SHOAL_DETAIL_DELIVER_CANCELLATION();
}

}  // namespace shoal::detail
