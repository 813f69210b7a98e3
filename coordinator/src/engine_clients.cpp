// The coordinator engine and its clients beyond one connection: a client that comes back
// takes its identity and tasks back, one that vanishes gets a grace; and admission: how
// many unfinished tasks the coordinator holds, and which clients it stops reading.

#include <asio/post.hpp>

#include <algorithm>

#include "engine.hpp"

namespace shoal::coordinator {

// ---- clients that come back ----

// A client reconnecting takes its earlier id back (its task ids are in that space), and
// with it the tasks it left: those kept during its grace, or recovered from the journal.
void Engine::resume_client(Peer& p) {
  auto id = p.resume;
  if (auto* old = peer(id); old && old->role != schema::Role::CLIENT) {
    // Not a client's identity (a live worker's): a new one, and that worker untouched.
    p.id = next_peer++;
    log("client " + p.name + " asked for identity " + std::to_string(id) + ", a worker's: given " +
        std::to_string(p.id));
    return;
  }
  if (auto* old = peer(id)) {
    // Its old connection has not ended yet here (a half-open TCP connection): it goes.
    old->superseded = true;
    old->conn->close("its client reconnected on another connection");
    peers.erase(id);
  }
  away.erase(id);  // the timer is cancelled with it
  p.id = id;
  next_peer = std::max(next_peer, id + 1);  // never given to another
  std::size_t kept = 0;
  for (auto tid : tasks.select([&](const TaskRecord& t) { return t.submitter == id; })) {
    auto* t = tasks.find(tid);
    ++kept;
    if (t->orphan) {
      t->orphan = false;
      t->detached = false;
    }
  }
  log("client " + p.name + " reconnected as " + std::to_string(id) + ": " + std::to_string(kept) +
      " task(s) of it known here");
}

void Engine::client_away(Peer& p) {
  if (p.goodbye || opt.client_grace.count() == 0) return client_gone(p.id);
  auto timer = std::make_unique<link::Timer>(ex, opt.client_grace);
  timer->async_wait([weak = weak_from_this(), id = p.id](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || !self->away.count(id)) return;
    self->away.erase(id);
    if (!self->peer(id)) self->client_gone(id);
  });
  away[p.id] = std::move(timer);
}

// ---- admission ----

void Engine::count_in(TaskRecord& t) {
  if (t.counted) return;
  t.counted = true;
  auto& l = load[t.submitter];
  ++l.tasks;
  l.bytes += t.args.size();
  ++total.tasks;
  total.bytes += t.args.size();
}

void Engine::count_out(TaskRecord& t) {
  if (!t.counted) return;
  t.counted = false;
  if (auto it = load.find(t.submitter); it != load.end()) {
    --it->second.tasks;
    it->second.bytes -= std::min(it->second.bytes, std::uint64_t{t.args.size()});
    if (it->second.tasks == 0) load.erase(it);
  }
  --total.tasks;
  total.bytes -= std::min(total.bytes, std::uint64_t{t.args.size()});
  if (!paused.empty() && !readmit_posted) {
    readmit_posted = true;
    asio::post(ex, [self = shared_from_this()] {
      self->readmit_posted = false;
      self->readmit();
    });
  }
}

namespace {
// Whether `l` reaches `fraction` of a limit (0: none).
bool reaches(std::uint64_t value, std::uint64_t limit, double fraction) {
  return limit && static_cast<double>(value) >= static_cast<double>(limit) * fraction;
}
}  // namespace

// After a client's submits: past the limits, a client at or over its fair share is no
// longer read (its socket's backpressure, then its own bound, hold it back); past twice
// the limits, every client is. In-process clients are paced by acknowledgements only.
void Engine::admit(Peer& p) {
  bool full = reaches(total.tasks, opt.max_queued, 1) || reaches(total.bytes, opt.max_queued_bytes, 1);
  if (!full || p.conn->native_handle() < 0 || p.conn->reading_paused()) return;
  auto clients = std::max<std::size_t>(load.size(), 1);
  auto& l = load[p.id];
  bool over_share = (opt.max_queued && l.tasks >= opt.max_queued / clients) ||
                    (opt.max_queued_bytes && l.bytes >= opt.max_queued_bytes / clients);
  bool hard = reaches(total.tasks, opt.max_queued, 2) || reaches(total.bytes, opt.max_queued_bytes, 2);
  if (!over_share && !hard) return;
  p.conn->pause_reading();
  paused.insert(p.id);
  log("not reading client " + p.name + " (" + std::to_string(p.id) + ") for now: " + std::to_string(total.tasks) +
      " unfinished tasks, " + std::to_string(total.bytes >> 20) + " MiB of arguments (--max-queued " +
      std::to_string(opt.max_queued) + ", --max-queued-bytes " + std::to_string(opt.max_queued_bytes) + "); " +
      std::to_string(l.tasks) + " of them its own");
}

// As tasks end: read again the clients back under their share, all of them below 90%.
void Engine::readmit() {
  bool below = !reaches(total.tasks, opt.max_queued, 0.9) && !reaches(total.bytes, opt.max_queued_bytes, 0.9);
  bool hard = reaches(total.tasks, opt.max_queued, 2) || reaches(total.bytes, opt.max_queued_bytes, 2);
  auto clients = std::max<std::size_t>(load.size(), 1);
  for (auto it = paused.begin(); it != paused.end();) {
    auto* p = peer(*it);
    if (!p) {
      it = paused.erase(it);
      continue;
    }
    auto l = load.count(*it) ? load[*it] : Load{};
    bool under_share = (!opt.max_queued || l.tasks < opt.max_queued / clients) &&
                       (!opt.max_queued_bytes || l.bytes < opt.max_queued_bytes / clients);
    if (below || (under_share && !hard)) {
      p->conn->resume_reading();
      it = paused.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace shoal::coordinator
