// What the client makes of status replies: ClusterStatus, WorkerInfo, TaskInfo.

#include "client_impl.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/link/replay_info.hpp"
#include "shoal/link/timeline.hpp"

namespace shoal::remote::detail {

using link::text;

std::string state_name(schema::TaskState s) {
  switch (s) {
    case schema::TaskState::WAITING: return "waiting";
    case schema::TaskState::QUEUED: return "queued";
    case schema::TaskState::ASSIGNED: return "assigned";
    case schema::TaskState::RUNNING: return "running";
    case schema::TaskState::DONE: return "done";
    case schema::TaskState::FAILED: return "failed";
    case schema::TaskState::CANCELLED: return "cancelled";
    default: return "unknown";
  }
}

schema::TaskState parse_state(const std::string& s) {
  for (auto st : {schema::TaskState::WAITING, schema::TaskState::QUEUED, schema::TaskState::ASSIGNED,
                  schema::TaskState::RUNNING, schema::TaskState::DONE, schema::TaskState::FAILED,
                  schema::TaskState::CANCELLED})
    if (state_name(st) == s) return st;
  if (s.empty()) return schema::TaskState::UNKNOWN;
  throw ValueError("unknown task state '" + s + "': one of waiting, queued, assigned, running, done, failed, cancelled");
}


void ClientCore::Impl::status_reply(schema::StatusReply::Reader r, const proto::FrameOwner& frame) {
  ClusterStatus s;
  s.waiting = r.getWaiting();
  s.queued = r.getQueued();
  s.running = r.getRunning();
  s.done = r.getDone();
  s.failed = r.getFailed();
  s.cancelled = r.getCancelled();
  for (auto w : r.getWorkers()) {
    WorkerInfo i;
    i.id = w.getPeerId();
    i.name = text(w.getName());
    i.host = text(w.getHost());
    i.pid = w.getPid();
    i.capacity = w.getCapacity();
    i.running = w.getRunning();
    i.draining = w.getDraining();
    i.actors = w.getActors();
    i.done = w.getDone();
    i.functions = w.getFunctions();
    // From the coordinator, but shown to people: a malformed list is dropped, not thrown.
    try {
      i.resources = link::get_resources(w.getResources());
      i.used = link::get_resources(w.getUsed());
    } catch (const ValueError&) {
    }
    for (auto l : w.getLabels()) i.labels.push_back(text(l));
    s.workers.push_back(std::move(i));
  }
  for (auto t : r.getTasks()) {
    TaskInfo i;
    i.id = t.getTaskId();
    i.function = text(t.getFunction());
    i.state = state_name(t.getState());
    i.attempt = t.getAttempt();
    i.worker = t.getWorker();
    i.actor = t.getActorId();
    i.submitted_ns = t.getSubmittedNs();
    i.finished_ns = t.getFinishedNs();
    i.error = text(t.getError());
    i.run_ns = t.getRunNs();
    i.note = text(t.getNote());
    i.job = text(t.getJob());
    i.started_ns = t.getStartedNs();
    auto out = t.getStdout(), err = t.getStderr();
    i.stdout_text.assign(reinterpret_cast<const char*>(out.begin()), out.size());
    i.stderr_text.assign(reinterpret_cast<const char*>(err.begin()), err.size());
    s.tasks.push_back(std::move(i));
  }
  s.http = text(r.getHttpAddress());
  if (r.hasActor()) {
    auto a = r.getActor();
    s.actor = {a.getActorId(), text(a.getClassName()), a.getConstructorHash(), text(a.getError())};
  }
  for (auto u : r.getUnserved())
    s.unserved.push_back({text(u.getFunction()), u.getTasks(), std::chrono::milliseconds(u.getFailsInMs())});
  for (auto a : r.getAttempts()) s.attempts.push_back(link::get_attempt(a));
  if (r.hasReplay()) {
    auto k = r.getReplay();
    s.replay_missing = text(k.getMissing());
    if (s.replay_missing.empty()) s.replay = link::get_replay(k, *conn, frame);
  }
  std::optional<Promise<ClusterStatus>> p;
  {
    std::lock_guard lock(mu);
    auto it = status_waiting.find(r.getRequestId());
    if (it == status_waiting.end()) return;
    p.emplace(std::move(it->second));
    status_waiting.erase(it);
  }
  p->set_result(std::move(s));
}

}  // namespace shoal::remote::detail
