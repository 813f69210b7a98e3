// A real worker engine in the simulated world (peers.hpp).

#include <asio/post.hpp>
#include <capnp/message.h>

#include <cstdlib>
#include <optional>

#include "peers.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/link/timer.hpp"
#include "shoal/worker/worker.hpp"

namespace shoal::sim {

// The far end of one of the worker's connections: what the worker writes reaches the
// simulation here, to be relayed over the network to the engine.
struct SimWorker::Far final : link::ConnectionHandler {
  SimWorker* owner = nullptr;
  std::uint64_t serial = 0;  // its Link's
  bool dead = false;         // its process was killed: nothing of it reaches the world
  std::shared_ptr<link::Connection> conn;

  void on_message(schema::Envelope::Reader env, const proto::FrameOwner&) override {
    if (!dead) owner->from_worker(*this, env);
  }
  void on_protocol_error(const std::string& why) override {
    if (!dead) owner->w_.violation(owner->name_ + " wrote a frame nobody can read: " + why);
  }
  void on_closed(const std::string& why) override {
    if (!dead) owner->worker_closed(*this, why);
  }
};

// One process of the worker: its loop and its engine, started by start() and ended by a
// kill (at the next reap: the loop shuts down, its tasks cancelled, as at a process's end).
struct SimWorker::Life {
  std::vector<std::unique_ptr<Far>> fars;
  Loop loop;
  std::unique_ptr<link::Timer> kicker;
  std::unique_ptr<worker::Worker> engine;
  std::optional<Task<int>> main;

  ~Life() {
    for (auto& f : fars) f->dead = true;
    loop.shutdown();  // cancels run() and the tasks: the engine they use is still there
    main.reset();
    kicker.reset();
    engine.reset();
    fars.clear();  // while the loop's executor is still there
  }
};

SimWorker::SimWorker(World& w, int index, std::uint32_t threads, bool gpu, Rng rng)
    : w_(w), name_("w" + std::to_string(index)), threads_(threads), gpu_(gpu), rng_(rng) {}

SimWorker::~SimWorker() {
  alive_ = false;  // a crash still queued in a loop shut down here does nothing
  ++incarnation_;
  dead_.clear();
  life_.reset();
}

void SimWorker::start() {
  alive_ = true;
  ++incarnation_;
  w_.event(name_ + " starts (" + std::to_string(threads_) + " threads" + (gpu_ ? ", a gpu" : "") + ")");
  life_ = std::make_unique<Life>();
  life_->kicker = std::make_unique<link::Timer>(life_->loop.get_executor());
  worker::WorkerOptions o;
  o.name = name_;
  o.coordinator = "sim://coordinator";
  o.threads = threads_;
  o.coroutines = threads_;  // as many at once as it has threads: the tasks are all coroutines
  o.resources = {{"cpu", static_cast<double>(threads_)}, {"memory", 1e9}};
  if (gpu_) o.resources["gpu"] = 1;
  o.log = std::getenv("SHOAL_SIM_LOG") != nullptr;
  o.watchdog = false;  // a thread: its time is the machine's
  o.reconnect_timeout = std::chrono::milliseconds(0);  // tries for ever, as under a supervisor
  auto inc = incarnation_;
  o.dial = [this, inc]() -> std::shared_ptr<link::Connection> { return inc == incarnation_ ? dial() : nullptr; };
  life_->engine = std::make_unique<worker::Worker>(std::move(o), registry());
  life_->main.emplace(create_task(life_->loop, life_->engine->run()));
  dirty = true;
}

std::shared_ptr<link::Connection> SimWorker::dial() {
  if (link_) {
    if (current == link_->serial) w_.close_after_sent(*link_, name_ + " dialled again");
    link_ = nullptr;
  }
  auto* l = w_.connect(*this);
  if (!l) return nullptr;  // the coordinator is down: refused, as a socket would be
  link_ = l;
  auto [mine, far] = link::Connection::local_pair(life_->loop.get_executor());
  auto f = std::make_unique<Far>();
  f->owner = this;
  f->serial = l->serial;
  f->conn = std::move(far);
  f->conn->start(*f);
  life_->fars.push_back(std::move(f));
  return mine;
}

SimWorker::Far* SimWorker::current_far() {
  if (!life_ || !link_ || current != link_->serial) return nullptr;
  for (auto& f : life_->fars)
    if (f->serial == link_->serial && !f->dead) return f.get();
  return nullptr;
}

void SimWorker::from_worker(Far& far, schema::Envelope::Reader env) {
  if (&far != current_far()) return;  // a connection the engine no longer has
  capnp::MallocMessageBuilder copy;
  copy.setRoot(env);
  link_->send(copy);
}

void SimWorker::worker_closed(Far& far, const std::string& why) {
  bool live = &far == current_far();
  far.dead = true;
  if (!live) return;
  w_.close_after_sent(*link_, name_ + " closed it: " + why);  // its heartbeat timeout, a refusal, ...
  link_ = nullptr;
}

void SimWorker::on_message(schema::Envelope::Reader env) {
  auto* far = current_far();
  if (!far) return;
  capnp::MallocMessageBuilder copy;
  copy.setRoot(env);
  far->conn->send(copy);
  dirty = true;
}

void SimWorker::on_closed(const std::string& why) {
  w_.event(name_ + " lost its connection: " + why);
  if (!life_ || !link_) return;
  for (auto& f : life_->fars)
    if (f->serial == link_->serial && !f->dead) {
      f->dead = true;  // the worker hears it closed; nothing more goes either way
      f->conn->close(why);
    }
  link_ = nullptr;
  dirty = true;
}

void SimWorker::crash(std::uint64_t task) {
  if (!life_) return;
  auto inc = incarnation_;
  // Posted: what the worker wrote before reaches its far end first.
  asio::post(life_->loop.get_executor(), [this, inc, task] {
    if (inc != incarnation_ || !alive_) return;
    if (auto* far = current_far()) {
      (void)far;
      capnp::MallocMessageBuilder msg;
      auto c = msg.initRoot<schema::Envelope>().initCrashed();
      c.setSignal(11);
      c.setTaskId(task);
      link_->send(msg);
    }
    kill("task " + std::to_string(task) + " crashed it (signal 11)");
  });
}

void SimWorker::kill(const std::string& why) {
  if (!alive_) return;
  alive_ = false;
  w_.event(name_ + " dies: " + why);
  if (link_ && current == link_->serial) w_.close_after_sent(*link_, name_ + " died");
  link_ = nullptr;
  current = 0;
  for (auto& f : life_->fars) f->dead = true;
  dead_.push_back(std::move(life_));
  gpu_running.clear();
  ++incarnation_;
  auto inc = incarnation_;
  w_.at(w_.now() + rng_.range(100 * kMs, 2000 * kMs), [this, inc] {
    if (inc == incarnation_ && !alive_) start();
  });
  due = ~std::uint64_t{0};
}

bool SimWorker::poll() {
  if (!life_) return false;
  auto* life = life_.get();  // a crash moves it to dead_ meanwhile; it lives until reap()
  set_running_worker(this);
  auto n = life->loop.poll();
  set_running_worker(nullptr);
  return n > 0;
}

void SimWorker::kick() {
  if (life_) link::kick_timers(*life_->kicker);
}

void SimWorker::reap() { dead_.clear(); }

}  // namespace shoal::sim
