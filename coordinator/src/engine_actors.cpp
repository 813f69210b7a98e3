// The coordinator engine's actors: creations, placement on a worker that has their type
// and their resources, the calls forwarded in order, and their end (resources freed).
// ActorTable decides; this file routes its decisions to peers.

#include <capnp/message.h>

#include <algorithm>
#include <sstream>

#include "engine.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::coordinator {

using link::steady_ns;
using link::text;

void Engine::free_actor(ActorRecord& a) {
  if (!a.holds) return;
  a.holds = false;
  if (auto* w = scheduler.worker(a.worker)) {
    scheduler.unreserve(*w, a.req);
    schedule_dispatch();  // what it held may start tasks now
  }
}

void Engine::pump_actor(ActorRecord& a) {
  if (a.dead) {
    journal_actor_gone(a);
    free_actor(a);
    actors.unname(a);
  }
  auto pumped = actors.pump(a, tasks);
  for (auto id : pumped.fail) fail(id, "shoal::ActorDied", a.dead_why, ErrorKind::disconnected);
  if (pumped.forward.empty()) return;
  auto* w = scheduler.worker(a.worker);
  auto* p = peer(a.worker);
  for (auto id : pumped.forward) {
    auto* t = tasks.find(id);
    if (!t) continue;
    if (!w || !p) {
      fail(id, "shoal::ActorDied", "the actor's worker is gone", ErrorKind::disconnected);
      continue;
    }
    if (scheduler.assign(*t, *w)) continue;  // its worker still runs it (the run is this call)
    p->out_assigns.push_back(id);
    touch_flush(*p);
  }
}

void Engine::kill_actor(ActorRecord& a, const std::string& why) {
  if (!a.dead) {
    log("actor " + std::to_string(a.id) + " (" + a.cls + (a.name.empty() ? "" : " '" + a.name + "'") + "): " + why);
    ActorTable::kill(a, why);
  }
  // Its constructor, when it has not finished (never placed, waiting to restart, running):
  // its ready() fails, and a restart's own constructor task ends.
  if (auto* t = tasks.find(a.create_task); t && !is_finished(t->state))
    fail(t->id, "shoal::ActorDied", why, ErrorKind::disconnected);
  // Its calls with its worker fail now; the worker drops those it has not started and
  // stops the rest (Release.killActors), reporting them late.
  if (auto* w = scheduler.worker(a.worker)) {
    std::vector<std::uint64_t> sent;
    for (const auto& [id, held] : w->inflight)
      if (auto* t = tasks.find(id); t && t->actor == a.id && t->state == TaskState::RUNNING) sent.push_back(id);
    for (auto id : sent) fail(id, "shoal::ActorDied", why, ErrorKind::disconnected);
  }
  pump_actor(a);  // its calls not yet sent fail
  if (!a.released) release_actor(a, /*kill=*/true);
}

void Engine::actor_worker_died(ActorRecord& a, const std::string& why, const std::vector<std::uint64_t>& lost) {
  // What it ran when its worker died, in the order it was sent: its calls, and its
  // constructor when that was still running.
  std::vector<TaskRecord*> running;
  bool constructing = false;
  for (auto id : lost)
    if (auto* t = tasks.find(id)) {
      if (t->actor == a.id) running.push_back(t);
      else if (t->actor_create && a.create_task == id) constructing = true;
    }
  if (!a.may_restart() || a.released || stopping) {
    std::string msg = why + (a.restarts ? " (it had restarted " + std::to_string(a.restarts) + " time(s), its max_restarts)"
                                        : std::string());
    if (constructing) fail(a.create_task, "shoal::ActorDied", msg, ErrorKind::disconnected);
    for (auto* t : running) fail(t->id, "shoal::ActorDied", msg, ErrorKind::disconnected);
    ActorTable::kill(a, msg);
    pump_actor(a);
    return;
  }
  // Constructed again elsewhere from its constructor's arguments (Ray's max_restarts).
  ++a.restarts;
  free_actor(a);
  a.worker = 0;
  for (auto it = running.rbegin(); it != running.rend(); ++it) {
    auto* t = *it;
    if (t->cancel_requested) {
      finish(t->id, TaskState::CANCELLED);
    } else if (a.max_task_retries < 0 || t->attempt <= static_cast<std::uint32_t>(a.max_task_retries)) {
      t->state = TaskState::QUEUED;  // first among its calls again, in its order
      t->worker = 0;
      a.calls.push_front(t->id);
    } else {
      fail(t->id, "shoal::ActorDied",
           why + " while this call ran (max_task_retries " + std::to_string(a.max_task_retries) +
               " lets it run again no more)",
           ErrorKind::disconnected);
    }
  }
  if (auto* t = constructing ? tasks.find(a.create_task) : nullptr) {
    t->state = TaskState::QUEUED;  // its ready() still waits: this construction is it
    t->worker = 0;
  } else {
    // A constructor run of its own, which nobody waits for; if it throws, the actor dies.
    auto tid = ++internal_tasks;  // peer 0's id space: no client's
    auto& c = tasks.insert(tid);
    c.actor_create = true;
    c.fn = functions.intern(a.cls + ".__init__", a.hash);
    c.state = TaskState::QUEUED;
    c.retries = 0;
    c.released = true;
    c.submitted_wall = now_wall();
    count_submitted(0, {}, c);
    a.create_task = tid;
  }
  log("actor " + std::to_string(a.id) + " (" + a.cls + ") restarts, " + std::to_string(a.restarts) + " of " +
      (a.max_restarts < 0 ? std::string("unlimited") : std::to_string(a.max_restarts)) + ": " + why);
  a.waiting_since = steady_ns();
  actors.unplaced(a.id);
  schedule_dispatch();
}

