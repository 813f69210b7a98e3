// The worker engine: the session with the coordinator (connect, hello and registration,
// heartbeats, reconnects), what its messages mean, and stopping. Jobs run in the Runner
// (runner.hpp), actors live in the ActorHost (actor_host.hpp). The loop thread owns the
// connection and every table here.

#include "shoal/proto/builder.hpp"
#include "shoal/worker/worker.hpp"

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <capnp/message.h>

#include <algorithm>
#include <iostream>
#include <thread>
#include <unordered_map>

#include "actor_host.hpp"
#include "capture.hpp"
#include "memory.hpp"
#include "crash_report.hpp"
#include "dial.hpp"
#include "log_copy.hpp"
#include "output_pipe.hpp"
#include "registration.hpp"
#include "runner.hpp"
#include "watchdog.hpp"
#include "values.hpp"
#include "shoal/detail/wait_set.hpp"
#include "shoal/link/address.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/log.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/link/timer.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/proto/describe.hpp"
#include "shoal/remote/client.hpp"
#include "shoal/remote/map.hpp"

namespace shoal::worker {

/// The exit status of a worker that exits because a task ignored a forced cancel.
constexpr int kExitForcedCancel = 75;  // EX_TEMPFAIL: start it again

namespace schema = proto::schema;
using link::steady_ns;
using link::text;

namespace {
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

struct Worker::Engine final : link::ConnectionHandler, std::enable_shared_from_this<Worker::Engine> {
  WorkerOptions opt;
  remote::Registry& registry;
  asio::any_io_executor ex;
  std::shared_ptr<Runner> runner;
  std::shared_ptr<ActorHost> actors;
  std::shared_ptr<OutputPipe> output;  // tasks' output on its way to the coordinator
  std::shared_ptr<link::Connection> conn;  // the session's; null between sessions
  std::unordered_map<std::uint64_t, std::shared_ptr<Job>> jobs;  // assigned, not yet reported
  std::uint64_t heartbeat_ns = 1'000'000'000;
  bool connected = false;
  bool welcomed = false;  // the coordinator welcomed us (and, over TCP, proved it knows the token)
  std::optional<link::PeerHandshake> handshake;  // the session's, until the Welcome
  DependencyValues dependencies;  // and the large ones kept for the next assigns
  bool draining = false;   // tasks not started go back; no new ones
  bool exiting = false;    // run() returns after this session
  bool finishing = false;  // the last results leave, then the session ends
  int exit_status = 0;
  std::uint64_t completed = 0;
  int services = 0;  // the session's heartbeat coroutine while it runs
  std::unique_ptr<link::Timer> wake;  // run() and session() sleep on it
  std::unique_ptr<link::Timer> beat;  // the heartbeat coroutine's
  std::string last_connect_error;
  Watchdog watchdog;  // heartbeats while the loop is held up (watchdog.hpp)
  bool ever_welcomed = false;  // some session got as far as the welcome
  std::string refused;  // why the coordinator refused this session's registration ("" not)
  std::shared_ptr<link::TlsContext> tls;  // for a TCP coordinator (opt.tls)

  Engine(WorkerOptions o, remote::Registry& r) : opt(std::move(o)), registry(r) {
    if (opt.tls.enabled()) tls = link::TlsContext::client(opt.tls);  // a bad file fails here, once
    if (opt.threads == 0) opt.threads = std::max(1u, std::thread::hardware_concurrency());
    if (opt.name.empty()) opt.name = "w" + std::to_string(::getpid());
  }

  void log(const std::string& line, std::uint64_t task = 0) const {
    if (opt.log) link::log::write(link::log::Level::info, "shoal-worker " + opt.name, line, task);
  }

  void poke() {
    if (wake) wake->cancel();
  }

  // Whether what is sent now can arrive: connected, and the connection not closing (a
  // failed write or a missed heartbeat closes it before on_closed says so).
  [[nodiscard]] bool can_send() const { return connected && welcomed && conn && !conn->closed(); }

  void send(capnp::MessageBuilder& msg) {
    if (can_send()) conn->send(msg);
  }

  // ---- results ----

  // Its log, while someone follows it (log_copy.hpp): taken and sent from the loop.
  LogCopy log_copy;

