// The coordinator engine. One thread (the executor's); every table here is touched only
// from it. The flow of a task: Submit -> record (waiting on deps, or queued on its
// function's ready queue) -> dispatch pass (once per loop turn that changed anything)
// assigns it to the least loaded live worker with room in its window -> the worker's
// Result completes the record -> the submitter, subscribers and dependents hear of it.
// Outgoing entries are batched per peer and leave at the end of the loop turn.

#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <deque>
#include <iostream>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "shoal/coordinator/coordinator.hpp"
#include "shoal/proto/describe.hpp"
#include "shoal/proto/frame.hpp"
#include "shoal/remote/link.hpp"

namespace shoal::coordinator {

namespace schema = proto::schema;
using remote::steady_ns;
using remote::text;

namespace {

enum class TState : std::uint8_t { waiting, queued, assigned, done, failed, cancelled };

bool finished(TState s) { return s == TState::done || s == TState::failed || s == TState::cancelled; }

schema::TaskState to_schema(TState s) {
  switch (s) {
    case TState::waiting: return schema::TaskState::WAITING;
    case TState::queued: return schema::TaskState::QUEUED;
    case TState::assigned: return schema::TaskState::RUNNING;
    case TState::done: return schema::TaskState::DONE;
    case TState::failed: return schema::TaskState::FAILED;
    case TState::cancelled: return schema::TaskState::CANCELLED;
  }
  return schema::TaskState::UNKNOWN;
}

struct Task {
  std::uint64_t id = 0;
  std::uint64_t submitter = 0;
  std::uint32_t fn = 0;  // index into functions
  Bytes args;
  std::vector<std::uint64_t> deps;
  std::uint32_t unresolved = 0;
  std::vector<std::uint64_t> dependents;
  std::uint32_t holders = 0;  // unfinished dependents that still need this result
  std::uint64_t timeout_ms = 0;
  int retries = 3;
  bool detached = false;
  std::uint64_t actor = 0;
  std::string method;
  bool actor_create = false;
  TState state = TState::queued;
  std::uint32_t attempt = 0;
  std::uint64_t worker = 0;
  Bytes value;
  std::optional<codec::RemoteErrorInfo> error;
  std::vector<std::uint64_t> subscribers;
  bool released = false;
  bool cancel_requested = false;
  std::uint64_t submitted_wall = 0, finished_wall = 0;
  std::uint64_t finished_steady = 0;
  std::uint64_t run_ns = 0;  // as its worker measured it
  std::uint64_t seq = 0;     // its place among its worker's assigns
  bool isolate = false;      // charged an attempt by a worker's death: run it alone next time
  bool blocked = false;      // waiting on other tasks in its worker: its slot is lent out
};

struct Function {
  std::string name;
  std::uint64_t hash = 0;
  std::string signature;  // as a worker registered it (empty until one did)
  bool coroutine = false;
  std::deque<std::uint64_t> ready;
  std::vector<std::uint64_t> workers;  // peer ids that registered it
  std::uint64_t unserved_since = 0;    // steady ns; 0: served or empty
};

struct ActorRec {
  std::uint64_t id = 0;
  std::string cls;
  std::uint64_t hash = 0;
  Bytes args;
  std::uint64_t create_task = 0;
  std::uint64_t worker = 0;  // 0: not placed yet
  std::uint64_t submitter = 0;
  bool dead = false;
  std::string dead_why;
  bool released = false;
  std::deque<std::uint64_t> calls;  // not yet forwarded, in arrival order
  std::uint64_t waiting_since = 0;
};

struct Peer {
  explicit Peer(proto::Socket s) : socket(std::move(s)), reader(socket, proto::FrameLimits{}, 1 << 20) {
    writer = proto::FrameWriter::create(socket);
  }
  proto::Socket socket;
  proto::FrameReader reader;
  std::shared_ptr<proto::FrameWriter> writer;
  // An in-process peer (LocalCluster's client): frames go to `deliver` instead of a
  // socket, on this thread; an empty frame tells it the link closed.
  bool local = false;
  std::function<void(std::vector<std::uint64_t>&&)> deliver;
  bool hello_done = false;
  std::uint32_t last_fn_index = ~0u;
  std::uint64_t last_fn_hash = 0;
  std::uint64_t id = 0;
  schema::Role role = schema::Role::CLIENT;
  bool welcomed = false;
  bool closed = false;
  bool tcp = false;
  std::string name, host;
  std::uint32_t pid = 0;
  std::uint64_t last_recv = 0, last_send = 0;
  // Outgoing, flushed at the end of the loop turn.
  std::vector<std::uint64_t> out_assigns, out_results, out_cancels;
  std::vector<std::pair<std::uint64_t, codec::RemoteErrorInfo>> out_errors;  // results for unknown ids
  bool flush_posted = false;
  // Worker state.
  std::uint32_t capacity = 0, co_capacity = 0;
  std::uint32_t in_plain = 0, in_coro = 0;
  std::unordered_set<std::uint64_t> inflight;
  std::unordered_map<std::string, std::uint64_t> actor_classes;  // name -> constructor hash
  std::vector<std::uint32_t> fns;
  double ewma_run_ns = 0;
  bool draining = false;
  std::uint64_t done = 0;
  std::uint32_t actors = 0;
  std::uint32_t max_tasks = 0, assigned_total = 0;
  std::uint64_t active_seq = 0;
  std::uint64_t assign_seq = 0;  // assigns sent, in order
  std::uint64_t started = 0;     // of those, how many the worker has started (its last report)
  std::uint32_t running_reported = 0;  // and how many of those were still running then
  std::uint64_t isolated = 0;  // the task it runs alone, if any (nothing else is assigned meanwhile)  // last time it got work or sent results (tie-break)
  std::string lost_why;
};

bool const_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

struct Coordinator::Engine : std::enable_shared_from_this<Coordinator::Engine> {
  asio::any_io_executor ex;
  CoordinatorOptions opt;
  std::vector<std::unique_ptr<remote::Listener>> listeners;
  std::unordered_map<std::uint64_t, std::shared_ptr<Peer>> peers;
  std::unordered_map<std::uint64_t, Task> tasks;
  std::vector<Function> functions;
  std::unordered_map<std::string, std::uint32_t> fn_index;
  std::unordered_map<std::uint64_t, ActorRec> actors;
  std::vector<std::uint64_t> unplaced_actors;
  std::uint64_t next_peer = 0;
  bool dispatch_posted = false;
  std::vector<std::uint64_t> to_free;
  bool stopping = false;
  bool stopped = false;
  bool drained = false;
  std::uint64_t activity = 0;
  std::uint64_t counts_done = 0, counts_failed = 0, counts_cancelled = 0;
  std::unique_ptr<asio::steady_timer> stop_timer;
  std::unique_ptr<asio::steady_timer> wake;  // run() sleeps on it until stopped

  Engine(asio::any_io_executor e, CoordinatorOptions o) : ex(std::move(e)), opt(std::move(o)) {
    std::random_device rd;
    next_peer = (std::uint64_t{rd()} % (1u << 30)) + 1;
  }

  void log(const std::string& line) const {
    if (opt.log) std::cerr << opt.name << ": " << line << std::endl;
  }

  std::string worker_label(const Peer& p) const {
    return "worker " + (p.name.empty() ? std::to_string(p.id) : p.name) + " (" + p.host + ", pid " +
           std::to_string(p.pid) + ")";
  }

  // ---- function table ----

