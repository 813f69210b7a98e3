#include <capnp/message.h>

#include <algorithm>
#include <cstring>

#include "peers.hpp"

namespace shoal::sim {

std::string u64_bytes(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

bool bytes_u64(capnp::Data::Reader d, std::uint64_t& out) {
  if (d.size() != 8) return false;
  out = 0;
  for (int i = 7; i >= 0; --i) out = (out << 8) | d[static_cast<std::size_t>(i)];
  return true;
}

// "simtask" + run_ms (4) + behaviour (1) + gpu (1) + value (8) + seq (4).
std::string encode(const TaskSpec& s) {
  std::string out = "simtask";
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(s.run_ms >> (8 * i)));
  out.push_back(static_cast<char>(s.behaviour));
  out.push_back(static_cast<char>(s.gpu));
  out += u64_bytes(s.value);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(s.seq >> (8 * i)));
  return out;
}

bool decode(capnp::Data::Reader d, TaskSpec& out) {
  if (d.size() != 7 + 4 + 2 + 8 + 4 || std::memcmp(d.begin(), "simtask", 7) != 0) return false;
  out.run_ms = 0;
  for (int i = 3; i >= 0; --i) out.run_ms = (out.run_ms << 8) | d[7 + static_cast<std::size_t>(i)];
  if (d[11] > TaskSpec::crashes) return false;
  out.behaviour = static_cast<TaskSpec::Behaviour>(d[11]);
  out.gpu = d[12];
  out.seq = 0;
  for (int i = 3; i >= 0; --i) out.seq = (out.seq << 8) | d[21 + static_cast<std::size_t>(i)];
  return bytes_u64(d.slice(13, 21), out.value);
}

namespace {

void set_resource(schema::Resource::Builder r, const char* name, double amount) {
  r.setName(name);
  r.setAmount(amount);
}

}  // namespace

SimWorker::SimWorker(World& w, int index, std::uint32_t threads, bool gpu, Rng rng)
    : w_(w), name_("w" + std::to_string(index)), threads_(threads), gpu_(gpu), rng_(rng) {}

void SimWorker::start() {
  alive_ = true;
  ++incarnation_;
  w_.event(name_ + " starts (" + std::to_string(threads_) + " threads" + (gpu_ ? ", a gpu" : "") + ")");
  connect();
}

void SimWorker::connect() {
  if (!alive_ || link_) return;
  link_ = w_.connect(*this);
  auto inc = incarnation_;
  if (!link_) {
    w_.at(w_.now() + 200 * kMs, [this, inc] {
      if (inc == incarnation_) connect();
    });
    return;
  }
  capnp::MallocMessageBuilder msg;
  auto h = msg.initRoot<schema::Envelope>().initHello();
  h.setProtocolVersion(schema::PROTOCOL_VERSION);
  h.setRole(schema::Role::WORKER);
  h.setName(name_);
  h.setHost("sim-host");
  h.setPid(static_cast<std::uint32_t>(1000 + incarnation_));
  std::string nonce;
  for (int i = 0; i < 4; ++i) nonce += u64_bytes(rng_.next());
  h.setNonce(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(nonce.data()), nonce.size()));
  link_->send(msg);
}

void SimWorker::kill(const std::string& why) {
  if (!alive_) return;
  alive_ = false;
  w_.event(name_ + " dies: " + why);
  if (link_) w_.close_after_sent(*link_, name_ + " died");
  link_ = nullptr;
  current = 0;
  jobs_.clear();
  queue_.clear();
  actors_.clear();
  running_ = 0;
  gpu_held_ = 0;
  welcomed_ = false;
  ++session_;
  ++incarnation_;
  auto inc = incarnation_;
  w_.at(w_.now() + rng_.range(100 * kMs, 2000 * kMs), [this, inc] {
    if (inc == incarnation_ && !alive_) start();
  });
}

