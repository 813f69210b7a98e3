// The coordinator engine's actors: creations, placement on a worker that has their type
// and their resources, the calls forwarded in order, and their end (resources freed).
// ActorTable decides; this file routes its decisions to peers.

#include <capnp/message.h>

#include "engine.hpp"
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
  }
  auto pumped = actors.pump(a, tasks);
  for (auto id : pumped.fail) fail(id, "shoal::WorkerLost", a.dead_why, ErrorKind::disconnected);
  if (pumped.forward.empty()) return;
  auto* w = scheduler.worker(a.worker);
  auto* p = peer(a.worker);
  for (auto id : pumped.forward) {
    auto* t = tasks.find(id);
    if (!t) continue;
    if (!w || !p) {
      fail(id, "shoal::WorkerLost", "the actor's worker is gone", ErrorKind::disconnected);
      continue;
    }
    scheduler.assign(*t, *w);
    p->out_assigns.push_back(id);
    touch_flush(*p);
  }
}

void Engine::release_actor(ActorRecord& a) {
  a.released = true;
  journal_actor_gone(a);
  free_actor(a);
  if (!a.worker && !a.dead) {
    // Never placed: it never will be (nobody holds it), and its queued calls fail.
    actors.forget_unplaced(a.id);
    ActorTable::kill(a, "the actor was released before it was placed");
    pump_actor(a);
  }
  if (a.worker)
    if (auto* p = peer(a.worker)) {
      flush(*p);  // calls already assigned go first
      capnp::MallocMessageBuilder msg;
      msg.initRoot<schema::Envelope>().initRelease().initActors(1).set(0, a.id);
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
  std::string bad_placement;
  if (c.hasOptions()) bad_placement = intern_placement(a.req, c.getOptions());
  if (!bad_placement.empty()) {
    ActorTable::kill(a, bad_placement);
    pump_actor(a);
    return fail(tid, "shoal::ValueError", bad_placement, ErrorKind::failed);
  }
  if (journal && !stopping) {
    journal->accept_actor({aid, p.id, a.cls, a.hash, a.args, tid, scheduler.placements()[a.req].key});
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

}  // namespace shoal::coordinator