  std::uint32_t intern(std::string_view name, std::uint64_t hash) {
    std::string key;
    key.reserve(name.size() + 17);
    key.append(name);
    key.push_back('#');
    key.append(reinterpret_cast<const char*>(&hash), sizeof hash);
    auto [it, fresh] = fn_index.try_emplace(std::move(key), static_cast<std::uint32_t>(functions.size()));
    if (fresh) {
      Function f;
      f.name = std::string(name);
      f.hash = hash;
      functions.push_back(std::move(f));
    }
    return it->second;
  }

  // The wall clock, read once per batch of frames (every record of a batch shares it).
  std::uint64_t wall_cache = 0;
  std::uint64_t now_wall() {
    if (!wall_cache) wall_cache = remote::wall_ns();
    return wall_cache;
  }

  bool any_live_worker() const {
    for (auto& [id, p] : peers)
      if (p->role == schema::Role::WORKER && p->welcomed && !p->closed) return true;
    return false;
  }

  std::string worker_list() const {
    std::string out;
    for (auto& [id, p] : peers)
      if (p->role == schema::Role::WORKER && p->welcomed && !p->closed)
        out += (out.empty() ? "" : ", ") + (p->name.empty() ? std::to_string(p->id) : p->name);
    return out.empty() ? "no worker" : "workers " + out;
  }

  // ---- output ----

  void touch_flush(Peer& p) {
    if (p.flush_posted || p.closed) return;
    p.flush_posted = true;
    asio::post(ex, [self = shared_from_this(), id = p.id] {
      auto it = self->peers.find(id);
      if (it != self->peers.end()) self->flush(*it->second);
    });
  }

  void send(Peer& p, capnp::MessageBuilder& msg) {
    if (p.closed) return;
    if (p.local) {
      std::vector<std::uint64_t> words;
      proto::append_frame(msg, words);
      p.last_send = steady_ns();
      p.deliver(std::move(words));
      return;
    }
    try {
      p.writer->send(msg);
      p.last_send = steady_ns();
    } catch (const std::exception& e) {
      close_peer(p, e.what());
    }
  }

  void fill_result(schema::Result::Builder b, const Task& t) {
    b.setTaskId(t.id);
    b.setAttempt(t.attempt);
    b.setWorker(t.worker);
    if (t.state == TState::done) {
      b.setValue(remote::data(t.value));
    } else if (t.state == TState::failed && t.error) {
      remote::set_error(b.initError(), *t.error);
    } else {
      b.setCancelled();
    }
  }

  void fill_assign(schema::Assign::Builder a, const Task& t) {
    const auto& f = functions[t.fn];
    a.setTaskId(t.id);
    a.setFunction(t.actor ? t.method : f.name);
    a.setSignatureHash(f.hash);
    a.setArgs(remote::data(t.args));
    if (!t.deps.empty()) {
      auto dv = a.initDepValues(static_cast<unsigned>(t.deps.size()));
      for (unsigned i = 0; i < t.deps.size(); ++i) {
        auto it = tasks.find(t.deps[i]);
        if (it != tasks.end()) dv.set(i, remote::data(it->second.value));
      }
    }
    a.setAttempt(t.attempt);
    a.setTimeoutMs(t.timeout_ms);
    a.setActorId(t.actor);
    if (t.actor) a.setMethod(t.method);
  }

  // A first-segment size that holds a batch of `n` entries carrying `bytes` of data.
  static unsigned message_words(std::size_t n, std::size_t bytes, std::size_t words_each) {
    return static_cast<unsigned>(std::min<std::size_t>(8 + n * (words_each + 2) + bytes / 8 + n * 4, 1u << 20));
  }

  // Sends the tasks of `ids` that `keep` accepts as batch messages (at most 512 entries or
  // 256 KiB each), built by `fill`, then empties `ids`.
  template <typename Keep, typename SizeOf, typename Fill>
  void send_batches(Peer& p, std::vector<std::uint64_t>& ids, Keep keep, SizeOf bytes_of, std::size_t words_each,
                    Fill fill) {
    constexpr std::size_t kMax = 512;
    std::vector<const Task*> batch;
    for (std::size_t at = 0; at < ids.size();) {
      batch.clear();
      std::size_t bytes = 0;
      while (at < ids.size() && batch.size() < kMax && bytes < (256u << 10)) {
        auto it = tasks.find(ids[at++]);
        if (it == tasks.end() || !keep(it->second)) continue;
        batch.push_back(&it->second);
        bytes += bytes_of(it->second);
      }
      if (batch.empty()) continue;
      // One segment for the whole batch: readers take a lock for every other segment.
      capnp::MallocMessageBuilder msg(message_words(batch.size(), bytes, words_each));
      fill(msg.initRoot<schema::Envelope>(), batch);
      send(p, msg);
    }
    ids.clear();
  }

  void flush(Peer& p) {
    p.flush_posted = false;
    if (p.closed) return;
    send_batches(
        p, p.out_assigns,
        [&](const Task& t) { return t.state == TState::assigned && t.worker == p.id; },
        [](const Task& t) { return t.args.size(); }, 24,
        [&](schema::Envelope::Builder env, const std::vector<const Task*>& batch) {
          if (batch.size() == 1) return fill_assign(env.initAssign(), *batch[0]);
          auto l = env.initAssignBatch(static_cast<unsigned>(batch.size()));
          for (unsigned i = 0; i < batch.size(); ++i) fill_assign(l[i], *batch[i]);
        });
    send_batches(
        p, p.out_results, [](const Task& t) { return finished(t.state); },
        [](const Task& t) { return t.value.size(); }, 16,
        [&](schema::Envelope::Builder env, const std::vector<const Task*>& batch) {
          if (batch.size() == 1) return fill_result(env.initResult(), *batch[0]);
          auto l = env.initResultBatch(static_cast<unsigned>(batch.size()));
          for (unsigned i = 0; i < batch.size(); ++i) fill_result(l[i], *batch[i]);
        });
    for (auto& [id, info] : p.out_errors) {
      capnp::MallocMessageBuilder msg;
      auto r = msg.initRoot<schema::Envelope>().initResult();
      r.setTaskId(id);
      remote::set_error(r.initError(), info);
      send(p, msg);
    }
    p.out_errors.clear();
    for (auto id : p.out_cancels) {
      capnp::MallocMessageBuilder msg;
      msg.initRoot<schema::Envelope>().initCancel().setTaskId(id);
      send(p, msg);
    }
    p.out_cancels.clear();
  }

  void send_error(Peer& p, const std::string& code, const std::string& message, bool fatal) {
    capnp::MallocMessageBuilder msg;
    auto e = msg.initRoot<schema::Envelope>().initError();
    e.setCode(code);
    e.setMessage(message);
    e.setFatal(fatal);
    send(p, msg);
  }

  // ---- completion ----

  codec::RemoteErrorInfo error_info(std::string type, std::string message, const Task& t, std::string kind) {
    codec::RemoteErrorInfo i;
    i.type_name = std::move(type);
    i.message = std::move(message);
    i.function = functions[t.fn].name;  // "Class.method" for an actor call
    i.task_id = t.id;
    i.host = remote::this_host();
    i.pid = static_cast<std::uint32_t>(::getpid());
    i.kind = std::move(kind);
    return i;
  }

  void notify(Task& t) {
    if (!t.released || t.detached) {
      if (auto it = peers.find(t.submitter); it != peers.end()) {
        it->second->out_results.push_back(t.id);
        touch_flush(*it->second);
      }
    }
    for (auto sub : t.subscribers) {
      if (sub == t.submitter) continue;
      if (auto it = peers.find(sub); it != peers.end()) {
        it->second->out_results.push_back(t.id);
        touch_flush(*it->second);
      }
    }
    t.subscribers.clear();
  }

