// The worker engine. The loop thread owns the connection and every table; pool threads
// run plain functions and hand their results to the result sink (a mutex-guarded vector
// flushed by the loop at the end of its turn, so results finishing together leave in one
// frame).

#include "shoal/worker/worker.hpp"

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <capnp/message.h>

#include <atomic>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "shoal/codec/future_ref.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/core/task.hpp"
#include "shoal/exec/thread_pool.hpp"
#include "shoal/proto/describe.hpp"
#include "shoal/proto/frame.hpp"
#include "shoal/remote/client.hpp"
#include "shoal/remote/link.hpp"
#include "shoal/remote/this_task.hpp"

namespace shoal::worker {

namespace schema = proto::schema;
using remote::steady_ns;
using remote::text;

namespace {

enum Phase : int { queued = 0, running = 1, reported = 2 };

struct ResultOut {
  std::uint64_t id = 0;
  enum Kind { value, failure, cancelled, handed_back } kind = value;
  Bytes bytes;
  codec::RemoteErrorInfo error;
  std::uint32_t attempt = 0;
  std::uint64_t run_ns = 0;
};

// One assigned task, from its Assign to its reported Result.
struct Job {
  std::uint64_t id = 0;
  std::string function;
  std::uint64_t hash = 0;
  Bytes args;  // dependencies already spliced in
  std::uint32_t attempt = 0;
  std::uint64_t timeout_ms = 0;
  std::uint64_t actor = 0;
  std::atomic<int> phase{queued};
  std::stop_source stop;
  std::atomic<bool> timed_out{false};
  std::optional<Task<void>> coro;  // a coroutine task's handle
  std::unique_ptr<asio::steady_timer> timer;
};

struct ActorHost {
  std::optional<remote::ActorInstance> instance;
  std::deque<std::shared_ptr<Job>> mailbox;
  bool busy = false;
  bool released = false;
};

}  // namespace

struct Worker::Engine : std::enable_shared_from_this<Worker::Engine> {
  WorkerOptions opt;
  remote::Registry& registry;
  asio::any_io_executor ex;
  std::unique_ptr<ThreadPoolExecutor> pool;
  std::optional<proto::Socket> socket;
  std::unique_ptr<proto::FrameReader> reader;
  std::shared_ptr<proto::FrameWriter> writer;
  std::uint64_t heartbeat_ns = 1'000'000'000;
  std::uint64_t last_recv = 0, last_send = 0;
  bool connected = false;
  bool draining = false;
  bool exiting = false;
  int exit_status = 0;
  std::uint64_t completed = 0;
  // Tasks that began running, in arrival order (the pool is FIFO): the coordinator counts
  // an attempt against a lost worker's task only if it could have started.
  std::atomic<std::uint64_t> started{0};
  std::atomic<std::uint32_t> running_now{0};  // plain tasks started and not finished
  // Plain tasks wait in this FIFO (loop thread only) and go to the pool while fewer than
  // `threads` run. A task blocked on a future (its own child tasks, through
  // Client::current()) lends its place: the next one starts on a new pool thread, and the
  // coordinator is told (Blocked) so that it sends more.
  std::deque<std::function<void()>> plain_fifo;
  int plain_running = 0;                  // handed to the pool and not returned (loop view)
  std::atomic<int> plain_returned{0};     // returned by pool threads since the last pump
  std::atomic<int> plain_lent{0};         // running tasks blocked on a future
  std::atomic<bool> pump_posted{false};

  void pump() {
    pump_posted.store(false, std::memory_order_release);
    plain_running -= plain_returned.exchange(0, std::memory_order_acq_rel);
    int limit = static_cast<int>(opt.threads) + plain_lent.load(std::memory_order_acquire);
    while (!plain_fifo.empty() && plain_running < limit) {
      auto f = std::move(plain_fifo.front());
      plain_fifo.pop_front();
      ++plain_running;
      (void)pool->submit(std::move(f));
    }
  }
  // Any thread: have the loop pump soon.
  void poke() {
    if (!pump_posted.exchange(true, std::memory_order_acq_rel))
      asio::post(ex, [self = shared_from_this()] { self->pump(); });
  }

