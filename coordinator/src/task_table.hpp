#pragma once
// TaskTable: every task the coordinator knows, its dependency edges and its outcome.
// Finishing a task returns what changed (the tasks that ended with it, those made
// ready, those that may now be freed); the engine decides whom to tell. No I/O here.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "functions.hpp"
#include "shoal/codec/bytes.hpp"
#include "shoal/codec/error_info.hpp"
#include "shoal/link/retry.hpp"
#include "shoal/proto/shoal.capnp.h"

namespace shoal::coordinator {

/// One vocabulary for a task's state, the schema's: WAITING (on dependencies), QUEUED
/// (ready, on its function's queue or its actor's), RUNNING (on a worker: assigned, maybe
/// not yet started), then DONE, FAILED or CANCELLED.
using TaskState = proto::schema::TaskState;

[[nodiscard]] inline bool is_finished(TaskState s) noexcept {
  return s == TaskState::DONE || s == TaskState::FAILED || s == TaskState::CANCELLED;
}

/// What few tasks have: dependency edges, subscribers, an actor method (boxed, so that a
/// plain queued task stays small: B9).
struct TaskLinks {
  std::vector<std::uint64_t> deps;         // the tasks whose results it takes, in order
  std::vector<std::uint64_t> dependents;   // unfinished tasks waiting on it
  std::vector<std::uint64_t> subscribers;  // peers that asked for the result
  std::string method;                      // an actor call's method
  std::vector<std::uint64_t> children;     // tasks it submitted from its worker (recursive cancel)
  std::shared_ptr<const RetryPolicy> retry;  // application errors it runs again for
  std::uint32_t app_retries = 0;            // runs it had after such an error
  std::string retry_wait;                   // a retry's backoff: since when, why ("" when not waiting)
  // What it printed (stdout, stderr), as kept for `shoal logs` (bounded: Engine::keep_output).
  std::string output[2];
  std::uint64_t output_dropped[2] = {0, 0};  // bytes not kept
  std::size_t output_base[2] = {0, 0};       // where the current attempt's began (its own cap)
};

struct TaskRecord {
  std::uint64_t id = 0;
  std::uint64_t submitter = 0;  // peer id of the client that submitted it
  std::uint32_t fn = 0;         // index into the FunctionTable
  std::uint32_t req = 0;        // its placement request (Scheduler::placements(); 0: none)
  Bytes args;
  std::uint32_t unresolved = 0;  // deps not done yet
  std::uint32_t holders = 0;  // unfinished dependents that still need this result
  std::uint64_t timeout_ms = 0;
  int retries = 3;
  bool detached = false;  // the result outlives its submitter (kept for the result TTL)
  bool counted = false;   // in the admission counts (unfinished)
  std::uint64_t actor = 0;
  bool actor_create = false;  // the task standing for an actor's constructor
  TaskState state = TaskState::QUEUED;
  std::uint32_t attempt = 0;
  std::uint64_t worker = 0;
  Bytes value;
  std::unique_ptr<codec::RemoteErrorInfo> error;  // a failed task's (boxed: most tasks have none)
  // Flags, packed together (B9: a queued task's size).
  bool released = false;          // its submitter dropped every future of it
  bool cancel_requested = false;
  bool force_cancel = false;      // its worker exits rather than let it run on (cancel --force)
  bool isolate = false;           // charged an attempt by a worker's death: run it alone next time
  std::uint8_t crashes = 0;       // times it was found to have killed its worker (alone, or named by it)
  bool blocked = false;           // waiting on other tasks in its worker: its slot is lent out
  bool journaled = false;         // in the journal: its outcome and its end are written there too
  bool orphan = false;            // recovered with its submitter away: kept as if detached until it returns
  std::uint64_t submitted_wall = 0, finished_wall = 0;
  std::uint64_t started_wall = 0;  // its latest attempt was sent to its worker
  std::uint64_t run_ns = 0;        // as its worker measured it
  std::uint64_t seq = 0;           // its place among its worker's assigns
  // Two halves of one word (B9: a queued task's size; with a whole word each, a task's
  // node in the table took the next allocation size, 32 bytes more).
  std::uint32_t finished_steady_s = 0;  // steady-clock seconds it finished at (the result TTL)
  std::uint32_t args_bytes = 0;         // its arguments' size as submitted (capped), for observers
  std::unique_ptr<TaskLinks> links;