  // Ends task `id` with `state` (done with `value`, failed with `error`, or cancelled),
  // then its dependents.
  void finish(std::uint64_t id, TState state, Bytes value, std::optional<codec::RemoteErrorInfo> error) {
    auto it = tasks.find(id);
    if (it == tasks.end() || finished(it->second.state)) return;
    Task& t = it->second;
    t.state = state;
    t.value = std::move(value);
    t.error = std::move(error);
    t.finished_wall = now_wall();
    if (t.detached) t.finished_steady = steady_ns();
    if (state == TState::done)
      ++counts_done;
    else if (state == TState::failed)
      ++counts_failed;
    else
      ++counts_cancelled;
    notify(t);
    // Dependents.
    auto dependents = std::move(t.dependents);
    t.dependents.clear();
    std::string dep_fn, why;
    if (!dependents.empty() && state != TState::done) {
      dep_fn = functions[t.fn].name;
      why = state == TState::cancelled ? "was cancelled" : "failed: " + (t.error ? t.error->message : "");
    }
    for (auto d : dependents) {
      auto dit = tasks.find(d);
      if (dit == tasks.end() || dit->second.state != TState::waiting) continue;
      if (state == TState::done) {
        if (--dit->second.unresolved == 0) make_ready(dit->second);
      } else {
        auto info = error_info("shoal::DependencyFailed",
                               "task " + std::to_string(id) + " (" + dep_fn + "), a dependency, " + why, dit->second,
                               "failed");
        finish(d, TState::failed, {}, std::move(info));
      }
    }
    // This task no longer holds its dependencies' results.
    auto it2 = tasks.find(id);
    if (it2 == tasks.end()) return;
    for (auto dep : it2->second.deps)
      if (auto di = tasks.find(dep); di != tasks.end() && di->second.holders > 0) {
        --di->second.holders;
        maybe_free(dep);
      }
    maybe_free(id);
  }

  void maybe_free(std::uint64_t id) {
    auto it = tasks.find(id);
    if (it == tasks.end()) return;
    auto& t = it->second;
    if (!finished(t.state) || !t.released || t.detached || t.holders > 0 || !t.subscribers.empty()) return;
    // Its result may still sit in an outgoing batch: free it after this turn's flushes.
    to_free.push_back(id);
    if (to_free.size() == 1)
      asio::post(ex, [self = shared_from_this()] {
        auto ids = std::move(self->to_free);
        self->to_free.clear();
        for (auto id : ids) {
          auto it = self->tasks.find(id);
          if (it != self->tasks.end() && finished(it->second.state) && it->second.released &&
              it->second.holders == 0 && !it->second.detached && it->second.subscribers.empty())
            self->tasks.erase(it);
        }
      });
  }

  void make_ready(Task& t) {
    t.state = TState::queued;
    if (t.actor) {
      auto a = actors.find(t.actor);
      if (a != actors.end()) pump_actor(a->second);
      return;
    }
    auto& f = functions[t.fn];
    f.ready.push_back(t.id);
    if (f.workers.empty() && f.unserved_since == 0) f.unserved_since = steady_ns();
    schedule_dispatch();
  }

  // ---- dispatch ----

  void schedule_dispatch() {
    if (dispatch_posted) return;
    dispatch_posted = true;
    asio::post(ex, [self = shared_from_this()] {
      self->dispatch_posted = false;
      self->dispatch();
    });
  }

  std::uint32_t window(const Peer& w, bool coro) const {
    if (coro) return std::max<std::uint32_t>(w.co_capacity, 1);
    std::uint32_t cap = std::max<std::uint32_t>(w.capacity, 1);
    if (w.ewma_run_ns <= 0) return 2 * cap + 2;
    // Enough in flight to cover a round trip (~200 us) with tasks of the measured length.
    double extra = cap * 200000.0 / std::max(w.ewma_run_ns, 1.0);
    return cap + static_cast<std::uint32_t>(std::clamp(extra, 2.0, 1024.0));
  }

  Peer* pick_worker(Function& f, bool isolate = false) {
    Peer* best = nullptr;
    double best_load = 0;
    for (auto wid : f.workers) {
      auto it = peers.find(wid);
      if (it == peers.end()) continue;
      Peer& w = *it->second;
      if (w.closed || w.draining || !w.welcomed || w.isolated) continue;
      if (isolate && (w.in_plain > 0 || w.in_coro > 0)) continue;
      if (w.max_tasks && w.assigned_total >= w.max_tasks) continue;
      std::uint32_t in = f.coroutine ? w.in_coro : w.in_plain;
      std::uint32_t win = window(w, f.coroutine);
      if (in >= win) continue;
      double cap = std::max<std::uint32_t>(f.coroutine ? w.co_capacity : w.capacity, 1);
      double load = in / cap;
      if (!best || load < best_load || (load == best_load && w.active_seq > best->active_seq)) {
        best = &w;
        best_load = load;
      }
    }
    return best;
  }

  void assign(Task& t, Peer& w, bool coro) {
    t.state = TState::assigned;
    t.worker = w.id;
    ++t.attempt;
    t.seq = w.assign_seq++;
    w.inflight.insert(t.id);
    if (!t.actor && !t.actor_create) {
      if (coro)
        ++w.in_coro;
      else
        ++w.in_plain;
      ++w.assigned_total;
    }
    w.active_seq = ++activity;
    w.out_assigns.push_back(t.id);
    touch_flush(w);
  }

  void dispatch() {
    if (stopped) return;
    for (auto& f : functions) {
      while (!f.ready.empty()) {
        auto it = tasks.find(f.ready.front());
        if (it == tasks.end() || it->second.state != TState::queued) {
          f.ready.pop_front();
          continue;
        }
        // A task that may have killed a worker runs alone on one, so that a second death
        // is charged to it alone (and a task that merely ran beside it goes free).
        bool isolate = it->second.isolate && !f.coroutine;
        Peer* w = pick_worker(f, isolate);
        if (!w) break;
        f.ready.pop_front();
        assign(it->second, *w, f.coroutine);
        if (isolate) w->isolated = it->second.id;
      }
      if (f.ready.empty()) f.unserved_since = 0;
    }
    place_actors();
  }

  // ---- actors ----

  void place_actors() {
    if (unplaced_actors.empty()) return;
    std::vector<std::uint64_t> still;
    for (auto aid : unplaced_actors) {
      auto ait = actors.find(aid);
      if (ait == actors.end() || ait->second.dead) continue;
      auto& a = ait->second;
      Peer* best = nullptr;
      for (auto& [id, p] : peers) {
        if (p->role != schema::Role::WORKER || p->closed || p->draining || !p->welcomed) continue;
        auto c = p->actor_classes.find(a.cls);
        if (c == p->actor_classes.end() || c->second != a.hash) continue;
        if (!best || p->actors < best->actors ||
            (p->actors == best->actors && p->in_plain * 1.0 / std::max(1u, p->capacity) <
                                              best->in_plain * 1.0 / std::max(1u, best->capacity)))
          best = p.get();
      }
      if (!best) {
        still.push_back(aid);
        continue;
      }
      a.worker = best->id;
      ++best->actors;
      auto t = tasks.find(a.create_task);
      if (t != tasks.end()) {
        t->second.state = TState::assigned;
        t->second.worker = best->id;
        ++t->second.attempt;
        best->inflight.insert(a.create_task);
      }
      capnp::MallocMessageBuilder msg;
      auto c = msg.initRoot<schema::Envelope>().initActorCreate();
      c.setActorId(a.id);
      c.setClassName(a.cls);
      c.setConstructorHash(a.hash);
      c.setArgs(remote::data(a.args));
      c.setTaskId(a.create_task);
      flush(*best);  // keep order: earlier assigns first
      send(*best, msg);
      pump_actor(a);
    }
    unplaced_actors = std::move(still);
  }