  struct BlockHook final : shoal::detail::BlockingHook {
    Engine* engine;
    std::uint64_t task;
    shoal::detail::BlockingHook* previous;
    BlockHook(Engine* e, std::uint64_t t) : engine(e), task(t), previous(shoal::detail::blocking_hook()) {
      shoal::detail::blocking_hook() = this;
    }
    ~BlockHook() { shoal::detail::blocking_hook() = previous; }
    void blocking(bool on) noexcept override {
      engine->plain_lent.fetch_add(on ? 1 : -1, std::memory_order_acq_rel);
      if (on) engine->poke();
      asio::post(engine->ex, [self = engine->shared_from_this(), task = task, on] {
        capnp::MallocMessageBuilder msg;
        auto b = msg.initRoot<schema::Envelope>().initBlocked();
        b.setTaskId(task);
        b.setBlocked(on);
        self->send(msg);
      });
    }
  };
  std::unordered_map<std::uint64_t, std::shared_ptr<Job>> jobs;
  std::unordered_map<std::uint64_t, ActorHost> actors;
  // Per function: the mean run time of its plain calls, to run tiny ones inline on the
  // loop (no hand-off to a pool thread and back). Written by pool threads and the loop.
  struct FnStats {
    std::atomic<double> mean_ns{-1};
    std::atomic<std::uint32_t> demoted{0};  // calls left on the pool after a slow inline call
  };
  std::mutex stats_mu;
  std::shared_ptr<const remote::FunctionEntry> last_entry;
  struct FnStats* last_stats = nullptr;
  std::unordered_map<const remote::FunctionEntry*, std::unique_ptr<FnStats>> stats;
  static constexpr double kInlineBelowNs = 20'000;
  FnStats& stats_of(const remote::FunctionEntry* e) {
    std::lock_guard lock(stats_mu);
    auto& p = stats[e];
    if (!p) p = std::make_unique<FnStats>();
    return *p;
  }
  static void observe(FnStats& st, std::uint64_t run_ns) {
    double m = st.mean_ns.load(std::memory_order_relaxed);
    st.mean_ns.store(m < 0 ? double(run_ns) : 0.9 * m + 0.1 * double(run_ns), std::memory_order_relaxed);
  }
  std::unique_ptr<asio::steady_timer> wake;  // run() waits on it between sessions

  std::mutex sink_mu;
  std::vector<ResultOut> sink;
  bool sink_posted = false;

  Engine(WorkerOptions o, remote::Registry& r) : opt(std::move(o)), registry(r) {
    if (opt.threads == 0) opt.threads = std::max(1u, std::thread::hardware_concurrency());
    if (opt.name.empty()) opt.name = "w" + std::to_string(::getpid());
  }

  void log(const std::string& line) const {
    if (opt.log) std::cerr << "shoal-worker " << opt.name << ": " << line << std::endl;
  }

  // ---- results ----

  // Any thread.
  void report(ResultOut r) {
    std::lock_guard lock(sink_mu);
    sink.push_back(std::move(r));
    if (!sink_posted) {
      sink_posted = true;
      asio::post(ex, [self = shared_from_this()] { self->flush(); });
    }
  }

  void report_error(const Job& j, std::exception_ptr e, std::uint64_t run_ns) {
    ResultOut r;
    r.id = j.id;
    r.attempt = j.attempt;
    r.run_ns = run_ns;
    try {
      std::rethrow_exception(e);
    } catch (const CancelledError&) {
      if (j.timed_out.load()) {
        r.kind = ResultOut::failure;
        r.error = codec::describe_error(std::make_exception_ptr(TimeoutError(
                                            "the task ran past its timeout of " + std::to_string(j.timeout_ms) + " ms")),
                                        j.function, j.id);
      } else {
        r.kind = ResultOut::cancelled;
      }
    } catch (...) {
      r.kind = ResultOut::failure;
      r.error = codec::describe_error(std::current_exception(), j.function, j.id);
    }
    report(std::move(r));
  }

