// The coordinator engine's outgoing side: what each peer is due leaves in one corked
// write per flush (assigns in batches, results in batches, errors, cancels, and without
// a journal the client's acknowledgement), and act_now() sends it at the end of a read
// rather than in posted handlers.

#include <asio/post.hpp>
#include <capnp/message.h>

#include <algorithm>

#include "engine.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/proto/builder.hpp"

namespace shoal::coordinator {

void Engine::touch_flush(Peer& p) {
  if (p.flush_posted || p.conn->closed()) return;
  p.flush_posted = true;
  // act_now() empties flush_due at the end of every read; between reads (timers) it holds
  // an id per flush posted, which act_now() skips once this handler has run.
  flush_due.push_back(p.id);
  asio::post(ex, [self = shared_from_this(), id = p.id] {
    if (auto* p = self->peer(id); p && p->flush_posted) self->flush(*p);  // else act_now() did
  });
}

void Engine::act_now() {
  // Runs inside a read of one peer's connection: a failure here (no memory) is not that
  // peer's doing, so it is logged rather than left to close its connection.
  try {
    if (dispatch_posted) {
      dispatch_posted = false;
      dispatch();
    }
    while (!flush_due.empty()) {
      auto id = flush_due.back();
      flush_due.pop_back();
      if (auto* p = peer(id); p && p->flush_posted) flush(*p);
    }
  } catch (const std::exception& e) {
    log(std::string("sending what a read made due failed: ") + e.what());
  }
}

namespace {

// What an Assign of `t` carries inline, for the batching rule.
std::size_t assign_bytes(const TaskRecord& t, const TaskTable& tasks) {
  std::size_t n = link::inline_bytes(t.args);
  for (auto dep : t.deps())
    if (const auto* d = tasks.find(dep)) n += link::inline_bytes(d->value);
  return std::min(n, link::kInlineBudgetBytes);
}

// `held`: for a worker values stream to (TCP), the large dependency values it holds: each
// is sent once, then named by id (link::kHeldValue); the ones sent now are added to it.
void fill_assign(link::Connection& conn, schema::Assign::Builder a, const TaskRecord& t,
                 const FunctionTable& functions, const TaskTable& tasks, Peer* held,
                 std::unordered_map<std::uint64_t, std::vector<std::uint64_t>>& held_values) {
  const auto& f = functions[t.fn];
  a.setTaskId(t.id);
  a.setFunction(t.actor ? t.method() : f.name);
  a.setSignatureHash(f.hash);
  if (auto blob = conn.attach(t.args))
    a.setArgsBlob(blob);
  else
    a.setArgs(link::data(t.args));
  if (const auto& deps = t.deps(); !deps.empty()) {
    // Large values travel beside the message, and so do small ones past the budget.
    auto dv = a.initDepValues(static_cast<unsigned>(deps.size()));
    capnp::List<std::uint64_t>::Builder blobs;
    std::size_t budget = link::kInlineBudgetBytes - std::min(link::kInlineBudgetBytes, link::inline_bytes(t.args));
    for (unsigned i = 0; i < deps.size(); ++i) {
      const auto* d = tasks.find(deps[i]);
      if (!d) continue;
      if (held && d->value.size() >= codec::shm::kSharedAtBytes) {
        if (blobs.size() == 0) blobs = a.initDepBlobs(static_cast<unsigned>(deps.size()));
        if (!a.hasDepIds()) {
          auto ids = a.initDepIds(static_cast<unsigned>(deps.size()));
          for (unsigned k = 0; k < deps.size(); ++k) ids.set(k, deps[k]);
        }
        if (held->held.contains(deps[i])) {
          blobs.set(i, link::kHeldValue);
          continue;
        }
        blobs.set(i, conn.attach(d->value));
        held->held.insert(deps[i]);
        held_values[deps[i]].push_back(held->id);
        continue;
      }
      auto blob = conn.attach(d->value, d->value.size() > budget ? 1 : codec::shm::kSharedAtBytes);
      if (!blob) {
        budget -= d->value.size();
        dv.set(i, link::data(d->value));
        continue;
      }
      if (blobs.size() == 0) blobs = a.initDepBlobs(static_cast<unsigned>(deps.size()));
      blobs.set(i, blob);
    }
  }
  a.setAttempt(t.attempt);
  a.setTimeoutMs(t.timeout_ms);
  a.setActorId(t.actor);
  if (!t.method().empty()) a.setMethod(t.method());  // an actor's method, or a map chunk's "map"
}

// `ack`: the answer to a put's own client, which holds the object already.
void fill_result(link::Connection& conn, schema::Result::Builder b, const TaskRecord& t, bool ack) {
  b.setTaskId(t.id);
  b.setAttempt(t.attempt);
  b.setWorker(t.worker);
  if (t.state == TaskState::DONE) {
    if (ack) {
      b.setValue({});
    } else if (auto blob = conn.attach(t.value)) {
      b.setValue({});
      b.setValueBlob(blob);
    } else {
      b.setValue(link::data(t.value));
    }
  }
  else if (t.state == TaskState::FAILED && t.error)
    link::set_error(b.initError(), *t.error);
  else
    b.setCancelled();
}

}  // namespace

void Engine::flush(Peer& p) {
  p.flush_posted = false;
  if (p.conn->closed()) return;
  auto cork = p.conn->cork();  // everything below leaves in one write
  if (!journal)  // its acknowledgement rides along (note_ack)
    if (auto a = acks.find(p.id); a != acks.end()) {
      send_ack(p, a->second);
      acks.erase(a);
    }
  // The tasks still meant for this peer, as records.
  auto records = [&](std::vector<std::uint64_t>& ids, auto keep) {
    std::vector<const TaskRecord*> out;
    out.reserve(ids.size());
    for (auto id : ids)
      if (auto* t = tasks.find(id); t && keep(*t)) out.push_back(t);
    ids.clear();
    return out;
  };
  auto assigns = records(p.out_assigns, [&](TaskRecord& t) {
    if (t.state != TaskState::RUNNING || t.worker != p.id) return false;
    t.started_wall = now_wall();  // leaves now: its queue wait ends
    if (t.attempt > 1 && t.links && !(t.links->output[0].empty() && t.links->output[1].empty()))
      output_attempt_begins(t);
    if (debug_enabled()) debug("assigned to " + p.name + ", attempt " + std::to_string(t.attempt), t.id);
    metrics.fn(t.fn).queue_wait.observe(t.started_wall > t.submitted_wall ? t.started_wall - t.submitted_wall : 0);
    return true;
  });
  p.conn->send_batched(
      assigns.size(), 24, [&](std::size_t i) { return assign_bytes(*assigns[i], tasks); },
      [&](schema::Envelope::Builder env, std::size_t begin, std::size_t end) {
        Peer* held = p.conn->is_tcp() ? &p : nullptr;
        if (end - begin == 1)
          return fill_assign(*p.conn, env.initAssign(), *assigns[begin], functions, tasks, held, held_values);
        auto l = env.initAssignBatch(static_cast<unsigned>(end - begin));
        for (auto i = begin; i < end; ++i)
          fill_assign(*p.conn, l[static_cast<unsigned>(i - begin)], *assigns[i], functions, tasks, held, held_values);
      });
  if (!undurable.empty() && p.role == schema::Role::CLIENT) {
    // A result whose submit is not on disk yet waits for it (and its acknowledgement).
    auto held_before = p.held_results.size();
    std::erase_if(p.out_results, [&](std::uint64_t id) {
      if (!undurable.count(id)) return false;
      p.held_results.push_back(id);
      return true;
    });
    if (p.held_results.size() != held_before) results_held_for.insert(p.id);
  }
  auto results = records(p.out_results, [](const TaskRecord& t) { return is_finished(t.state); });
  auto put_ack = [&](const TaskRecord& t) {
    return t.submitter == p.id && functions[t.fn].name == link::kPutFunction;
  };
  p.conn->send_batched(
      results.size(), 16, [&](std::size_t i) { return link::inline_bytes(results[i]->value); },
      [&](schema::Envelope::Builder env, std::size_t begin, std::size_t end) {
        if (end - begin == 1) return fill_result(*p.conn, env.initResult(), *results[begin], put_ack(*results[begin]));
        auto l = env.initResultBatch(static_cast<unsigned>(end - begin));
        for (auto i = begin; i < end; ++i)
          fill_result(*p.conn, l[static_cast<unsigned>(i - begin)], *results[i], put_ack(*results[i]));
      });
  for (auto& [id, info] : p.out_errors) {
    proto::Builder msg;
    auto r = msg.initRoot<schema::Envelope>().initResult();
    r.setTaskId(id);
    link::set_error(r.initError(), info);
    send(p, msg);
  }
  p.out_errors.clear();
  for (auto id : p.out_cancels) {
    proto::Builder msg;
    auto c = msg.initRoot<schema::Envelope>().initCancel();
    c.setTaskId(id);
    if (auto* t = tasks.find(id); t && t->force_cancel) {
      c.setForce(true);
      c.setGraceMs(static_cast<std::uint64_t>(opt.cancel_grace.count()));
    }
    send(p, msg);
  }
  p.out_cancels.clear();
}

}  // namespace shoal::coordinator
