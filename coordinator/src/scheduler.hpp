#pragma once
// Scheduler: the ready queues and the workers' slots and resources. Ready tasks wait in
// classes, one per (function, placement request), served highest priority first and in
// submission order within a class. pick() is the dispatch pass: it returns the
// assignments to send and does no I/O.
//
// Classes are served by priority, then by the submission order of their first task, so
// that tasks of one priority start in the order they came whatever their class (a class
// whose first task cannot be placed yet does not hold up the others).
//
// A decision costs O(log workers + log classes) on the common path, whatever the number
// of queued tasks: workers with room sit in a load index (one for plain tasks, one for coroutine
// tasks) ordered by load, so the least loaded (spread) or the most loaded (pack) comes
// first. A request that only a few workers can satisfy (a resource or a label few have,
// a function few registered) scans those few instead. pick() stops as soon as no worker
// has room.

#include <compare>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "functions.hpp"
#include "placement.hpp"
#include "task_table.hpp"

namespace shoal::coordinator {

/// A worker's place in a load index: least loaded first, then the most recently active.
struct LoadKey {
  double load = 0;
  std::uint64_t recency = 0;  // ~active_seq
  std::uint64_t id = 0;
  auto operator<=>(const LoadKey&) const = default;
};

/// What the scheduler knows of one live worker.
struct WorkerSlot {
  std::uint64_t id = 0;  // its peer id
  std::string name, host;
  std::uint32_t pid = 0;
  std::shared_ptr<const std::vector<std::string>> libraries;  // the task libraries it loaded
  std::string executable;                                      // its program
  std::uint32_t capacity = 1;        // plain tasks it runs at once (its pool threads)
  std::uint32_t co_capacity = 1024;  // coroutine tasks it runs at once
  std::uint32_t in_plain = 0;        // plain tasks assigned and not finished (slots in use)
  std::uint32_t in_coro = 0;         // coroutine tasks likewise
  // Every task assigned to it, actor calls included: the request whose resources it holds
  // there (0: none), and whether it holds a slot (a plain task's thread or a coroutine's;
  // not while blocked, not an actor call), so that a result frees what the task held even
  // when its record is gone.
  struct Held {
    std::uint32_t req = 0;
    std::uint32_t fn = ~0u;  // the function its run time measures (~0u: none: not a plain call, or a map chunk)
    bool coroutine = false;
    bool slot = false;
    bool stopped = false;  // a run asked to stop (hold_orphan): its cancellation is not its task's
  };
  std::unordered_map<std::uint64_t, Held> inflight;
  std::unordered_map<std::string, std::uint64_t> actor_classes;  // name -> constructor hash
  std::vector<std::uint32_t> fns;    // the functions it registered (sorted by add_worker)
  std::vector<Units> total, used;    // resources by Placements index (missing: 0)
  Labels labels;                     // sorted by key
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
  std::uint64_t cpu_ns = 0, rss_bytes = 0;  // its process's usage, as its last heartbeat said
  // How it ended (set before recovery settles its tasks).
  bool died = false;                 // its connection ended by itself (not a heartbeat timeout, not us)
  std::int32_t crash_signal = 0;     // its last words: the fatal signal (0: none reported)
  std::uint64_t crash_task = 0;      // and the task the faulting thread ran (0: none known)
  bool crash_forced = false;         // not a crash: it exits for a forced cancel of crash_task
  // Its places in the scheduler's load indexes (the keys as inserted).
  bool in_plain_index = false, in_coro_index = false;
  LoadKey plain_key{}, coro_key{};

  [[nodiscard]] std::string label() const;
  [[nodiscard]] bool has_fn(std::uint32_t fn) const;
  /// Takes no new work (draining, lost, isolating a task, at its task limit).
  [[nodiscard]] bool available() const noexcept {
    return !draining && !lost && !isolated && !(max_tasks && assigned_total >= max_tasks);
  }
  /// What is free of resource `r`.
  [[nodiscard]] Units free(std::uint32_t r) const noexcept {
    return (r < total.size() ? total[r] : 0) - (r < used.size() ? used[r] : 0);
  }
  [[nodiscard]] bool fits(const Request& req) const noexcept;
  /// Registered actor type `cls` with constructor hash `hash`.
  [[nodiscard]] bool has_actor_type(const std::string& cls, std::uint64_t hash) const;
  /// Offers what `req` needs (in all, used or not) and has its required labels.
  [[nodiscard]] bool could_ever_hold(const Request& req) const;
};

class Scheduler {
 public:
  Scheduler(TaskTable& tasks, FunctionTable& functions) : tasks_(tasks), functions_(functions) {}