  // Loop thread.
  void flush() {
    std::vector<ResultOut> out;
    {
      std::lock_guard lock(sink_mu);
      sink_posted = false;
      if (!connected) return;  // kept until the next connection
      out.swap(sink);
    }
    if (out.empty()) return;
    for (auto& r : out) {
      if (jobs.erase(r.id) && r.kind != ResultOut::handed_back) ++completed;
    }
    constexpr std::size_t kMax = 512;
    for (std::size_t at = 0; at < out.size(); at += kMax) {
      std::size_t n = std::min(kMax, out.size() - at);
      std::size_t bytes = 0;
      for (std::size_t i = 0; i < n; ++i) bytes += out[at + i].bytes.size() + out[at + i].error.message.size();
      // One segment for the whole batch: readers take a lock for every other segment.
      capnp::MallocMessageBuilder msg(static_cast<unsigned>(std::min<std::size_t>(8 + n * 16 + bytes / 8 + n * 2, 1u << 20)));
      auto env = msg.initRoot<schema::Envelope>();
      auto fill = [](schema::Result::Builder b, const ResultOut& r) {
        b.setTaskId(r.id);
        b.setAttempt(r.attempt);
        b.setRunNs(r.run_ns);
        switch (r.kind) {
          case ResultOut::value: b.setValue(remote::data(r.bytes)); break;
          case ResultOut::failure: remote::set_error(b.initError(), r.error); break;
          case ResultOut::cancelled: b.setCancelled(); break;
          case ResultOut::handed_back: b.setHandedBack(); break;
        }
      };
      if (n == 1) {
        fill(env.initResult(), out[at]);
      } else {
        auto l = env.initResultBatch(static_cast<unsigned>(n));
        for (std::size_t i = 0; i < n; ++i) fill(l[static_cast<unsigned>(i)], out[at + i]);
      }
      send(msg);
    }
    // Every batch of results says how many tasks have started (for retry accounting).
    capnp::MallocMessageBuilder hb;
    auto h = hb.initRoot<schema::Envelope>().initHeartbeat();
    // Read running first: a task counted in `started` has then either finished or is
    // counted running, never neither.
    h.setRunning(running_now.load(std::memory_order_acquire));
    h.setStarted(started.load(std::memory_order_acquire));
    send(hb);
    maybe_exit();
  }

  void send(capnp::MessageBuilder& msg) {
    if (!connected || !writer) return;
    try {
      writer->send(msg);
      last_send = steady_ns();
    } catch (const std::exception& e) {
      drop_connection(e.what());
    }
  }

  void drop_connection(const std::string& why) {
    if (!connected) return;
    connected = false;
    log("lost the coordinator: " + why);
    std::error_code ec;
    if (socket) socket->close(ec);
  }

  // ---- running ----

  void start(std::shared_ptr<Job> j) {
    jobs.emplace(j->id, j);
    if (j->actor) {
      auto it = actors.find(j->actor);
      if (it == actors.end() || !it->second.instance) {
        ResultOut r;
        r.id = j->id;
        r.kind = ResultOut::failure;
        r.error = codec::describe_error(
            std::make_exception_ptr(InvalidStateError("actor " + std::to_string(j->actor) + " is not on this worker")),
            j->function, j->id);
        report(std::move(r));
        return;
      }
      it->second.mailbox.push_back(std::move(j));
      pump_actor(it->first);
      return;
    }
    std::shared_ptr<const remote::FunctionEntry> entry;
    FnStats* stp = nullptr;
    if (last_entry && last_entry->name == j->function && last_entry->signature_hash == j->hash) {
      entry = last_entry;  // a stream of assigns is mostly one function
      stp = last_stats;
    } else {
      try {
        entry = registry.get(j->function, j->hash);
      } catch (...) {
        report_error(*j, std::current_exception(), 0);
        return;
      }
      stp = &stats_of(entry.get());
      last_entry = entry;
      last_stats = stp;
    }
    arm_timeout(j);
    if (entry->is_coroutine) {
      run_coroutine(j, [entry](codec::Reader& r) { return entry->invoke_async(r); }, {});
      return;
    }
    auto& st = *stp;
    double mean = st.mean_ns.load(std::memory_order_relaxed);
    if (mean >= 0 && mean < kInlineBelowNs && !j->timeout_ms && st.demoted.load(std::memory_order_relaxed) == 0) {
      run_inline(j, *entry, st);
      return;
    }
    if (auto d = st.demoted.load(std::memory_order_relaxed)) st.demoted.store(d - 1, std::memory_order_relaxed);
    run_plain(j, [entry, &st](const Bytes& args) {
      auto t0 = steady_ns();
      auto out = entry->invoke(args);
      observe(st, steady_ns() - t0);
      return out;
    }, {});
  }