  void pump_actor(ActorRec& a) {
    while (!a.calls.empty()) {
      auto it = tasks.find(a.calls.front());
      if (it == tasks.end() || finished(it->second.state)) {
        a.calls.pop_front();
        continue;
      }
      Task& t = it->second;
      if (a.dead) {
        a.calls.pop_front();
        finish(t.id, TState::failed, {}, error_info("shoal::WorkerLost", a.dead_why, t, "disconnected"));
        continue;
      }
      if (t.state != TState::queued || a.worker == 0) return;  // waits on deps or placement
      auto w = peers.find(a.worker);
      if (w == peers.end()) return;
      a.calls.pop_front();
      assign(t, *w->second, false);
    }
  }

  void kill_actor(ActorRec& a, const std::string& why) {
    a.dead = true;
    a.dead_why = why;
    pump_actor(a);
  }

  // ---- inbound ----

  int retries_for(const std::string& fn, int requested) const {
    if (requested >= 0) return requested;
    if (auto it = opt.function_retries.find(fn); it != opt.function_retries.end()) return it->second;
    return opt.retries;
  }

  void on_submit(Peer& p, schema::Submit::Reader s) {
    std::uint64_t id = s.getTaskId();
    if ((id >> 32) != p.id) throw ProtocolError("task id " + std::to_string(id) + " is not in this connection's id space");
    if (tasks.count(id)) throw ProtocolError("task id " + std::to_string(id) + " submitted twice");
    auto [it, fresh] = tasks.try_emplace(id);
    Task& t = it->second;
    t.id = id;
    t.submitter = p.id;
    t.actor = s.getActorId();
    auto name = s.getFunction();
    {
      // A one-entry cache per connection: a stream of submits is mostly one function.
      std::string_view nv(name.cStr(), name.size());
      auto hash = s.getSignatureHash();
      if (p.last_fn_hash == hash && p.last_fn_index < functions.size() && functions[p.last_fn_index].name == nv &&
          functions[p.last_fn_index].hash == hash) {
        t.fn = p.last_fn_index;
      } else {
        t.fn = intern(nv, hash);
        p.last_fn_index = t.fn;
        p.last_fn_hash = hash;
      }
    }
    if (t.actor) t.method = text(s.getMethod());
    t.args = remote::bytes(s.getArgs());
    if (s.hasOptions()) {
      auto o = s.getOptions();
      t.timeout_ms = o.getTimeoutMs();
      t.detached = o.getDetached();
      t.retries = retries_for(functions[t.fn].name, o.getRetries());
    } else {
      t.retries = retries_for(functions[t.fn].name, -1);
    }
    t.submitted_wall = now_wall();
    if (stopping) {
      finish(id, TState::failed, {},
             error_info("shoal::Error", "the coordinator is shutting down: submit to another one", t, "overloaded"));
      return;
    }
    // Dependencies.
    for (auto dep : s.getDeps()) {
      t.deps.push_back(dep);
    }
    std::optional<std::pair<std::uint64_t, std::string>> dep_failure;
    for (auto dep : t.deps) {
      auto dit = tasks.find(dep);
      if (dit == tasks.end()) {
        dep_failure = {dep, "is unknown to the coordinator (never submitted, or its result was released)"};
        break;
      }
      ++dit->second.holders;
      if (dit->second.state == TState::done) continue;
      if (finished(dit->second.state)) {
        dep_failure = {dep, dit->second.state == TState::cancelled ? "was cancelled"
                                                                   : "failed: " + (dit->second.error ? dit->second.error->message : "")};
        continue;
      }
      dit->second.dependents.push_back(id);
      ++t.unresolved;
    }
    if (t.actor) {
      auto a = actors.find(t.actor);
      if (a == actors.end()) {
        finish(id, TState::failed, {},
               error_info("shoal::InvalidStateError", "actor " + std::to_string(t.actor) + " is unknown (released?)", t,
                          "invalid_state"));
        return;
      }
      a->second.calls.push_back(id);
    }
    if (dep_failure) {
      auto& [dep, why] = *dep_failure;
      t.state = TState::waiting;
      finish(id, TState::failed, {},
             error_info("shoal::DependencyFailed", "task " + std::to_string(dep) + ", a dependency, " + why, t, "failed"));
      return;
    }
    if (t.unresolved > 0) {
      t.state = TState::waiting;
    } else {
      make_ready(t);
    }
  }

  void on_actor_create(Peer& p, schema::ActorCreate::Reader c) {
    std::uint64_t aid = c.getActorId(), tid = c.getTaskId();
    if ((aid >> 32) != p.id || (tid >> 32) != p.id) throw ProtocolError("actor ids outside this connection's id space");
    auto& t = tasks[tid];
    t.id = tid;
    t.submitter = p.id;
    t.actor_create = true;
    t.fn = intern(text(c.getClassName()) + ".__init__", c.getConstructorHash());
    t.state = TState::queued;
    t.retries = 0;
    t.submitted_wall = now_wall();
    auto& a = actors[aid];
    a.id = aid;
    a.cls = text(c.getClassName());
    a.hash = c.getConstructorHash();
    a.args = remote::bytes(c.getArgs());
    a.create_task = tid;
    a.submitter = p.id;
    a.waiting_since = steady_ns();
    if (stopping) {
      kill_actor(a, "the coordinator is shutting down");
      finish(tid, TState::failed, {}, error_info("shoal::Error", "the coordinator is shutting down", t, "overloaded"));
      return;
    }
    unplaced_actors.push_back(aid);
    schedule_dispatch();
  }

  void on_result(Peer& w, schema::Result::Reader r) {
    std::uint64_t id = r.getTaskId();
    bool was_inflight = w.inflight.erase(id) > 0;
    if (w.isolated == id) w.isolated = 0;
    auto it = tasks.find(id);
    if (was_inflight && it != tasks.end() && !it->second.actor && !it->second.actor_create && !it->second.blocked) {
      if (functions[it->second.fn].coroutine) {
        if (w.in_coro) --w.in_coro;
      } else if (w.in_plain) {
        --w.in_plain;
      }
    }
    if (r.getRunNs()) {
      double run = static_cast<double>(r.getRunNs());
      w.ewma_run_ns = w.ewma_run_ns <= 0 ? run : 0.9 * w.ewma_run_ns + 0.1 * run;
    }
    w.active_seq = ++activity;
    if (it == tasks.end() || it->second.state != TState::assigned || it->second.worker != w.id) return;  // stale
    Task& t = it->second;
    t.run_ns = r.getRunNs();
    ++w.done;
    switch (r.which()) {
      case schema::Result::VALUE:
        finish(id, TState::done, remote::bytes(r.getValue()), std::nullopt);
        break;
      case schema::Result::ERROR: {
        auto info = remote::get_error(r.getError());
        if (t.actor_create) {
          for (auto& [aid, a] : actors)
            if (a.create_task == id) kill_actor(a, "the actor's constructor failed: " + info.message);
        }
        finish(id, info.kind == "cancelled" ? TState::cancelled : TState::failed, {}, std::move(info));
        break;
      }
      case schema::Result::HANDED_BACK:
        --t.attempt;
        t.state = TState::queued;
        if (t.actor) {
          finish(id, TState::failed, {},
                 error_info("shoal::WorkerLost", "the actor's worker is shutting down", t, "disconnected"));
        } else {
          functions[t.fn].ready.push_front(id);
        }
        break;
      default:
        finish(id, TState::cancelled, {}, std::nullopt);
    }
  }

