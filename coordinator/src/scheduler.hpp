#pragma once
// Scheduler: the ready queues (one per function) and the workers' slots. pick() is the
// dispatch pass: it returns the assignments to send, least loaded worker first, keeping
// each worker's window of tasks in flight, and does no I/O.

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "functions.hpp"
#include "task_table.hpp"

namespace shoal::coordinator {

/// What the scheduler knows of one live worker.
struct WorkerSlot {
  std::uint64_t id = 0;  // its peer id
  std::string name, host;
  std::uint32_t pid = 0;
  std::uint32_t capacity = 1;        // plain tasks it runs at once (its pool threads)
  std::uint32_t co_capacity = 1024;  // coroutine tasks it runs at once
  std::uint32_t in_plain = 0;        // plain tasks assigned and not finished (slots in use)
  std::uint32_t in_coro = 0;         // coroutine tasks likewise
  std::unordered_set<std::uint64_t> inflight;  // every task assigned to it, actor calls included
  std::unordered_map<std::string, std::uint64_t> actor_classes;  // name -> constructor hash
  std::vector<std::uint32_t> fns;    // the functions it registered
  double ewma_run_ns = 0;            // its tasks' mean run time (sizes the window)
  bool draining = false;             // told us it is stopping: no new work
  bool lost = false;                 // its connection is closing: no new work
  std::uint32_t max_tasks = 0;       // it exits after this many (0: never)
  std::uint32_t assigned_total = 0;
  std::uint64_t active_seq = 0;      // when it last got work or sent results (tie-break)
  std::uint64_t assign_seq = 0;      // assigns sent, in order
  std::uint64_t started = 0;         // of those, how many it has started (its last report)
  std::uint32_t running_reported = 0;  // and how many of those still ran then
  std::uint64_t isolated = 0;        // the task it runs alone, if any (nothing else meanwhile)
  std::uint64_t done = 0;            // tasks it finished
  std::uint32_t actors = 0;          // actors placed on it
  // How it ended (set before recovery settles its tasks).
  bool died = false;                 // its connection ended by itself (not a heartbeat timeout, not us)
  std::int32_t crash_signal = 0;     // its last words: the fatal signal (0: none reported)
  std::uint64_t crash_task = 0;      // and the task the faulting thread ran (0: none known)
  bool crash_forced = false;         // not a crash: it exits for a forced cancel of crash_task

  [[nodiscard]] std::string label() const;
};

class Scheduler {
 public:
  Scheduler(TaskTable& tasks, FunctionTable& functions) : tasks_(tasks), functions_(functions) {}

  /// A worker joins with its registration; its functions learn it can run them.
  WorkerSlot& add_worker(WorkerSlot slot);
  /// A worker leaves (lost or gone): its slot, for recovery to settle its tasks.
  WorkerSlot remove_worker(std::uint64_t id);
  [[nodiscard]] WorkerSlot* worker(std::uint64_t id);
  [[nodiscard]] const std::unordered_map<std::uint64_t, WorkerSlot>& workers() const noexcept { return workers_; }

  /// Queues a ready task at the back of its function's queue (at the front: it was
  /// handed back and goes first).
  void enqueue(const TaskRecord& t, std::uint64_t now_ns, bool front = false);

  struct Assignment {
    std::uint64_t task;
    std::uint64_t worker;
  };
  /// The dispatch pass: assigns queued tasks to workers with room and returns them.
  [[nodiscard]] std::vector<Assignment> pick();
  /// Records `t` as assigned to `w` (pick() does this; actor calls come here directly).
  void assign(TaskRecord& t, WorkerSlot& w);
  /// A result from `w` for `t` (null: a task it no longer has): frees its slot and feeds
  /// the worker's run-time average.
  void release_slot(WorkerSlot& w, std::uint64_t id, const TaskRecord* t, std::uint64_t run_ns);
  /// A plain task blocked on nested tasks lends its slot (blocked) or takes it back.
  void set_blocked(WorkerSlot& w, TaskRecord& t, bool blocked);

  /// How many tasks `w` may have in flight: for coroutines its coroutine capacity; for
  /// plain tasks its threads plus enough to cover a round trip at the measured run time.
  [[nodiscard]] static std::uint32_t window(const WorkerSlot& w, bool coroutine);

  /// The queue of function `fn` (tasks in it may have been cancelled meanwhile).
  [[nodiscard]] const std::deque<std::uint64_t>& ready(std::uint32_t fn) const;
  /// Empties the queue of `fn` and returns it (to fail its tasks).
  std::deque<std::uint64_t> take_ready(std::uint32_t fn);
  /// Steady ns since the queue of `fn` has had tasks and no worker for them (0: served).
  [[nodiscard]] std::uint64_t& unserved_since(std::uint32_t fn);
  [[nodiscard]] bool any_worker() const noexcept { return !workers_.empty(); }
  /// "workers a, b" or "no worker", for messages.
  [[nodiscard]] std::string worker_list() const;

 private:
  struct Queue {
    std::deque<std::uint64_t> ready;
    std::uint64_t unserved_since = 0;
  };
  Queue& queue(std::uint32_t fn);
  WorkerSlot* pick_worker(const FunctionRecord& f, bool isolate);

  TaskTable& tasks_;
  FunctionTable& functions_;
  std::unordered_map<std::uint64_t, WorkerSlot> workers_;
  std::vector<Queue> queues_;  // by function index
  std::uint64_t activity_ = 0;
};

}  // namespace shoal::coordinator
