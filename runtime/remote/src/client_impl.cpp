// ClientCore::Impl: what the client sends and what it makes of the coordinator's messages.

#include "client_impl.hpp"

#include <asio/post.hpp>
#include <capnp/message.h>

#include <algorithm>
#include <cstdio>

#include "shoal/proto/builder.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/proto/describe.hpp"
#include "shoal/remote/errors.hpp"

namespace shoal::remote::detail {

using link::text;

void LocalGate::on_frames() {
  loop_thread.store(std::this_thread::get_id(), std::memory_order_relaxed);
  std::lock_guard lock(mu);
  if (client) client->on_frames();
}

void LocalGate::on_message(proto::schema::Envelope::Reader env, const proto::FrameOwner& frame) {
  std::lock_guard lock(mu);
  if (client) client->on_message(env, frame);
}

void LocalGate::on_protocol_error(const std::string& why) {
  std::lock_guard lock(mu);
  if (client) client->on_protocol_error(why);
}

void LocalGate::on_closed(const std::string& why) {
  std::lock_guard lock(mu);
  if (client) client->on_closed(why);
}

void ClientCore::Impl::post_flush_locked() {
  if (flush_posted || closed) return;
  flush_posted = true;
  asio::post(ex, [this, a = std::weak_ptr<bool>(alive)] {
    if (!a.expired()) flush();
  });
}

void ClientCore::Impl::send_hello(const ClientOptions& options) {
  handshake.emplace(options.token, conn->is_tcp());
  handshake->hello(*conn, schema::Role::CLIENT, options.name, reconnecting ? owner->peer_id() : 0);
  awaiting_welcome = true;
}

void ClientCore::Impl::send_cancel(std::uint64_t id, bool force) {
  proto::Builder msg;
  auto c = msg.initRoot<schema::Envelope>().initCancel();
  c.setTaskId(id);
  c.setForce(force);
  conn->send(msg);
}

void ClientCore::Impl::goodbye() {
  if (!conn || conn->closed()) return;
  proto::Builder msg;
  msg.initRoot<schema::Envelope>().initShutdown().setReason("the client closed");
  conn->send(msg);
}


namespace {

void fill_submit(link::Connection& conn, schema::Submit::Builder b, const ClientCore::Impl::SubmitOut& o) {
  b.setTaskId(o.id);
  b.setFunction(o.function);
  b.setSignatureHash(o.hash);
  if (auto blob = conn.attach(o.args))
    b.setArgsBlob(blob);
  else
    b.setArgs(link::data(o.args));
  if (!o.deps.empty()) {
    auto d = b.initDeps(static_cast<unsigned>(o.deps.size()));
    for (unsigned i = 0; i < o.deps.size(); ++i) d.set(i, o.deps[i]);
  }
  auto opt = b.initOptions();
  const auto& options = *o.options;
  opt.setTimeoutMs(options.timeout ? static_cast<std::uint64_t>(options.timeout->count()) : 0);
  opt.setRetries(options.retries);
  opt.setDetached(options.detached);
  if (ClientCore::Impl::has_placement(options)) link::set_placement(opt, options.placement());
  link::set_retry(opt, options.retry);
  if (o.parent) b.setParent(o.parent);
  if (o.actor) b.setActorId(o.actor);
  if (!o.method.empty()) b.setMethod(o.method);  // an actor's method, or a map chunk's "map"
}

}  // namespace

void ClientCore::Impl::send_submits(std::vector<SubmitOut>& s) {
  conn->send_batched(
      s.size(), 20,
      [&](std::size_t i) { return link::inline_bytes(s[i].args) + s[i].function.size() + 8 * s[i].deps.size(); },
      [&](schema::Envelope::Builder env, std::size_t begin, std::size_t end) {
        if (end - begin == 1) return fill_submit(*conn, env.initSubmit(), s[begin]);
        auto list = env.initSubmitBatch(static_cast<unsigned>(end - begin));
        for (auto i = begin; i < end; ++i) fill_submit(*conn, list[static_cast<unsigned>(i - begin)], s[i]);
      });
  // Kept until acknowledged: a reconnect sends them again.
  if (keeps_unacked())
    for (auto& o : s) unacked.push_back(std::move(o));
}

void ClientCore::Impl::send_creates(std::vector<CreateOut>& c) {
  for (auto& o : c) {
    proto::Builder msg;
    auto a = msg.initRoot<schema::Envelope>().initActorCreate();
    a.setActorId(o.actor);
    a.setClassName(o.cls);
    a.setConstructorHash(o.hash);
    if (auto blob = conn->attach(o.args))
      a.setArgsBlob(blob);
    else
      a.setArgs(link::data(o.args));
    a.setTaskId(o.task);
    if (o.placement != link::Placement{}) link::set_placement(a.initOptions(), o.placement);
    a.setMaxRestarts(o.max_restarts);
    a.setMaxTaskRetries(o.max_task_retries);
    a.setMaxConcurrency(o.max_concurrency);
    if (!o.name.empty()) a.setName(o.name);
    a.setDetached(o.detached);
    conn->send(msg);
  }
  // Kept until acknowledged, as submits are: a reconnect sends them again (the same ids:
  // the same actor to a coordinator that had one).
  if (keeps_unacked())
    for (auto& o : c) unacked_creates.push_back(std::move(o));
}

void ClientCore::Impl::send_kills(const std::vector<std::uint64_t>& actors) {
  if (actors.empty()) return;
  proto::Builder msg;
  auto k = msg.initRoot<schema::Envelope>().initRelease().initKillActors(static_cast<unsigned>(actors.size()));
  for (unsigned i = 0; i < actors.size(); ++i) k.set(i, actors[i]);
  conn->send(msg);
}

void ClientCore::Impl::flush() {
  std::vector<SubmitOut> s;
  std::vector<CreateOut> c;
  std::vector<Pending> regs;
  std::vector<std::uint64_t> can, rel, rela, kill, sub;
  std::unordered_set<std::uint64_t> force;
  std::vector<StatusOut> st;
  std::vector<std::pair<std::string, bool>> follows;
  {
    std::lock_guard lock(mu);
    flush_posted = false;
    follows.swap(log_follows);
    s.swap(submits);
    c.swap(creates);
    regs.swap(registrations);
    can.swap(cancels);
    force.swap(forced);
    rel.swap(releases);
    rela.swap(release_actors);
    kill.swap(kill_actors);
    sub.swap(subscribes);
    st.swap(statuses);
  }
  for (auto& r : regs) pending.emplace(r.task_id, std::move(r));
  // Nothing leaves before the Welcome (a dialled client may be asked for something before
  // its first one), nor on a connection already closed whose close has not reached us yet
  // (a reconnect follows: what was queued goes on the next, not nowhere).
  bool before_welcome = awaiting_welcome && !welcome_seen && !reconnecting;
  bool closing = !reconnecting && conn && conn->closed() && welcome_seen && keeps_unacked();
  if (reconnecting || closing || before_welcome) {
    if (before_welcome) {
      // Sent by the flush the first Welcome posts, in order.
      std::lock_guard lock(mu);
      submits.insert(submits.begin(), std::make_move_iterator(s.begin()), std::make_move_iterator(s.end()));
      creates.insert(creates.begin(), std::make_move_iterator(c.begin()), std::make_move_iterator(c.end()));
    } else {
      // Kept, in order, for the next connection: the Welcome sends creates and submits
      // first (a create after its calls would find them on no actor), then the rest.
      for (auto& o : c) unacked_creates.push_back(std::move(o));
      for (auto& o : s) unacked.push_back(std::move(o));
    }
    std::lock_guard lock(mu);
    cancels.insert(cancels.begin(), can.begin(), can.end());
    forced.insert(force.begin(), force.end());
    releases.insert(releases.begin(), rel.begin(), rel.end());
    release_actors.insert(release_actors.begin(), rela.begin(), rela.end());
    kill_actors.insert(kill_actors.begin(), kill.begin(), kill.end());
    subscribes.insert(subscribes.begin(), sub.begin(), sub.end());
    statuses.insert(statuses.begin(), st.begin(), st.end());
    log_follows.insert(log_follows.begin(), follows.begin(), follows.end());
    return;
  }
  if (!conn || conn->closed()) return;
  // Actors first: calls in this flush may be on them.
  send_creates(c);
  // Before the calls of this flush: a call made after kill_actor() fails with ActorDied
  // (one made before, in the same flush, too: Ray's kill does not wait for pending calls).
  send_kills(kill);
  send_submits(s);
  for (auto id : can) {
    send_cancel(id, force.count(id) != 0);
    // Asked again after a reconnect while the task has not ended: a coordinator that
    // restarted before writing it knows nothing of it (a task it runs again from the
    // submit sent again would run to its end).
    if (keeps_unacked() && pending.count(id)) cancels_asked[id] |= force.count(id) != 0;  // a forced one stays forced
  }
  if (!sub.empty()) {
    proto::Builder msg;
    auto s = msg.initRoot<schema::Envelope>().initSubscribe();
    // A client that takes output (on_output) gets what the task printed so far first.
    s.setWithOutput(static_cast<bool>(owner->options_.on_output));
    auto l = s.initTaskIds(static_cast<unsigned>(sub.size()));
    for (unsigned i = 0; i < sub.size(); ++i) l.set(i, sub[i]);
    conn->send(msg);
  }
  if (!rel.empty() || !rela.empty()) {
    proto::Builder msg;
    auto r = msg.initRoot<schema::Envelope>().initRelease();
    auto t = r.initTasks(static_cast<unsigned>(rel.size()));
    for (unsigned i = 0; i < rel.size(); ++i) t.set(i, rel[i]);
    auto a = r.initActors(static_cast<unsigned>(rela.size()));
    for (unsigned i = 0; i < rela.size(); ++i) a.set(i, rela[i]);
    conn->send(msg);
  }
  for (auto& [worker, on] : follows) {
    proto::Builder msg;
    auto f = msg.initRoot<schema::Envelope>().initLogFollow();
    f.setWorker(worker);
    f.setFollow(on);
    conn->send(msg);
  }
  for (auto& q : st) {
    proto::Builder msg;
    auto r = msg.initRoot<schema::Envelope>().initStatusRequest();
    r.setRequestId(q.request);
    r.setTaskId(q.task);
    r.setListTasks(q.list);
    r.setStateFilter(q.filter);
    r.setLimit(q.limit);
    r.setAttempts(q.attempts);
    r.setSinceNs(q.since_ns);
    r.setJob(q.job);
    r.setLogs(q.logs);
    if (!q.actor_name.empty()) r.setActorName(q.actor_name);
    r.setReplay(q.replay);
    conn->send(msg);
  }
}

void ClientCore::Impl::complete_result(schema::Result::Reader r, const proto::FrameOwner& frame) {
  bool asked_again = !resubscribed.empty() && resubscribed.erase(r.getTaskId()) > 0;
  if (!cancels_asked.empty()) cancels_asked.erase(r.getTaskId());
  auto range = pending.equal_range(r.getTaskId());
  if (range.first == range.second) return;
  std::vector<Pending> done;
  for (auto it = range.first; it != range.second; ++it) done.push_back(std::move(it->second));
  pending.erase(range.first, range.second);
  switch (r.which()) {
    case schema::Result::VALUE: {
      Bytes value = conn->value(r.getValue(), r.getValueBlob(), frame);
      for (auto& p : done) p.complete(p.state.get(), value);
      break;
    }
    case schema::Result::ERROR: {
      auto info = link::get_error(r.getError());
      if (asked_again && info.message.find(link::kUnknownTask) != std::string::npos) {
        // Asked again after a reconnect, and unknown there: lost with the coordinator.
        auto e = std::make_exception_ptr(CoordinatorLost(
            "task " + std::to_string(r.getTaskId()) + " was lost: the coordinator at " + owner->address() +
            " no longer knows it (it restarted without a journal, or the result expired)"));
        for (auto& p : done) p.state->try_set_exception(e);
        break;
      }
      for (auto& p : done) {
        auto e = make_remote_exception(info);
        if (info.kind == ErrorKind::cancelled)
          p.state->try_set_cancelled(e);
        else
          p.state->try_set_exception(e);
      }
      break;
    }
    default:
      for (auto& p : done) p.state->try_set_cancelled();
  }
}

void ClientCore::Impl::set_catalog(schema::Catalog::Reader c) {
  std::vector<CatalogEntry> entries;
  for (auto f : c.getFunctions())
    entries.push_back({text(f.getName()), text(f.getSignature()), f.getSignatureHash(), f.getIsCoroutine()});
  for (auto a : c.getActors())
    for (auto m : a.getMethods())
      entries.push_back({text(a.getName()) + "." + text(m.getName()), text(m.getSignature()), m.getSignatureHash(),
                         m.getIsCoroutine()});
  std::lock_guard lock(catalog_mu);
  catalog = std::move(entries);
  ++catalog_version;
}

void ClientCore::Impl::on_message(schema::Envelope::Reader env, const proto::FrameOwner& frame) {
  if (awaiting_welcome && handshake && handshake->on_message(*conn, env, owner->address())) return;
  switch (env.which()) {
    case schema::Envelope::WELCOME: {
      auto w = env.getWelcome();
      awaiting_welcome = false;
      conn->set_limits(proto::authenticated_limits());  // values may travel beside the frames now
      if (reconnecting) {
        resumed(w);
        break;
      }
      owner->peer_id_ = w.getPeerId();
      owner->journaled_.store(w.getJournaled(), std::memory_order_release);
      set_catalog(w.getCatalog());
      if (!welcome_seen) {
        welcome_seen = true;
        welcomed.set_value();
        std::lock_guard lock(mu);
        post_flush_locked();  // what a dialled client was asked for before it
      }
      break;
    }
    case schema::Envelope::RESULT:
      complete_result(env.getResult(), frame);
      break;
    case schema::Envelope::RESULT_BATCH:
      for (auto r : link::batch_entries(env.getResultBatch())) complete_result(r, frame);
      break;
    case schema::Envelope::CATALOG:
      set_catalog(env.getCatalog());
      break;
    case schema::Envelope::STATUS_REPLY:
      status_reply(env.getStatusReply(), frame);
      break;
    case schema::Envelope::ERROR: {
      auto e = env.getError();
      std::string msg = text(e.getMessage());
      if (!welcome_seen) {
        welcome_seen = true;
        welcomed.set_exception(std::make_exception_ptr(
            ConnectionError("the coordinator at " + owner->address() + " refused the connection: " + msg)));
      }
      if (e.getFatal()) throw ConnectionError("the coordinator reported: " + msg);
      break;
    }
    case schema::Envelope::ACCEPTED: {
      std::uint64_t highest = 0;
      for (auto id : env.getAccepted()) highest = std::max<std::uint64_t>(highest, id);
      {
        std::lock_guard lock(mu);
        accepted = std::max(accepted, highest);
      }
      accepted_moved();
      while (!unacked.empty() && unacked.front().id <= highest) unacked.pop_front();
      std::erase_if(unacked_creates, [&](const CreateOut& o) { return o.task <= highest; });
      break;
    }
    case schema::Envelope::LOG_LINES: {
      auto l = env.getLogLines();
      if (owner->options_.on_worker_log) {
        auto d = l.getData();
        try {
          owner->options_.on_worker_log(text(l.getWorker()),
                                        std::string_view(reinterpret_cast<const char*>(d.begin()), d.size()),
                                        text(l.getError()));
        } catch (...) {
          // The caller's callback failing is not the connection's problem.
        }
      }
      break;
    }
    case schema::Envelope::OUTPUT: {
      auto o = env.getOutput();
      if (owner->options_.on_output) {
        auto d = o.getData();
        try {
          owner->options_.on_output(o.getTaskId(), o.getStream(),
                                    std::string_view(reinterpret_cast<const char*>(d.begin()), d.size()));
        } catch (const std::exception& e) {
          // The caller's callback failing is not the connection's problem: said once, and on.
          if (!output_callback_failed) std::fprintf(stderr, "shoal: ClientOptions::on_output threw: %s\n", e.what());
          output_callback_failed = true;
        } catch (...) {
          output_callback_failed = true;
        }
      }
      break;
    }
    case schema::Envelope::HEARTBEAT:
    case schema::Envelope::SHUTDOWN:
      break;
    default:
      throw ProtocolError("unexpected message from the coordinator: " + proto::describe(env));
  }
}

void ClientCore::Impl::accepted_moved() {
  accepted_cv.notify_all();
  std::vector<Promise<void>> ready;
  {
    std::lock_guard lock(mu);
    if (room_waiters.empty()) return;
    if (closed || owner->has_room(*this, seq.load(std::memory_order_relaxed) + 1)) ready.swap(room_waiters);
  }
  for (auto& p : ready) p.set_result();  // a submit after a close fails by itself
}

void ClientCore::Impl::lost(const std::string& why) {
  std::vector<Promise<ClusterStatus>> statuses_lost;
  bool by_user;
  {
    std::lock_guard lock(mu);
    by_user = user_closed;
    if (!closed) {
      closed = true;
      closed_why = why;
    }
    for (auto& [id, p] : status_waiting) statuses_lost.push_back(std::move(p));
    status_waiting.clear();
    for (auto& r : registrations) pending.emplace(r.task_id, std::move(r));
    registrations.clear();
    submits.clear();  // their states are in registrations
    creates.clear();
  }
  accepted_moved();
  reconnecting = false;
  unacked.clear();
  unacked_creates.clear();
  resubscribed.clear();
  cancels_asked.clear();
  if (retry_timer) retry_timer->cancel();
  if (!welcome_seen) {
    welcome_seen = true;
    welcomed.set_exception(std::make_exception_ptr(ConnectionError(why)));
  }
  auto failing = std::move(pending);
  pending.clear();
  // A future nobody holds any more cannot be read: its failure is counted in one line
  // below instead of one "exception never retrieved" each (Python logs nothing for a
  // concurrent.futures future, and once per task for asyncio). One still held is reported
  // once, when it goes unread, as any other.
  std::size_t unheld = 0;
  for (auto& [id, p] : failing) {
    bool held = !p.state->sole_owner();
    p.state->try_set_exception(std::make_exception_ptr(CoordinatorLost(why)));
    if (!held) {
      (void)p.state->exception_ptr();  // marks it seen
      ++unheld;
    }
  }
  if (unheld > 0 && !by_user)  // the user who closed it knows
    std::fprintf(stderr, "shoal: %zu remote task(s) whose futures were dropped did not finish: %s\n", unheld,
                 why.c_str());
  for (auto& p : statuses_lost) p.set_exception(std::make_exception_ptr(CoordinatorLost(why)));
  if (conn) conn->close(why);
}

}  // namespace shoal::remote::detail
