#include <capnp/message.h>

#include <algorithm>

#include "peers.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::sim {

namespace {
constexpr std::uint64_t kReconnectFor = 30'000 * kMs;  // remote::ClientOptions::reconnect's part here
}  // namespace

SimClient::SimClient(World& w, int index, Rng rng, bool gpu_cluster, std::uint64_t work_until)
    : w_(w), name_("c" + std::to_string(index)), rng_(rng), gpu_cluster_(gpu_cluster), work_until_(work_until) {}

void SimClient::start() {
  w_.event(name_ + " starts");
  connect();
  w_.at(w_.now() + rng_.range(10 * kMs, 300 * kMs), [this] { submit_batch(); });
}

void SimClient::connect() {
  if (lost_ || link_) return;
  link_ = w_.connect(*this);
  if (!link_) {
    w_.at(w_.now() + backoff_, [this] { connect(); });
    backoff_ = std::min(backoff_ * 2, 2000 * kMs);
    return;
  }
  hello();
}

void SimClient::hello() {
  capnp::MallocMessageBuilder msg;
  auto h = msg.initRoot<schema::Envelope>().initHello();
  h.setProtocolVersion(schema::PROTOCOL_VERSION);
  h.setRole(schema::Role::CLIENT);
  h.setName(name_);
  h.setHost("sim-host");
  h.setPid(500);
  h.setResumePeerId(peer_id_);
  std::string nonce;
  for (int i = 0; i < 4; ++i) nonce += u64_bytes(rng_.next());
  h.setNonce(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(nonce.data()), nonce.size()));
  link_->send(msg);
}

