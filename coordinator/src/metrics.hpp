#pragma once
// What the coordinator counts for its observers (/metrics, the dashboard, the timeline):
// per function, tasks by outcome and histograms of queue wait and run time; per client
// (a job), its tasks by outcome; a sample of the whole each second for the last five
// minutes; the last attempts of tasks, for the timeline. Kept by the engine on its own
// thread (plain counters, nothing locked); the HTTP server reads copies (observe.hpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "shoal/link/timeline.hpp"

namespace shoal::coordinator {

/// Counts of durations in fixed buckets (upper bounds in ns; the last bucket is +Inf), as
/// a Prometheus histogram wants them: 100 us to 5 minutes.
struct Histogram {
  static constexpr std::array<std::uint64_t, 14> kBoundsNs = {
      100'000,       500'000,        1'000'000,      5'000'000,      10'000'000,      50'000'000,       100'000'000,
      500'000'000,   1'000'000'000,  5'000'000'000,  10'000'000'000, 30'000'000'000,  60'000'000'000,  300'000'000'000};
  std::array<std::uint64_t, kBoundsNs.size() + 1> counts{};  // per bucket, not cumulative
  std::uint64_t sum_ns = 0, count = 0;

  void observe(std::uint64_t ns) noexcept {
    std::size_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
    ++counts[i];
    sum_ns += ns;
    ++count;
  }
};

/// A function's tasks, by what became of them.
struct FunctionCounters {
  std::uint64_t submitted = 0, finished = 0, failed = 0, cancelled = 0, retried = 0;
  Histogram queue_wait;  // submit to the (latest) assign
  Histogram run;         // as the worker measured it
};

/// A submitting client's tasks: a job (`shoal run` names its client after the job).
struct JobCounters {
  std::string name;
  std::uint64_t client = 0;
  bool connected = true;
  std::uint64_t submitted = 0, finished = 0, failed = 0, cancelled = 0;
  std::uint64_t first_submit_ns = 0, last_end_ns = 0;  // wall clock
};

/// One attempt as remembered (names resolved when read: Engine::observe_attempts).
struct AttemptRecord {
  enum Outcome : std::uint8_t { done, failed, cancelled, retried, handed_back, worker_lost };
  std::uint64_t task_id = 0, worker_id = 0, submitter = 0;
  std::uint64_t submitted_ns = 0, started_ns = 0, ended_ns = 0, run_ns = 0;  // wall clock
  std::uint32_t fn = 0, attempt = 0;
  Outcome outcome = done;
  std::string error;  // failed ones: one line, at most 300 bytes
};
[[nodiscard]] const char* outcome_name(AttemptRecord::Outcome o) noexcept;

/// The whole, once a second (the dashboard's charts).
struct Sample {
  std::uint64_t wall_ns = 0;
  std::uint64_t submitted = 0, finished = 0, failed = 0, cancelled = 0;  // cumulative
  std::uint64_t queued = 0, running = 0, waiting = 0;                    // at that moment
};

struct Metrics {
  static constexpr std::size_t kHistory = 300;     // samples: five minutes
  static constexpr std::size_t kMaxJobs = 1000;    // clients remembered (the gone ones go first)
  std::size_t max_attempts = 100'000;              // attempts remembered for the timeline

  std::vector<FunctionCounters> functions;  // by FunctionTable index
  std::unordered_map<std::uint64_t, JobCounters> jobs;  // by client peer id
  std::deque<Sample> history;
  std::deque<AttemptRecord> attempts;
  // The latest failed tasks, as they were (the dashboard's list: kept after the tasks are
  // forgotten, when their client left).
  struct Failure {
    std::uint64_t task_id = 0, worker_id = 0, submitter = 0;
    std::uint64_t submitted_ns = 0, started_ns = 0, finished_ns = 0, run_ns = 0;
    std::uint32_t fn = 0, attempt = 0;
    std::string error;  // at most 1,000 bytes
  };
  static constexpr std::size_t kRecentFailures = 200;
  std::deque<Failure> recent_failures;
  std::unordered_map<std::uint64_t, std::string> worker_names;  // every worker seen (its attempts name it)
  std::uint64_t submitted = 0, finished = 0, failed = 0, cancelled = 0, retried = 0;
  std::uint64_t bytes_in_closed = 0, bytes_out_closed = 0;  // of connections that ended
  std::uint64_t connections_total = 0;
  std::uint64_t started_wall = 0;

  FunctionCounters& fn(std::uint32_t f) {
    if (f >= functions.size()) functions.resize(f + 1);
    return functions[f];
  }
  /// The job of client `peer` (made on its first task, named `name`).
  JobCounters& job(std::uint64_t peer, const std::string& name, std::uint64_t now_wall);
  void client_gone(std::uint64_t peer);
  void attempt(AttemptRecord a);
  void worker_seen(std::uint64_t id, const std::string& name);
  void sample(const Sample& s);
};

}  // namespace shoal::coordinator
