#pragma once
/// \file
/// Job files for `shoal run JOB.toml`, and the state of a job while it runs.
///
/// The format (docs/jobs.md has the long version):
///
///     name = "pi"                        # optional; the file's stem when absent
///     [defaults]                         # optional
///     timeout = "30s"                    # "500ms", "30s", "1.5s", "2m", "1h", or seconds as a number
///     retries = 3                        # an integer >= 0
///
///     [[task]]
///     name = "chunk"                     # required: letters, digits, '_', '-', '.'
///     function = "pi_chunk"              # required: a registered remote function
///     count = 16                         # fan-out: chunk[0] .. chunk[15]
///     args = [1000000, { index = 1 }]    # seeds 1..16
///     timeout = "10s"                    # overrides [defaults]
///
///     [[task]]
///     name = "estimate"
///     function = "pi_reduce"
///     args = [{ results = "chunk" }, 1000000]
///
/// Keys of a [[task]]: name, function, args (an array, default []), count (>= 1) or each (a
/// non-empty array: one member per element), after (names of tasks to wait for without
/// taking their results), timeout, retries, and its placement: resources ("gpu=1,memory=4G"
/// or { gpu = 1 }), labels and prefer (["zone=a"]), strategy ("spread", "pack"), priority
/// (an integer), and retries of its errors: retry_on (["ValueError"]), retry_attempts,
/// retry_backoff (a duration, doubling). All but name, function, args, count, each and
/// after may be given in [defaults]. Anything else is an error.
///
/// An argument is any TOML value (tables become JSON objects), except that a table with
/// exactly one of these keys is special:
///
///     { result = "prep" }       the result of task prep ("chunk[3]" for one fan-out member)
///     { results = "chunk" }     an array of the results of every member, in index order
///     { index = true }          in a fan-out, the member's index; { index = 10 } adds 10
///     { item = true }           in an `each` fan-out, the member's element (itself an argument)
///     { path = "../data/a.txt" } a path relative to the job file's directory, made absolute
///     { literal = V }           V as it is: no special tables, no "{i}" substitution
///
/// In a fan-out, "{i}" in any string (including result names and paths) becomes the
/// index, and "{item}" the element when the elements are strings or integers. References
/// may point forward; the graph must be acyclic.
///
/// In the parsed Job each reference becomes {"$future": k}, k indexing the task's `deps`
/// (first appearance order, one entry per distinct task); `after` entries follow. Errors are
/// JobError, one line: "jobs/pi.toml:12: unknown key 'fucntion' in [[task]] ...".

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shoal/core/error.hpp"
#include "shoal/link/placement.hpp"
#include "shoal/link/retry.hpp"

namespace shoal::cli {

/// A job file that cannot run as written: "file:line: what is wrong". Fix the file;
/// retrying fails again.
class JobError : public Error {
 public:
  explicit JobError(const std::string& what) : Error(what, ErrorKind::failed) {}
};

/// One task of a job, after fan-out expansion.
struct JobTask {
  std::string name;      ///< "estimate", or "chunk[3]" for a member of a fan-out
  std::string function;  ///< the remote function's registered name
  nlohmann::json args = nlohmann::json::array();  ///< a JSON array; references are {"$future": k}
  std::vector<std::size_t> deps;  ///< indices into Job::tasks (all smaller than this task's)
  std::optional<std::chrono::milliseconds> timeout;  ///< the task's own, else [defaults]
  std::optional<int> retries;                        ///< the task's own, else [defaults]
  link::Placement placement;                         ///< resources, labels, strategy, priority
  RetryPolicy retry;                                 ///< retry_on, retry_attempts, retry_backoff
  int line = 0;                                      ///< of its [[task]] header
  std::string group;                 ///< the [[task]]'s name ("chunk" for "chunk[3]")
  std::optional<std::size_t> index;  ///< the member's index in a fan-out
};

/// A parsed job: its tasks in a topological order (every task after its dependencies;
/// otherwise in file order).
struct Job {
  std::string name;
  std::vector<JobTask> tasks;
  std::filesystem::path dir;  ///< the job file's directory, absolute
  std::string origin;         ///< the file name used in messages