void SimClient::submit_batch() {
  if (lost_ || w_.now() >= work_until_) {
    script_done_ = true;
    return;
  }
  if (peer_id_ == 0) {  // task ids are made of the client's peer id
    w_.at(w_.now() + 50 * kMs, [this] { submit_batch(); });
    return;
  }
  if (!actors_made_ && welcomed_) create_actors();
  std::vector<std::uint64_t> fresh;
  auto n = rng_.range(1, 8);
  for (std::uint64_t i = 0; i < n; ++i) {
    Task t;
    t.id = (peer_id_ << 32) | ++seq_;
    if (!actors_.empty() && rng_.percent(20)) {
      // A call on one of its actors: they must run in the order they were made.
      auto& a = actors_[rng_.below(actors_.size())];
      t.actor = a.id;
      t.spec.seq = ++a.calls;
      t.spec.run_ms = static_cast<std::uint32_t>(rng_.range(0, 60));
      t.spec.behaviour = rng_.percent(5) ? TaskSpec::throws : TaskSpec::ok;
      t.spec.value = rng_.next();
      fresh.push_back(t.id);
      unacked_.push_back(t.id);
      tasks_.emplace(t.id, std::move(t));
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
    if (rng_.percent(3)) {
      auto id = t.id;
      w_.at(w_.now() + rng_.range(0, 300 * kMs), [this, id] {
        auto& task = tasks_.at(id);
        if (task.end != End::pending || !welcomed_ || !link_) return;
        task.cancel_sent = true;
        capnp::MallocMessageBuilder msg;
        msg.initRoot<schema::Envelope>().initCancel().setTaskId(id);
        link_->send(msg);
      });
    }
    fresh.push_back(t.id);
    unacked_.push_back(t.id);
    tasks_.emplace(t.id, std::move(t));
  }
  if (welcomed_) send_submits(fresh);
  if (welcomed_ && !to_release_.empty()) {
    capnp::MallocMessageBuilder msg;
    auto l = msg.initRoot<schema::Envelope>().initRelease().initTasks(static_cast<unsigned>(to_release_.size()));
    for (unsigned i = 0; i < to_release_.size(); ++i) l.set(i, to_release_[i]);
    link_->send(msg);
    to_release_.clear();
  }
  w_.at(w_.now() + rng_.range(10 * kMs, 800 * kMs), [this] { submit_batch(); });
}

void SimClient::create_actors() {
  actors_made_ = true;
  for (auto n = rng_.percent(60) ? rng_.range(1, 2) : 0; n > 0; --n) {
    MyActor a;
    a.id = (peer_id_ << 32) | ++seq_;
    Task create;
    create.id = (peer_id_ << 32) | ++seq_;
    create.creates_actor = true;
    create.actor = a.id;
    create.is_dep = true;  // never released
    auto restarts = rng_.below(3);
    create.max_restarts = restarts == 2 ? -1 : static_cast<std::int32_t>(restarts);
    create.max_task_retries = rng_.percent(50) ? 1 : 0;
    w_.event(name_ + " creates actor " + std::to_string(a.id));
    send_create(create);
    // Kept until acknowledged and sent again after a reconnect, as remote::Client does.
    unacked_.push_back(create.id);
    tasks_.emplace(create.id, std::move(create));
    actors_.push_back(a);
  }
}

void SimClient::send_create(const Task& create) {
  capnp::MallocMessageBuilder msg;
  auto c = msg.initRoot<schema::Envelope>().initActorCreate();
  c.setActorId(create.actor);
  c.setClassName(kActorClass);
  c.setConstructorHash(actor_hash());
  c.setArgs(link::data(create_args()));
  c.setTaskId(create.id);
  c.setMaxRestarts(create.max_restarts);
  c.setMaxTaskRetries(create.max_task_retries);
  c.setMaxConcurrency(1);
  link_->send(msg);
}

void SimClient::send_submits(const std::vector<std::uint64_t>& ids) {
  std::vector<std::uint64_t> submits;
  for (auto id : ids) {
    auto& t = tasks_.at(id);
    if (t.creates_actor) {
      t.sent_generation = w_.coordinator_generation();
      send_create(t);  // before the calls sent with it
    } else {
      submits.push_back(id);
    }
  }
  for (std::size_t at = 0; at < submits.size(); at += 256) {
    auto n = std::min<std::size_t>(256, submits.size() - at);
    capnp::MallocMessageBuilder msg;
    auto list = msg.initRoot<schema::Envelope>().initSubmitBatch(static_cast<unsigned>(n));
    for (unsigned i = 0; i < n; ++i) {
      auto& t = tasks_.at(submits[at + i]);
      t.sent_generation = w_.coordinator_generation();
      auto s = list[i];
      s.setTaskId(t.id);
      s.setFunction("sim.work");
      s.setSignatureHash(work_hash());
      s.setArgs(link::data(call_args(t.spec, t.deps.size())));
      auto deps = s.initDeps(static_cast<unsigned>(t.deps.size()));
      for (unsigned k = 0; k < t.deps.size(); ++k) deps.set(k, t.deps[k]);
      if (t.actor) {
        s.setActorId(t.actor);
        s.setMethod("add");
        s.setSignatureHash(method_hash());
      }
      auto o = s.initOptions();
      o.setRetries(-1);
      if (t.spec.gpu) {
        auto r = o.initResources(1)[0];
        r.setName("gpu");
        r.setAmount(1);
      }
    }
    link_->send(msg);
  }
}

void SimClient::on_message(schema::Envelope::Reader env) {
  switch (env.which()) {
    case schema::Envelope::WELCOME: {
      auto w = env.getWelcome();
      backoff_ = 50 * kMs;
      away_since_ = 0;
      if (peer_id_ == 0) {
        peer_id_ = w.getPeerId();
        welcomed_ = true;
        break;
      }
      if (w.getPeerId() != peer_id_) return become_lost("the coordinator did not let it take its identity back");
      welcomed_ = true;
      // What the coordinator may not have got, in order, unless it answered already (as
      // remote::Client does); then every result still awaited.
      std::vector<std::uint64_t> resend;
      for (auto id : unacked_)
        if (tasks_.at(id).end == End::pending) resend.push_back(id);
      unacked_.assign(resend.begin(), resend.end());
      send_submits(resend);
      std::vector<std::uint64_t> again;
      for (auto& [id, t] : tasks_) {
        if (t.end != End::pending) continue;
        resubscribed_.insert(id);  // each time: a subscribe on a link that broke got no answer
        ++t.copies_allowed;
        again.push_back(id);
      }
      if (!again.empty()) {
        capnp::MallocMessageBuilder msg;
        auto l = msg.initRoot<schema::Envelope>().initSubscribe().initTaskIds(static_cast<unsigned>(again.size()));
        for (unsigned i = 0; i < again.size(); ++i) l.set(i, again[i]);
        link_->send(msg);
      }
      // And the cancels of tasks not ended (a restarted coordinator may not know them).
      for (auto id : again)
        if (tasks_.at(id).cancel_sent) {
          capnp::MallocMessageBuilder msg;
          msg.initRoot<schema::Envelope>().initCancel().setTaskId(id);
          link_->send(msg);
        }
      break;
    }
    case schema::Envelope::ACCEPTED: {
      std::uint64_t highest = 0;
      for (auto id : env.getAccepted()) {
        if (id >> 32 != peer_id_) w_.violation(name_ + " was told task " + std::to_string(id) + " of another client was accepted");
        highest = std::max(highest, id);
      }
      if (highest > (peer_id_ << 32) + seq_) w_.violation(name_ + " was told task " + std::to_string(highest) + ", which it never submitted, was accepted");
      // Every submit and actor's create up to highest.
      for (auto it = tasks_.begin(); it != tasks_.end() && it->first <= highest; ++it) it->second.acked = true;
      while (!unacked_.empty() && unacked_.front() <= highest) unacked_.pop_front();
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
  if (!t.is_dep && rng_.percent(50)) {
    t.released = true;
    to_release_.push_back(id);
  }
}

void SimClient::on_closed(const std::string& why) {
  w_.event(name_ + " lost its connection: " + why);
  link_ = nullptr;
  welcomed_ = false;
  if (lost_) return;
  if (peer_id_ != 0) {
    if (away_since_ == 0) away_since_ = w_.now();
    if (w_.now() - away_since_ > kReconnectFor) return become_lost("the coordinator was not back within 30 s");
  }
  w_.at(w_.now() + backoff_, [this] { connect(); });
  backoff_ = std::min(backoff_ * 2, 2000 * kMs);
}

void SimClient::become_lost(const std::string& why) {
  w_.event(name_ + " is lost: " + why);
  lost_ = true;
  script_done_ = true;
  for (auto& [id, t] : tasks_) {
    if (t.end != End::pending) continue;
    t.end = End::lost;  // CoordinatorLost, as remote::Client fails them
    if (w_.journaled() && t.acked)
      w_.violation("task " + std::to_string(id) + " was accepted by a journaled coordinator and then lost with " +
                   name_ + ": " + why);
  }
  if (link_) w_.break_link(*link_, "the client gave up", false);
  link_ = nullptr;
  current = 0;
}

bool SimClient::settled() const {
  if (lost_) return true;
  if (!script_done_) return false;
  return std::all_of(tasks_.begin(), tasks_.end(), [](const auto& kv) { return kv.second.end != End::pending; });
}

void SimClient::check_end() {
  for (auto& [id, t] : tasks_) {
    if (t.end == End::failed && t.error == "shoal::DependencyFailed" && !t.deps.empty() &&
        (w_.journaled() || w_.coordinator_generation() == 1) &&
        std::all_of(t.deps.begin(), t.deps.end(), [&](std::uint64_t d) { return tasks_.at(d).end == End::done; }))
      w_.violation("task " + std::to_string(id) + " of " + name_ +
                   " failed with DependencyFailed though every dependency returned a value");
    ++w_.report.tasks;
    if (t.end == End::done) ++w_.report.done;
    if (t.end == End::failed) ++w_.report.failed;
    if (t.end == End::pending)
      w_.violation("task " + std::to_string(id) + " of " + name_ + (t.acked ? " was accepted and" : "") +
                   " never ended");
  }
}

}  // namespace shoal::sim
