// The coordinator engine and its journal (journal.hpp): what is recovered at start, what
// each turn writes, and when a client hears that its submits are durable.

#include <asio/post.hpp>
#include <capnp/message.h>

#include <algorithm>

#include "engine.hpp"
#include "shoal/link/clock.hpp"

namespace shoal::coordinator {

using link::steady_ns;

void Engine::open_journal() {
  journal = std::make_unique<Journal>(opt.journal);
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
    // Its submitter's connection is gone: whoever asks (shoal result ID, a subscribe) gets
    // the result until the result TTL after it ends, unless the submitter comes back.
    t.orphan = !r.detached;
    t.detached = true;
    t.submitted_wall = r.submitted_wall;
    t.attempt = r.attempt;
    t.journaled = true;
    if (is_finished(r.state)) {
      t.state = r.state;
      t.value = std::move(r.value);
      if (r.error) t.error = std::make_unique<codec::RemoteErrorInfo>(std::move(*r.error));
      t.finished_wall = r.finished_wall;
      t.finished_steady = steady_ns();
      ++kept;
    } else {
      unfinished.push_back(r.id);
      count_in(t);
    }
  }
  // Every record exists: link the edges, then run what is ready.
  for (auto id : unfinished) {
    auto* t = tasks.find(id);
    if (!t || is_finished(t->state)) continue;  // failed with a dependency already
    auto problem = tasks.link_dependencies(*t);
    if (problem) {
      t->state = TaskState::WAITING;
      fail(id, "shoal::DependencyFailed", "task " + std::to_string(problem->first) + ", a dependency, " + problem->second,
           ErrorKind::failed);
    } else if (t->unresolved > 0) {
      t->state = TaskState::WAITING;
    } else {
      t->state = TaskState::QUEUED;
      held.push_back(id);  // its worker may come back with it still running
    }
  }
  if (!held.empty()) {
    held_timer = std::make_unique<asio::steady_timer>(ex, opt.adopt_wait);
    held_timer->async_wait([weak = weak_from_this()](std::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->release_held();
    });
  }
  log("journal " + opt.journal + ": " + std::to_string(unfinished.size()) + " unfinished task(s) to run, " +
      std::to_string(kept) + " result(s) kept");
}

// The recovered tasks no worker claimed within adopt_wait: queued as any other.
void Engine::release_held() {
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

void Engine::journal_accept(TaskRecord& t) {
  JournalTask r;
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
  journal->accept(std::move(r));
  t.journaled = true;
  journal_touch();
}

void Engine::note_ack(std::uint64_t peer_id, std::uint64_t task_id) {
  auto& highest = acks[peer_id];
  highest = std::max(highest, task_id);
  if (journal) return journal_touch();
  if (acks_posted) return;
  acks_posted = true;
  asio::post(ex, [self = shared_from_this()] {
    self->acks_posted = false;
    auto sent = std::move(self->acks);
    self->acks.clear();
    self->send_acks(sent);
  });
}

void Engine::send_acks(const std::unordered_map<std::uint64_t, std::uint64_t>& to_send) {
  for (auto [peer_id, highest] : to_send)
    if (auto* p = peer(peer_id)) {
      // Every submit of this connection up to `highest` is known here (with a journal: on
      // disk), or was answered.
      capnp::MallocMessageBuilder msg;
      msg.initRoot<schema::Envelope>().initAccepted(1).set(0, highest);
      send(*p, msg);
    }
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
    self->journal->commit([weak = self->weak_from_this(), ex = self->ex, sent = std::move(sent)]() mutable {
      if (sent.empty()) return;
      asio::post(ex, [weak, sent = std::move(sent)] {
        if (auto self = weak.lock()) self->send_acks(sent);
      });
    });
  });
}

void Engine::forget(std::uint64_t id) {
  if (auto* t = tasks.find(id); t && t->journaled && journal) {
    journal->forget(id);
    journal_touch();
  }
  tasks.erase(id);
}

}  // namespace shoal::coordinator