void SimWorker::on_closed(const std::string& why) {
  w_.event(name_ + " lost its connection: " + why);
  link_ = nullptr;
  welcomed_ = false;
  ++session_;
  if (!alive_) return;
  auto inc = incarnation_;
  // Its tasks run on; their results wait for the next session.
  w_.at(w_.now() + rng_.range(50 * kMs, 1000 * kMs), [this, inc] {
    if (inc == incarnation_) connect();
  });
}

void SimWorker::on_message(schema::Envelope::Reader env) {
  switch (env.which()) {
    case schema::Envelope::WELCOME:
      if (welcomed_) w_.violation(name_ + " was welcomed twice on one connection");
      welcome(env.getWelcome());
      break;
    case schema::Envelope::ASSIGN:
      assign(env.getAssign());
      break;
    case schema::Envelope::ASSIGN_BATCH:
      for (auto a : env.getAssignBatch()) assign(a);
      break;
    case schema::Envelope::CANCEL: {
      auto it = jobs_.find(env.getCancel().getTaskId());
      if (it == jobs_.end() || it->second.finished) break;
      auto& j = it->second;
      if (j.running) {
        --running_;
        if (j.actor)
          if (auto a = actors_.find(j.actor); a != actors_.end()) a->second.busy = false;
      } else {
        queue_.erase(std::remove(queue_.begin(), queue_.end(), j.id), queue_.end());
      }
      j.running = false;
      j.finished = true;
      j.error = "cancelled";
      report(j);
      start_jobs();
      break;
    }
    case schema::Envelope::ACTOR_CREATE:
      create_actor(env.getActorCreate());
      break;
    case schema::Envelope::RELEASE:
      for (auto aid : env.getRelease().getActors()) actors_.erase(aid);
      for (auto aid : env.getRelease().getKillActors()) actors_.erase(aid);
      break;
    case schema::Envelope::HEARTBEAT:
    case schema::Envelope::LOG_FOLLOW:
    case schema::Envelope::SHUTDOWN:
      break;
    case schema::Envelope::ERROR:
      if (env.getError().getFatal() && link_) {
        // Refused (or a protocol error): tried again later, as shoal-worker does.
        w_.break_link(*link_, "a fatal error", false);
        on_closed(env.getError().getMessage());
      }
      break;
    default:
      w_.violation(name_ + " got a message no worker expects: " + describe(env));
  }
}

void SimWorker::welcome(schema::Welcome::Reader w) {
  welcomed_ = true;
  if (w.getHeartbeatMs()) heartbeat_ns_ = std::uint64_t{w.getHeartbeatMs()} * kMs;
  capnp::MallocMessageBuilder msg;
  auto r = msg.initRoot<schema::Envelope>().initRegisterWorker();
  r.setCapacity(threads_);
  r.setHost("sim-host");
  r.setPid(static_cast<std::uint32_t>(1000 + incarnation_));
  auto f = r.initFunctions(1)[0];
  f.setName("sim.work");
  f.setSignatureHash(w_.signature_hash);
  f.setSignature("int64(bytes)");
  auto actor = r.initActors(1)[0];
  actor.setName(kActorClass);
  actor.setConstructorHash(kActorHash);
  auto m = actor.initMethods(1)[0];
  m.setName("add");
  m.setSignatureHash(kMethodHash);
  m.setSignature("int64(bytes)");
  auto live = r.initLiveActors(static_cast<unsigned>(actors_.size()));
  unsigned k = 0;
  for (auto& [aid, a] : actors_) live.set(k++, aid);
  auto res = r.initResources(gpu_ ? 3 : 2);
  set_resource(res[0], "cpu", threads_);
  set_resource(res[1], "memory", 1e9);
  if (gpu_) set_resource(res[2], "gpu", 1);
  // Every job it holds, as shoal-worker says: running, queued, or finished and not yet
  // reported (the coordinator takes them as this worker's).
  auto held = r.initRunning(static_cast<unsigned>(jobs_.size()));
  unsigned i = 0;
  for (auto& [id, j] : jobs_) held.set(i++, id);
  link_->send(msg);
  std::vector<std::uint64_t> done;
  for (auto& [id, j] : jobs_)
    if (j.finished) done.push_back(id);
  for (auto id : done) report(jobs_.at(id));
  auto inc = incarnation_, session = session_;
  w_.at(w_.now() + heartbeat_ns_ / 2, [this, inc, session] { heartbeat(inc, session); });
}

