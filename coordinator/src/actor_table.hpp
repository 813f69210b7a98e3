#pragma once
// ActorTable: the actors clients spawned, where each lives, and its calls not yet
// forwarded (they go one after another, in arrival order, to the actor's worker).
// place() returns where unplaced actors go; pump() returns the calls that may go now.

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler.hpp"
#include "task_table.hpp"

namespace shoal::coordinator {

struct ActorRecord {
  std::uint64_t id = 0;
  std::string cls;          // its registered class name
  std::uint64_t hash = 0;   // its constructor's signature hash
  Bytes args;               // the constructor's arguments
  std::uint64_t create_task = 0;  // the task whose result is the actor's ready()
  std::uint64_t worker = 0;       // 0: not placed yet
  std::uint64_t submitter = 0;
  bool dead = false;
  std::string dead_why;
  bool released = false;
  bool journaled = false;   // its row is in the journal (forgotten when it is released or dies)
  bool recovering = false;  // from the journal: waits --adopt-wait-ms for its worker to claim it
  std::deque<std::uint64_t> calls;  // not yet forwarded, in arrival order
  std::uint64_t waiting_since = 0;  // steady ns since it waits for a worker with its class
  std::uint32_t req = 0;    // its placement request: resources held on its worker while it lives
  bool holds = false;       // holds them now (placed, not yet ended)
  // What happens when its worker dies (ActorOptions): constructed again elsewhere, its
  // running calls run again; -1: always.
  int max_restarts = 0;
  int max_task_retries = 0;
  std::uint32_t restarts = 0;
  std::uint32_t max_concurrency = 1;  // calls at once on its worker
  std::string name;         // "" unnamed (ActorTable::named)
  bool detached = false;    // outlives its creator: only a kill ends it

  [[nodiscard]] bool may_restart() const noexcept {
    return max_restarts < 0 || restarts < static_cast<std::uint32_t>(max_restarts);
  }
};

class ActorTable {
 public:
  [[nodiscard]] ActorRecord* find(std::uint64_t id);
  ActorRecord& create(std::uint64_t id);
  void erase(std::uint64_t id) {
    if (auto* a = find(id)) unname(*a);
    actors_.erase(id);
  }
  /// Queues an actor for placement.
  void unplaced(std::uint64_t id) { unplaced_.push_back(id); }
  [[nodiscard]] const std::vector<std::uint64_t>& waiting_placement() const noexcept { return unplaced_; }
  void forget_unplaced(std::uint64_t id);

  struct Placement {
    std::uint64_t actor;
    std::uint64_t worker;
  };
  /// Places each unplaced actor on the live worker that registered its class with the
  /// same constructor and has its resources free and its labels, fewest actors first,
  /// then least loaded. Returns the placements (the slots' actor counts are updated, the
  /// actors' resources reserved); the rest stay unplaced.
  [[nodiscard]] std::vector<Placement> place(Scheduler& scheduler);
  /// The unplaced actors no live worker with their class could ever hold (their request
  /// beyond what any offers), with why; they stay in the unplaced list (forget_unplaced).
  [[nodiscard]] std::vector<std::pair<std::uint64_t, std::string>> unplaceable(const Scheduler& scheduler);

  /// The calls of `a` that go now, in order, and those that fail because it is dead.
  struct Pumped {
    std::vector<std::uint64_t> forward;
    std::vector<std::uint64_t> fail;
  };
  [[nodiscard]] Pumped pump(ActorRecord& a, const TaskTable& tasks);
  /// Marks `a` dead with `why`: pump() then fails its calls.
  static void kill(ActorRecord& a, const std::string& why) {
    a.dead = true;
    a.dead_why = why;
  }
  /// The live actors on worker `worker`.
  [[nodiscard]] std::vector<std::uint64_t> on_worker(std::uint64_t worker) const;
  /// Every actor's id.
  [[nodiscard]] std::vector<std::uint64_t> ids() const;
  /// The actors `submitter` spawned.
  [[nodiscard]] std::vector<std::uint64_t> of_submitter(std::uint64_t submitter) const;
  /// The actor whose constructor task is `task`, or null.
  [[nodiscard]] ActorRecord* by_create_task(std::uint64_t task);
  /// The live actor named `name`, or null.
  [[nodiscard]] ActorRecord* named(const std::string& name);
  /// Gives `a` its name (false: a live actor has it already).
  bool name(ActorRecord& a, std::string name);
  /// The name of `a` is free again (it died or was released).
  void unname(ActorRecord& a);

 private:
  std::unordered_map<std::uint64_t, ActorRecord> actors_;
  std::vector<std::uint64_t> unplaced_;
  std::unordered_map<std::string, std::uint64_t> names_;
};

}  // namespace shoal::coordinator