  void arm_timeout(const std::shared_ptr<Job>& j) {
    if (!j->timeout_ms) return;
    j->timer = std::make_unique<asio::steady_timer>(ex, std::chrono::milliseconds(j->timeout_ms));
    j->timer->async_wait([self = shared_from_this(), weak = std::weak_ptr<Job>(j)](std::error_code ec) {
      auto j = weak.lock();
      if (ec || !j) return;
      j->timed_out = true;
      self->cancel_job(*j);
    });
  }

  template <typename Make>
  void run_coroutine(const std::shared_ptr<Job>& j, Make make, std::function<void()> then) {
    Coro<Bytes> coro;
    try {
      codec::Reader r(j->args);
      coro = make(r);
    } catch (...) {
      j->phase = reported;
      report_error(*j, std::current_exception(), 0);
      if (then) then();
      return;
    }
    j->phase = running;
    started.fetch_add(1, std::memory_order_relaxed);
    auto body = [](std::shared_ptr<Engine> self, std::shared_ptr<Job> j, Coro<Bytes> coro,
                   std::function<void()> then) -> Coro<void> {
      auto t0 = steady_ns();
      std::exception_ptr error;
      Bytes value;
      try {
        value = co_await std::move(coro);
      } catch (...) {
        error = std::current_exception();
      }
      self->finished(*j, error, std::move(value), steady_ns() - t0);
      if (j->timer) j->timer->cancel();
      if (then) then();
    };
    j->coro.emplace(create_task(ex, body(shared_from_this(), j, std::move(coro), std::move(then))));
  }

  template <typename Call>
  void run_plain(const std::shared_ptr<Job>& j, Call call, std::function<void()> then) {
    auto self = shared_from_this();
    plain_fifo.push_back([self, j, call = std::move(call), then = std::move(then)]() mutable {
      struct Return {  // its place in the pool goes back to the FIFO, whatever happens
        Engine* e;
        ~Return() {
          e->plain_returned.fetch_add(1, std::memory_order_acq_rel);
          e->poke();
        }
      } give_back{self.get()};
      int expected = queued;
      if (!j->phase.compare_exchange_strong(expected, running)) {
        if (then) asio::post(self->ex, std::move(then));
        return;  // cancelled or handed back before it started: already reported
      }
      self->running_now.fetch_add(1, std::memory_order_relaxed);
      self->started.fetch_add(1, std::memory_order_relaxed);
      auto t0 = steady_ns();
      std::exception_ptr error;
      Bytes value;
      {
        this_task::StopScope scope(j->stop.get_token());
        BlockHook hook(self.get(), j->id);
        try {
          value = call(j->args);
        } catch (...) {
          error = std::current_exception();
        }
      }
      auto run_ns = steady_ns() - t0;
      self->running_now.fetch_sub(1, std::memory_order_relaxed);
      self->finished(*j, error, std::move(value), run_ns);
      if (j->timer) asio::post(self->ex, [j] { j->timer->cancel(); });
      if (then) asio::post(self->ex, std::move(then));
    });
    pump();
  }

  // A tiny plain function, measured under 20 us: run it here, on the loop thread. One
  // that turns out slow (over 1 ms) goes back to the pool for its next 1,000 calls.
  void run_inline(const std::shared_ptr<Job>& j, const remote::FunctionEntry& entry, FnStats& st) {
    j->phase = running;
    started.fetch_add(1, std::memory_order_relaxed);
    auto t0 = steady_ns();
    Bytes value;
    std::exception_ptr error;
    {
      this_task::StopScope scope(j->stop.get_token());
      try {
        value = entry.invoke(j->args);
      } catch (...) {
        error = std::current_exception();
      }
    }
    auto run_ns = steady_ns() - t0;
    observe(st, run_ns);
    if (run_ns > 1'000'000) st.demoted.store(1000, std::memory_order_relaxed);
    finished(*j, error, std::move(value), run_ns);
  }

