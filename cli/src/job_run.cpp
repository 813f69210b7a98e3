// The state of a job's run (JobRun, job.hpp): no I/O, no clock, no threads. Parsing job
// files is job.cpp.

#include <algorithm>
#include <utility>

#include "job.hpp"

namespace shoal::cli {


std::string_view to_string(TaskState state) noexcept {
  switch (state) {
    case TaskState::pending: return "pending";
    case TaskState::submitted: return "submitted";
    case TaskState::running: return "running";
    case TaskState::done: return "done";
    case TaskState::failed: return "failed";
    case TaskState::skipped: return "skipped";
    case TaskState::cancelled: return "cancelled";
  }
  return "?";
}

JobRun::JobRun(const Job& job) : job_name_(job.name) {
  tasks_.reserve(job.tasks.size());
  for (const auto& t : job.tasks) tasks_.push_back(Node{t.name, t.deps, {}, {}});
  for (std::size_t i = 0; i < tasks_.size(); ++i)
    for (auto d : tasks_[i].deps) {
      // cascade() relies on the order: parse_job gives it, a hand-made Job must too.
      if (d >= i)
        throw ValueError("task " + tasks_[i].name + " depends on task " + std::to_string(d) +
                         ", which is not before it: a Job's tasks must be in a topological order");
      tasks_[d].dependents.push_back(i);
    }
  counts_[static_cast<int>(TaskState::pending)] = tasks_.size();
}

JobRun::Node& JobRun::at(std::size_t task) {
  if (task >= tasks_.size())
    throw ValueError("no task " + std::to_string(task) + " in a job of " + std::to_string(tasks_.size()));
  return tasks_[task];
}

const JobRun::Node& JobRun::at(std::size_t task) const { return const_cast<JobRun*>(this)->at(task); }

void JobRun::set_state(Node& n, TaskState s) noexcept {
  --counts_[static_cast<int>(n.status.state)];
  ++counts_[static_cast<int>(s)];
  n.status.state = s;
}

std::vector<std::size_t> JobRun::ready() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    const Node& n = tasks_[i];
    if (n.status.state != TaskState::pending) continue;
    if (std::all_of(n.deps.begin(), n.deps.end(), [&](auto d) { return tasks_[d].status.state == TaskState::done; }))
      out.push_back(i);
  }
  return out;
}

std::vector<JobRun::Submission> JobRun::submittable_all() const {
  std::vector<Submission> out;
  for (std::size_t i = 0; i < tasks_.size(); ++i)
    if (tasks_[i].status.state == TaskState::pending) out.push_back({i, tasks_[i].deps});
  return out;
}

bool JobRun::on_submitted(std::size_t task) {
  Node& n = at(task);
  if (n.status.state != TaskState::pending) return false;
  set_state(n, TaskState::submitted);
  return true;
}

bool JobRun::on_running(std::size_t task, std::string worker) {
  Node& n = at(task);
  if (n.status.state != TaskState::pending && n.status.state != TaskState::submitted) return false;
  set_state(n, TaskState::running);
  n.status.worker = std::move(worker);
  return true;
}

bool JobRun::on_done(std::size_t task, std::string worker, std::chrono::nanoseconds elapsed, nlohmann::json result) {
  Node& n = at(task);
  if (is_terminal(n.status.state)) return false;
  set_state(n, TaskState::done);
  if (!worker.empty()) n.status.worker = std::move(worker);
  n.status.elapsed = elapsed;
  n.status.result = std::move(result);
  return true;
}

std::vector<std::size_t> JobRun::on_failed(std::size_t task, std::string message, std::string worker,
                                           std::chrono::nanoseconds elapsed) {
  Node& n = at(task);
  if (is_terminal(n.status.state)) return {};
  set_state(n, TaskState::failed);
  if (!worker.empty()) n.status.worker = std::move(worker);
  n.status.elapsed = elapsed;
  n.status.message = std::move(message);
  return cascade(task, TaskState::skipped, "skipped: " + n.name + " failed: " + n.status.message);
}

std::vector<std::size_t> JobRun::on_cancelled(std::size_t task) {
  Node& n = at(task);
  if (is_terminal(n.status.state)) return {};
  set_state(n, TaskState::cancelled);
  n.status.message = "cancelled";
  return cascade(task, TaskState::cancelled, "cancelled: " + n.name + " was cancelled");
}

std::vector<std::size_t> JobRun::cancel_all() {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    Node& n = tasks_[i];
    if (is_terminal(n.status.state)) continue;
    set_state(n, TaskState::cancelled);
    n.status.message = "cancelled";
    out.push_back(i);
  }
  return out;
}

std::vector<std::size_t> JobRun::cascade(std::size_t task, TaskState state, const std::string& message) {
  // Dependents always come later in the (topological) order, so one forward sweep over a
  // marked set reaches every transitive dependent.
  std::vector<char> reached(tasks_.size(), 0);
  reached[task] = 1;
  std::vector<std::size_t> out;
  for (std::size_t i = task + 1; i < tasks_.size(); ++i) {
    Node& n = tasks_[i];
    if (std::none_of(n.deps.begin(), n.deps.end(), [&](auto d) { return reached[d] != 0; })) continue;
    reached[i] = 1;
    if (is_terminal(n.status.state)) continue;
    set_state(n, state);
    n.status.message = message;
    n.status.cause = task;
    out.push_back(i);
  }
  return out;
}

const std::string& JobRun::name(std::size_t task) const { return at(task).name; }
const TaskStatus& JobRun::status(std::size_t task) const { return at(task).status; }
const std::vector<std::size_t>& JobRun::deps(std::size_t task) const { return at(task).deps; }
const std::vector<std::size_t>& JobRun::dependents(std::size_t task) const { return at(task).dependents; }

std::size_t JobRun::count(TaskState state) const noexcept { return counts_[static_cast<int>(state)]; }

bool JobRun::finished() const noexcept {
  return count(TaskState::pending) + count(TaskState::submitted) + count(TaskState::running) == 0;
}

int JobRun::exit_code() const noexcept { return count(TaskState::done) == tasks_.size() ? 0 : 1; }

}  // namespace shoal::cli