  void follow_log(bool on) {
    if (!on) return log_copy.stop();
    log_copy.start(ex, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->send_log_copy();
    });
  }

  void send_log_copy() {
    if (!log_copy.active() || !can_send()) return;
    // The link before the copy: tasks' output and results must not wait behind it. What
    // gathers meanwhile is bounded (1 MiB, the rest counted); try again shortly.
    if (conn->backlog_bytes() > 4 * OutputPipe::kWindow) {
      auto later = std::make_shared<link::Timer>(ex, std::chrono::milliseconds(50));
      later->async_wait([weak = weak_from_this(), later](std::error_code ec) {
        if (auto self = weak.lock(); self && !ec) self->send_log_copy();
      });
      return;
    }
    send_log_lines(*conn, log_copy.take());
  }

  // Loop thread: the output tasks wrote, in order, before their results (flush() sends
  // it first). While the connection is backed up it waits (and so do its writers), unless
  // results must follow it.
  void send_output(bool before_results) {
    if (!output || !can_send()) return;
    if (!before_results && conn->backlog_bytes() > 4 * OutputPipe::kWindow) {
      auto later = std::make_shared<link::Timer>(ex, std::chrono::milliseconds(5));
      later->async_wait([weak = weak_from_this(), later](std::error_code) {
        if (auto self = weak.lock()) self->send_output(false);
      });
      return;
    }
    // Results must follow, so the output goes now whatever the backlog, up to
    // send_chunks()'s bound (past it, it is dropped rather than held).
    if (!send_chunks(*conn, output->take())) log("the coordinator is not reading: task output dropped");
  }

  // Loop thread: every outcome reported since the last flush leaves in batches.
  void flush() {
    if (!can_send()) return;  // kept until the next connection
    // Outcomes first, then the output: all a task wrote before its outcome was reported
    // is in the pipe by now, and leaves before its result.
    auto out = runner->take_outcomes();
    auto one_write = conn->cork();  // the output, the results and the heartbeat
    send_output(true);
    if (out.empty()) return;
    for (auto& r : out)
      if (jobs.erase(r.id) && r.kind != Outcome::handed_back) ++completed;
    auto fill = [this](schema::Result::Builder b, const Outcome& r) { fill_result(*conn, b, r); };
    conn->send_batched(
        out.size(), 16, [&](std::size_t i) { return link::inline_bytes(out[i].bytes) + out[i].error.message.size(); },
        [&](schema::Envelope::Builder env, std::size_t begin, std::size_t end) {
          if (end - begin == 1) return fill(env.initResult(), out[begin]);
          auto l = env.initResultBatch(static_cast<unsigned>(end - begin));
          for (auto i = begin; i < end; ++i) fill(l[static_cast<unsigned>(i - begin)], out[i]);
        });
    // Every batch of results says how many tasks have started (for retry accounting).
    send_heartbeat();
    maybe_exit();
  }

  void send_heartbeat(bool usage = false) {
    proto::Builder msg;
    // Read running first: a task counted in `started` has then either finished or is
    // counted running, never neither.
    auto running = runner->running();
    fill_heartbeat(msg.initRoot<schema::Envelope>().initHeartbeat(), running, runner->started(), usage);
    send(msg);
  }

  // cancel --force: a plain job still running `grace` after its stop was asked (it
  // ignores its stop token) cannot be stopped from here. The worker tells the coordinator
  // it drains, reports the job cancelled, names it as the reason it exits (a Crashed
  // frame marked forced: the tasks beside it are retried at no cost) and exits; its
  // supervisor (shoal start, LocalCluster, systemd) starts a fresh one.
  void force_later(const std::shared_ptr<Job>& j, std::chrono::milliseconds grace) {
    if (j->coro) return;  // a coroutine stops at its next suspension: cancel is enough
    auto timer = std::make_shared<link::Timer>(ex, grace);
    timer->async_wait([self = shared_from_this(), j, timer, grace](std::error_code ec) {
      if (ec || j->phase.load() != JobPhase::running || !self->connected) return;
      self->log(j->function + " ignored its cancel for " + std::to_string(grace.count()) +
                    " ms: this worker exits to free its thread (forced cancel); its supervisor starts a new one",
                j->id);
      self->forced_exit(j);
    });
  }