  [[nodiscard]] Placements& placements() noexcept { return placements_; }
  [[nodiscard]] const Placements& placements() const noexcept { return placements_; }

  /// A worker joins with its registration (its resources in `total`); its functions learn
  /// it can run them.
  WorkerSlot& add_worker(WorkerSlot slot);
  /// A worker leaves (lost or gone): its slot, for recovery to settle its tasks.
  WorkerSlot remove_worker(std::uint64_t id);
  [[nodiscard]] WorkerSlot* worker(std::uint64_t id);
  [[nodiscard]] const std::unordered_map<std::uint64_t, WorkerSlot>& workers() const noexcept { return workers_; }
  /// After the engine changed `w`'s flags (draining, lost): its place in the indexes.
  void refresh(WorkerSlot& w) { reindex(w); }

  /// Queues a ready task at the back of its class (at the front: it was handed back and
  /// goes first).
  void enqueue(const TaskRecord& t, std::uint64_t now_ns, bool front = false);

  /// Why no worker that registered (or ever registered) `fn` could ever run a task with
  /// request `req`, naming what is missing: "" when one could, or when no worker has
  /// `fn` (NotRegistered decides that). Cached until a worker of a new shape registers.
  [[nodiscard]] std::string unschedulable(std::uint32_t fn, std::uint32_t req);
  /// After a worker of a new shape registered: the queued tasks that now can never run,
  /// taken off their queues, with why (the engine fails them with Unschedulable).
  std::vector<std::pair<std::uint64_t, std::string>> take_unschedulable();
  /// Why a queued task waits ("" when nothing in particular: workers are busy).
  [[nodiscard]] std::string why_waiting(const TaskRecord& t) const;

  struct Assignment {
    std::uint64_t task;
    std::uint64_t worker;
    bool held = false;  // the worker still runs it (assign() said so): nothing to send
  };
  /// The dispatch pass: assigns queued tasks to workers with room and returns them.
  [[nodiscard]] std::vector<Assignment> pick();
  /// Records `t` as assigned to `w` (pick() does this; actor calls come here directly).
  /// True when `w` still held a run of it (an orphan, hold_orphan()): that run is this
  /// attempt, and its result is on its way; the worker must not be sent the task again
  /// (its run may have ended, and it would run it a second time that nothing counts).
  bool assign(TaskRecord& t, WorkerSlot& w);
  /// A task `w` still runs from before a reconnect that is not its any more (run again
  /// elsewhere, ended, unknown): it holds a slot and `req`'s resources there all the same
  /// until `w` reports it (release_slot), or until it is assigned to `w` again (the
  /// worker keeps that run for the new attempt). `stopped`: the worker was asked to stop it.
  void hold_orphan(WorkerSlot& w, std::uint64_t id, std::uint32_t req, bool coroutine, bool stopped);
  /// A result from `w` for task `id`: frees what the task held there (its slot, its
  /// resources; nothing for a task it no longer has), and feeds the worker's run-time
  /// average.
  /// `succeeded`: a value, whose run time is its function's measure (batch_unit()).
  void release_slot(WorkerSlot& w, std::uint64_t id, std::uint64_t run_ns, bool succeeded = true);
  /// A plain task blocked on nested tasks lends its slot (blocked) or takes it back. Its
  /// resources stay held.
  void set_blocked(WorkerSlot& w, TaskRecord& t, bool blocked);
  /// Resources an actor holds for its life (reserve when placed, free when it ends).
  void reserve(WorkerSlot& w, std::uint32_t req);
  void unreserve(WorkerSlot& w, std::uint32_t req);
  /// Whether `w` could host an actor with request `req` now (resources free, labels).
  [[nodiscard]] bool could_host(const WorkerSlot& w, std::uint32_t req) const;

  /// How many tasks `w` may have in flight: for coroutines its coroutine capacity; for
  /// plain tasks its threads plus enough to cover a round trip at the measured run time.
  [[nodiscard]] static std::uint32_t window(const WorkerSlot& w, bool coroutine);
  /// The most plain tasks `w` may hold when the next is a call of `fn`: the window by
  /// `fn`'s own measure (twice the threads and 2 while it is unmeasured). The worker's
  /// window mixes its functions: after many tiny calls it would take a deep queue of a
  /// slow new function, which would then wait behind itself while other workers idle.
  [[nodiscard]] std::uint32_t fn_window(const WorkerSlot& w, std::uint32_t fn) const;
  /// How many tasks of `fn` one pass gives `w` in a row once it chose it (1: they spread
  /// one by one): tasks measured this short cost less run in a row than spread over
  /// workers at a frame and a wake-up each.
  [[nodiscard]] std::uint32_t batch_unit(const WorkerSlot& w, std::uint32_t fn) const;