  void on_cancel(std::uint64_t id) {
    auto it = tasks.find(id);
    if (it == tasks.end()) return;
    Task& t = it->second;
    switch (t.state) {
      case TState::waiting:
      case TState::queued:
        finish(id, TState::cancelled, {}, std::nullopt);
        break;
      case TState::assigned: {
        if (t.cancel_requested) return;
        t.cancel_requested = true;
        if (auto w = peers.find(t.worker); w != peers.end()) {
          w->second->out_cancels.push_back(id);
          touch_flush(*w->second);
        }
        // A plain task that never looks at its stop token: give up waiting after a grace.
        auto timer = std::make_shared<asio::steady_timer>(ex, opt.cancel_grace);
        timer->async_wait([self = shared_from_this(), id, timer](std::error_code ec) {
          if (ec) return;
          auto it = self->tasks.find(id);
          if (it != self->tasks.end() && it->second.state == TState::assigned && it->second.cancel_requested)
            self->finish(id, TState::cancelled, {}, std::nullopt);
        });
        break;
      }
      default:
        break;
    }
  }

  void on_release(Peer& p, schema::Release::Reader r) {
    for (auto id : r.getTasks()) {
      auto it = tasks.find(id);
      if (it == tasks.end() || it->second.submitter != p.id) continue;
      it->second.released = true;
      maybe_free(id);
    }
    for (auto aid : r.getActors()) {
      auto it = actors.find(aid);
      if (it == actors.end() || it->second.submitter != p.id) continue;
      release_actor(it->second);
    }
  }

  void release_actor(ActorRec& a) {
    a.released = true;
    if (a.worker)
      if (auto w = peers.find(a.worker); w != peers.end()) {
        flush(*w->second);  // calls already assigned go first
        capnp::MallocMessageBuilder msg;
        auto r = msg.initRoot<schema::Envelope>().initRelease();
        r.initActors(1).set(0, a.id);
        send(*w->second, msg);
        if (w->second->actors) --w->second->actors;
      }
    if (a.calls.empty()) actors.erase(a.id);
  }

  void on_subscribe(Peer& p, schema::Subscribe::Reader s) {
    for (auto id : s.getTaskIds()) {
      auto it = tasks.find(id);
      if (it == tasks.end()) {
        codec::RemoteErrorInfo i;
        i.type_name = "shoal::ValueError";
        i.message = "task " + std::to_string(id) +
                    " is unknown to this coordinator (never submitted, or its result was released or expired)";
        i.task_id = id;
        i.kind = "unknown_task";
        p.out_errors.emplace_back(id, std::move(i));
        touch_flush(p);
      } else if (finished(it->second.state)) {
        p.out_results.push_back(id);
        touch_flush(p);
      } else {
        it->second.subscribers.push_back(p.id);
      }
    }
  }

  void fill_task_info(schema::TaskInfo::Builder b, const Task& t) {
    b.setTaskId(t.id);
    b.setFunction(functions[t.fn].name);
    b.setState(to_schema(t.state));
    b.setAttempt(t.attempt);
    b.setWorker(t.worker);
    b.setActorId(t.actor);
    b.setSubmittedNs(t.submitted_wall);
    b.setFinishedNs(t.finished_wall);
    if (t.error) b.setError(t.error->type_name + ": " + t.error->message);
    b.setRunNs(t.run_ns);
  }

  void on_status(Peer& p, schema::StatusRequest::Reader q) {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::Envelope>().initStatusReply();
    r.setRequestId(q.getRequestId());
    std::uint64_t waiting = 0, queued = 0, running = 0;
    for (auto& [id, t] : tasks) {
      if (t.state == TState::waiting) ++waiting;
      else if (t.state == TState::queued) ++queued;
      else if (t.state == TState::assigned) ++running;
    }
    r.setWaiting(waiting);
    r.setQueued(queued);
    r.setRunning(running);
    r.setDone(counts_done);
    r.setFailed(counts_failed);
    r.setCancelled(counts_cancelled);
    std::vector<const Peer*> ws;
    for (auto& [id, w] : peers)
      if (w->role == schema::Role::WORKER && w->welcomed && !w->closed) ws.push_back(w.get());
    std::sort(ws.begin(), ws.end(), [](auto* a, auto* b) { return a->id < b->id; });
    auto wl = r.initWorkers(static_cast<unsigned>(ws.size()));
    for (unsigned i = 0; i < ws.size(); ++i) {
      auto b = wl[i];
      b.setPeerId(ws[i]->id);
      b.setName(ws[i]->name);
      b.setHost(ws[i]->host);
      b.setPid(ws[i]->pid);
      b.setCapacity(ws[i]->capacity);
      b.setRunning(ws[i]->in_plain + ws[i]->in_coro);
      b.setDraining(ws[i]->draining);
      b.setActors(ws[i]->actors);
      b.setDone(ws[i]->done);
      b.setFunctions(static_cast<std::uint32_t>(ws[i]->fns.size()));
    }
    if (q.getTaskId()) {
      auto it = tasks.find(q.getTaskId());
      r.setState(it == tasks.end() ? schema::TaskState::UNKNOWN : to_schema(it->second.state));
      if (it != tasks.end()) fill_task_info(r.initTasks(1)[0], it->second);
    } else if (q.getListTasks()) {
      auto filter = q.getStateFilter();
      std::uint32_t limit = q.getLimit() ? q.getLimit() : 1000;
      std::vector<const Task*> list;
      for (auto& [id, t] : tasks)
        if (filter == schema::TaskState::UNKNOWN || to_schema(t.state) == filter) list.push_back(&t);
      std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->submitted_wall < b->submitted_wall; });
      if (list.size() > limit) list.resize(limit);
      auto tl = r.initTasks(static_cast<unsigned>(list.size()));
      for (unsigned i = 0; i < list.size(); ++i) fill_task_info(tl[i], *list[i]);
    }
    send(p, msg);
  }

  void on_register(Peer& w, schema::RegisterWorker::Reader r) {
    w.capacity = std::max(1u, r.getCapacity());
    w.co_capacity = r.getCoroutineCapacity() ? r.getCoroutineCapacity() : 1024;
    w.max_tasks = r.getMaxTasks();
    if (r.getPid()) w.pid = r.getPid();
    if (r.getHost().size()) w.host = text(r.getHost());
    for (auto f : r.getFunctions()) {
      auto idx = intern(text(f.getName()), f.getSignatureHash());
      auto& fn = functions[idx];
      fn.signature = text(f.getSignature());
      fn.coroutine = f.getIsCoroutine();
      fn.workers.push_back(w.id);
      fn.unserved_since = 0;
      w.fns.push_back(idx);
    }
    for (auto a : r.getActors()) {
      w.actor_classes[text(a.getName())] = a.getConstructorHash();
      for (auto m : a.getMethods()) {
        // Actor methods are forwarded outside the function queues; record them for the catalog.
        auto idx = intern(text(a.getName()) + "." + text(m.getName()), m.getSignatureHash());
        functions[idx].signature = text(m.getSignature());
        functions[idx].coroutine = m.getIsCoroutine();
      }
    }
    w.welcomed = true;
    log(worker_label(w) + " registered: " + std::to_string(w.fns.size()) + " functions, " +
        std::to_string(w.actor_classes.size()) + " actor types, " + std::to_string(w.capacity) + " threads");
    broadcast_catalog();
    schedule_dispatch();
  }

  void fill_catalog(schema::Catalog::Builder c) {
    std::vector<const Function*> live;
    for (auto& f : functions) {
      bool has = false;
      for (auto wid : f.workers)
        if (auto it = peers.find(wid); it != peers.end() && !it->second->closed) has = true;
      if (has) live.push_back(&f);
    }
    auto l = c.initFunctions(static_cast<unsigned>(live.size()));
    for (unsigned i = 0; i < live.size(); ++i) {
      l[i].setName(live[i]->name);
      l[i].setSignatureHash(live[i]->hash);
      l[i].setSignature(live[i]->signature);
      l[i].setIsCoroutine(live[i]->coroutine);
    }
  }