  void forced_exit(const std::shared_ptr<Job>& j) {
    if (can_send()) send_forced_exit_notice(*conn, j->id);
    int expected = JobPhase::running;
    if (j->phase.compare_exchange_strong(expected, JobPhase::reported) && can_send())
      send_forced_cancel(*conn, j->id, j->attempt);
    flush();  // what others finished goes first
    if (can_send()) send_forced_crash(*conn, j->id);
    auto self = shared_from_this();
    asio::co_spawn(
        ex,
        [self]() -> Coro<void> {
          co_await self->conn->drain(std::chrono::seconds(1));
          std::cerr << std::flush;
          std::_Exit(kExitForcedCancel);
        },
        asio::detached);
  }

  // ---- what the coordinator says ----

  void on_assign(schema::Assign::Reader a, const proto::FrameOwner& frame) {
    auto j = std::make_shared<Job>();
    j->id = a.getTaskId();
    j->function = text(a.getFunction());
    j->hash = a.getSignatureHash();
    j->attempt = a.getAttempt();
    j->timeout_ms = a.getTimeoutMs();
    j->actor = a.getActorId();
    if (j->actor) j->function = text(a.getMethod());
    j->map = !j->actor && text(a.getMethod()) == remote::kMapMethod;
    // Held already (from before a reconnect, queued or running): that run is the one, not
    // a second beside it (an actor's call must not run twice; its end reports this attempt).
    if (!jobs.emplace(j->id, j).second) return;
    Bytes args = conn->value(a.getArgs(), a.getArgsBlob(), frame);
    if (a.getDepValues().size() == 0) {
      j->args = std::move(args);
    } else {
      auto values = dependencies.take(*conn, a, frame);  // a malformed assign: ProtocolError
      try {
        place_dependencies(*j, std::move(args), std::move(values));
      } catch (...) {
        j->phase = reported;
        return runner->report_error(*j, std::current_exception(), 0);
      }
    }
    if (draining) {
      j->phase = reported;
      return runner->hand_back(*j);
    }
    if (j->actor) return actors->call(std::move(j));
    runner->start(j);
  }

  void on_frames() override {}

