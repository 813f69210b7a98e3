// The coordinator engine and its journal (journal.hpp): what is recovered at start, what
// each turn writes, and when a client hears that its submits are durable.

#include <asio/post.hpp>
#include <capnp/message.h>

#include <algorithm>

#include "engine.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/link/clock.hpp"

namespace shoal::coordinator {

using link::steady_ns;

void Engine::open_journal() {
  journal = std::make_unique<Journal>(opt.journal, opt.journal_pacer != nullptr);
  if (auto& pacer = opt.journal_pacer) {
    pacer->owner = journal.get();
    pacer->write = [j = journal.get()](const std::string& fail) { return j->write_paced(fail); };
    pacer->waiting = [j = journal.get()] { return j->paced_waiting(); };
  }
  journal->set_trouble([weak = weak_from_this(), ex = ex](const std::string& why) {
    asio::post(ex, [weak, why] {
      auto self = weak.lock();
      if (!self) return;
      if (why.empty())
        self->log("the journal is written again: accepting work");
      else
        self->log(why + ": refusing new work until it can be written (accepted work is kept and written then)");
      self->journal_trouble = why;
    });
  });
  auto rows = journal->load();
  auto recovered_actors = recover_actors(journal->load_actors());
  recover_failures();
  // Ids are never given twice: a new connection's id space is past every earlier one.
  std::uint64_t past = journal->next_peer();
  for (const auto& r : rows) past = std::max(past, r.submitter + 1);
  next_peer = std::max(next_peer, past);
  std::vector<std::uint64_t> unfinished;
  std::size_t kept = 0;
  for (auto& r : rows) {
    auto& t = tasks.insert(r.id);
    t.submitter = r.submitter;
    t.fn = functions.intern(r.function, r.hash);
    t.args = std::move(r.args);
    if (!r.deps.empty()) t.mut().deps = std::move(r.deps);
    t.timeout_ms = r.timeout_ms;
    t.retries = r.retries;
    if (!r.placement.empty()) t.req = scheduler.placements().intern(link::parse_placement_key(r.placement));
    if (!r.retry.empty()) t.mut().retry = std::make_shared<const RetryPolicy>(link::parse_retry_key(r.retry));
    // Its submitter's connection is gone: whoever asks (shoal result ID, a subscribe) gets
    // the result until the result TTL after it ends, unless the submitter comes back.
    t.orphan = !r.detached;
    t.detached = true;
    t.submitted_wall = r.submitted_wall;
    t.attempt = r.attempt;
    t.journaled = true;
    if (r.kind == JournalTask::actor_create) {
      t.actor_create = true;
    } else if (r.kind == JournalTask::actor_call) {
      t.actor = r.actor;
      t.mut().method = std::move(r.method);
    } else if (!r.method.empty()) {
      t.mut().method = std::move(r.method);  // a map chunk
    }
    if (is_finished(r.state)) {
      t.state = r.state;
      t.value = std::move(r.value);
      t.error = std::move(r.error);
      t.finished_wall = r.finished_wall;
      t.finished_steady_s = static_cast<std::uint32_t>(steady_ns() / 1'000'000'000);
      ++kept;
    } else {
      unfinished.push_back(r.id);
      count_in(t);
      count_submitted(t.submitter, {}, t);  // accepted again, by this coordinator: it ends here
    }
  }
  // Every record exists: link the edges, then run what is ready.
  for (auto id : unfinished) {
    auto* t = tasks.find(id);
    if (!t || is_finished(t->state)) continue;  // failed with a dependency already
    if (t->actor_create) continue;  // its actor's recovery decides (settle_recovering_actors)
    if (functions[t->fn].name == link::kPutFunction) {
      // A put whose end did not reach the journal: its arguments are the object.
      finish(id, TaskState::DONE, std::exchange(t->args, {}));
      continue;
    }
    ActorRecord* a = t->actor ? actors.find(t->actor) : nullptr;
    if (t->actor && (!a || a->dead)) {
      fail(id, "shoal::InvalidStateError",
           "actor " + std::to_string(t->actor) + " was released before the coordinator restarted", ErrorKind::invalid_state);
      continue;
    }
    auto problem = tasks.link_dependencies(*t);
    if (problem) {
      t->state = TaskState::WAITING;
      finish(id, TaskState::FAILED, {}, std::move(problem->error));
      continue;
    }
    t->state = t->unresolved > 0 ? TaskState::WAITING : TaskState::QUEUED;
    if (a)
      a->calls.push_back(id);  // in id order: forwarded once its worker claims the actor
    else if (t->state == TaskState::QUEUED)
      held.push_back(id);  // its worker may come back with it still running
  }
  if (!held.empty() || recovered_actors) {
    held_timer = std::make_unique<link::Timer>(ex, opt.adopt_wait);
    held_timer->async_wait([weak = weak_from_this()](std::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->release_held();
    });
  }
  log("journal " + opt.journal + ": " + std::to_string(unfinished.size()) + " unfinished task(s) to run, " +
      std::to_string(kept) + " result(s) kept" +
      (recovered_actors ? ", " + std::to_string(recovered_actors) + " actor(s) waiting for their workers" : ""));
}

// Actors alive when the coordinator stopped: each waits adopt_wait for the worker that
// hosts it to come back and claim it (its state lives there).
std::size_t Engine::recover_actors(std::vector<JournalActor> rows) {
  for (auto& r : rows) {
    auto& a = actors.create(r.id);
    a.cls = std::move(r.cls);
    a.hash = r.hash;
    a.args = std::move(r.args);
    a.create_task = r.create_task;
    if (!r.placement.empty()) a.req = scheduler.placements().intern(link::parse_placement_key(r.placement));
    a.submitter = r.submitter;
    apply_policy_key(a, r.policy);
    a.journaled = true;
    a.recovering = true;
    a.waiting_since = steady_ns();
  }
  return rows.size();
}

// A worker registering with actors it hosts (liveActors) or constructs (its running
// create tasks): those recovered from the journal are its again, with their state, and
// their calls go on where they were (the calls it still runs are its, the rest follow in
// order). Actors nobody here knows any more are released on the worker.
void Engine::adopt_actors(Peer& p, WorkerSlot& slot, schema::RegisterWorker::Reader r) {
  std::vector<std::uint64_t> unknown, bound;
  auto claim = [&](ActorRecord& a) {
    a.recovering = false;
    a.worker = p.id;
    ++slot.actors;
    if (!a.holds) {
      scheduler.reserve(slot, a.req);
      a.holds = true;
    }
    bound.push_back(a.id);
  };
  for (auto aid : r.getLiveActors()) {
    auto* a = actors.find(aid);
    if (!a || !a->recovering || a->dead) {
      unknown.push_back(aid);
      continue;
    }
    claim(*a);
    // Constructed: its ready() is done, though the word of it may have died with the
    // coordinator.
    if (auto* t = tasks.find(a->create_task); t && !is_finished(t->state)) finish(t->id, TaskState::DONE);
  }
  for (auto id : r.getRunning()) {
    auto* t = tasks.find(id);
    if (!t || t->state != TaskState::QUEUED) continue;
    if (t->actor_create) {
      auto* a = actors.by_create_task(id);
      if (!a || !a->recovering || a->dead) continue;
      claim(*a);
      t->state = TaskState::RUNNING;
      t->worker = p.id;
      slot.inflight.emplace(id, WorkerSlot::Held{});
    } else if (t->actor) {
      auto* a = actors.find(t->actor);
      if (!a || a->worker != p.id) continue;
      std::erase(a->calls, id);
      scheduler.assign(*t, slot);
    }
  }
  for (auto aid : bound)
    if (auto* a = actors.find(aid)) pump_actor(*a);
  if (!bound.empty())
    log(slot.label() + " claimed " + std::to_string(bound.size()) + " actor(s) recovered from the journal");
  if (!unknown.empty()) {
    proto::Builder msg;
    auto l = msg.initRoot<schema::Envelope>().initRelease().initActors(static_cast<unsigned>(unknown.size()));
    for (unsigned i = 0; i < unknown.size(); ++i) l.set(i, unknown[i]);
    send(p, msg);
  }
}

// adopt_wait is over: a recovered actor no worker claimed is constructed again if its
// constructor never finished, else its state is gone with its worker, and so is it.
void Engine::settle_recovering_actors() {
  for (auto aid : actors.ids()) {
    auto* a = actors.find(aid);
    if (!a || !a->recovering) continue;
    a->recovering = false;
    auto* t = tasks.find(a->create_task);
    if (t && !is_finished(t->state)) {
      t->state = TaskState::QUEUED;
      a->waiting_since = steady_ns();
      actors.unplaced(aid);
      schedule_dispatch();
    } else {
      // Its state lived in its worker: constructed again if it may restart, else gone.
      actor_worker_died(*a,
                        "actor " + std::to_string(aid) + " (" + a->cls +
                            ") was lost: its worker did not come back within --adopt-wait-ms of the coordinator's "
                            "restart, and its state lived there",
                        {});
    }
  }
}

// The recovered tasks no worker claimed within adopt_wait: queued as any other.
void Engine::release_held() {
  settle_recovering_actors();
  auto ids = std::move(held);
  held.clear();
  std::size_t adopted = 0;
  for (auto id : ids) {
    auto* t = tasks.find(id);
    if (!t || !adoptable(*t)) {
      if (t && t->state == TaskState::RUNNING) ++adopted;
      continue;
    }
    make_ready(*t);
  }
  if (adopted) log(std::to_string(adopted) + " recovered task(s) adopted by the workers still running them");
}

void Engine::journal_accept(TaskRecord& t, std::uint64_t created_actor) {
  JournalTask r;
  if (t.actor_create) {
    r.kind = JournalTask::actor_create;
    r.actor = created_actor;
  } else if (t.actor) {
    r.kind = JournalTask::actor_call;
    r.actor = t.actor;
    r.method = t.method();
  } else {
    r.method = t.method();  // "" or a map chunk's "map"
  }
  r.id = t.id;
  r.submitter = t.submitter;
  r.function = functions[t.fn].name;
  r.hash = functions[t.fn].hash;
  r.args = t.args;
  r.deps = t.deps();
  r.timeout_ms = t.timeout_ms;
  r.retries = t.retries;
  r.detached = t.detached;
  r.submitted_wall = t.submitted_wall;
  r.placement = scheduler.placements()[t.req].key;
  if (t.links && t.links->retry) r.retry = link::retry_key(*t.links->retry);
  journal->accept(std::move(r));
  t.journaled = true;
  undurable.insert(t.id);
  accepting.push_back(t.id);
  journal_touch();
}

void Engine::note_ack(std::uint64_t peer_id, std::uint64_t task_id) {
  auto& highest = acks[peer_id];
  highest = std::max(highest, task_id);
  if (journal) return journal_touch();
  // Sent with the client's next flush (Engine::flush), or alone once kAckDelay passed.
  if (acks_posted) return;
  acks_posted = true;
  constexpr auto kAckDelay = std::chrono::milliseconds(1);
  if (!ack_timer) ack_timer = std::make_unique<link::Timer>(ex);
  ack_timer->expires_after(kAckDelay);
  ack_timer->async_wait([weak = weak_from_this()](std::error_code ec) {
    auto self = weak.lock();
    if (!self || ec) return;
    self->acks_posted = false;
    auto sent = std::move(self->acks);
    self->acks.clear();
    self->send_acks(sent);
  });
}

void Engine::send_acks(const std::unordered_map<std::uint64_t, std::uint64_t>& to_send) {
  for (auto [peer_id, highest] : to_send)
    if (auto* p = peer(peer_id)) send_ack(*p, highest);
}

void Engine::send_ack(Peer& p, std::uint64_t highest) {
  proto::Builder msg;
  msg.initRoot<schema::Envelope>().initAccepted(1).set(0, highest);
  send(p, msg);
}

// Once per loop turn: everything this turn changed goes to the journal's thread in one
// batch; the clients whose submits it holds hear so once it is on disk (acks ride in the
// same queue even with nothing to write: they never overtake an earlier batch).
void Engine::journal_touch() {
  if (journal_posted) return;
  journal_posted = true;
  asio::post(ex, [self = shared_from_this()] {
    self->journal_posted = false;
    if (!self->journal || (!self->journal->has_pending() && self->acks.empty())) return;
    auto sent = std::move(self->acks);
    self->acks.clear();
    auto accepted = std::move(self->accepting);
    self->accepting.clear();
    self->journal_commits.push_back(steady_ns());  // its lag, until it is on disk (metrics)
    self->journal->commit([weak = self->weak_from_this(), ex = self->ex, sent = std::move(sent),
                           accepted = std::move(accepted)]() mutable {
      asio::post(ex, [weak, sent = std::move(sent), accepted = std::move(accepted)] {
        auto self = weak.lock();
        if (!self) return;
        if (!self->journal_commits.empty()) self->journal_commits.pop_front();
        for (auto id : accepted) self->undurable.erase(id);
        if (!sent.empty()) self->send_acks(sent);
        self->release_results();
      });
    });
  });
}

void Engine::release_results() {
  if (!results_held_for.empty()) {
    auto peers_with = std::move(results_held_for);
    results_held_for.clear();
    for (auto id : peers_with)
      if (auto* p = peer(id); p && !p->held_results.empty()) {
        auto held = std::move(p->held_results);
        p->held_results.clear();
        p->out_results.insert(p->out_results.begin(), held.begin(), held.end());
        touch_flush(*p);  // what is still not on disk is held again there
      }
  }
  if (!free_after_commit.empty()) {
    // After the flushes just posted: a held result leaves before its task goes (one
    // still undurable is put off again).
    auto ids = std::move(free_after_commit);
    free_after_commit.clear();
    for (auto id : ids) maybe_free(id);
  }
}

void Engine::journal_actor_gone(ActorRecord& a) {
  if (!a.journaled || !journal) return;
  a.journaled = false;
  journal->forget_actor(a.id);
  journal_touch();
}

void Engine::forget(std::uint64_t id) {
  if (auto* t = tasks.find(id)) {
    if (t->journaled && journal) {
      journal->forget(id);
      journal_touch();
    }
    if (t->links) kept_output_bytes -= t->links->output[0].size() + t->links->output[1].size();
  }
  tasks.erase(id);
  if (held_values.empty()) return;
  auto it = held_values.find(id);
  if (it == held_values.end()) return;
  // The workers holding its value let go of it too.
  for (auto wid : it->second)
    if (auto* p = peer(wid); p && p->held.erase(id)) {
      capnp::MallocMessageBuilder msg(16);
      msg.initRoot<schema::Envelope>().initRelease().initTasks(1).set(0, id);
      send(*p, msg);
    }
  held_values.erase(it);
}

}  // namespace shoal::coordinator