  void broadcast_catalog() {
    for (auto& [id, p] : peers) {
      if (p->role != schema::Role::CLIENT || !p->welcomed || p->closed) continue;
      capnp::MallocMessageBuilder msg;
      fill_catalog(msg.initRoot<schema::Envelope>().initCatalog());
      send(*p, msg);
    }
  }

  // ---- connections ----

  void close_peer(Peer& p, const std::string& why) {
    if (p.closed) return;
    p.closed = true;
    p.lost_why = why;
    if (p.local) {
      if (p.deliver) p.deliver({});
      return;
    }
    std::error_code ec;
    p.socket.shutdown(asio::socket_base::shutdown_both, ec);
    p.socket.close(ec);
  }

  void on_disconnect(const std::shared_ptr<Peer>& pp, const std::string& why) {
    Peer& p = *pp;
    close_peer(p, why);
    peers.erase(p.id);
    if (p.role == schema::Role::WORKER && p.welcomed) {
      log(worker_label(p) + " lost: " + why);
      for (auto& f : functions) std::erase(f.workers, p.id);
      // Its tasks: retry, or fail with WorkerLost.
      // In assign order. Retries go to the back of their queue: a task whose result was
      // lost with its worker is not kept next to the task that killed it, time after time.
      std::vector<std::uint64_t> ids(p.inflight.begin(), p.inflight.end());
      auto seq_of = [&](std::uint64_t id) {
        auto it = tasks.find(id);
        return it == tasks.end() ? 0 : it->second.seq;
      };
      std::sort(ids.begin(), ids.end(), [&](auto a, auto b) { return seq_of(a) < seq_of(b); });
      for (auto id : ids) {
        auto it = tasks.find(id);
        if (it == tasks.end() || it->second.state != TState::assigned || it->second.worker != p.id) continue;
        Task& t = it->second;
        if (t.actor || t.actor_create) continue;  // below, with the actors
        // The attempt counts only if the task could have started: the worker reported
        // that `started` of its assigns (FIFO) had started and `running_reported` of them
        // still ran, so at most the free slots' worth more could have started since. A
        // task that kills its worker at once cannot escape the count; the tasks queued
        // behind it on that worker spend nothing.
        // Any of the tasks that could have started may be the one that killed it (a task
        // that finished may have lost its result with it): each is charged, and runs
        // alone on its next attempt, so that a second death is charged exactly.
        bool coro = functions[t.fn].coroutine;
        bool could_have_started = coro || p.isolated == id || t.seq < p.started + p.capacity;
        if (p.isolated && p.isolated != id) could_have_started = false;
        if (!could_have_started && t.attempt > 0) --t.attempt;
        if (could_have_started && !coro) t.isolate = true;
        if (t.cancel_requested) {
          finish(id, TState::cancelled, {}, std::nullopt);
        } else if (static_cast<int>(t.attempt) > t.retries) {
          finish(id, TState::failed, {},
                 error_info("shoal::WorkerLost",
                            "task " + std::to_string(id) + " (" + functions[t.fn].name + ") was on " + worker_label(p) +
                                ", which stopped answering: " + why + "; tried " + std::to_string(t.attempt) +
                                (t.attempt == 1 ? " time" : " times"),
                            t, "disconnected"));
        } else {
          t.state = TState::queued;
          functions[t.fn].ready.push_back(id);
        }
      }
      for (auto& [aid, a] : actors) {
        if (a.worker != p.id || a.dead) continue;
        std::string msg = "actor " + std::to_string(aid) + " (" + a.cls + ") was on " + worker_label(p) +
                          ", which stopped answering: " + why;
        // Calls already forwarded to it fail, then the queued ones.
        for (auto id : ids) {
          auto it = tasks.find(id);
          if (it != tasks.end() && it->second.state == TState::assigned && it->second.worker == p.id &&
              (it->second.actor == aid || (it->second.actor_create && a.create_task == id)))
            finish(id, TState::failed, {}, error_info("shoal::WorkerLost", msg, it->second, "disconnected"));
        }
        kill_actor(a, msg);
      }
      broadcast_catalog();
      schedule_dispatch();
    } else if (p.welcomed) {
      // A client: its unfinished, non-detached tasks are cancelled; its results released.
      std::vector<std::uint64_t> mine;
      for (auto& [id, t] : tasks)
        if (t.submitter == p.id) mine.push_back(id);
      for (auto id : mine) {
        auto it = tasks.find(id);
        if (it == tasks.end()) continue;
        if (it->second.detached) continue;
        it->second.released = true;
        if (!finished(it->second.state)) on_cancel(id);
        maybe_free(id);
      }
      std::vector<std::uint64_t> its_actors;
      for (auto& [aid, a] : actors)
        if (a.submitter == p.id) its_actors.push_back(aid);
      for (auto aid : its_actors)
        if (auto it = actors.find(aid); it != actors.end()) release_actor(it->second);
    }
    maybe_finish_stop();
  }

  asio::awaitable<void> serve(std::shared_ptr<Peer> p) {
    std::string why = "EOF";
    try {
      // Handshake: Hello first.
      auto first = co_await p->reader.next();
      if (!first) co_return on_disconnect(p, "closed before its hello");
      p->last_recv = steady_ns();
      wall_cache = 0;
      proto::guarded([&] { hello(p, first->envelope()); });
      co_await remote::read_frames(
          p->reader, [&](schema::Envelope::Reader env) { handle(*p, env); },
          [&] {
            p->last_recv = steady_ns();
            wall_cache = 0;
          });
    } catch (const ProtocolError& e) {
      why = e.what();
      log("closing the connection of " + (p->name.empty() ? std::string("a peer") : p->name) + ": " + why);
      send_error(*p, "protocol", why, true);
    } catch (const std::exception& e) {
      why = p->lost_why.empty() ? e.what() : p->lost_why;
    }
    if (!p->lost_why.empty()) why = p->lost_why;
    on_disconnect(p, why);
  }

