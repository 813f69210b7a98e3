#pragma once
/// \file
/// What a plain (non-coroutine) task running on a worker can ask about itself. A plain
/// function cannot be interrupted: when its future is cancelled, or its timeout passes,
/// the worker requests a stop, and the function sees it here when it looks:
///
///     std::int64_t crunch(std::int64_t n) {
///       for (std::int64_t i = 0; i < n; ++i) {
///         shoal::this_task::throw_if_stop_requested();   // reports the task cancelled
///         step(i);
///       }
///       return n;
///     }
///
/// Outside a remote plain task the token is empty and stop_requested() is false.
/// (A coroutine task is cancelled the asyncio way: CancelledError at its next co_await.)

#include <stop_token>

namespace shoal::this_task {

/// The running task's stop token (an empty token outside a remote plain task).
[[nodiscard]] std::stop_token stop_token() noexcept;
/// Whether the running task was asked to stop.
[[nodiscard]] bool stop_requested() noexcept;
/// Throws CancelledError when the running task was asked to stop.
void throw_if_stop_requested();

/// Sets this thread's current stop token for its lifetime (used by workers).
class StopScope {
 public:
  explicit StopScope(std::stop_token token) noexcept;
  ~StopScope();
  StopScope(const StopScope&) = delete;
  StopScope& operator=(const StopScope&) = delete;

 private:
  std::stop_token previous_;
};

}  // namespace shoal::this_task