void Engine::release_actor(ActorRecord& a, bool kill) {
  a.released = true;
  actors.unname(a);
  journal_actor_gone(a);
  free_actor(a);
  if (!a.worker && !a.dead) {
    // Never placed: it never will be (nobody holds it), and its queued calls fail.
    actors.forget_unplaced(a.id);
    ActorTable::kill(a, "the actor was released before it was placed");
    if (auto* t = tasks.find(a.create_task); t && !is_finished(t->state))  // its ready(), or a restart's constructor
      fail(t->id, "shoal::ActorDied", a.dead_why, ErrorKind::disconnected);
    pump_actor(a);
  }
  if (a.worker)
    if (auto* p = peer(a.worker)) {
      flush(*p);  // calls already assigned go first
      proto::Builder msg;
      auto r = msg.initRoot<schema::Envelope>().initRelease();
      // Released: it ends after the calls it was sent. Killed: it drops them and stops.
      (kill ? r.initKillActors(1) : r.initActors(1)).set(0, a.id);
      send(*p, msg);
      if (auto* w = scheduler.worker(a.worker); w && w->actors) --w->actors;
    }
  if (a.calls.empty()) actors.erase(a.id);
}

void Engine::expire_unplaced_actors(std::uint64_t now) {
  auto wait = ns(opt.unregistered_wait);
  for (auto aid : std::vector<std::uint64_t>(actors.waiting_placement())) {
    auto* a = actors.find(aid);
    if (!a || a->dead || now - a->waiting_since < wait) continue;
    // A worker has its type: it waits for resources in use, not for a registration.
    bool has_type = false;
    for (const auto& [id, w] : scheduler.workers())
      has_type = has_type || w.has_actor_type(a->cls, a->hash);
    if (has_type) continue;
    std::string msg = "actor type '" + a->cls + "' is not registered (asked: " + scheduler.worker_list() +
                      "): register it with SHOAL_ACTOR in a library the worker loads";
    fail(a->create_task, "shoal::NotRegistered", msg, ErrorKind::failed);
    ActorTable::kill(*a, msg);
    pump_actor(*a);
    actors.forget_unplaced(aid);
  }
}

