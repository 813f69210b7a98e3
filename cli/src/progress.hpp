#pragma once
/// \file
/// What `shoal run` prints while a job runs and at its end: a Progress printer (a bar
/// redrawn in place on a terminal, one line per finished task otherwise) and a Summary
/// (text, or JSON for --json). Both read a JobRun and write to the stream they are given.
///
///     Progress progress(std::cout, detect_progress_mode());
///     run.on_done(i, "w1", 800us);  progress.update(run, i);    // "done chunk[3] on worker w1 (0.8 ms)"
///     progress.finish(run);
///     std::cout << summarize(run, wall).text();

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "job.hpp"

namespace shoal::cli {

/// How Progress writes: `tty` redraws one bar line with '\r' (failures still get their own
/// line above it); `plain` writes one line per task that finishes, for logs and pipes.
enum class ProgressMode { tty, plain };

/// `tty` when the file descriptor (stdout by default) is a terminal, else `plain`.
[[nodiscard]] ProgressMode detect_progress_mode(int fd = 1);

/// "0.8 ms", "12.3 ms", "1.25 s": a task's or a job's duration as people read it.
[[nodiscard]] std::string format_duration(std::chrono::nanoseconds d);

/// Reports a running job. Not thread-safe: call it where the JobRun is updated.
class Progress {
 public:
  /// Time since the job started; tests pass a fake.
  using Clock = std::function<std::chrono::nanoseconds()>;

  /// Writes to `out`, which must outlive the Progress. Without `elapsed`, time is counted
  /// from construction on the steady clock.
  Progress(std::ostream& out, ProgressMode mode, Clock elapsed = {});

  /// Reports that `task`'s state in `run` just changed (call it for each task returned by
  /// on_failed / on_cancelled too). plain: a line for done, failed, skipped and cancelled
  ///   done chunk[3] on worker w1 (0.8 ms)
  ///   failed chunk[3] on worker w1 (0.8 ms): boom
  ///   skipped estimate: chunk[3] failed: boom
  ///   cancelled estimate
  /// tty: failed lines as above (the bar moved below them); then the bar, at most every
  /// 50 ms, or at once when the run finished:  [#######.....] 12/17 done, 0 failed, 1.2s
  void update(const JobRun& run, std::size_t task);

  /// For a timer (every 100 ms or so) in tty mode: redraws the bar when it is 50 ms old,
  /// so that the clock moves and a burst of updates inside one interval shows. plain: nothing.
  void tick(const JobRun& run);

  /// Ends the report: tty draws the bar a last time and ends its line; plain writes nothing.
  void finish(const JobRun& run);

  /// The bar's text, without '\r' (exposed for tests).
  [[nodiscard]] std::string bar(const JobRun& run) const;

 private:
  void draw(const JobRun& run);

  std::ostream& out_;
  ProgressMode mode_;
  Clock elapsed_;
  std::chrono::nanoseconds last_draw_{-1};
  bool drawn_ = false;  // a bar is on the current line
};

/// What one worker did in a job.
struct WorkerStats {
  std::size_t done = 0;
  std::size_t failed = 0;
  std::chrono::nanoseconds busy{0};  ///< the sum of its tasks' elapsed times
};

/// The end of a job, for people (text()) and programs (to_json()).
struct Summary {
  /// A task that did not finish: failed, skipped or cancelled.
  struct Problem {
    std::string task;
    TaskState state;
    std::string message;
  };

  std::string job;
  std::size_t tasks = 0, done = 0, failed = 0, skipped = 0, cancelled = 0;
  std::chrono::nanoseconds wall{0};
  int exit_code = 0;
  std::map<std::string, WorkerStats> workers;  ///< by worker name; "" when not reported
  std::vector<Problem> problems;               ///< in topological order
  /// The results of the tasks nothing depends on (the job's outputs), when reported.
  std::vector<std::pair<std::string, nlohmann::json>> results;

  /// Several lines:
  ///   job pi: 17 tasks, 17 done, 0 failed, 0 skipped in 1.23 s
  ///     worker w1: 9 done, 0 failed, 0.61 s busy
  ///     estimate = 3.14159
  ///     failed chunk[3]: boom
  [[nodiscard]] std::string text() const;
  /// {"job", "tasks", "done", "failed", "skipped", "cancelled", "wall_ms", "exit_code",
  ///  "workers": {name: {"done", "failed", "busy_ms"}}, "problems": [{"task", "state",
  ///  "message"}], "results": {task: value}}
  [[nodiscard]] nlohmann::json to_json() const;
};

/// The summary of `run`, which took `wall`.
[[nodiscard]] Summary summarize(const JobRun& run, std::chrono::nanoseconds wall);

}  // namespace shoal::cli
