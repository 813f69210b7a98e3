// A real client in the simulated world (peers.hpp): remote::Client's ClientCore on a loop
// of its own, its connections relayed over the network; a script of what a program does
// with it, and the checks of what reaches it.

#include <capnp/message.h>

#include <algorithm>
#include <exception>

#include "peers.hpp"
#include "relay.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/link/timer.hpp"
#include "shoal/remote/client.hpp"

namespace shoal::sim {

namespace {
constexpr std::uint64_t kReconnectFor = 30'000;  // ms: ClientOptions::reconnect
using Call = remote::detail::RemoteCall<Bytes>;
}  // namespace

// One remote::Client of the program: its loop, and its core on it.
struct SimClient::Life {
  Loop loop;
  std::unique_ptr<link::Timer> kicker;
  std::shared_ptr<remote::detail::ClientCore> core;
  std::unique_ptr<Relay> relay;  // its connections' ends live on the loop: dropped before it

  ~Life() {
    relay->silence();
    if (core) core->close();  // on this thread, between polls: as DialledLink asks
    loop.shutdown();          // runs what it left queued: the core and the relay (silent) are still here
    kicker.reset();
    core.reset();  // the futures still held keep only a weak reference to it
    relay.reset();
  }
};

SimClient::SimClient(World& w, int index, Rng rng, bool gpu_cluster, std::uint64_t work_until)
    : w_(w), name_("c" + std::to_string(index)), rng_(rng), gpu_cluster_(gpu_cluster), work_until_(work_until) {}

SimClient::~SimClient() {
  tasks_.clear();  // their futures first: a release reaches a client still there
  dead_.clear();
  life_.reset();
}

void SimClient::start() {
  w_.event(name_ + " starts");
  open();
  w_.at(w_.now() + rng_.range(10 * kMs, 300 * kMs), [this] { submit_batch(); });
}

void SimClient::open() {
  if (life_) {
    life_->relay->process_gone(name_ + "'s client was given up");
    dead_.push_back(std::move(life_));
  }
  current = 0;
  life_ = std::make_unique<Life>();
  life_->relay = std::make_unique<Relay>(w_, *this);
  life_->relay->outbound = [this](schema::Envelope::Reader env) { outbound(env); };
  life_->kicker = std::make_unique<link::Timer>(life_->loop.get_executor());
  ClientOptions o;
  o.name = name_;
  o.reconnect = std::chrono::milliseconds(kReconnectFor);
  life_->core = std::make_shared<remote::detail::ClientCore>("sim://coordinator", std::move(o));
  auto* life = life_.get();
  life_->core->start_dialled({"sim://coordinator", life_->loop.get_executor(),
                              [this, life]() -> std::shared_ptr<link::Connection> {
                                return life == life_.get() ? life->relay->dial(life->loop.get_executor()) : nullptr;
                              }});
  dirty = true;
}

// What the client sends: seen on its way (what it asks for again, where it sent a task),
// then over the network.
void SimClient::outbound(schema::Envelope::Reader env) {
  auto sent = [this](std::uint64_t id) {
    if (auto it = tasks_.find(id); it != tasks_.end()) it->second.sent_generation = w_.coordinator_generation();
  };
  switch (env.which()) {
    case schema::Envelope::SUBMIT:
      sent(env.getSubmit().getTaskId());
      break;
    case schema::Envelope::SUBMIT_BATCH:
      for (auto s : env.getSubmitBatch()) sent(s.getTaskId());
      break;
    case schema::Envelope::ACTOR_CREATE:
      sent(env.getActorCreate().getTaskId());
      break;
    case schema::Envelope::SUBSCRIBE:
      // Asked for again (a reconnect): one copy of its result may cross the one on its way.
      for (auto id : env.getSubscribe().getTaskIds())
        if (auto it = tasks_.find(id); it != tasks_.end()) {
          resubscribed_.insert(id);
          ++it->second.copies_allowed;
        }
      break;
    default:
      break;
  }
}

void SimClient::on_message(schema::Envelope::Reader env) {
  if (!life_ || !life_->relay->live()) return;  // the client it was for is gone: nothing reaches it, nothing to check
  switch (env.which()) {
    case schema::Envelope::WELCOME:
      if (peer_id_ == 0) peer_id_ = env.getWelcome().getPeerId();
      break;
    case schema::Envelope::ACCEPTED: {
      std::uint64_t highest = 0;
      for (auto id : env.getAccepted()) {
        if (id >> 32 != peer_id_) w_.violation(name_ + " was told task " + std::to_string(id) + " of another client was accepted");
        highest = std::max(highest, id);
      }
      if (highest > highest_id_) w_.violation(name_ + " was told task " + std::to_string(highest) + ", which it never submitted, was accepted");
      // Every submit and actor's create up to highest.
      for (auto it = tasks_.begin(); it != tasks_.end() && it->first <= highest; ++it) it->second.acked = true;
      break;
    }
    case schema::Envelope::RESULT:
      on_result(env.getResult());
      break;
    case schema::Envelope::RESULT_BATCH:
      for (auto r : env.getResultBatch()) on_result(r);
      break;
    case schema::Envelope::HEARTBEAT:
    case schema::Envelope::CATALOG:
    case schema::Envelope::SHUTDOWN:
    case schema::Envelope::ERROR:
      break;
    default:
      w_.violation(name_ + " got a message no client expects: " + describe(env));
  }
  // On to the client, in the order seen here: a close delivers what was sent before it,
  // so the first result seen here is the first the client reads.
  life_->relay->deliver(env);
  dirty = true;
}

void SimClient::on_closed(const std::string& why) {
  w_.event(name_ + " lost its connection: " + why);
  if (!life_) return;
  life_->relay->engine_closed(why);
  dirty = true;
}

bool SimClient::poll() {
  if (!life_) return false;
  return life_->loop.poll() > 0;
}

void SimClient::kick() {
  if (life_) link::kick_timers(*life_->kicker);
}

void SimClient::reap() { dead_.clear(); }

void SimClient::submit_batch() {
  harvest();
  if (gave_up_ || w_.now() >= work_until_) {
    script_done_ = true;
    return;
  }
  auto& core = *life_->core;
  if (core.closed()) {
    if (core.peer_id() == 0) {
      // Refused, or its connection lost before the welcome: as a program whose
      // Client(address) threw, it makes another.
      w_.event(name_ + "'s client was not welcomed: a new one");
      open();
    } else {
      // It gave up (the coordinator was not back in time): its futures say so.
      w_.event(name_ + "'s client gave up");
      gave_up_ = true;
      script_done_ = true;
      return;
    }
  }
  if (life_->core->peer_id() == 0) {  // task ids are made of the client's peer id
    w_.at(w_.now() + 50 * kMs, [this] { submit_batch(); });
    return;
  }
  if (!actors_made_) create_actors();
  auto n = rng_.range(1, 8);
  for (std::uint64_t i = 0; i < n; ++i) {
    Task t;
    if (!actors_.empty() && rng_.percent(20)) {
      // A call on one of its actors: they must run in the order they were made.
      auto& a = actors_[rng_.below(actors_.size())];
      t.actor = a.id;
      t.spec.seq = ++a.calls;
      t.spec.run_ms = static_cast<std::uint32_t>(rng_.range(0, 60));
      t.spec.behaviour = rng_.percent(5) ? TaskSpec::throws : TaskSpec::ok;
      t.spec.value = rng_.next();
      submit(std::move(t));
      continue;
    }
    t.spec.run_ms = static_cast<std::uint32_t>(rng_.percent(70) ? rng_.range(0, 50) : rng_.range(50, 400));
    auto b = rng_.below(100);
    t.spec.behaviour = b < 6 ? TaskSpec::throws : b < 9 ? TaskSpec::crashes : TaskSpec::ok;
    t.spec.gpu = rng_.percent(gpu_cluster_ ? 15 : 2) ? 1 : 0;
    t.spec.value = rng_.next();
    if (!tasks_.empty() && rng_.percent(25)) {
      // One or two earlier tasks of this client, not released (a dependency never is).
      for (auto k = rng_.range(1, 2); k > 0; --k) {
        auto it = tasks_.begin();
        std::advance(it, static_cast<long>(rng_.below(tasks_.size())));
        // Not an actor's create: its "value" is the engine's (empty when a restarted
        // coordinator adopts the actor), not a task's, and no API passes it on.
        if (it->second.released || it->second.creates_actor ||
            std::find(t.deps.begin(), t.deps.end(), it->first) != t.deps.end())
          continue;
        it->second.is_dep = true;
        t.deps.push_back(it->first);
      }
    }
    bool cancel = rng_.percent(3);
    auto cancel_at = w_.now() + rng_.range(0, 300 * kMs);
    submit(std::move(t));
    if (cancel) {
      auto id = highest_id_;
      w_.at(cancel_at, [this, id] {
        auto& task = tasks_.at(id);
        if (task.future && !task.future->done()) task.future->cancel();  // a request to the coordinator
        dirty = true;  // the client sends it from its loop
      });
    }
  }
  dirty = true;  // the client sends them from its loop
  w_.at(w_.now() + rng_.range(10 * kMs, 800 * kMs), [this] { submit_batch(); });
}

void SimClient::submit(Task t) {
  auto& core = life_->core;
  auto state = shoal::detail::Ref<Call>::adopt(new Call());
  state->task_id = core->next_id();
  state->core = core;
  t.id = state->task_id;
  highest_id_ = std::max(highest_id_, t.id);
  t.future.emplace(Future<Bytes>::from_state(state));
  auto deps = t.deps;
  auto args = call_args(t.spec, deps.size());
  auto actor = t.actor;
  TaskOptions o;
  if (t.spec.gpu) o.resources["gpu"] = 1;
  auto id = t.id;
  tasks_.emplace(id, std::move(t));
  if (actor)
    core->submit(state, &Call::complete_raw, std::string(kActorClass) + ".add", method_hash(), std::move(args),
                 std::move(deps), TaskOptions{}, actor, "add");
  else
    core->submit(state, &Call::complete_raw, "sim.work", work_hash(), std::move(args), std::move(deps), o);
}

void SimClient::create_actors() {
  actors_made_ = true;
  auto type = registry().find_actor(kActorClass);
  for (auto n = rng_.percent(60) ? rng_.range(1, 2) : 0; n > 0; --n) {
    auto& core = life_->core;
    // As Client::spawn makes one: its readiness a task of the client's, then its id.
    auto ready = shoal::detail::Ref<Call>::adopt(new Call());
    ready->task_id = core->next_id();
    ready->core = core;
    MyActor a;
    a.id = core->next_id();
    Task create;
    create.id = ready->task_id;
    create.creates_actor = true;
    create.actor = a.id;
    create.is_dep = true;  // never released
    create.future.emplace(Future<Bytes>::from_state(ready));
    highest_id_ = std::max(highest_id_, a.id);
    ActorOptions o;
    auto restarts = rng_.below(3);
    o.max_restarts = restarts == 2 ? -1 : static_cast<int>(restarts);
    o.max_task_retries = rng_.percent(50) ? 1 : 0;
    w_.event(name_ + " creates actor " + std::to_string(a.id));
    tasks_.emplace(create.id, std::move(create));
    actors_.push_back(a);
    core->actor_create(a.id, type, create_args(), ready,
                       &Call::complete_raw, o);
  }
}

// What the client's futures say, against what the engine sent it.
void SimClient::harvest() {
  for (auto& [id, t] : tasks_) {
    if (t.harvested || !t.future || !t.future->done()) continue;
    t.harvested = true;
    auto& f = *t.future;
    auto what = "task " + std::to_string(id) + " of " + name_;
    // The client keeps the first outcome it read, which is the first seen here.
    bool first_value = t.first_kind == static_cast<int>(schema::Result::VALUE);
    bool first_error = t.first_kind == static_cast<int>(schema::Result::ERROR);
    bool first_cancel = t.first_kind == static_cast<int>(schema::Result::CANCELLED);
    if (f.cancelled()) {
      if (!first_cancel && !first_error)
        w_.violation("the client's future of " + what + " was cancelled, but its first result was not that");
    } else if (auto e = f.exception()) {
      try {
        std::rethrow_exception(e);
      } catch (const ConnectionError& lost) {
        // The coordinator lost it (CoordinatorLost), or the client gave up on it: only
        // when no result came, or the first said the coordinator no longer knew it.
        if (t.end == End::pending) {
          t.end = End::lost;
          if (w_.journaled() && t.acked)
            w_.violation(what + " was accepted by a journaled coordinator and then lost: " + lost.what());
        } else if (t.end != End::lost) {
          w_.violation("the client's future of " + what + " failed with ConnectionError (" + lost.what() +
                       ") though its result had come");
        }
      } catch (const std::exception& other) {
        if (!first_error)
          w_.violation("the client's future of " + what + " failed (" + other.what() + ") but its first result was no error");
      } catch (...) {
        w_.violation("the client's future of " + what + " failed with something that is not a std::exception");
      }
    } else {
      auto& v = f.result();
      std::string got(reinterpret_cast<const char*>(v.data()), v.size());
      std::uint64_t decoded = 0, want = 0;
      if (!first_value || got != t.first_outcome)
        w_.violation("the client's future of " + what + " holds a value that is not the first outcome it was sent");
      else if (!t.creates_actor && (!decode_value(v.data(), v.size(), decoded) || !expected(t, want) || decoded != want))
        w_.violation("the client's future of " + what + " holds a value that is not the one due");
    }
    if (!t.is_dep && rng_.percent(50)) {
      t.released = true;
      t.future.reset();  // the last reference: the client releases it on the coordinator
      dirty = true;
    }
  }
}

bool SimClient::expected(const Task& t, std::uint64_t& value) const {
  if (t.spec.behaviour == TaskSpec::throws) return false;
  value = t.spec.value;
  for (std::size_t i = 0; i < t.deps.size(); ++i) {
    std::uint64_t v = 0;
    if (!expected(tasks_.at(t.deps[i]), v)) return false;
    value ^= dep_mix(v, i);
  }
  return true;
}

void SimClient::on_result(schema::Result::Reader r) {
  auto id = r.getTaskId();
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return w_.violation(name_ + " got the result of task " + std::to_string(id) + ", which it never submitted");
  auto& t = it->second;
  bool asked_again = resubscribed_.erase(id) > 0;
  auto kind = static_cast<int>(r.which());
  std::string outcome = r.isValue()   ? std::string(reinterpret_cast<const char*>(r.getValue().begin()), r.getValue().size())
                        : r.isError() ? std::string(r.getError().getTypeName())
                                      : std::string();
  if (t.end != End::pending) {
    if (t.first_generation != w_.coordinator_generation()) {
      // Run again by a coordinator restarted on its journal before it wrote the task's
      // end (at least once; remote::Client keeps the first): a value must still be due.
      std::uint64_t got = 0, want = 0;
      if (r.isValue() && !t.creates_actor && decode_value(r.getValue().begin(), r.getValue().size(), got) && expected(t, want) && got != want)
        w_.violation("task " + std::to_string(id) + " ran again and returned " + std::to_string(got) + " where " +
                     std::to_string(want) + " was due");
      return;
    }
    // Asked for again after a reconnect, one copy may cross the one already on its way;
    // any other is the engine sending it twice. A copy is the same outcome.
    if (t.copies_allowed <= 0)
      w_.violation(name_ + " got the result of task " + std::to_string(id) + " a second time");
    else if (kind != t.first_kind || outcome != t.first_outcome)
      w_.violation(name_ + " got two different outcomes for task " + std::to_string(id));
    --t.copies_allowed;
    return;
  }
  t.first_kind = kind;
  t.first_outcome = outcome;
  t.first_generation = w_.coordinator_generation();
  switch (r.which()) {
    case schema::Result::VALUE: {
      std::uint64_t got = 0, want = 0;
      if (t.creates_actor) {
        t.end = End::done;
        break;
      }
      if (!decode_value(r.getValue().begin(), r.getValue().size(), got) || !expected(t, want))
        w_.violation("task " + std::to_string(id) + " returned a value it cannot have (it or a dependency throws)");
      else if (got != want)
        w_.violation("task " + std::to_string(id) + " returned " + std::to_string(got) + " where " + std::to_string(want) + " was due");
      t.end = End::done;
      break;
    }
    case schema::Result::ERROR: {
      auto e = r.getError();
      std::string type = e.getTypeName();
      std::string message = e.getMessage();
      if (asked_again && message.find(link::kUnknownTask) != std::string::npos) {
        t.end = End::lost;
        if (w_.journaled() && t.acked)
          w_.violation("task " + std::to_string(id) + " was accepted by a journaled coordinator and then lost: " + message);
        else if (t.sent_generation == w_.coordinator_generation())
          w_.violation("task " + std::to_string(id) + " was lost by the coordinator it was sent to, which never restarted: " + message);
        break;
      }
      t.end = End::failed;
      t.error = type;
      if (type.empty()) w_.violation("task " + std::to_string(id) + " failed with an untyped error: " + message);
      if (t.actor && !t.creates_actor && message.find("is not on this worker") != std::string::npos)
        w_.violation("call " + std::to_string(id) + " on actor " + std::to_string(t.actor) +
                     " was sent to a worker that does not host it: " + message);
      std::uint64_t unused = 0;
      if (type == kSimErrorType && expected(t, unused))
        w_.violation("task " + std::to_string(id) + " failed with SimError and neither it nor a dependency throws");
      break;
    }
    case schema::Result::CANCELLED:
      t.end = End::cancelled;
      break;
    default:
      w_.violation(name_ + " got a result no client expects for task " + std::to_string(id));
      t.end = End::failed;
  }
}

bool SimClient::settled() {
  harvest();
  if (!script_done_) return false;
  return std::all_of(tasks_.begin(), tasks_.end(), [](const auto& kv) { return !kv.second.future || kv.second.future->done(); });
}

void SimClient::check_end() {
  harvest();
  for (auto& [id, t] : tasks_) {
    if (t.end == End::failed && t.error == "shoal::DependencyFailed" && !t.deps.empty() &&
        (w_.journaled() || w_.coordinator_generation() == 1) &&
        std::all_of(t.deps.begin(), t.deps.end(), [&](std::uint64_t d) { return tasks_.at(d).end == End::done; }))
      w_.violation("task " + std::to_string(id) + " of " + name_ +
                   " failed with DependencyFailed though every dependency returned a value");
    ++w_.report.tasks;
    if (t.end == End::done) ++w_.report.done;
    if (t.end == End::failed) ++w_.report.failed;
    if (t.future && !t.future->done())
      w_.violation("task " + std::to_string(id) + " of " + name_ + (t.acked ? " was accepted and" : "") +
                   " never ended");
  }
}

}  // namespace shoal::sim
