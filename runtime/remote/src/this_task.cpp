#include "shoal/remote/this_task.hpp"

#include "shoal/core/error.hpp"

namespace shoal::this_task {

namespace {
thread_local std::stop_token current;
}

std::stop_token stop_token() noexcept { return current; }

bool stop_requested() noexcept { return current.stop_requested(); }

void throw_if_stop_requested() {
  if (current.stop_requested()) throw CancelledError("the task was asked to stop");
}

StopScope::StopScope(std::stop_token token) noexcept : previous_(std::move(current)) { current = std::move(token); }

StopScope::~StopScope() { current = std::move(previous_); }

}  // namespace shoal::this_task