  // A running job ended (any thread): report its outcome unless a cancellation or a
  // timeout reported it already. A job that timed out reports TimeoutError.
  void finished(Job& j, std::exception_ptr error, Bytes value, std::uint64_t run_ns) {
    int expected = running;
    if (!j.phase.compare_exchange_strong(expected, reported)) return;
    if (!error && j.timed_out) error = std::make_exception_ptr(CancelledError());
    if (error) {
      report_error(j, error, run_ns);
      return;
    }
    ResultOut r;
    r.id = j.id;
    r.bytes = std::move(value);
    r.attempt = j.attempt;
    r.run_ns = run_ns;
    report(std::move(r));
  }

  void cancel_job(Job& j) {
    int expected = queued;
    if (j.phase.compare_exchange_strong(expected, reported)) {
      // Not started: report it now (a timed-out one as a timeout).
      report_error(j, std::make_exception_ptr(CancelledError()), 0);
      return;
    }
    if (j.coro) {
      j.coro->cancel();
    } else {
      j.stop.request_stop();
      if (j.timed_out) {
        // A plain function that ignores its stop token: the timeout is reported now.
        expected = running;
        if (j.phase.compare_exchange_strong(expected, reported))
          report_error(j, std::make_exception_ptr(CancelledError()), 0);
      }
    }
  }

  // ---- actors ----

  void create_actor(schema::ActorCreate::Reader c) {
    auto aid = c.getActorId();
    auto j = std::make_shared<Job>();
    j->id = c.getTaskId();
    j->function = text(c.getClassName()) + ".__init__";
    j->phase = running;
    auto& host = actors[aid];
    try {
      auto type = registry.get_actor(text(c.getClassName()), c.getConstructorHash());
      host.instance = remote::ActorInstance::create(type, remote::bytes(c.getArgs()));
      ResultOut r;
      r.id = j->id;
      r.bytes = codec::encode(std::monostate{});
      report(std::move(r));
    } catch (...) {
      actors.erase(aid);
      report_error(*j, std::current_exception(), 0);
    }
  }

  void pump_actor(std::uint64_t aid) {
    auto it = actors.find(aid);
    if (it == actors.end()) return;
    auto& host = it->second;
    while (!host.busy && !host.mailbox.empty()) {
      auto j = std::move(host.mailbox.front());
      host.mailbox.pop_front();
      if (j->phase.load() != queued) continue;  // cancelled while waiting
      const remote::MethodEntry* m = host.instance->type().find_method(j->function);
      if (!m) {
        j->phase = reported;
        report_error(*j, std::make_exception_ptr(NotRegistered(host.instance->type().name + "." + j->function,
                                                               "this worker's SHOAL_ACTOR list")),
                     0);
        continue;
      }
      j->function = host.instance->type().name + "." + m->name;  // errors name "Account.withdraw"
      host.busy = true;
      auto inst = *host.instance;
      auto then = [self = shared_from_this(), aid] {
        auto it = self->actors.find(aid);
        if (it == self->actors.end()) return;
        it->second.busy = false;
        self->pump_actor(aid);
        if (it->second.released && it->second.mailbox.empty() && !it->second.busy) self->actors.erase(aid);
      };
      if (m->is_coroutine) {
        run_coroutine(j, [inst, m](codec::Reader& r) { return inst.invoke_async(*m, r); }, then);
      } else {
        run_plain(j, [inst, m](const Bytes& args) {
          codec::Reader r(args);
          return inst.invoke(*m, r);
        }, then);
      }
    }
  }

  // ---- the connection ----