void SimWorker::heartbeat(std::uint64_t inc, std::uint64_t session) {
  if (inc != incarnation_ || session != session_ || !welcomed_ || !link_) return;
  capnp::MallocMessageBuilder msg;
  auto h = msg.initRoot<schema::Envelope>().initHeartbeat();
  h.setSentNs(w_.wall_ns());
  h.setRunning(running_);
  h.setStarted(started_);
  link_->send(msg);
  w_.at(w_.now() + heartbeat_ns_ / 2, [this, inc, session] { heartbeat(inc, session); });
}

void SimWorker::assign(schema::Assign::Reader a) {
  Job j;
  j.id = a.getTaskId();
  j.attempt = a.getAttempt();
  if (jobs_.count(j.id)) {
    // shoal-worker keeps the job it holds (the coordinator adopts it): not a second run.
    w_.event(name_ + " already holds task " + std::to_string(j.id));
    return;
  }
  if (!decode(a.getArgs(), j.spec)) return w_.violation(name_ + " was assigned task " + std::to_string(j.id) + " with arguments it never was given");
  if (a.getDepBlobs().size() || a.getArgsBlob()) w_.violation("task " + std::to_string(j.id) + " came with blobs (none is that large)");
  std::size_t index = 0;
  for (auto d : a.getDepValues()) {
    std::uint64_t v = 0;
    if (!bytes_u64(d, v)) w_.violation("task " + std::to_string(j.id) + " came with a dependency value no task returned");
    j.deps_xor ^= dep_mix(v, index++);
  }
  if (auto aid = a.getActorId()) {
    j.actor = aid;
    auto it = actors_.find(aid);
    if (it == actors_.end()) {
      w_.violation("call " + std::to_string(j.id) + " on actor " + std::to_string(aid) + " was sent to " + name_ +
                   ", which does not host it");
      j.finished = true;
      j.error = "InvalidStateError";
      report(j);
      return;
    }
    if (!it->second.given.insert(j.id).second) {
      // Ran here already, its end lost with a coordinator that died before writing it:
      // not run twice (shoal-worker's ActorHost answers so too).
      w_.event(name_ + " does not run call " + std::to_string(j.id) + " again");
      j.finished = true;
      j.error = "shoal::InvalidStateError";
      report(j);
      return;
    }
    // The engine sends an actor's calls in the order they were made. Across a coordinator
    // restart, calls whose submits it had not written are sent again by their client and
    // may reach an instance that survived after later ones (docs/durability.md): that
    // is not the engine's order to keep.
    if (j.spec.seq <= it->second.last_seq && it->second.last_generation == w_.coordinator_generation())
      w_.violation("actor " + std::to_string(aid) + " on " + name_ + " was given call " + std::to_string(j.spec.seq) +
                   " after call " + std::to_string(it->second.last_seq));
    it->second.last_seq = j.spec.seq;
    it->second.last_generation = w_.coordinator_generation();
  }
  if (j.spec.gpu) {
    if (!gpu_) w_.violation("task " + std::to_string(j.id) + " asks for gpu:1 and was assigned to " + name_ + ", which has no gpu");
    else if (gpu_held_ >= 1) {
      std::string holders;
      for (auto& [id, other] : jobs_)
        if (other.spec.gpu) holders += (holders.empty() ? "" : ", ") + std::to_string(id);
      w_.violation("task " + std::to_string(j.id) + " asks for gpu:1 and was assigned to " + name_ +
                   " while its only gpu is held by task " + holders);
    }
    gpu_held_ += j.spec.gpu;
  }
  queue_.push_back(j.id);
  jobs_.emplace(j.id, std::move(j));
  start_jobs();
}

