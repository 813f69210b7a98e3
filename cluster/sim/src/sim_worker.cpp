// A real worker engine in the simulated world (peers.hpp).

#include <asio/post.hpp>
#include <capnp/message.h>

#include <cstdlib>
#include <optional>

#include "peers.hpp"
#include "relay.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/link/timer.hpp"
#include "shoal/worker/worker.hpp"

namespace shoal::sim {

// One process of the worker: its loop and its engine, started by start() and ended by a
// kill (at the next reap: the loop shuts down, its tasks cancelled, as at a process's end).
struct SimWorker::Life {
  Loop loop;
  std::unique_ptr<link::Timer> kicker;
  std::unique_ptr<worker::Worker> engine;
  std::optional<Task<int>> main;
  std::unique_ptr<Relay> relay;  // its connections' ends live on the loop: dropped before it

  ~Life() {
    relay->silence();
    loop.shutdown();  // cancels run() and the tasks: the engine they use is still there
    main.reset();
    kicker.reset();
    engine.reset();
    relay.reset();
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
  life_->relay = std::make_unique<Relay>(w_, *this);
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

std::shared_ptr<link::Connection> SimWorker::dial() { return life_->relay->dial(life_->loop.get_executor()); }

void SimWorker::on_message(schema::Envelope::Reader env) {
  if (!life_ || !life_->relay->live()) return;
  life_->relay->deliver(env);
  dirty = true;
}

void SimWorker::on_closed(const std::string& why) {
  w_.event(name_ + " lost its connection: " + why);
  if (!life_) return;
  life_->relay->engine_closed(why);
  dirty = true;
}

void SimWorker::crash(std::uint64_t task) {
  if (!life_) return;
  auto inc = incarnation_;
  // Posted: what the worker wrote before reaches its far end first.
  asio::post(life_->loop.get_executor(), [this, inc, task] {
    if (inc != incarnation_ || !alive_ || !life_) return;
    proto::Builder msg;
    auto c = msg.initRoot<schema::Envelope>().initCrashed();
    c.setSignal(11);
    c.setTaskId(task);
    life_->relay->send(msg);
    kill("task " + std::to_string(task) + " crashed it (signal 11)");
  });
}

void SimWorker::kill(const std::string& why) {
  if (!alive_) return;
  alive_ = false;
  w_.event(name_ + " dies: " + why);
  life_->relay->process_gone(name_ + " died");
  current = 0;
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
