#include "task_table.hpp"

#include <unistd.h>

#include "shoal/link/clock.hpp"

namespace shoal::coordinator {

codec::RemoteErrorInfo task_error(const FunctionTable& fns, const TaskRecord& t, std::string type,
                                  std::string message, ErrorKind kind) {
  codec::RemoteErrorInfo i;
  i.type_name = std::move(type);
  i.message = std::move(message);
  i.function = fns[t.fn].name;  // "Class.method" for an actor call
  i.task_id = t.id;
  i.host = link::this_host();
  i.pid = static_cast<std::uint32_t>(::getpid());
  i.kind = kind;
  return i;
}

TaskRecord* TaskTable::find(std::uint64_t id) {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}

const TaskRecord* TaskTable::find(std::uint64_t id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}

TaskRecord& TaskTable::insert(std::uint64_t id) {
  auto& t = tasks_[id];
  t.id = id;
  return t;
}

namespace {
std::string failure_of(const TaskRecord& t) {
  return t.state == TaskState::CANCELLED ? "was cancelled" : "failed: " + (t.error ? t.error->message : "");
}
}  // namespace

codec::RemoteErrorInfo TaskTable::dependency_error(const TaskRecord& t, std::uint64_t dep_id, const TaskRecord* dep,
                                                   const std::string& why) const {
  if (dep && dep->state == TaskState::FAILED && dep->error) return *dep->error;
  std::string named = "task " + std::to_string(dep_id) + (dep ? " (" + functions_[dep->fn].name + ")" : "");
  return task_error(functions_, t, "shoal::DependencyFailed", named + ", a dependency, " + why, ErrorKind::failed);
}

std::optional<DependencyProblem> TaskTable::link_dependencies(TaskRecord& t) {
  std::optional<DependencyProblem> problem;
  for (auto dep : t.deps()) {
    auto* d = find(dep);
    if (!d) {
      problem = DependencyProblem{
          dep, dependency_error(t, dep, nullptr, "is unknown to the coordinator (never submitted, or its result was released)")};
      break;
    }
    ++d->holders;
    if (d->state == TaskState::DONE) continue;
    if (is_finished(d->state)) {
      if (!problem) problem = DependencyProblem{dep, dependency_error(t, dep, d, failure_of(*d))};
      continue;
    }
    d->mut().dependents.push_back(t.id);
    ++t.unresolved;
  }
  return problem;
}

void TaskTable::finish(std::uint64_t id, TaskState state, Bytes value, std::optional<codec::RemoteErrorInfo> error,
                       std::uint64_t wall_ns, std::uint64_t steady_ns, Finished& out) {
  auto* t = find(id);
  if (!t || is_finished(t->state)) return;
  t->state = state;
  t->value = std::move(value);
  if (error) t->error = std::make_unique<codec::RemoteErrorInfo>(std::move(*error));
  t->finished_wall = wall_ns;
  if (t->detached) t->finished_steady_s = static_cast<std::uint32_t>(steady_ns / 1'000'000'000);
  if (state == TaskState::DONE)
    ++done_;
  else if (state == TaskState::FAILED)
    ++failed_;
  else
    ++cancelled_;
  out.ended.push_back(id);
  std::vector<std::uint64_t> dependents;
  if (t->links) {
    dependents = std::move(t->links->dependents);
    t->links->dependents.clear();
  }
  std::string why = state == TaskState::DONE ? "" : failure_of(*t);
  std::string dep_fn = functions_[t->fn].name;
  // Copied: finishing a dependent below may move `t` (see dependency_error).
  std::optional<codec::RemoteErrorInfo> original;
  if (state == TaskState::FAILED && t->error) original = *t->error;
  for (auto d : dependents) {
    auto* dt = find(d);
    if (!dt || dt->state != TaskState::WAITING) continue;
    if (state == TaskState::DONE) {
      if (--dt->unresolved == 0) {
        dt->state = TaskState::QUEUED;
        out.ready.push_back(d);
      }
    } else {
      auto info = original ? *original
                           : task_error(functions_, *dt, "shoal::DependencyFailed",
                                        "task " + std::to_string(id) + " (" + dep_fn + "), a dependency, " + why,
                                        ErrorKind::failed);
      finish(d, TaskState::FAILED, {}, std::move(info), wall_ns, steady_ns, out);
    }
  }
  // This task no longer holds its dependencies' results.
  t = find(id);
  if (!t) return;
  for (auto dep : t->deps())
    if (auto* d = find(dep); d && d->holders > 0) {
      --d->holders;
      out.freeable.push_back(dep);
    }
  out.freeable.push_back(id);
}

}  // namespace shoal::coordinator