  /// The index of the task called `name` ("chunk[3]", "estimate"), if any.
  [[nodiscard]] std::optional<std::size_t> find(std::string_view name) const;
};

/// Reads and parses a job file. JobError ("file:line: ...") when it is invalid or unreadable.
[[nodiscard]] Job parse_job(const std::filesystem::path& file);

/// Parses a job from text; `origin` names it in messages, and its directory (the current
/// directory when it has none) is where `{ path = ... }` arguments are resolved.
[[nodiscard]] Job parse_job_string(std::string_view toml, std::string_view origin);

/// "500ms", "30s", "1.5s", "2m", "1h" as milliseconds; nullopt when malformed or negative.
[[nodiscard]] std::optional<std::chrono::milliseconds> try_parse_duration(std::string_view text);

// ----------------------------------------------------------------------------------------

/// Where a task of a running job is.
enum class TaskState { pending, submitted, running, done, failed, skipped, cancelled };

/// "pending", "submitted", ...
[[nodiscard]] std::string_view to_string(TaskState state) noexcept;

/// True for done, failed, skipped and cancelled: no later event changes the state.
[[nodiscard]] constexpr bool is_terminal(TaskState s) noexcept {
  return s == TaskState::done || s == TaskState::failed || s == TaskState::skipped ||
         s == TaskState::cancelled;
}

/// What is known of one task of a running job.
struct TaskStatus {
  TaskState state = TaskState::pending;
  std::string worker;                ///< who ran it (done, failed), when reported
  std::chrono::nanoseconds elapsed{0};  ///< how long it ran (done, failed), when reported
  /// failed: the error; skipped: "skipped: chunk[3] failed: <its error>"; cancelled:
  /// "cancelled" or "cancelled: chunk[3] was cancelled".
  std::string message;
  std::optional<std::size_t> cause;  ///< skipped, cancelled by cascade: the task that caused it
  nlohmann::json result;             ///< done: the result, when reported
};

/// The state of a job's run: no I/O, no clock, no threads; the CLI feeds it events and
/// asks what to submit. Two ways to drive it: submit ready() tasks as their dependencies
/// finish, or submit submittable_all() at once and let the coordinator hold dependents.
/// Events for a task already in a terminal state are ignored (they return false or an
/// empty list): with everything submitted, the coordinator may report a dependent's
/// failure after this run has marked it skipped.
class JobRun {
 public:
  /// A task to submit, with its dependencies (indices into the job's tasks).
  struct Submission {
    std::size_t task;
    std::vector<std::size_t> deps;
  };

  /// Copies what it needs of `job`: the job may go away. ValueError when a task depends on
  /// one that is not before it (parse_job's order always qualifies).
  explicit JobRun(const Job& job);

  /// Pending tasks whose dependencies are all done, in topological order.
  [[nodiscard]] std::vector<std::size_t> ready() const;
  /// Every pending task, in topological order, with its dependencies.
  [[nodiscard]] std::vector<Submission> submittable_all() const;

  /// pending -> submitted.
  bool on_submitted(std::size_t task);
  /// pending or submitted -> running on `worker`.
  bool on_running(std::size_t task, std::string worker = {});
  /// A non-terminal task -> done.
  bool on_done(std::size_t task, std::string worker = {}, std::chrono::nanoseconds elapsed = {},
               nlohmann::json result = nullptr);
  /// A non-terminal task -> failed; every transitive dependent not yet terminal -> skipped.
  /// Returns the newly skipped, in topological order.
  std::vector<std::size_t> on_failed(std::size_t task, std::string message, std::string worker = {},
                                     std::chrono::nanoseconds elapsed = {});
  /// A non-terminal task -> cancelled, and its transitive dependents with it (cancellation
  /// is not a failure, but they cannot run). Returns the dependents newly cancelled.
  std::vector<std::size_t> on_cancelled(std::size_t task);
  /// Every non-terminal task -> cancelled (Ctrl-C). Returns them.
  std::vector<std::size_t> cancel_all();

  /// The number of tasks (the job's, expanded).
  [[nodiscard]] std::size_t size() const noexcept { return tasks_.size(); }
  /// Job::name.
  [[nodiscard]] const std::string& job_name() const noexcept { return job_name_; }
  /// The task's name ("chunk[3]"). ValueError for an index out of range, as below.
  [[nodiscard]] const std::string& name(std::size_t task) const;
  /// The task's state and what was reported with it.
  [[nodiscard]] const TaskStatus& status(std::size_t task) const;
  /// The tasks `task` needs (JobTask::deps).
  [[nodiscard]] const std::vector<std::size_t>& deps(std::size_t task) const;
  /// The tasks that need `task` directly, in order.
  [[nodiscard]] const std::vector<std::size_t>& dependents(std::size_t task) const;
  /// How many tasks are in `state`.
  [[nodiscard]] std::size_t count(TaskState state) const noexcept;
  /// True when every task is in a terminal state.
  [[nodiscard]] bool finished() const noexcept;
  /// 0 when every task is done; 1 otherwise (failed, skipped, cancelled or unfinished).
  [[nodiscard]] int exit_code() const noexcept;

 private:
  struct Node {
    std::string name;
    std::vector<std::size_t> deps;
    std::vector<std::size_t> dependents;
    TaskStatus status;
  };
  Node& at(std::size_t task);
  const Node& at(std::size_t task) const;
  void set_state(Node& n, TaskState s) noexcept;
  /// Marks the transitive dependents of `task` that are not terminal as `state`.
  std::vector<std::size_t> cascade(std::size_t task, TaskState state, const std::string& message);

  std::string job_name_;
  std::vector<Node> tasks_;
  std::size_t counts_[7] = {};
};

}  // namespace shoal::cli
