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

#include <cstdint>
#include <stop_token>
#include <string_view>

namespace shoal::this_task {

/// The running task's stop token (an empty token outside a remote plain task).
[[nodiscard]] std::stop_token stop_token() noexcept;
/// Whether the running task was asked to stop.
[[nodiscard]] bool stop_requested() noexcept;
/// Throws CancelledError when the running task was asked to stop.
void throw_if_stop_requested();

/// Streams `data` as the running task's output on `stream` (1: stdout, 2: stderr) to its
/// submitter and subscribers as it comes (what `shoal submit --exec` prints live). May
/// block while earlier output has not left (the stream's flow control). False, and
/// nothing sent, outside a task run by a worker.
bool write_output(int stream, std::string_view data);

/// The id of the remote task running here (a plain task on this thread, or the coroutine
/// task whose coroutine, or a task it created, runs now); 0 outside remote tasks (Ray's
/// get_runtime_context().get_task_id()). Tasks submitted from it are its children: a
/// cancel of it cancels them too.
[[nodiscard]] std::uint64_t id() noexcept;
/// Marks the running coroutine task (and the tasks it creates) as remote task `task`
/// (used by workers).
void set_coroutine_id(std::uint64_t task);

/// The id of the task whose output this thread's writes are (0: none), and which run of
/// it (a number that changes with every OutputScope: a retry on the same thread is
/// another). Used by workers.
[[nodiscard]] std::uint64_t output_task() noexcept;
[[nodiscard]] std::uint64_t output_run() noexcept;
/// write_output() that never waits: what does not fit the stream's window now is dropped
/// (false). For writes made under a lock others need (a captured printf holds stdout's).
bool try_write_output(int stream, std::string_view data) noexcept;

/// Where a worker sends the output of the task running on a thread.
class OutputSink {
 public:
  virtual void write(std::uint64_t task, int stream, std::string_view data) = 0;
  /// write() without waiting: false, and nothing queued, when it would have to.
  virtual bool try_write(std::uint64_t task, int stream, std::string_view data) noexcept = 0;

 protected:
  ~OutputSink() = default;
};

/// Sets this thread's output sink and task for its lifetime (used by workers).
class OutputScope {
 public:
  OutputScope(OutputSink* sink, std::uint64_t task) noexcept;
  ~OutputScope();
  OutputScope(const OutputScope&) = delete;
  OutputScope& operator=(const OutputScope&) = delete;

 private:
  OutputSink* previous_sink_;
  std::uint64_t previous_task_;
};

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