  /// How many tasks of function `fn` are queued (some may have been cancelled meanwhile).
  [[nodiscard]] std::size_t queued(std::uint32_t fn) const;
  /// Empties the queues of `fn` and returns their tasks (to fail them).
  std::vector<std::uint64_t> take_ready(std::uint32_t fn);
  /// Steady ns since the queue of `fn` has had tasks and no worker for them (0: served).
  [[nodiscard]] std::uint64_t& unserved_since(std::uint32_t fn);
  /// unserved_since(fn) read without growing anything (0: not counting).
  [[nodiscard]] std::uint64_t unserved_at(std::uint32_t fn) const noexcept {
    return fn < unserved_.size() ? unserved_[fn] : 0;
  }
  [[nodiscard]] bool any_worker() const noexcept { return !workers_.empty(); }
  /// How many kinds of worker (functions, resources, labels) have registered so far.
  [[nodiscard]] std::size_t kinds() const noexcept { return shapes_.size(); }
  /// "workers a, b" or "no worker", for messages.
  [[nodiscard]] std::string worker_list() const;

 private:
  // A queued task: its id, and when it was queued (0: handed back, it goes first).
  struct Entry {
    std::uint64_t id = 0, seq = 0;
  };
  // A class's place among the classes with tasks: priority, then its first task's seq.
  struct ActiveKey {
    std::int64_t neg_priority = 0;
    std::uint64_t seq = 0;
    std::uint32_t cls = 0;
    auto operator<=>(const ActiveKey&) const = default;
  };
  // The ready tasks of one function with one request.
  struct Class {
    std::uint32_t fn = 0, req = 0;
    std::deque<Entry> ready;
    bool active = false;  // in active_, under `key`
    ActiveKey key{};
  };
  // A kind of worker: what it runs and offers (for unschedulable(): also those gone).
  struct Shape {
    std::vector<std::uint32_t> fns;
    std::vector<Units> total;
    Labels labels;
  };
  std::uint32_t class_of(std::uint32_t fn, std::uint32_t req);
  // Re-files class `c` in active_ after its first task changed (or it emptied).
  void refile(std::uint32_t c);
  void reindex(WorkerSlot& w);
  void unindex(WorkerSlot& w);
  WorkerSlot* pick_worker(const FunctionRecord& f, std::uint32_t fn, const Request& r, bool isolate);
  WorkerSlot* pick_in(const std::vector<std::uint64_t>& pool, std::uint32_t fn, const Request& r, bool coroutine,
                      bool isolate, bool with_preferred);
  WorkerSlot* pick_by_load(std::uint32_t fn, const Request& r, bool coroutine, bool isolate, bool with_preferred);
  static bool has_free_thread(const WorkerSlot& w, bool coroutine);
  bool suits(const WorkerSlot& w, std::uint32_t fn, const Request& r, bool coroutine, bool isolate,
             bool with_preferred) const;
  void note_shape(const WorkerSlot& w);
  void hold(WorkerSlot& w, std::uint32_t req, int sign);

  TaskTable& tasks_;
  FunctionTable& functions_;
  Placements placements_;
  std::unordered_map<std::uint64_t, WorkerSlot> workers_;
  std::vector<Class> classes_;
  std::unordered_map<std::uint64_t, std::uint32_t> class_index_;  // fn << 32 | req -> class
  std::vector<std::vector<std::uint32_t>> fn_classes_;             // by function
  std::vector<std::uint64_t> unserved_;                            // by function
  std::set<ActiveKey> active_;                                     // classes with tasks
  std::set<LoadKey> plain_index_, coro_index_;                     // workers with room
  std::vector<std::vector<std::uint64_t>> holders_;                // by resource: workers offering it
  std::unordered_map<std::string, std::vector<std::uint64_t>> label_holders_;  // "k=v" -> workers
  std::vector<Shape> shapes_;
  std::unordered_map<std::string, std::uint32_t> shape_keys_;
  std::unordered_map<std::uint64_t, std::pair<std::size_t, std::string>> verdicts_;  // fn<<32|req
  std::size_t checked_shapes_ = 0;  // shapes take_unschedulable() has seen
  std::uint64_t activity_ = 0;
  std::uint64_t enqueued_ = 0;  // queue order (Entry::seq)
};

}  // namespace shoal::coordinator
