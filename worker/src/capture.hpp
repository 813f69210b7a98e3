#pragma once
// What a task prints, captured per task: std::cout, std::cerr and std::clog, and C's
// stdout and stderr (printf, puts, fputs...), written from a thread running a plain task,
// are sent as that task's output (this_task::write_output: its submitter and subscribers
// see it as it comes, the coordinator keeps it for `shoal logs`) and still written to the
// worker's own stdout or stderr, as before. Per task and stream, the first kCapturedBytes
// are sent, then one line saying the rest was not. Writes outside a task, from coroutine
// tasks (they share the loop's thread), and raw write(2) calls on fds 1 and 2 reach the
// worker's streams only.

#include <cstddef>

namespace shoal::worker {

inline constexpr std::size_t kCapturedBytes = 64 * 1024;

/// Installs the capture, once per process (worker processes only: it replaces the
/// standard streams' buffers and C's stdout and stderr).
void capture_task_output();

}  // namespace shoal::worker
