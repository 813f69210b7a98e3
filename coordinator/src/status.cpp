// Status replies and the catalog: what the coordinator tells clients about the cluster.

#include <capnp/message.h>

#include <algorithm>

#include "engine.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/link/timeline.hpp"

namespace shoal::coordinator {

namespace {

void fill_task_info(schema::TaskInfo::Builder b, const TaskRecord& t, const Engine& e) {
  const auto& functions = e.functions;
  const auto& scheduler = e.scheduler;
  b.setTaskId(t.id);
  b.setJob(e.job_name(t.submitter));
  b.setStartedNs(t.started_wall);
  b.setFunction(functions[t.fn].name);
  b.setState(t.state);
  b.setAttempt(t.attempt);
  b.setWorker(t.worker);
  b.setActorId(t.actor);
  b.setSubmittedNs(t.submitted_wall);
  b.setFinishedNs(t.finished_wall);
  if (t.error) b.setError(t.error->type_name + ": " + t.error->message);
  b.setRunNs(t.run_ns);
  // A ready task says why it waits when it is not merely behind others: no live worker
  // has its function (it fails with NotRegistered once a worker without it has been
  // there for --unregistered-wait-ms), or its resources are in use or gone.
  if (t.state == TaskState::QUEUED && t.links && !t.links->retry_wait.empty())
    b.setNote(t.links->retry_wait);
  else if (t.state == TaskState::QUEUED && !t.actor && !t.actor_create && functions[t.fn].workers.empty())
    b.setNote(e.unserved_note(t.fn));
  else if (t.state == TaskState::QUEUED && !t.actor && !t.actor_create)
    if (auto why = scheduler.why_waiting(t); !why.empty()) b.setNote(why);
}

}  // namespace

void Engine::on_status(Peer& p, schema::StatusRequest::Reader q) {
  proto::Builder msg;
  auto r = msg.initRoot<schema::Envelope>().initStatusReply();
  r.setRequestId(q.getRequestId());
  r.setHttpAddress(http_address);
  if (q.getActorName().size()) {  // only the actor of that name (Client::get_actor)
    fill_actor_info(r.initActor(), link::text(q.getActorName()));
    return send(p, msg);
  }
  if (q.getReplay()) {  // what was kept to replay a failed task (shoal replay)
    fill_replay(p, r.initReplay(), q.getTaskId());
    return send(p, msg);
  }
  if (q.getAttempts()) {  // the timeline
    auto attempts = observe_attempts(q.getSinceNs(), link::text(q.getJob()));  // what fits one frame
    auto al = r.initAttempts(static_cast<unsigned>(attempts.size()));
    for (unsigned i = 0; i < attempts.size(); ++i) link::set_attempt(al[i], attempts[i]);
    return send(p, msg);
  }
  std::uint64_t waiting = 0, queued = 0, running = 0;
  for (const auto& [id, t] : tasks) {
    if (t.state == TaskState::WAITING) ++waiting;
    else if (t.state == TaskState::QUEUED) ++queued;
    else if (t.state == TaskState::RUNNING) ++running;
  }
  r.setWaiting(waiting);
  r.setQueued(queued);
  r.setRunning(running);
  r.setDone(tasks.done_count());
  r.setFailed(tasks.failed_count());
  r.setCancelled(tasks.cancelled_count());
  std::vector<std::uint32_t> unserved;
  for (std::uint32_t fn = 0; fn < functions.size(); ++fn)
    if (functions[fn].workers.empty() && scheduler.queued(fn) > 0) unserved.push_back(fn);
  auto ul = r.initUnserved(static_cast<unsigned>(unserved.size()));
  for (unsigned i = 0; i < unserved.size(); ++i) {
    ul[i].setFunction(functions[unserved[i]].name);
    ul[i].setTasks(scheduler.queued(unserved[i]));
    ul[i].setFailsInMs(unserved_fails_in(unserved[i]) / 1'000'000);
  }
  std::vector<const WorkerSlot*> ws;
  for (const auto& [id, w] : scheduler.workers())
    if (!w.lost) ws.push_back(&w);
  std::sort(ws.begin(), ws.end(), [](auto* a, auto* b) { return a->id < b->id; });
  auto wl = r.initWorkers(static_cast<unsigned>(ws.size()));
  for (unsigned i = 0; i < ws.size(); ++i) {
    auto b = wl[i];
    b.setPeerId(ws[i]->id);
    b.setName(ws[i]->name);
    b.setHost(ws[i]->host);
    b.setPid(ws[i]->pid);
    b.setCapacity(ws[i]->capacity);
    b.setRunning(ws[i]->in_plain + ws[i]->in_coro);
    b.setDraining(ws[i]->draining);
    b.setActors(ws[i]->actors);
    b.setDone(ws[i]->done);
    b.setFunctions(static_cast<std::uint32_t>(ws[i]->fns.size()));
    const auto& pl = scheduler.placements();
    auto offered = pl.amounts(ws[i]->total), used = pl.amounts(ws[i]->used);
    link::set_resources(b.initResources(static_cast<unsigned>(offered.size())), offered);
    link::set_resources(b.initUsed(static_cast<unsigned>(used.size())), used);
    auto ll = b.initLabels(static_cast<unsigned>(ws[i]->labels.size()));
    for (unsigned k = 0; k < ws[i]->labels.size(); ++k) ll.set(k, ws[i]->labels[k].first + "=" + ws[i]->labels[k].second);
  }
  if (q.getTaskId()) {
    const auto* t = tasks.find(q.getTaskId());
    r.setState(t ? t->state : TaskState::UNKNOWN);
    if (t) {
      auto info = r.initTasks(1)[0];
      fill_task_info(info, *t, *this);
      if (q.getLogs())
        for (int stream : {1, 2}) {
          auto text = kept_output(*t, stream);
          capnp::Data::Reader d(reinterpret_cast<const capnp::byte*>(text.data()), text.size());
          stream == 1 ? info.setStdout(d) : info.setStderr(d);
        }
    }
  } else if (q.getListTasks()) {
    auto filter = q.getStateFilter();
    std::uint32_t limit = q.getLimit() ? q.getLimit() : 1000;
    std::vector<const TaskRecord*> list;
    for (const auto& [id, t] : tasks)
      if (filter == TaskState::UNKNOWN || t.state == filter) list.push_back(&t);
    std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->submitted_wall < b->submitted_wall; });
    if (list.size() > limit) list.resize(limit);
    auto tl = r.initTasks(static_cast<unsigned>(list.size()));
    for (unsigned i = 0; i < list.size(); ++i) fill_task_info(tl[i], *list[i], *this);
  }
  send(p, msg);
}

