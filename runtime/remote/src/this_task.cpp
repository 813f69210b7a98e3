#include "shoal/remote/this_task.hpp"

#include <atomic>

#include "shoal/core/contextvars.hpp"
#include "shoal/core/error.hpp"

namespace shoal::this_task {

namespace {
thread_local std::stop_token current;
thread_local OutputSink* current_sink = nullptr;
thread_local std::uint64_t current_task = 0;
thread_local std::uint64_t current_run = 0;
std::atomic<std::uint64_t> runs{0};
}  // namespace

bool write_output(int stream, std::string_view data) {
  if (!current_sink) return false;
  if (!data.empty()) current_sink->write(current_task, stream, data);
  return true;
}

std::uint64_t output_task() noexcept { return current_sink ? current_task : 0; }

std::uint64_t output_run() noexcept { return current_run; }

bool try_write_output(int stream, std::string_view data) noexcept {
  if (!current_sink) return false;
  return data.empty() || current_sink->try_write(current_task, stream, data);
}

OutputScope::OutputScope(OutputSink* sink, std::uint64_t task) noexcept
    : previous_sink_(current_sink), previous_task_(current_task) {
  current_sink = sink;
  current_task = task;
  current_run = runs.fetch_add(1, std::memory_order_relaxed) + 1;
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

namespace {
// A coroutine task's id, in the context of the worker's task that runs it (and so of the
// tasks it creates): a coroutine has no thread of its own to mark.
ContextVar<std::uint64_t>& coroutine_task() {
  static ContextVar<std::uint64_t> var("shoal.remote_task", 0);
  return var;
}
}  // namespace

std::uint64_t id() noexcept {
  if (current_sink) return current_task;
  try {
    return coroutine_task().get();
  } catch (...) {
    return 0;
  }
}

void set_coroutine_id(std::uint64_t task) { coroutine_task().set(task); }

StopScope::StopScope(std::stop_token token) noexcept : previous_(std::move(current)) { current = std::move(token); }

StopScope::~StopScope() { current = std::move(previous_); }

}  // namespace shoal::this_task