void Engine::on_actor_create(Peer& p, schema::ActorCreate::Reader c, const proto::FrameOwner& frame) {
  std::uint64_t aid = c.getActorId(), tid = c.getTaskId();
  if ((aid >> 32) != p.id || (tid >> 32) != p.id) throw ProtocolError("actor ids outside this connection's id space");
  note_ack(p.id, tid);  // its id counts among the client's acknowledged ones
  // Ids are the idempotency keys: a create sent again after a reconnect (it was not
  // acknowledged) is the same actor, whatever became of it since.
  if (auto* t = tasks.find(tid); t && t->actor_create && t->submitter == p.id) return;
  if (auto* a = actors.find(aid); a && a->create_task == tid && a->submitter == p.id) return;
  if (tasks.contains(tid) || actors.find(aid)) throw ProtocolError("actor " + std::to_string(aid) + " created twice");
  auto& t = tasks.insert(tid);
  t.submitter = p.id;
  t.actor_create = true;
  t.fn = functions.intern(text(c.getClassName()) + ".__init__", c.getConstructorHash());
  t.state = TaskState::QUEUED;
  t.retries = 0;
  t.submitted_wall = now_wall();
  count_submitted(p.id, p.name, t);
  auto& a = actors.create(aid);
  a.cls = text(c.getClassName());
  a.hash = c.getConstructorHash();
  a.args = p.conn->value(c.getArgs(), c.getArgsBlob(), frame);
  a.create_task = tid;
  a.submitter = p.id;
  a.waiting_since = steady_ns();
  a.max_restarts = c.getMaxRestarts();
  a.max_task_retries = c.getMaxTaskRetries();
  a.max_concurrency = std::max(1u, c.getMaxConcurrency());
  a.detached = c.getDetached();
  std::string bad_placement;
  if (c.hasOptions()) bad_placement = intern_placement(a.req, c.getOptions());
  // The wire is not trusted: bounds as the client's own checks.
  if (bad_placement.empty()) bad_placement = check_actor_policy(a, text(c.getName()));
  if (!bad_placement.empty()) {
    ActorTable::kill(a, bad_placement);
    pump_actor(a);
    return fail(tid, "shoal::ValueError", bad_placement, ErrorKind::failed);
  }
  if (journal && !stopping) {
    journal->accept_actor({aid, p.id, a.cls, a.hash, a.args, tid, scheduler.placements()[a.req].key, policy_key(a)});
    a.journaled = true;
    journal_accept(t, aid);
  }
  if (stopping) {
    ActorTable::kill(a, "the coordinator is shutting down");
    pump_actor(a);
    return fail(tid, "shoal::Error", "the coordinator is shutting down", ErrorKind::overloaded);
  }
  actors.unplaced(aid);
  schedule_dispatch();
}

std::string Engine::check_actor_policy(ActorRecord& a, std::string name) {
  if (a.max_restarts < -1 || a.max_task_retries < -1)
    return "max_restarts and max_task_retries must be -1 (always) or more, not " + std::to_string(a.max_restarts) +
           " and " + std::to_string(a.max_task_retries);
  if (a.max_concurrency > link::kMaxActorConcurrency)
    return "max_concurrency must be at most " + std::to_string(link::kMaxActorConcurrency) + ", not " +
           std::to_string(a.max_concurrency);
  if (name.size() > link::kMaxActorName) return "an actor's name is at most " + std::to_string(link::kMaxActorName) + " bytes";
  for (char ch : name)
    if (ch < 0x20 || ch > 0x7e) return "an actor's name is printable ASCII";
  if (a.detached && name.empty()) return "a detached actor needs a name (nobody else could reach it)";
  if (!name.empty() && !actors.name(a, name))
    return "an actor named '" + name + "' is alive already (actor " + std::to_string(actors.named(name)->id) + ")";
  return {};
}

std::string Engine::policy_key(const ActorRecord& a) {
  if (!a.max_restarts && !a.max_task_retries && a.max_concurrency == 1 && a.name.empty() && !a.detached) return {};
  return std::to_string(a.max_restarts) + " " + std::to_string(a.max_task_retries) + " " +
         std::to_string(a.max_concurrency) + " " + (a.detached ? "1" : "0") + " " + a.name;
}

void Engine::apply_policy_key(ActorRecord& a, const std::string& key) {
  if (key.empty()) return;
  std::istringstream in(key);
  int detached = 0;
  in >> a.max_restarts >> a.max_task_retries >> a.max_concurrency >> detached;
  a.detached = detached != 0;
  std::string name;
  if (in.get() == ' ') std::getline(in, name);
  if (!name.empty()) (void)actors.name(a, std::move(name));
}

void Engine::fill_actor_info(schema::ActorInfo::Builder b, const std::string& name) {
  if (auto* a = actors.named(name)) {
    b.setActorId(a->id);
    b.setClassName(a->cls);
    b.setConstructorHash(a->hash);
  } else {
    std::string shown = name.substr(0, link::kMaxActorName);
    for (auto& ch : shown)
      if (ch < 0x20 || ch > 0x7e) ch = '?';
    b.setError("no live actor is named '" + shown + "'");
  }
}

}  // namespace shoal::coordinator
