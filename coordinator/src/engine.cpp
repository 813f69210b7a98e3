// The coordinator engine's connections: the message switch, lost peers, the accept
// loops, housekeeping (heartbeats, unserved functions, expired results) and stopping.
// What leaves for each peer is in engine_flush.cpp, strangers and their hellos in
// engine_hello.cpp, what happens to tasks in engine_tasks.cpp.

#include "engine.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <capnp/message.h>

#include <algorithm>
#include <iostream>
#include <random>

#include "shoal/proto/builder.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/proto/describe.hpp"

namespace shoal::coordinator {

using link::steady_ns;
using link::text;

namespace {
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

// ---- Peer: what its connection tells it ----

void Peer::on_frames() { engine.wall_cache = 0; }

void Peer::on_frames_done() { engine.act_now(); }

void Peer::on_message(schema::Envelope::Reader env, const proto::FrameOwner& frame) {
  if (id == 0)
    engine.hello(*this, env);
  else
    engine.handle(*this, env, frame);
}

void Peer::on_protocol_error(const std::string& why) {
  engine.log("closing the connection of " + (name.empty() ? std::string("a peer") : name) + ": " + why);
  engine.send_error(*this, schema::ErrorCode::PROTOCOL, why, true);
}

void Peer::on_closed(const std::string& why) { engine.on_disconnect(*this, why); }

// ---- Engine ----

Engine::Engine(asio::any_io_executor e, CoordinatorOptions o) : ex(std::move(e)), opt(std::move(o)) {
  if (opt.first_peer) {
    next_peer = opt.first_peer;
  } else {
    std::random_device rd;
    next_peer = (std::uint64_t{rd()} % (1u << 30)) + 1;
  }
  metrics.started_wall = link::wall_ns();
  metrics.max_attempts = opt.timeline_attempts;
  for (const auto& [fn, policy] : opt.function_retry_on) {
    link::check_retry(policy);
    if (!policy.on.empty()) function_retry_on.emplace(fn, std::make_shared<const RetryPolicy>(policy));
  }
}

Engine::~Engine() {
  if (auto& pacer = opt.journal_pacer; pacer && journal && pacer->owner == journal.get()) {
    pacer->write = nullptr;
    pacer->waiting = nullptr;
    pacer->owner = nullptr;
  }
  for (auto& [ptr, p] : connections) p->conn->abandon();
}

void Engine::log(const std::string& line, std::uint64_t task) const {
  if (opt.log) link::log::write(link::log::Level::info, opt.name, line, task);
}

void Engine::debug(const std::string& line, std::uint64_t task) const {
  if (opt.log) link::log::write(link::log::Level::debug, opt.name, line, task);
}

std::uint64_t Engine::now_wall() {
  if (!wall_cache) wall_cache = link::wall_ns();
  return wall_cache;
}

Peer* Engine::peer(std::uint64_t id) {
  auto it = peers.find(id);
  return it == peers.end() ? nullptr : it->second;
}

void Engine::handle(Peer& p, schema::Envelope::Reader env, const proto::FrameOwner& frame) {
  bool worker = p.role == schema::Role::WORKER;
  switch (env.which()) {
    case schema::Envelope::SUBMIT:
      on_submit(p, env.getSubmit(), frame);
      admit(p);
      break;
    case schema::Envelope::SUBMIT_BATCH:
      for (auto s : link::batch_entries(env.getSubmitBatch())) on_submit(p, s, frame);
      admit(p);
      break;
    case schema::Envelope::RESULT:
      if (!worker) throw ProtocolError("a result from a client");
      on_result(p, env.getResult(), frame);
      schedule_dispatch();
      maybe_finish_stop();
      break;
    case schema::Envelope::RESULT_BATCH:
      if (!worker) throw ProtocolError("a result from a client");
      for (auto r : link::batch_entries(env.getResultBatch())) on_result(p, r, frame);
      schedule_dispatch();
      maybe_finish_stop();
      break;
    case schema::Envelope::REGISTER_WORKER:
      if (!worker || p.welcomed) throw ProtocolError("unexpected registration");
      on_register(p, env.getRegisterWorker());
      break;
    case schema::Envelope::CANCEL:
      on_cancel(env.getCancel().getTaskId(), env.getCancel().getForce());
      break;
    case schema::Envelope::ACTOR_CREATE:
      on_actor_create(p, env.getActorCreate(), frame);
      break;
    case schema::Envelope::SUBSCRIBE:
      on_subscribe(p, env.getSubscribe());
      break;
    case schema::Envelope::RELEASE:
      on_release(p, env.getRelease());
      break;
    case schema::Envelope::STATUS_REQUEST:
      on_status(p, env.getStatusRequest());
      break;
    case schema::Envelope::HEARTBEAT:
      if (auto* w = worker ? scheduler.worker(p.id) : nullptr) {
        auto hb = env.getHeartbeat();
        if (hb.getStarted() >= w->started) {
          w->started = hb.getStarted();
          w->running_reported = hb.getRunning();
        }
        if (hb.getCpuNs()) {  // once a heartbeat period: its usage
          w->cpu_ns = hb.getCpuNs();
          w->rss_bytes = hb.getRssBytes();
        }
      }
      break;
    case schema::Envelope::SHUTDOWN:
      if (!worker) p.goodbye = true;  // a client closing: its tasks go with it, no grace
      if (auto* w = worker ? scheduler.worker(p.id) : nullptr) {
        w->draining = true;
        scheduler.refresh(*w);
        log(w->label() + " is draining: " + text(env.getShutdown().getReason()));
      }
      break;
    case schema::Envelope::BLOCKED:
      if (worker) on_blocked(p, env.getBlocked());
      break;
    case schema::Envelope::OUTPUT:
      if (worker) on_output(p, env.getOutput());
      break;
    case schema::Envelope::LOG_FOLLOW:
      if (worker) throw ProtocolError("a log follow from a worker");
      on_log_follow(p, env.getLogFollow());
      break;
    case schema::Envelope::LOG_LINES:
      if (!worker) throw ProtocolError("log lines from a client");
      on_log_lines(p, env.getLogLines());
      break;
    case schema::Envelope::CRASHED:
      // Its last words; the connection ends next, and recovery reads them.
      if (auto* w = worker ? scheduler.worker(p.id) : nullptr) {
        w->crash_signal = env.getCrashed().getSignal();
        w->crash_task = env.getCrashed().getTaskId();
        w->crash_forced = env.getCrashed().getForced();
      }
      break;
    case schema::Envelope::ERROR:
      log("peer " + p.name + " reported: " + text(env.getError().getMessage()));
      if (env.getError().getFatal()) close_peer(p, "it reported a fatal error");
      break;
    default:
      throw ProtocolError("unexpected message: " + proto::describe(env));
  }
}

void Engine::on_disconnect(Peer& p, const std::string& why) {
  auto keep = connections[&p];  // the peer lives to the end of this call
  connections.erase(&p);
  metrics.bytes_in_closed += p.conn->bytes_in();
  metrics.bytes_out_closed += p.conn->bytes_out();
  if (p.id && p.role == schema::Role::CLIENT && !p.superseded) metrics.client_gone(p.id);
  if (p.id && !log_followers.empty() && !p.superseded) log_followers_gone(p);
  if (!p.id && p.conn->secured() && why.rfind("TLS handshake failed", 0) == 0)
    note_refusal(p.conn->peer_address(), why);
  // A superseded connection's id is its successor's now: that one stays registered.
  if (p.id && !p.superseded) peers.erase(p.id);
  if (p.id && !p.superseded) paused.erase(p.id);
  if (p.superseded) {
    // Its client is back on another connection, which has its id and its tasks.
  } else if (stopped && journal) {
    // The coordinator closes every connection as it ends: what they had stays in the
    // journal as it is, for the next start (nothing cancelled, released or retried).
  } else if (p.role == schema::Role::WORKER && p.welcomed) {
    worker_lost(p, why);
  } else if (p.welcomed) {
    client_away(p);
  }
  maybe_finish_stop();
  if (stopped && wake) wake->cancel();  // run() may be waiting for the last connection
}

void Engine::close_peer(Peer& p, const std::string& why) {
  // A worker whose connection is closing gets nothing more, though it stays in the
  // scheduler until its connection reports the end (on_disconnect settles its tasks).
  p.closed_by_us = true;
  if (auto* w = scheduler.worker(p.id)) {
    w->lost = true;
    scheduler.refresh(*w);
  }
  p.conn->close(why);
}

void Engine::send(Peer& p, capnp::MessageBuilder& msg) { p.conn->send(msg); }

void Engine::send_error(Peer& p, schema::ErrorCode code, const std::string& message, bool fatal) {
  link::send_error(*p.conn, code, message, fatal);
}

void Engine::send_shutdown(Peer& p) {
  proto::Builder msg;
  auto s = msg.initRoot<schema::Envelope>().initShutdown();
  s.setReason("the coordinator is shutting down");
  s.setExit(opt.exit_workers_on_stop);
  send(p, msg);
}

Coro<void> Engine::accept_loop(link::Listener* l) {
  auto self = shared_from_this();
  link::Timer pause(ex);
  while (!stopping) {
    try {
      auto s = co_await l->accept();
      if (stopping) break;  // the socket closes as it goes
      auto conn = link::Connection::over_socket(std::move(s));
      if (tls && conn->is_tcp()) conn->secure(tls);
      start_peer(std::move(conn));
      continue;
    } catch (const std::exception& e) {
      if (stopping) break;
      // At most one line a second, however often it fails (EMFILE under a flood).
      ++accept_failures;
      if (auto now = steady_ns(); now - accept_logged_at > 1'000'000'000ull) {
        log("accept failed " + std::to_string(accept_failures) + " time(s): " + e.what());
        accept_failures = 0;
        accept_logged_at = now;
      }
    }
    pause.expires_after(std::chrono::milliseconds(10));  // after a failed accept (EMFILE...)
    co_await pause.async_wait(as_tuple);
  }
}

Coro<void> Engine::housekeeping() {
  auto self = shared_from_this();
  while (!stopped) {
    tick->expires_after(std::min(opt.heartbeat / 2, std::chrono::milliseconds(250)));
    co_await tick->async_wait(as_tuple);
    if (stopped) break;
    auto now = steady_ns();
    close_late_hellos(now);
    if (now - last_sample >= 1'000'000'000ull) take_sample(now);
    std::vector<Peer*> all;
    for (auto& [id, p] : peers) all.push_back(p);
    for (auto* p : all) {
      if (p->conn->closed()) continue;
      if (p->role == schema::Role::WORKER && now - p->conn->last_recv() > ns(opt.heartbeat_timeout)) {
        close_peer(*p, "no heartbeat for " + std::to_string(opt.heartbeat_timeout.count()) + " ms");
        continue;
      }
      if (now - p->conn->last_send() > ns(opt.heartbeat)) {
        proto::Builder msg;
        msg.initRoot<schema::Envelope>().initHeartbeat().setSentNs(link::wall_ns());
        send(*p, msg);
      }
    }
    // Functions no live worker registered (also while no worker is connected at all: a
    // by-name submit must not wait for ever), and actors no worker can hold.
    for (std::uint32_t fn = 0; fn < functions.size(); ++fn) {
      if (scheduler.queued(fn) == 0) {
        scheduler.unserved_since(fn) = 0;  // a later task of it waits its own full grace
        continue;
      }
      if (!functions[fn].workers.empty()) continue;
      auto& since = scheduler.unserved_since(fn);
      if (since == 0) since = now;
      if (now - since >= ns(opt.unregistered_wait)) fail_unregistered(fn);
    }
    if (scheduler.any_worker()) {
      expire_unplaced_actors(now);
      // The kinds of worker settled: queued tasks none of them could ever run fail.
      if (kinds_settled(now)) {
        for (auto& [id, why] : scheduler.take_unschedulable()) fail(id, "shoal::Unschedulable", why, ErrorKind::failed);
        if (!actors.waiting_placement().empty()) schedule_dispatch();  // actors no worker could hold
      }
    }
    // Expired results: detached ones past the TTL.
    auto ttl_s = static_cast<std::uint64_t>(opt.result_ttl.count());
    auto now_s = now / 1'000'000'000;
    for (auto id : tasks.select([&](const TaskRecord& t) {
           return is_finished(t.state) && t.detached && t.holders == 0 && now_s - t.finished_steady_s > ttl_s;
         }))
      forget(id);
  }
}

// ---- stopping ----

void Engine::begin_stop(std::chrono::milliseconds grace) {
  if (stopping) {
    // A second stop: no more grace.
    if (stop_timer) stop_timer->cancel();
    finish_stop();
    return;
  }
  stopping = true;
  log("stopping: " + std::to_string(grace.count()) + " ms for running tasks");
  for (auto& l : listeners) l->close();
  // With a journal, what has not started stays in it for the next start; else it ends here.
  if (!journal)
    for (auto id : tasks.select([](const TaskRecord& t) {
           return t.state == TaskState::WAITING || t.state == TaskState::QUEUED;
         }))
      finish(id, TaskState::CANCELLED);
  for (auto aid : std::vector<std::uint64_t>(actors.waiting_placement()))
    if (auto* a = actors.find(aid)) {
      ActorTable::kill(*a, "the coordinator is shutting down");
      pump_actor(*a);
    }
  stop_timer = std::make_unique<link::Timer>(ex, grace);
  stop_timer->async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->finish_stop();
  });
  maybe_finish_stop();
}

void Engine::maybe_finish_stop() {
  if (!stopping || stopped) return;
  for (const auto& [id, t] : tasks)
    if (t.state == TaskState::RUNNING && !t.actor && !t.actor_create) return;
  asio::post(ex, [self = shared_from_this()] { self->finish_stop(); });
}

void Engine::finish_stop() {
  if (stopped) return;
  stopped = true;
  if (stop_timer) stop_timer->cancel();
  if (tick) tick->cancel();
  if (held_timer) held_timer->cancel();
  if (ack_timer) ack_timer->cancel();  // the flushes below carry the acknowledgements
  acks_posted = false;                 // and a submit read after this arms the timer again
  away.clear();  // their timers end with them
  cancel_graces.clear();
  retry_timers.clear();
  auto unfinished = tasks.select([](const TaskRecord& t) { return !is_finished(t.state); });
  if (!journal)
    for (auto id : unfinished) finish(id, TaskState::CANCELLED);
  else if (!unfinished.empty())
    log(std::to_string(unfinished.size()) + " unfinished task(s) stay in the journal for the next start");
  std::vector<Peer*> all;
  for (auto& [id, p] : peers) all.push_back(p);
  for (auto* p : all) {
    flush(*p);
    if (p->role == schema::Role::WORKER) send_shutdown(*p);
  }
  if (wake) wake->cancel();  // run() drains and closes
}

Coro<void> Engine::run() {
  auto self = shared_from_this();
  wake = std::make_unique<link::Timer>(ex, link::EngineClock::time_point::max());
  tick = std::make_unique<link::Timer>(ex);
  // The accept loops and housekeeping are this coroutine's children: it waits for them.
  auto ended = [self](std::exception_ptr e) {
    if (e) try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        self->log(std::string("a service failed: ") + x.what());
      }
    --self->services;
    if (self->wake) self->wake->cancel();
  };
  for (auto& l : listeners) {
    ++services;
    asio::co_spawn(ex, accept_loop(l.get()), ended);
  }
  ++services;
  asio::co_spawn(ex, housekeeping(), ended);
  while (!stopped) {
    wake->expires_at(link::EngineClock::time_point::max());
    co_await wake->async_wait(as_tuple);
  }
  // Let the last frames leave, all connections at once (500 ms at most: a peer that
  // stopped reading cannot hold the others up), then close every connection.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  std::vector<std::shared_ptr<Peer>> all;
  for (auto& [ptr, p] : connections) all.push_back(p);
  auto pending = [&] {
    for (auto& p : all)
      if (!p->conn->closed() && p->conn->pending_bytes() > 0) return true;
    return false;
  };
  while (pending() && std::chrono::steady_clock::now() < deadline) {
    wake->expires_after(std::chrono::milliseconds(1));
    co_await wake->async_wait(as_tuple);
  }
  for (auto& p : all) p->conn->close("the coordinator stopped");
  for (auto& l : listeners) l->close();
  // The gate: every connection has told its peer it ended, every service has returned.
  auto gate = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while ((services > 0 || !connections.empty()) && std::chrono::steady_clock::now() < gate) {
    wake->expires_after(std::chrono::milliseconds(5));
    co_await wake->async_wait(as_tuple);
  }
  log("stopped");
}

}  // namespace shoal::coordinator