  void hello(const std::shared_ptr<Peer>& pp, schema::Envelope::Reader env) {
    Peer& p = *pp;
    if (env.which() != schema::Envelope::HELLO) throw ProtocolError("the first message must be a hello");
    auto h = env.getHello();
    if (h.getProtocolVersion() != schema::PROTOCOL_VERSION) {
      send_error(p, "version",
                 "protocol version " + std::to_string(h.getProtocolVersion()) + " is not " +
                     std::to_string(schema::PROTOCOL_VERSION) + ": upgrade shoal on one side",
                 true);
      throw ProtocolError("protocol version mismatch");
    }
    if (p.tcp) {
      if (opt.token.empty() || !const_time_equal(text(h.getToken()), opt.token)) {
        send_error(p, "auth", "a TCP connection needs the coordinator's token (--token-file)", true);
        throw ProtocolError("bad or missing token");
      }
    } else {
      ucred cred{};
      socklen_t len = sizeof cred;
      if (::getsockopt(p.socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid != ::getuid()) {
        send_error(p, "auth", "this coordinator serves only its own user", true);
        throw ProtocolError("peer of another uid");
      }
    }
    p.role = h.getRole();
    if (p.role == schema::Role::COORDINATOR) throw ProtocolError("a coordinator cannot connect as a peer");
    p.name = text(h.getName());
    p.host = text(h.getHost());
    p.pid = h.getPid();
    p.id = next_peer++;
    peers.emplace(p.id, pp);
    capnp::MallocMessageBuilder msg;
    auto w = msg.initRoot<schema::Envelope>().initWelcome();
    w.setProtocolVersion(schema::PROTOCOL_VERSION);
    w.setPeerId(p.id);
    w.setName(opt.name);
    w.setHeartbeatMs(static_cast<std::uint32_t>(opt.heartbeat.count()));
    if (p.role == schema::Role::CLIENT) fill_catalog(w.initCatalog());
    send(p, msg);
    if (p.role == schema::Role::CLIENT) p.welcomed = true;
    if (stopping && p.role == schema::Role::WORKER) {
      capnp::MallocMessageBuilder m;
      auto s = m.initRoot<schema::Envelope>().initShutdown();
      s.setReason("the coordinator is shutting down");
      s.setExit(opt.exit_workers_on_stop);
      send(p, m);
    }
  }

  void handle(Peer& p, schema::Envelope::Reader env) {
    switch (env.which()) {
      case schema::Envelope::SUBMIT:
        on_submit(p, env.getSubmit());
        break;
      case schema::Envelope::SUBMIT_BATCH:
        for (auto s : env.getSubmitBatch()) on_submit(p, s);
        break;
      case schema::Envelope::RESULT:
        if (p.role != schema::Role::WORKER) throw ProtocolError("a result from a client");
        on_result(p, env.getResult());
        schedule_dispatch();
        maybe_finish_stop();
        break;
      case schema::Envelope::RESULT_BATCH:
        if (p.role != schema::Role::WORKER) throw ProtocolError("a result from a client");
        for (auto r : env.getResultBatch()) on_result(p, r);
        schedule_dispatch();
        maybe_finish_stop();
        break;
      case schema::Envelope::REGISTER_WORKER:
        if (p.role != schema::Role::WORKER || p.welcomed) throw ProtocolError("unexpected registration");
        on_register(p, env.getRegisterWorker());
        break;
      case schema::Envelope::CANCEL:
        on_cancel(env.getCancel().getTaskId());
        break;
      case schema::Envelope::ACTOR_CREATE:
        on_actor_create(p, env.getActorCreate());
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
        if (p.role == schema::Role::WORKER) {
          auto hb = env.getHeartbeat();
          if (hb.getStarted() >= p.started) {
            p.started = hb.getStarted();
            p.running_reported = hb.getRunning();
          }
        }
        break;
      case schema::Envelope::SHUTDOWN:
        if (p.role == schema::Role::WORKER) {
          p.draining = true;
          log(worker_label(p) + " is draining: " + text(env.getShutdown().getReason()));
        }
        break;
      case schema::Envelope::BLOCKED: {
        // A plain task waits on other tasks: lend its slot (so that they can run there),
        // take it back when it goes on.
        auto b = env.getBlocked();
        auto it = tasks.find(b.getTaskId());
        if (p.role != schema::Role::WORKER || it == tasks.end() || it->second.worker != p.id ||
            it->second.state != TState::assigned || it->second.actor || it->second.actor_create ||
            functions[it->second.fn].coroutine || it->second.blocked == b.getBlocked())
          break;
        it->second.blocked = b.getBlocked();
        if (b.getBlocked()) {
          if (p.in_plain) --p.in_plain;
          schedule_dispatch();
        } else {
          ++p.in_plain;
        }
        break;
      }
      case schema::Envelope::ERROR:
        log("peer " + p.name + " reported: " + text(env.getError().getMessage()));
        if (env.getError().getFatal()) close_peer(p, "it reported a fatal error");
        break;
      default:
        throw ProtocolError("unexpected message: " + proto::describe(env));
    }
  }

  // An in-process peer: `to_client` receives its frames (on this engine's thread); the
  // returned function takes the client's frames (from any thread), an empty one closes.
  std::function<void(std::vector<std::uint64_t>&&)> connect_local(
      std::function<void(std::vector<std::uint64_t>&&)> to_client) {
    auto p = std::make_shared<Peer>(proto::Socket(ex));
    p->local = true;
    p->deliver = std::move(to_client);
    p->last_recv = p->last_send = steady_ns();
    return [engine = weak_from_this(), p](std::vector<std::uint64_t>&& words) {
      auto self = engine.lock();
      if (!self) return;
      asio::post(self->ex, [engine, p, words = std::move(words)]() mutable {
        auto self = engine.lock();
        if (!self || p->closed) return;
        if (words.empty()) {
          self->on_disconnect(p, "the client closed the connection");
          return;
        }
        try {
          capnp::FlatArrayMessageReader reader(
              kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(words.data()), words.size()));
          auto env = reader.getRoot<schema::Envelope>();
          proto::guarded([&] {
            p->last_recv = steady_ns();
            self->wall_cache = 0;
            if (!p->hello_done) {
              p->hello_done = true;
              self->hello(p, env);
            } else {
              self->handle(*p, env);
            }
          });
        } catch (const std::exception& e) {
          self->log(std::string("closing the in-process client: ") + e.what());
          self->on_disconnect(p, e.what());
        }
      });
    };
  }

  void start_peer(proto::Socket socket, bool tcp) {
    auto p = std::make_shared<Peer>(std::move(socket));
    p->tcp = tcp;
    p->last_recv = p->last_send = steady_ns();
    p->writer->on_error([engine = weak_from_this(), weak = std::weak_ptr<Peer>(p)](const std::error_code& ec) {
      auto self = engine.lock();
      if (auto p = weak.lock(); p && self) self->close_peer(*p, "write failed: " + ec.message());
    });
    asio::co_spawn(ex, serve(p), asio::detached);
  }

  asio::awaitable<void> accept_loop(remote::Listener* l) {
    for (;;) {
      bool failed = false;
      try {
        auto s = co_await l->accept();
        if (stopping) continue;  // the socket closes as it goes
        start_peer(std::move(s), l->is_tcp());
      } catch (const std::exception& e) {
        if (!stopping) log(std::string("accept failed: ") + e.what());
        failed = true;
      }
      if (stopping) co_return;
      if (!failed) continue;
      asio::steady_timer t(ex, std::chrono::milliseconds(10));  // after a failed accept (EMFILE...)
      co_await t.async_wait(asio::use_awaitable);
    }
  }