  void on_assign(schema::Assign::Reader a) {
    auto j = std::make_shared<Job>();
    j->id = a.getTaskId();
    j->function = text(a.getFunction());
    j->hash = a.getSignatureHash();
    j->attempt = a.getAttempt();
    j->timeout_ms = a.getTimeoutMs();
    j->actor = a.getActorId();
    if (j->actor) j->function = text(a.getMethod());
    Bytes args = remote::bytes(a.getArgs());
    auto deps = a.getDepValues();
    if (deps.size() > 0) {
      std::vector<Bytes> values;
      values.reserve(deps.size());
      for (auto d : deps) values.push_back(remote::bytes(d));
      try {
        args = codec::resolve_refs(args, values);
      } catch (...) {
        jobs.emplace(j->id, j);
        j->phase = reported;
        report_error(*j, std::current_exception(), 0);
        return;
      }
    }
    j->args = std::move(args);
    if (draining) {
      j->phase = reported;
      jobs.emplace(j->id, j);
      ResultOut r;
      r.id = j->id;
      r.kind = ResultOut::handed_back;
      r.attempt = j->attempt;
      report(std::move(r));
      return;
    }
    start(std::move(j));
  }

  void handle(schema::Envelope::Reader env) {
    switch (env.which()) {
      case schema::Envelope::WELCOME: {
        auto hb = env.getWelcome().getHeartbeatMs();
        if (hb) heartbeat_ns = std::uint64_t{hb} * 1'000'000;
        break;
      }
      case schema::Envelope::ASSIGN:
        on_assign(env.getAssign());
        break;
      case schema::Envelope::ASSIGN_BATCH:
        for (auto a : env.getAssignBatch()) on_assign(a);
        break;
      case schema::Envelope::CANCEL: {
        auto it = jobs.find(env.getCancel().getTaskId());
        if (it != jobs.end()) cancel_job(*it->second);
        break;
      }
      case schema::Envelope::ACTOR_CREATE:
        create_actor(env.getActorCreate());
        break;
      case schema::Envelope::RELEASE:
        for (auto aid : env.getRelease().getActors()) {
          auto it = actors.find(aid);
          if (it == actors.end()) continue;
          it->second.released = true;
          if (!it->second.busy && it->second.mailbox.empty()) actors.erase(it);
        }
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
      case schema::Envelope::ERROR: {
        auto e = env.getError();
        log("the coordinator reported: " + text(e.getMessage()));
        if (e.getFatal()) throw ConnectionError(text(e.getMessage()));
        break;
      }
      default:
        throw ProtocolError("unexpected message from the coordinator: " + proto::describe(env));
    }
  }

  void send_hello() {
    capnp::MallocMessageBuilder hello;
    auto h = hello.initRoot<schema::Envelope>().initHello();
    h.setProtocolVersion(schema::PROTOCOL_VERSION);
    h.setRole(schema::Role::WORKER);
    h.setName(opt.name);
    h.setHost(remote::this_host());
    h.setPid(static_cast<std::uint32_t>(::getpid()));
    h.setToken(opt.token);
    send(hello);
    capnp::MallocMessageBuilder reg;
    auto r = reg.initRoot<schema::Envelope>().initRegisterWorker();
    r.setCapacity(opt.threads);
    r.setCoroutineCapacity(opt.coroutines);
    r.setHost(remote::this_host());
    r.setPid(static_cast<std::uint32_t>(::getpid()));
    r.setMaxTasks(opt.max_tasks);
    auto fns = registry.functions();
    auto fl = r.initFunctions(static_cast<unsigned>(fns.size()));
    for (unsigned i = 0; i < fns.size(); ++i) {
      fl[i].setName(fns[i]->name);
      fl[i].setSignatureHash(fns[i]->signature_hash);
      fl[i].setSignature(fns[i]->signature);
      fl[i].setIsCoroutine(fns[i]->is_coroutine);
    }
    auto acts = registry.actors();
    auto al = r.initActors(static_cast<unsigned>(acts.size()));
    for (unsigned i = 0; i < acts.size(); ++i) {
      al[i].setName(acts[i]->name);
      al[i].setConstructorHash(acts[i]->constructor_hash);
      auto ml = al[i].initMethods(static_cast<unsigned>(acts[i]->methods.size()));
      for (unsigned k = 0; k < acts[i]->methods.size(); ++k) {
        const auto& m = acts[i]->methods[k];
        ml[k].setName(m.name);
        ml[k].setSignatureHash(m.signature_hash);
        ml[k].setSignature(m.signature);
        ml[k].setIsCoroutine(m.is_coroutine);
      }
    }
    std::vector<std::uint64_t> still;
    for (auto& [id, j] : jobs)
      if (j->phase.load() != reported) still.push_back(id);
    auto rl = r.initRunning(static_cast<unsigned>(still.size()));
    for (unsigned i = 0; i < still.size(); ++i) rl.set(i, still[i]);
    send(reg);
  }