  [[nodiscard]] const std::vector<std::uint64_t>& deps() const noexcept { return links ? links->deps : none(); }
  [[nodiscard]] const std::vector<std::uint64_t>& dependents() const noexcept {
    return links ? links->dependents : none();
  }
  [[nodiscard]] const std::vector<std::uint64_t>& subscribers() const noexcept {
    return links ? links->subscribers : none();
  }
  [[nodiscard]] const std::string& method() const noexcept {
    static const std::string empty;
    return links ? links->method : empty;
  }
  /// The links, made on first use.
  TaskLinks& mut() {
    if (!links) links = std::make_unique<TaskLinks>();
    return *links;
  }

 private:
  static const std::vector<std::uint64_t>& none() noexcept {
    static const std::vector<std::uint64_t> empty;
    return empty;
  }
};

/// Why a task cannot run: a dependency that did not succeed, and the error the task fails with.
struct DependencyProblem {
  std::uint64_t dep = 0;
  codec::RemoteErrorInfo error;
};

/// An error record for task `t`, raised here, on the coordinator.
[[nodiscard]] codec::RemoteErrorInfo task_error(const FunctionTable& fns, const TaskRecord& t, std::string type,
                                                std::string message, ErrorKind kind);

class TaskTable {
 public:
  explicit TaskTable(const FunctionTable& functions) : functions_(functions) {}

  [[nodiscard]] TaskRecord* find(std::uint64_t id);
  [[nodiscard]] const TaskRecord* find(std::uint64_t id) const;
  [[nodiscard]] bool contains(std::uint64_t id) const { return tasks_.count(id) != 0; }
  /// A new record with this id (the caller fills it in).
  TaskRecord& insert(std::uint64_t id);
  void erase(std::uint64_t id) { tasks_.erase(id); }

  /// Links `t` (its deps filled in) to its dependencies: each dependency holds its result
  /// for `t`, and unfinished ones will tell `t`. Returns the first dependency that can
  /// never be satisfied (unknown, failed, cancelled) with why, else nullopt; `t.unresolved`
  /// counts the ones still running.
  std::optional<DependencyProblem> link_dependencies(TaskRecord& t);
  /// What a task fails with when its dependency `dep` (null: unknown) did not succeed: the
  /// dependency's own error, type and message as it was raised, as Dask and Ray raise it
  /// (its task_id and function name the dependency, so where it came from stays
  /// visible); DependencyFailed naming the dependency when it has none (cancelled, unknown).
  [[nodiscard]] codec::RemoteErrorInfo dependency_error(const TaskRecord& t, std::uint64_t dep_id,
                                                        const TaskRecord* dep, const std::string& why) const;

  /// What finish() changed.
  struct Finished {
    std::vector<std::uint64_t> ended;     // this task, then dependents failed because of it
    std::vector<std::uint64_t> ready;     // dependents whose last dependency is now done (QUEUED)
    std::vector<std::uint64_t> freeable;  // tasks that may be freed (see collectable())
  };
  /// Ends task `id` (unless finished already) with `state`: DONE with `value`, FAILED with
  /// `error`, or CANCELLED; its waiting dependents become ready or fail with
  /// DependencyFailed, transitively.
  void finish(std::uint64_t id, TaskState state, Bytes value, std::optional<codec::RemoteErrorInfo> error,
              std::uint64_t wall_ns, std::uint64_t steady_ns, Finished& out);

  /// Whether nobody can ask for `t`'s result any more: finished, released, not detached,
  /// held by no dependent and no subscriber.
  [[nodiscard]] static bool collectable(const TaskRecord& t) noexcept {
    return is_finished(t.state) && t.released && !t.detached && t.holders == 0 && t.subscribers().empty();
  }

  [[nodiscard]] std::uint64_t done_count() const noexcept { return done_; }
  [[nodiscard]] std::uint64_t failed_count() const noexcept { return failed_; }
  [[nodiscard]] std::uint64_t cancelled_count() const noexcept { return cancelled_; }
  [[nodiscard]] std::size_t size() const noexcept { return tasks_.size(); }
  /// The ids of the tasks `keep` accepts (a copy: the caller may finish them).
  template <typename Keep>
  [[nodiscard]] std::vector<std::uint64_t> select(Keep keep) const {
    std::vector<std::uint64_t> out;
    for (const auto& [id, t] : tasks_)
      if (keep(t)) out.push_back(id);
    return out;
  }
  [[nodiscard]] auto begin() const { return tasks_.begin(); }
  [[nodiscard]] auto end() const { return tasks_.end(); }

 private:
  const FunctionTable& functions_;
  std::unordered_map<std::uint64_t, TaskRecord> tasks_;
  std::uint64_t done_ = 0, failed_ = 0, cancelled_ = 0;
};

}  // namespace shoal::coordinator