void SimWorker::start_jobs() {
  while (running_ < threads_) {
    // The first queued job that may start: a plain task, or a call whose actor is idle.
    auto next = std::find_if(queue_.begin(), queue_.end(), [&](std::uint64_t id) {
      auto& j = jobs_.at(id);
      return !j.actor || !actors_[j.actor].busy;
    });
    if (next == queue_.end()) break;
    auto id = *next;
    queue_.erase(next);
    auto& j = jobs_.at(id);
    if (j.actor) actors_[j.actor].busy = true;
    j.running = true;
    j.started_at = w_.now();
    ++running_;
    ++started_;
    auto inc = incarnation_;
    w_.at(w_.now() + std::uint64_t{j.spec.run_ms} * kMs + 1000, [this, id, inc] { finish(id, inc); });
  }
}

void SimWorker::finish(std::uint64_t id, std::uint64_t inc) {
  if (inc != incarnation_ || !alive_) return;
  auto it = jobs_.find(id);
  if (it == jobs_.end() || !it->second.running) return;  // cancelled meanwhile
  auto& j = it->second;
  j.running = false;
  --running_;
  if (j.actor)
    if (auto a = actors_.find(j.actor); a != actors_.end()) a->second.busy = false;
  if (j.spec.behaviour == TaskSpec::crashes && j.attempt <= 1) {
    // Its crash report goes out before the process dies (shoal-worker's crash handler).
    if (link_ && welcomed_) {
      capnp::MallocMessageBuilder msg;
      auto c = msg.initRoot<schema::Envelope>().initCrashed();
      c.setSignal(11);
      c.setTaskId(id);
      link_->send(msg);
    }
    return kill("task " + std::to_string(id) + " crashed it (signal 11)");
  }
  j.finished = true;
  j.error = j.spec.behaviour == TaskSpec::throws ? "SimError" : "";
  report(j);
  start_jobs();
}

void SimWorker::create_actor(schema::ActorCreate::Reader c) {
  // A new instance (a restart onto this worker starts its calls afresh); constructed at
  // once, its create task's result says so.
  actors_[c.getActorId()] = Hosted{};
  result_value(c.getTaskId(), 1, 0);
}

void SimWorker::result_value(std::uint64_t task, std::uint32_t attempt, std::uint64_t value) {
  if (!link_ || !welcomed_) return;
  capnp::MallocMessageBuilder msg;
  auto r = msg.initRoot<schema::Envelope>().initResult();
  r.setTaskId(task);
  r.setAttempt(attempt);
  auto v = u64_bytes(value);
  r.setValue(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(v.data()), v.size()));
  link_->send(msg);
}

void SimWorker::report(Job& j) {
  if (!link_ || !welcomed_) return;  // kept for the next session
  capnp::MallocMessageBuilder msg;
  auto r = msg.initRoot<schema::Envelope>().initResult();
  r.setTaskId(j.id);
  r.setAttempt(j.attempt);
  r.setRunNs(w_.now() - j.started_at);
  if (j.error.empty()) {
    auto v = u64_bytes(j.spec.value ^ j.deps_xor);
    r.setValue(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(v.data()), v.size()));
  } else if (j.error == "cancelled") {
    r.setCancelled();
  } else {
    auto e = r.initError();
    e.setTypeName(j.error);
    e.setMessage("task " + std::to_string(j.id) + " threw");
    e.setFunction("sim.work");
    e.setTaskId(j.id);
    e.setHost("sim-host");
    e.setPid(static_cast<std::uint32_t>(1000 + incarnation_));
    e.setKind(schema::ErrorKind::FAILED);
  }
  link_->send(msg);
  gpu_held_ -= std::min<std::uint32_t>(gpu_held_, j.spec.gpu);
  jobs_.erase(j.id);
}

}  // namespace shoal::sim
