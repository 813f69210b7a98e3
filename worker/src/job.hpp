#pragma once
// A job: one assigned task on this worker, from its Assign to its reported Result, and
// the outcome a job reports.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include <vector>

#include "shoal/codec/bytes.hpp"
#include "shoal/codec/wire.hpp"
#include "shoal/codec/error_info.hpp"
#include "shoal/core/task.hpp"
#include "shoal/link/timer.hpp"

namespace shoal::worker {

/// Where a job is. Moves forward only, by compare-and-swap: whoever moves it to
/// `reported` (the end of the run, a cancellation, a timeout, a hand-back) reports it.
enum JobPhase : int { queued = 0, running = 1, reported = 2 };

struct Job {
  std::uint64_t id = 0;
  std::string function;  // for an actor call: the method, then "Class.method"
  std::uint64_t hash = 0;
  Bytes args;
  // The dependencies' values, when every one is an argument itself (read in place through
  // reader()); else they were spliced into args already and this is empty.
  std::vector<Bytes> deps;
  /// A reader of the arguments, dependencies included.
  [[nodiscard]] codec::Reader reader() const {
    codec::Reader r(args);
    r.set_refs(deps);
    return r;
  }
  std::uint32_t attempt = 0;
  std::uint64_t timeout_ms = 0;
  std::uint64_t actor = 0;
  bool map = false;  // a chunk of a map: the function over a list of argument tuples (remote/map.hpp)
  std::atomic<int> phase{queued};
  std::stop_source stop;             // a plain function's cancellation
  std::atomic<bool> timed_out{false};
  std::optional<Task<void>> coro;    // a coroutine job's task
  bool began = false;                // loop thread: that task's coroutine started
  // Loop thread: what runs once a coroutine job ended (an actor's next call). Owned by the
  // job's coroutine frame (a frame destroyed unstarted takes it along: no cycle through the
  // actor host that queues the job); seen here for a cancel before the frame started.
  std::weak_ptr<std::function<void()>> after;
  std::unique_ptr<link::Timer> timer;  // its timeout
};

/// What a job reports to the coordinator.
struct Outcome {
  std::uint64_t id = 0;
  enum Kind { value, failure, cancelled, handed_back } kind = value;
  Bytes bytes;
  codec::RemoteErrorInfo error;
  std::uint32_t attempt = 0;
  std::uint64_t run_ns = 0;
};

}  // namespace shoal::worker