  void on_message(schema::Envelope::Reader env, const proto::FrameOwner& frame) override {
    // Nothing from a server that has not proved it is our coordinator (an impostor on
    // the port must not make us run anything).
    if (!welcomed && handshake->on_message(*conn, env, opt.coordinator)) return;
    if (!welcomed && env.which() != schema::Envelope::WELCOME && env.which() != schema::Envelope::ERROR)
      throw ProtocolError("a message before the welcome: " + proto::describe(env));
    switch (env.which()) {
      case schema::Envelope::WELCOME:
        if (welcomed) throw ProtocolError("a second welcome");
        conn->set_limits(proto::authenticated_limits());  // values may travel beside the frames now
        if (auto hb = env.getWelcome().getHeartbeatMs()) heartbeat_ns = std::uint64_t{hb} * 1'000'000;
        watchdog.set_beat(heartbeat_ns);
        welcomed = true;
        if (!ever_welcomed) log("connected to " + (opt.adopted_fd == -2 ? std::string("its parent") : opt.coordinator));
        ever_welcomed = true;
        send_registration();
        flush();  // results kept from before a reconnect
        break;
      case schema::Envelope::ASSIGN:
        on_assign(env.getAssign(), frame);
        break;
      case schema::Envelope::ASSIGN_BATCH:
        for (auto a : link::batch_entries(env.getAssignBatch())) on_assign(a, frame);
        break;
      case schema::Envelope::CANCEL:
        if (auto it = jobs.find(env.getCancel().getTaskId()); it != jobs.end()) {
          runner->cancel(*it->second);
          if (env.getCancel().getForce())
            force_later(it->second, std::chrono::milliseconds(std::min<std::uint64_t>(env.getCancel().getGraceMs(), 600'000)));
        }
        break;
      case schema::Envelope::ACTOR_CREATE: {
        auto c = env.getActorCreate();
        actors->create(c.getActorId(), text(c.getClassName()), c.getConstructorHash(),
                       conn->value(c.getArgs(), c.getArgsBlob(), frame),
                       c.getTaskId(), c.getMaxConcurrency());
        break;
      }
      case schema::Envelope::RELEASE:
        for (auto aid : env.getRelease().getActors()) actors->release(aid);
        for (auto aid : env.getRelease().getKillActors()) actors->kill(aid);
        dependencies.release(env.getRelease().getTasks());
        break;
      case schema::Envelope::SHUTDOWN: {
        auto s = env.getShutdown();
        if (s.getExit()) {
          log("the coordinator asked us to exit: " + text(s.getReason()));
          exiting = true;
          begin_drain(std::chrono::milliseconds(s.getGraceMs()), false);
        } else {
          log("the coordinator is going away: " + text(s.getReason()));
        }
        break;
      }
      case schema::Envelope::HEARTBEAT:
        break;
      case schema::Envelope::LOG_FOLLOW:
        follow_log(env.getLogFollow().getFollow());
        break;
      case schema::Envelope::ERROR: {
        auto e = env.getError();
        if (e.getCode() == schema::ErrorCode::REFUSED) {
          // Not a lost connection: this worker, as it is, is not wanted now (its
          // registration conflicts with the live workers'). Tried again, slowly.
          refused = text(e.getMessage());
          throw ConnectionError(refused);
        }
        log("the coordinator reported: " + text(e.getMessage()));
        if (e.getFatal()) throw ConnectionError(text(e.getMessage()));
        break;
      }
      default:
        throw ProtocolError("unexpected message from the coordinator: " + proto::describe(env));
    }
  }

  void on_closed(const std::string& why) override {
    follow_log(false);  // the coordinator that asked is gone; a new one asks again
    if (!refused.empty()) {
      auto error = "the coordinator at " + opt.coordinator + " refused this worker: " + refused;
      if (error != last_connect_error) log(error + (opt.reconnect_timeout.count() >= 0 ? " (trying again)" : ""));
      last_connect_error = error;
    } else if (connected && welcomed) {
      log("lost the coordinator: " + why);
    }
    if (!welcomed) {
      auto error = "the coordinator at " + opt.coordinator + " did not let us in: " + why;
      if (error != last_connect_error && opt.reconnect_timeout.count() >= 0) log(error + " (trying again)");
      last_connect_error = error;
    }
    connected = false;
    poke();
  }

  // ---- the session ----

  void send_registration() {
    proto::Builder reg;
    // Every job it holds: those still running, and those whose outcome waits to be sent
    // (finished while the coordinator was away): a restarted coordinator takes them as
    // this worker's, so that none is sent again (an actor call must not run twice).
    std::vector<std::uint64_t> held;
    for (auto& [id, j] : jobs) held.push_back(id);
    fill_registration(reg.initRoot<schema::Envelope>().initRegisterWorker(), opt, registry, held, actors->live());
    send(reg);
  }

  // Sends heartbeats while the session lasts; a coordinator silent for five heartbeats
  // is taken for lost.
  Coro<void> heartbeats() {
    auto self = shared_from_this();
    std::uint64_t usage_sent = 0;
    while (connected && !finishing) {
      beat->expires_after(std::chrono::nanoseconds(heartbeat_ns / 2));
      co_await beat->async_wait(as_tuple);
      if (!connected || finishing) break;
      auto now = steady_ns();
      watchdog.tick(now);
      if (now - conn->last_recv() > 5 * heartbeat_ns) {
        conn->close("no heartbeat from the coordinator for " + std::to_string(5 * heartbeat_ns / 1'000'000) + " ms");
        break;
      }
      if (now - usage_sent >= heartbeat_ns) {
        usage_sent = now;
        send_heartbeat(/*usage=*/true);
      } else if (now - conn->last_send() >= heartbeat_ns / 2) {
        send_heartbeat();
      }
      if (opt.max_memory && !draining) check_memory();
    }
  }

  void check_memory() {  // --max-memory: past it, drain and exit (its supervisor starts another)
    if (auto rss = resident_bytes(); rss > opt.max_memory) {
      log("resident memory of " + std::to_string(rss >> 20) + " MiB is over --max-memory " +
          std::to_string(opt.max_memory >> 20) + " MiB: draining to be replaced");
      begin_drain(opt.grace, true);
    }
  }

  // One connection's life: hello, then messages until it ends or the worker finishes.
  Coro<void> session() {
    connected = true;
    welcomed = false;
    refused.clear();
    // The side channel (crash reports, the watchdog's heartbeats) writes raw frames: not
    // under TLS, whose records it would break.
    crash::set_channel(conn->secured() ? -1 : conn->native_handle(), conn->write_flag());
    watchdog.tick(steady_ns());
    handshake.emplace(opt.token, conn->is_tcp());
    dependencies.clear();
    conn->start(*this);
    handshake->hello(*conn, schema::Role::WORKER, opt.name);  // registration follows the welcome
    ++services;
    asio::co_spawn(ex, heartbeats(), [self = shared_from_this()](std::exception_ptr) {
      --self->services;
      self->poke();
    });
    while (connected && !finishing) {
      wake->expires_at(link::EngineClock::time_point::max());
      co_await wake->async_wait(as_tuple);
      SHOAL_DETAIL_DELIVER_CANCELLATION();  // the task awaiting run() was cancelled: stop now
    }
    if (connected) {
      // Finishing: the last results leave, then the connection closes.
      flush();
      co_await conn->drain(std::chrono::seconds(1));
      conn->close("the worker stopped");
    }
    beat->cancel();
    while (services > 0 || connected) {  // the heartbeat coroutine and on_closed
      wake->expires_after(std::chrono::milliseconds(5));
      co_await wake->async_wait(as_tuple);
      SHOAL_DETAIL_DELIVER_CANCELLATION();
    }
    crash::set_channel(-1, nullptr);
    conn.reset();
  }

  bool connect() {
    conn = open_connection(opt, ex, tls, last_connect_error);
    return conn != nullptr;
  }

  // ---- stopping ----

  void begin_drain(std::chrono::milliseconds grace, bool tell) {
    if (draining) return;
    draining = true;
    if (tell && connected) {
      proto::Builder msg;
      auto s = msg.initRoot<schema::Envelope>().initShutdown();
      s.setGraceMs(static_cast<std::uint64_t>(grace.count()));
      s.setReason("draining");
      send(msg);
    }
    // Tasks not started go back to the coordinator.
    for (auto& [id, j] : jobs) {
      int expected = queued;
      if (j->phase.compare_exchange_strong(expected, reported)) runner->hand_back(*j);
    }
    auto timer = std::make_shared<link::Timer>(ex, grace);
    timer->async_wait([self = shared_from_this(), timer](std::error_code) {
      for (auto& [id, j] : self->jobs) self->runner->cancel(*j);
      // Whatever ignores cancellation is abandoned at exit.
      auto last = std::make_shared<link::Timer>(self->ex, std::chrono::milliseconds(200));
      last->async_wait([self, last](std::error_code) { self->exit_after_flush(); });
    });
    maybe_exit();
  }

  // What still runs is abandoned: coroutines are cancelled, plain calls asked to stop.
  void abandon_jobs() {
    for (auto& [id, j] : jobs) {
      if (j->coro) j->coro->cancel();
      j->stop.request_stop();
    }
  }

  void maybe_exit() {
    if (!draining && !(opt.max_tasks && completed >= opt.max_tasks)) return;
    if (!jobs.empty() || runner->has_outcomes()) return;
    exit_after_flush();
  }

  void exit_after_flush() {
    exiting = true;
    finishing = true;
    poke();
  }

  Coro<int> run() {
    if (opt.report_crashes) crash::install();
    ex = shoal::detail::loop_executor(co_await asio::this_coro::executor);  // not this task's: the worker's handlers are no task
    wake = std::make_unique<link::Timer>(ex);
    beat = std::make_unique<link::Timer>(ex);
    std::weak_ptr<Engine> weak = shared_from_this();
    runner = std::make_shared<Runner>(
        ex, opt.threads, registry,
        Runner::Callbacks{[weak] {
                            if (auto self = weak.lock()) self->flush();
                          },
                          [weak](std::uint64_t task, bool on) {
                            auto self = weak.lock();
                            if (!self) return;
                            proto::Builder msg;
                            auto b = msg.initRoot<schema::Envelope>().initBlocked();
                            b.setTaskId(task);
                            b.setBlocked(on);
                            self->send(msg);
                          }});
    actors = std::make_shared<ActorHost>(runner, registry);
    output = std::make_shared<OutputPipe>(std::this_thread::get_id(), [weak, ex = ex] {
      asio::post(ex, [weak] {
        if (auto self = weak.lock()) self->send_output(false);
      });
    });
    runner->set_output_sink(output);
    if (opt.capture_output) capture_task_output();
    if (opt.watchdog) watchdog.start(runner, [this](const std::string& line) { log(line); });
    // However run() ends: one cancelled (as a process is killed) abandons its jobs and connection.
    struct StopWatch {
      Engine* e;
      ~StopWatch() {
        e->abandon_jobs();
        e->finishing = true;  // the heartbeat coroutine (it holds the engine) ends at its wake
        e->beat->cancel();
        e->runner->shutdown();  // once: nothing starts or posts to this loop after it
        crash::set_channel(-1, nullptr);
        if (e->conn && !e->conn->closed()) e->conn->close("the worker stopped");
        e->follow_log(false);               // nothing posts to this loop after it
        if (e->output) e->output->close();  // a writer waiting for room returns
        e->watchdog.stop();
      }
    } stop_watch{this};
    if (opt.coordinator.empty()) opt.coordinator = link::default_address();
    Client::set_current_address(opt.client_address.empty() ? opt.coordinator : opt.client_address,
                                ClientOptions{.token = opt.token, .tls = opt.tls});
    bool adopted = opt.adopted_fd >= 0;
    auto backoff = std::chrono::milliseconds(50);
    auto lost_at = steady_ns();
    for (;;) {
      if (finishing) break;  // stopped before (or between) sessions
      bool joined = false;
      if (connect()) {
        co_await session();
        joined = welcomed && refused.empty();  // a refused registration backs off as a failed connect
        if (joined) backoff = std::chrono::milliseconds(50);
        if (refused.empty()) lost_at = steady_ns();  // --reconnect-timeout counts refusals
      }
      if (!refused.empty() && opt.reconnect_timeout.count() < 0) {
        exit_status = 3;
        break;
      }
      if (!joined && !ever_welcomed && opt.reconnect_timeout.count() < 0) {
        log("cannot reach the coordinator: " + last_connect_error);
        exit_status = 3;
        break;
      }
      if (exiting || adopted || opt.reconnect_timeout.count() < 0) break;
      if (opt.reconnect_timeout.count() > 0 && steady_ns() - lost_at > static_cast<std::uint64_t>(std::chrono::nanoseconds(opt.reconnect_timeout).count())) {
        log("giving up: no coordinator at " + opt.coordinator + " for " + std::to_string(opt.reconnect_timeout.count()) +
            " ms" + (last_connect_error.empty() ? "" : " (" + last_connect_error + ")"));
        exit_status = ever_welcomed ? 0 : 3;
        break;
      }
      wake->expires_after(backoff);
      co_await wake->async_wait(as_tuple);
      SHOAL_DETAIL_DELIVER_CANCELLATION();
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      if (exiting) break;
    }
    abandon_jobs();
    if (!jobs.empty() || runner->running() > 0) {
      wake->expires_after(std::chrono::milliseconds(20));
      co_await wake->async_wait(as_tuple);
    }
    if (!runner->shutdown())
      log(std::to_string(runner->running()) + " task(s) still running at exit: abandoned");
    co_return exit_status;
  }
};

Worker::Worker(WorkerOptions options, remote::Registry& registry)
    : engine_(std::make_shared<Engine>(std::move(options), registry)) {}

Worker::~Worker() = default;

asio::awaitable<int> Worker::run() { return engine_->run(); }

void Worker::stop() {
  auto e = engine_;
  if (!e->connected) {
    e->exit_after_flush();
    return;
  }
  e->log("stopping: " + std::to_string(e->opt.grace.count()) + " ms for running tasks");
  e->begin_drain(e->opt.grace, true);
}

}  // namespace shoal::worker
