#pragma once
// The worker's last words: when a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT)
// kills the process, a handler tells the coordinator which signal and which task the
// faulting thread ran (a Crashed frame, prepared in advance and patched in the handler
// with async-signal-safe code only), writes one line to stderr, and lets the signal kill
// the process as it would have. The coordinator then blames that task alone: it fails
// with TaskCrashed instead of being retried onto the next worker, and the tasks that
// shared the worker are retried at no cost.
//
// Best effort, never harmful: the handler claims the connection's wire flag first, so
// its frame never lands inside another; when a write stays under way (the crash is on
// the loop thread itself), or no connection is set, nothing is sent.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace shoal::worker::crash {

/// Installs the handlers (once per process; later calls do nothing).
void install();

/// Where the report goes: the connection's socket and its wire flag (frame bytes in flight),
/// which the handler claims (waiting up to 100 ms for a write in flight to finish) so
/// that its frame never lands inside another (both may change per session; -1 and
/// nullptr: nowhere).
void set_channel(int fd, std::atomic<bool>* writing) noexcept;

/// Sends `n` words (whole frames) on the channel, beside the connection's frame writer:
/// claims its wire flag (waiting up to `wait_ms` for a write in flight to finish),
/// sends, and gives the flag back unless `keep`. Async-signal-safe. False when nothing
/// was sent (no channel, or the flag stayed taken). The watchdog's heartbeats use it too,
/// holding channel_mutex() so that the channel does not change under them.
bool send_beside(const std::uint64_t* words, std::size_t n, int wait_ms, bool keep) noexcept;
std::mutex& channel_mutex() noexcept;

/// Marks this thread as running task `id` for its lifetime (nests).
class TaskScope {
 public:
  explicit TaskScope(std::uint64_t id) noexcept;
  ~TaskScope();
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;

 private:
  std::uint64_t previous_;
};

}  // namespace shoal::worker::crash
