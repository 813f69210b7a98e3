// The coordinator engine's workers and the peers that go: a worker's registration (what
// it offers, refused when its signatures conflict with the live workers'), a lost worker
// (its tasks settled, its actors restarted or ended), a client gone for good.

#include <capnp/message.h>

#include <algorithm>

#include "engine.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::coordinator {

using link::steady_ns;
using link::text;

void Engine::on_register(Peer& p, schema::RegisterWorker::Reader r) {
  // A name the live workers registered with another signature: this worker's build of
  // the task library differs from theirs. Refused before anything of it is taken (a task
  // sent to it would be called with arguments it reads otherwise); it may come back once
  // the others are gone (a rolling upgrade) or rebuilt.
  if (auto conflict = registration_conflict(r); !conflict.empty()) {
    // Once per worker name and 10 s: one that does not know to back off tries again at once.
    auto now = steady_ns();
    if (auto& last = refusals_logged[p.name]; last == 0 || now - last >= 10'000'000'000ull) {
      last = now;
      log("refused the registration of " + p.name + ": " + conflict);
    }
    if (refusals_logged.size() > 1024) refusals_logged.clear();
    send_error(p, schema::ErrorCode::REFUSED, conflict, true);
    return close_peer(p, "registration refused: " + conflict);
  }
  WorkerSlot w;
  w.id = p.id;
  w.name = p.name;
  metrics.worker_seen(p.id, p.name);
  w.host = r.getHost().size() ? text(r.getHost()) : p.host;
  w.pid = r.getPid() ? r.getPid() : p.pid;
  w.capacity = std::max(1u, r.getCapacity());
  w.co_capacity = r.getCoroutineCapacity() ? r.getCoroutineCapacity() : 1024;
  w.max_tasks = r.getMaxTasks();
  // For replays: what it runs. Bounded, as anything a peer says.
  auto libraries = std::make_shared<std::vector<std::string>>();
  // Absolute paths only (a replay runs them): anything else is dropped.
  auto path = [](capnp::Text::Reader t) {
    auto s = text(t);
    return s.size() <= 4096 && s.starts_with("/") ? s : std::string();
  };
  for (auto l : r.getLibraries()) {
    if (libraries->size() == 64) break;
    if (auto p = path(l); !p.empty()) libraries->push_back(std::move(p));
  }
  w.libraries = std::move(libraries);
  w.executable = path(r.getExecutable());
  // What it offers: checked as any input (a bad list is the peer's bug: it is refused).
  try {
    auto offered = link::get_resources(r.getResources());
    link::check_resources(offered);
    w.total = scheduler.placements().units(offered);
    if (r.getLabels().size() > link::kMaxLabels) throw ValueError("more than " + std::to_string(link::kMaxLabels) + " labels");
    for (auto l : r.getLabels()) {
      auto label = text(l);
      link::check_label(label);
      auto term = link::split_term(label);
      w.labels.emplace_back(std::move(term.key), std::move(term.value));
    }
  } catch (const ValueError& e) {
    throw ProtocolError(std::string("registration: ") + e.what());
  }
  for (auto f : r.getFunctions()) {
    auto idx = functions.intern(text(f.getName()), f.getSignatureHash());
    functions[idx].signature = text(f.getSignature());
    functions[idx].coroutine = f.getIsCoroutine();
    w.fns.push_back(idx);
  }
  for (auto a : r.getActors()) {
    w.actor_classes[text(a.getName())] = a.getConstructorHash();
    for (auto m : a.getMethods()) {
      // Actor methods are forwarded outside the function queues; recorded for the catalog.
      auto idx = functions.intern(text(a.getName()) + "." + text(m.getName()), m.getSignatureHash());
      functions[idx].signature = text(m.getSignature());
      functions[idx].coroutine = m.getIsCoroutine();
    }
  }
  auto& slot = scheduler.add_worker(std::move(w));
  p.welcomed = true;
  // A worker back after a reconnect still runs these: those queued again meanwhile (a
  // restarted coordinator's recovered tasks) are its again rather than run twice.
  std::size_t adopted = 0;
  std::vector<std::uint64_t> stop;
  for (auto id : r.getRunning()) {
    auto* t = tasks.find(id);
    if (t && adoptable(*t)) {
      scheduler.assign(*t, slot);
      ++adopted;
    } else if (!t || (!t->actor && !t->actor_create && t->state != TaskState::QUEUED)) {
      // Not its any more (run again elsewhere after it was taken for lost, ended, or
      // unknown here): it runs there all the same, holding its slot and resources, until
      // it reports. Counted as held. One that ended or is unknown is asked to stop; one
      // running elsewhere is not (queued again meanwhile, its outcome is the task's).
      // An unknown one may come back from its client (a restarted coordinator had not
      // written it): this run is then its attempt (Scheduler::assign), and if it stops,
      // the task runs again (on_result). (Actors' are adopt_actors'.)
      bool stopping = !t || is_finished(t->state);
      scheduler.hold_orphan(slot, id, t ? t->req : 0, t && functions[t->fn].coroutine, stopping);
      if (stopping) stop.push_back(id);
    }
  }
  if (adopted) log(slot.label() + " still runs " + std::to_string(adopted) + " task(s) from before: adopted");
  for (auto id : stop) {
    proto::Builder msg;
    msg.initRoot<schema::Envelope>().initCancel().setTaskId(id);
    send(p, msg);
  }
  log(slot.label() + " registered: " + std::to_string(slot.fns.size()) + " functions, " +
      std::to_string(slot.actor_classes.size()) + " actor types, " + std::to_string(slot.capacity) + " threads" +
      (slot.total.empty() ? std::string() : ", " + link::format_resources(scheduler.placements().amounts(slot.total))) +
      (slot.labels.empty() ? std::string() : ", labels " + format_labels(slot.labels)));
  // A worker of a new kind: what it tells about the queued tasks that can never run is
  // acted on once the kinds settle (housekeeping).
  if (scheduler.kinds() != kinds_seen) {
    kinds_seen = scheduler.kinds();
    new_kind_at = steady_ns();
  }
  adopt_actors(p, slot, r);
  broadcast_catalog();
  schedule_dispatch();
}

