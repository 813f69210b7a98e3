#pragma once
// A coordinator's tables without a socket: functions, tasks, a scheduler, actors, and
// helpers to add tasks and workers the way the engine does.

#include <cstdint>
#include <string>
#include <vector>

#include "actor_table.hpp"
#include "recovery.hpp"
#include "scheduler.hpp"
#include "task_table.hpp"

namespace coordinator_test {

using namespace shoal::coordinator;

struct Tables {
  FunctionTable functions;
  TaskTable tasks{functions};
  Scheduler scheduler{tasks, functions};
  ActorTable actors;

  std::uint32_t fn(const std::string& name, bool coroutine = false) {
    auto i = functions.intern(name, 42);
    functions[i].coroutine = coroutine;
    return i;
  }

  /// A task of `function` depending on `deps`, queued when it has no unfinished ones.
  TaskRecord& task(std::uint64_t id, std::uint32_t function, std::vector<std::uint64_t> deps = {},
                   std::uint32_t req = 0) {
    auto& t = tasks.insert(id);
    t.fn = function;
    t.req = req;
    if (!deps.empty()) t.mut().deps = std::move(deps);
    t.submitter = 1;
    auto problem = tasks.link_dependencies(t);
    t.state = problem || t.unresolved ? TaskState::WAITING : TaskState::QUEUED;
    if (t.state == TaskState::QUEUED) scheduler.enqueue(t, 1);
    return t;
  }

  WorkerSlot& worker(std::uint64_t id, std::vector<std::uint32_t> fns, std::uint32_t capacity = 1,
                     std::uint32_t co_capacity = 1024) {
    WorkerSlot w;
    w.id = id;
    w.name = "w" + std::to_string(id);
    w.host = "host";
    w.capacity = capacity;
    w.co_capacity = co_capacity;
    w.fns = std::move(fns);
    return scheduler.add_worker(std::move(w));
  }

  /// A worker offering `offered` (resources) with `labels` ("zone=a").
  WorkerSlot& worker_offering(std::uint64_t id, std::vector<std::uint32_t> fns, const shoal::Resources& offered,
                              const std::vector<std::string>& labels = {}, std::uint32_t capacity = 4) {
    WorkerSlot w;
    w.id = id;
    w.name = "w" + std::to_string(id);
    w.host = "host";
    w.capacity = capacity;
    w.fns = std::move(fns);
    w.total = scheduler.placements().units(offered);
    for (const auto& l : labels) {
      auto t = shoal::link::split_term(l);
      w.labels.emplace_back(t.key, t.value);
    }
    return scheduler.add_worker(std::move(w));
  }

  /// The index of a placement request.
  std::uint32_t request(const shoal::link::Placement& p) { return scheduler.placements().intern(p); }

  /// Ends task `id` on its worker as the engine does on a result: frees its slot, then
  /// finishes it.
  void complete(std::uint64_t id) {
    auto* t = tasks.find(id);
    scheduler.release_slot(*scheduler.worker(t->worker), id, 0);
    finish(id);
  }

  TaskTable::Finished finish(std::uint64_t id, TaskState state = TaskState::DONE) {
    TaskTable::Finished out;
    std::optional<shoal::codec::RemoteErrorInfo> error;
    if (state == TaskState::FAILED) {
      shoal::codec::RemoteErrorInfo e;
      e.type_name = "shoal::ValueError";
      e.message = "boom";
      error = e;
    }
    tasks.finish(id, state, {}, std::move(error), 0, 0, out);
    for (auto r : out.ready)
      if (auto* t = tasks.find(r)) scheduler.enqueue(*t, 1);
    return out;
  }

  /// Assigned task ids per worker, in pick order.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pick() {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    for (auto a : scheduler.pick()) out.emplace_back(a.task, a.worker);
    return out;
  }
};

}  // namespace coordinator_test