  asio::awaitable<void> session() {
    connected = true;
    last_recv = last_send = steady_ns();
    send_hello();
    flush();  // results kept from before a reconnect
    asio::co_spawn(ex, heartbeats(shared_from_this(), socket_generation), asio::detached);
    std::string why = "the coordinator closed the connection";
    try {
      co_await remote::read_frames(
          *reader, [this](schema::Envelope::Reader env) { handle(env); }, [this] { last_recv = steady_ns(); });
    } catch (const std::exception& e) {
      why = e.what();
    }
    drop_connection(why);
    ++socket_generation;
  }

  std::uint64_t socket_generation = 0;

  static asio::awaitable<void> heartbeats(std::shared_ptr<Engine> self, std::uint64_t generation) {
    asio::steady_timer t(self->ex);
    while (self->connected && self->socket_generation == generation) {
      t.expires_after(std::chrono::nanoseconds(self->heartbeat_ns / 2));
      co_await t.async_wait(asio::use_awaitable);
      if (!self->connected || self->socket_generation != generation) co_return;
      auto now = steady_ns();
      if (now - self->last_recv > 5 * self->heartbeat_ns) {
        self->drop_connection("no heartbeat from the coordinator for " +
                              std::to_string(5 * self->heartbeat_ns / 1'000'000) + " ms");
        co_return;
      }
      if (now - self->last_send >= self->heartbeat_ns / 2) {
        capnp::MallocMessageBuilder msg;
        auto h = msg.initRoot<schema::Envelope>().initHeartbeat();
        h.setSentNs(remote::wall_ns());
        h.setRunning(self->running_now.load(std::memory_order_acquire));
        h.setStarted(self->started.load(std::memory_order_relaxed));
        self->send(msg);
      }
    }
  }

  // ---- stopping ----

  void begin_drain(std::chrono::milliseconds grace, bool tell) {
    if (draining) return;
    draining = true;
    if (tell && connected) {
      capnp::MallocMessageBuilder msg;
      auto s = msg.initRoot<schema::Envelope>().initShutdown();
      s.setGraceMs(static_cast<std::uint64_t>(grace.count()));
      s.setReason("draining");
      send(msg);
    }
    // Tasks not started go back to the coordinator.
    for (auto& [id, j] : jobs) {
      int expected = queued;
      if (j->phase.compare_exchange_strong(expected, reported)) {
        ResultOut r;
        r.id = id;
        r.kind = ResultOut::handed_back;
        r.attempt = j->attempt;
        report(std::move(r));
      }
    }
    auto timer = std::make_shared<asio::steady_timer>(ex, grace);
    timer->async_wait([self = shared_from_this(), timer](std::error_code) {
      for (auto& [id, j] : self->jobs) self->cancel_job(*j);
      // Whatever ignores cancellation is abandoned at exit.
      auto last = std::make_shared<asio::steady_timer>(self->ex, std::chrono::milliseconds(200));
      last->async_wait([self, last](std::error_code) { self->finish(); });
    });
    maybe_exit();
  }

  void maybe_exit() {
    if (!draining && !(opt.max_tasks && completed >= opt.max_tasks)) return;
    if (!jobs.empty()) return;
    {
      std::lock_guard lock(sink_mu);
      if (!sink.empty()) return;
    }
    finish();
  }

  bool finished_ = false;
  void finish() {
    if (finished_) return;
    finished_ = true;
    exiting = true;
    // Let the last results leave, then close.
    asio::co_spawn(ex, [self = shared_from_this()]() -> asio::awaitable<void> {
      {
        std::vector<ResultOut> rest;
        std::lock_guard lock(self->sink_mu);
        rest.swap(self->sink);
        (void)rest;
      }
      if (self->connected && self->writer) {
        try {
          co_await self->writer->drain();
        } catch (...) {
        }
      }
      std::error_code ec;
      if (self->socket) self->socket->close(ec);
      self->connected = false;
      if (self->wake) self->wake->cancel();
    }, asio::detached);
  }

