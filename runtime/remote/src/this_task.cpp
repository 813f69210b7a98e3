#include "shoal/remote/this_task.hpp"

#include "shoal/core/error.hpp"

namespace shoal::this_task {

namespace {
thread_local std::stop_token current;
thread_local OutputSink* current_sink = nullptr;
thread_local std::uint64_t current_task = 0;
}  // namespace

bool write_output(int stream, std::string_view data) {
  if (!current_sink) return false;
  if (!data.empty()) current_sink->write(current_task, stream, data);
  return true;
}

std::uint64_t output_task() noexcept { return current_sink ? current_task : 0; }

OutputScope::OutputScope(OutputSink* sink, std::uint64_t task) noexcept
    : previous_sink_(current_sink), previous_task_(current_task) {
  current_sink = sink;
  current_task = task;
}

OutputScope::~OutputScope() {
  current_sink = previous_sink_;
  current_task = previous_task_;
}

std::stop_token stop_token() noexcept { return current; }

bool stop_requested() noexcept { return current.stop_requested(); }

void throw_if_stop_requested() {
  if (current.stop_requested()) throw CancelledError("the task was asked to stop");
}

StopScope::StopScope(std::stop_token token) noexcept : previous_(std::move(current)) { current = std::move(token); }

StopScope::~StopScope() { current = std::move(previous_); }

}  // namespace shoal::this_task