std::string Engine::registration_conflict(schema::RegisterWorker::Reader r) const {
  auto holders = [&](const std::vector<std::uint64_t>& ids) {
    std::string out;
    for (auto id : ids)
      if (auto it = scheduler.workers().find(id); it != scheduler.workers().end())
        out += (out.empty() ? "" : ", ") + it->second.name;
    return out;
  };
  for (auto f : r.getFunctions()) {
    auto name = text(f.getName());
    if (const auto* g = functions.live_conflict(name, f.getSignatureHash()))
      return "'" + name + "' is " + text(f.getSignature()) + " in this worker but " + g->signature +
             " in the live workers (" + holders(g->workers) + "): rebuild them from the same task library";
  }
  for (auto a : r.getActors()) {
    auto name = text(a.getName());
    for (const auto& [id, w] : scheduler.workers()) {
      if (w.lost) continue;
      auto it = w.actor_classes.find(name);
      if (it != w.actor_classes.end() && it->second != a.getConstructorHash())
        return "actor type '" + name + "' has another constructor signature in this worker than in " + w.name +
               ": rebuild them from the same task library";
    }
  }
  return {};
}

// ---- lost peers ----

void Engine::worker_lost(Peer& p, const std::string& why) {
  auto slot = scheduler.remove_worker(p.id);
  slot.died = !p.closed_by_us;
  for (const auto& [id, held] : slot.inflight)
    if (auto* t = tasks.find(id); t && t->state == TaskState::RUNNING && t->worker == slot.id)
      count_attempt(*t, slot.id, t->attempt, AttemptRecord::worker_lost);
  log(slot.label() + " lost: " + why +
      (slot.crash_signal ? " (it reported " + describe_signal(slot.crash_signal) +
                               (slot.crash_task ? " in task " + std::to_string(slot.crash_task) : std::string()) + ")"
                         : std::string()));
  auto decision = settle_lost_worker(slot, tasks, functions, why, opt.max_crashes);
  for (auto id : decision.cancel) finish(id, TaskState::CANCELLED);
  settling = &slot;  // where the tasks failing now ran, for their replays
  for (auto& [id, info] : decision.fail) finish(id, TaskState::FAILED, {}, std::move(info));
  settling = nullptr;
  for (auto id : decision.retry)
    if (auto* t = tasks.find(id)) {
      ++metrics.fn(t->fn).retried;
      ++metrics.retried;
      scheduler.enqueue(*t, steady_ns());
    }
  for (auto aid : actors.on_worker(p.id)) {
    auto* a = actors.find(aid);
    actor_worker_died(*a, "actor " + std::to_string(aid) + " (" + a->cls + ") was on " + slot.label() +
                              ", which stopped answering: " + why,
                      decision.actor_tasks);
  }
  broadcast_catalog();
  schedule_dispatch();
}

void Engine::client_gone(std::uint64_t peer_id) {
  // Its unfinished, non-detached tasks are cancelled; its results released.
  for (auto id : tasks.select([&](const TaskRecord& t) { return t.submitter == peer_id && !t.detached; })) {
    auto* t = tasks.find(id);
    if (!t) continue;
    t->released = true;
    if (!is_finished(t->state)) on_cancel(id);
    maybe_free(id);
  }
  for (auto aid : actors.of_submitter(peer_id))
    if (auto* a = actors.find(aid); a && !a->detached) release_actor(*a);
}

}  // namespace shoal::coordinator