  asio::awaitable<void> housekeeping() {
    asio::steady_timer t(ex);
    while (!stopped) {
      t.expires_after(std::min(opt.heartbeat / 2, std::chrono::milliseconds(250)));
      try {
        co_await t.async_wait(asio::use_awaitable);
      } catch (...) {
        co_return;
      }
      if (stopped) co_return;
      auto now = steady_ns();
      auto hb = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(opt.heartbeat).count());
      auto dead = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(opt.heartbeat_timeout).count());
      std::vector<std::shared_ptr<Peer>> all;
      for (auto& [id, p] : peers) all.push_back(p);
      for (auto& p : all) {
        if (p->closed) continue;
        if (p->role == schema::Role::WORKER && now - p->last_recv > dead) {
          close_peer(*p, "no heartbeat for " + std::to_string(opt.heartbeat_timeout.count()) + " ms");
          continue;
        }
        if (now - p->last_send > hb) {
          capnp::MallocMessageBuilder msg;
          msg.initRoot<schema::Envelope>().initHeartbeat().setSentNs(remote::wall_ns());
          send(*p, msg);
        }
      }
      // Functions no live worker registered.
      auto wait = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(opt.unregistered_wait).count());
      if (any_live_worker()) {
        for (std::uint32_t i = 0; i < functions.size(); ++i) {
          auto& f = functions[i];
          if (f.ready.empty() || !f.workers.empty()) continue;
          if (f.unserved_since == 0) f.unserved_since = now;
          if (now - f.unserved_since < wait) continue;
          fail_unregistered(i);
        }
        for (auto aid : std::vector<std::uint64_t>(unplaced_actors)) {
          auto it = actors.find(aid);
          if (it == actors.end() || it->second.dead || now - it->second.waiting_since < wait) continue;
          auto& a = it->second;
          std::string msg = "actor type '" + a.cls + "' is not registered (asked: " + worker_list() +
                            "): register it with SHOAL_ACTOR in a library the worker loads";
          if (auto t = tasks.find(a.create_task); t != tasks.end())
            finish(a.create_task, TState::failed, {}, error_info("shoal::NotRegistered", msg, t->second, "failed"));
          kill_actor(a, msg);
          std::erase(unplaced_actors, aid);
        }
      }
      // Expired results: detached ones past the TTL.
      auto ttl = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(opt.result_ttl).count());
      std::vector<std::uint64_t> expired;
      for (auto& [id, t] : tasks)
        if (finished(t.state) && t.detached && t.holders == 0 && now - t.finished_steady > ttl) expired.push_back(id);
      for (auto id : expired) tasks.erase(id);
    }
  }

  void fail_unregistered(std::uint32_t i) {
    auto& f = functions[i];
    // The same name under another signature?
    std::string other;
    for (auto& g : functions)
      if (g.name == f.name && g.hash != f.hash && !g.workers.empty()) other = g.signature;
    auto ids = std::move(f.ready);
    f.ready.clear();
    f.unserved_since = 0;
    for (auto id : ids) {
      auto it = tasks.find(id);
      if (it == tasks.end() || it->second.state != TState::queued) continue;
      if (!other.empty()) {
        finish(id, TState::failed, {},
               error_info("shoal::TypeMismatch",
                          "'" + f.name + "' is " + other + " in the workers, but the caller's signature differs (hash " +
                              std::to_string(f.hash) + "): rebuild the caller or the task library so that they agree",
                          it->second, "failed"));
      } else {
        NotRegistered e(f.name, worker_list());
        finish(id, TState::failed, {}, error_info("shoal::NotRegistered", e.what(), it->second, "failed"));
      }
    }
  }

  // ---- stopping ----

  void begin_stop(std::chrono::milliseconds grace) {
    if (stopping) {
      // A second stop: no more grace.
      if (stop_timer) stop_timer->cancel();
      finish_stop();
      return;
    }
    stopping = true;
    log("stopping: " + std::to_string(grace.count()) + " ms for running tasks");
    for (auto& l : listeners) l->close();
    std::vector<std::uint64_t> waiting;
    for (auto& [id, t] : tasks)
      if (t.state == TState::waiting || t.state == TState::queued) waiting.push_back(id);
    for (auto id : waiting) finish(id, TState::cancelled, {}, std::nullopt);
    for (auto aid : std::vector<std::uint64_t>(unplaced_actors))
      if (auto it = actors.find(aid); it != actors.end()) kill_actor(it->second, "the coordinator is shutting down");
    stop_timer = std::make_unique<asio::steady_timer>(ex, grace);
    stop_timer->async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->finish_stop();
    });
    maybe_finish_stop();
  }

  void maybe_finish_stop() {
    if (!stopping || stopped) return;
    for (auto& [id, t] : tasks)
      if (t.state == TState::assigned && !t.actor && !t.actor_create) return;
    asio::post(ex, [self = shared_from_this()] { self->finish_stop(); });
  }

  void finish_stop() {
    if (stopped) return;
    stopped = true;
    if (stop_timer) stop_timer->cancel();
    std::vector<std::uint64_t> running;
    for (auto& [id, t] : tasks)
      if (!finished(t.state)) running.push_back(id);
    for (auto id : running) finish(id, TState::cancelled, {}, std::nullopt);
    std::vector<std::shared_ptr<Peer>> all;
    for (auto& [id, p] : peers) all.push_back(p);
    for (auto& p : all) {
      flush(*p);
      if (p->role == schema::Role::WORKER) {
        capnp::MallocMessageBuilder msg;
        auto s = msg.initRoot<schema::Envelope>().initShutdown();
        s.setReason("the coordinator is shutting down");
        s.setExit(opt.exit_workers_on_stop);
        send(*p, msg);
      }
    }
    // Let the last frames leave, then close everything.
    auto drain = [self = shared_from_this(), all]() -> asio::awaitable<void> {
      for (auto& p : all) {
        if (p->closed) continue;
        try {
          asio::steady_timer t(self->ex, std::chrono::milliseconds(500));
          auto done = std::make_shared<bool>(false);
          asio::co_spawn(self->ex, [p, done]() -> asio::awaitable<void> {
            try { co_await p->writer->drain(); } catch (...) {}
            *done = true;
          }, asio::detached);
          while (!*done && t.expiry() > std::chrono::steady_clock::now()) {
            asio::steady_timer tick(self->ex, std::chrono::milliseconds(1));
            co_await tick.async_wait(asio::use_awaitable);
          }
        } catch (...) {
        }
      }
      for (auto& p : all) self->close_peer(*p, "the coordinator stopped");
      self->drained = true;
      if (self->wake) self->wake->cancel();
      log_stopped(*self);
    };
    asio::co_spawn(ex, drain, asio::detached);
  }

  static void log_stopped(Engine& e) { e.log("stopped"); }
};

Coordinator::Coordinator(asio::any_io_executor ex, CoordinatorOptions options)
    : engine_(std::make_shared<Engine>(std::move(ex), std::move(options))) {}

Coordinator::~Coordinator() {
  for (auto& l : engine_->listeners) l->close();
}

void Coordinator::start() {
  auto& e = *engine_;
  std::vector<std::string> addrs = e.opt.listen;
  if (addrs.empty() && e.opt.listen_default) addrs.push_back(remote::default_address());
  for (auto& a : addrs) {
    auto addr = remote::parse_address(a);
    if (addr.kind == remote::Address::Kind::tcp && e.opt.token.empty())
      throw ValueError("listening on " + a + " needs a token (--token-file): TCP peers must prove they know it");
    e.listeners.push_back(std::make_unique<remote::Listener>(e.ex, addr));
  }
}

asio::awaitable<void> Coordinator::run() {
  auto e = engine_;
  for (auto& l : e->listeners) asio::co_spawn(e->ex, e->accept_loop(l.get()), asio::detached);
  asio::co_spawn(e->ex, e->housekeeping(), asio::detached);
  e->wake = std::make_unique<asio::steady_timer>(e->ex, std::chrono::steady_clock::time_point::max());
  while (!e->drained) {
    try {
      co_await e->wake->async_wait(asio::use_awaitable);
    } catch (...) {
    }
  }
  // The drain coroutine closes the peers; give it the turn it needs.
  asio::steady_timer settle(e->ex, std::chrono::milliseconds(1));
  co_await settle.async_wait(asio::use_awaitable);
}

void Coordinator::stop() { engine_->begin_stop(engine_->opt.grace); }

void Coordinator::stop_now() {
  engine_->begin_stop(std::chrono::milliseconds(0));
}

std::function<void(std::vector<std::uint64_t>&&)> Coordinator::connect_local(
    std::function<void(std::vector<std::uint64_t>&&)> to_client) {
  return engine_->connect_local(std::move(to_client));
}

void Coordinator::adopt(proto::Socket socket) {
  asio::post(engine_->ex, [e = engine_, s = std::make_shared<proto::Socket>(std::move(socket))]() mutable {
    e->start_peer(std::move(*s), false);
  });
}

asio::any_io_executor Coordinator::executor() const { return engine_->ex; }

std::vector<std::string> Coordinator::addresses() const {
  std::vector<std::string> out;
  for (auto& l : engine_->listeners) out.push_back(l->address().to_string());
  return out;
}

}  // namespace shoal::coordinator