std::uint64_t Engine::unserved_fails_in(std::uint32_t fn) const {
  auto wait = static_cast<std::uint64_t>(std::chrono::nanoseconds(opt.unregistered_wait).count());
  auto since = scheduler.unserved_at(fn);
  if (since == 0) return wait;
  auto waited = link::steady_ns() - since;
  return waited >= wait ? 0 : wait - waited;
}

std::string Engine::unserved_note(std::uint32_t fn) const {
  auto s = (unserved_fails_in(fn) + 999'999'999) / 1'000'000'000;
  return "waiting: no worker has " + functions[fn].name + " (NotRegistered in " + std::to_string(s) + " s)";
}

void Engine::fill_catalog(schema::Catalog::Builder c) const {
  std::vector<const FunctionRecord*> live;
  for (std::uint32_t i = 0; i < functions.size(); ++i)
    if (!functions[i].workers.empty()) live.push_back(&functions[i]);
  auto l = c.initFunctions(static_cast<unsigned>(live.size()));
  for (unsigned i = 0; i < live.size(); ++i) {
    l[i].setName(live[i]->name);
    l[i].setSignatureHash(live[i]->hash);
    l[i].setSignature(live[i]->signature);
    l[i].setIsCoroutine(live[i]->coroutine);
  }
}

void Engine::broadcast_catalog() {
  for (auto& [id, p] : peers) {
    if (p->role != schema::Role::CLIENT || !p->welcomed || p->conn->closed()) continue;
    proto::Builder msg;
    fill_catalog(msg.initRoot<schema::Envelope>().initCatalog());
    send(*p, msg);
  }
}

}  // namespace shoal::coordinator
