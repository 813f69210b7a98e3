#pragma once
/// \file
/// The timeline: what the coordinator remembers of each attempt of a task (from its assign
/// to its end), and the Chrome trace-event JSON that Perfetto and chrome://tracing open.
/// One track per worker slot (a worker's concurrent attempts are laid on as many tracks as
/// they need, so that no two slices of a track overlap), a slice per attempt named by its
/// function, and the queue wait before it (submit to start) as a slice of its own on a
/// "queue" track of the worker.

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/proto/shoal.capnp.h"

namespace shoal::link {

/// One attempt of a task on a worker. Times are wall-clock ns since the epoch.
struct Attempt {
  std::uint64_t task_id = 0;
  std::string function;
  std::uint32_t attempt = 0;
  std::uint64_t worker_id = 0;
  std::string worker;  // its name
  std::string job;     // the name its submitting client gave
  std::uint64_t submitted_ns = 0, started_ns = 0, ended_ns = 0;
  std::uint64_t run_ns = 0;  // as the worker measured it (0: unknown)
  /// "done", "failed", "cancelled", "retried", "handed back", "worker lost".
  std::string outcome;
  std::string error;  // one line, for failed attempts
};

/// The trace-event JSON ({"traceEvents": [...], "displayTimeUnit": "ms"}): one process
/// per worker, one thread (track) per slot, "X" slices with args {task, attempt, job,
/// outcome, error, queue_wait_ms}. Attempts are laid on tracks in start order.
[[nodiscard]] std::string chrome_trace(std::vector<Attempt> attempts);

void set_attempt(proto::schema::AttemptInfo::Builder b, const Attempt& a);
[[nodiscard]] Attempt get_attempt(proto::schema::AttemptInfo::Reader r);

}  // namespace shoal::link