  bool connect() {
    try {
      if (opt.adopted_fd >= 0) {
        socket.emplace(remote::adopt_socket(ex, opt.adopted_fd));
        opt.adopted_fd = -2;  // used
      } else {
        socket.emplace(remote::connect_socket(ex, remote::parse_address(opt.coordinator)));
      }
    } catch (const std::exception& e) {
      last_connect_error = e.what();
      return false;
    }
    reader = std::make_unique<proto::FrameReader>(*socket, proto::FrameLimits{}, 1 << 20);
    writer = proto::FrameWriter::create(*socket);
    writer->on_error([weak = weak_from_this()](const std::error_code& ec) {
      if (auto self = weak.lock()) self->drop_connection("write failed: " + ec.message());
    });
    return true;
  }
  std::string last_connect_error;
  std::shared_ptr<Engine> leaked_self;  // keeps an abandoned engine alive to the end

  asio::awaitable<int> run() {
    ex = co_await asio::this_coro::executor;
    // Up to 256 threads more than `threads`, started only for tasks that start while
    // others are blocked on their children (the pool starts threads on demand).
    pool = std::make_unique<ThreadPoolExecutor>(opt.threads + 256);
    if (opt.coordinator.empty()) opt.coordinator = remote::default_address();
    Client::set_current_address(opt.client_address.empty() ? opt.coordinator : opt.client_address);
    bool adopted = opt.adopted_fd >= 0;
    bool ever = false;
    auto backoff = std::chrono::milliseconds(50);
    auto lost_at = std::chrono::steady_clock::now();
    for (;;) {
      if (connect()) {
        if (!ever) log("connected to " + (adopted ? std::string("its parent") : opt.coordinator));
        ever = true;
        backoff = std::chrono::milliseconds(50);
        co_await session();
        lost_at = std::chrono::steady_clock::now();
      } else if (!ever && opt.reconnect_timeout.count() < 0) {
        log("cannot reach the coordinator: " + last_connect_error);
        exit_status = 3;
        break;
      }
      if (exiting || adopted || opt.reconnect_timeout.count() < 0) break;
      if (opt.reconnect_timeout.count() > 0 && std::chrono::steady_clock::now() - lost_at > opt.reconnect_timeout) {
        log("giving up: no coordinator at " + opt.coordinator + " for " +
            std::to_string(opt.reconnect_timeout.count()) + " ms" +
            (last_connect_error.empty() ? "" : " (" + last_connect_error + ")"));
        exit_status = ever ? 0 : 3;
        break;
      }
      asio::steady_timer t(ex, backoff);
      co_await t.async_wait(asio::use_awaitable);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      if (exiting) break;
    }
    // Abandon what still runs (coroutines are cancelled; plain calls are asked to stop).
    for (auto& [id, j] : jobs) {
      if (j->coro) j->coro->cancel();
      j->stop.request_stop();
    }
    if (!jobs.empty() || running_now.load() > 0) {
      asio::steady_timer t(ex, std::chrono::milliseconds(20));
      co_await t.async_wait(asio::use_awaitable);
    }
    plain_fifo.clear();  // never started (they hold the engine)
    if (running_now.load() == 0) {
      // Join the pool threads here: their closures hold the engine, which must not be
      // destroyed on one of them after the loop is gone.
      pool->shutdown(true, true);
    } else {
      // A plain task that ignores its stop token: leave its thread (and this engine) to
      // the process's exit rather than hang.
      log(std::to_string(running_now.load()) + " task(s) still running at exit: abandoned");
      pool->shutdown(false, true);
      (void)pool.release();
      leaked_self = shared_from_this();
    }
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
    e->exiting = true;
    e->finish();
    return;
  }
  e->log("stopping: " + std::to_string(e->opt.grace.count()) + " ms for running tasks");
  e->begin_drain(e->opt.grace, true);
}

}  // namespace shoal::worker
