// The run of one seed: the cluster's shape, the faults, the loop of virtual time.

#include <cstdlib>
#include <string>

#include "peers.hpp"
#include "world.hpp"

namespace shoal::sim {

void World::shape() {
  journaled_ = rng.percent(75);
  auto workers = rng.range(1, 5);
  bool any_gpu = false;
  for (std::uint64_t i = 0; i < workers; ++i) {
    bool gpu = rng.percent(30);
    any_gpu = any_gpu || gpu;
    workers_.push_back(std::make_unique<SimWorker>(*this, static_cast<int>(i), static_cast<std::uint32_t>(rng.range(1, 4)),
                                                   gpu, rng.fork()));
  }
  auto work_until = now_ + rng.range(3000, 12000) * kMs;
  auto clients = rng.range(1, 3);
  for (std::uint64_t i = 0; i < clients; ++i)
    clients_.push_back(std::make_unique<SimClient>(*this, static_cast<int>(i), rng.fork(), any_gpu, work_until));
  for (auto& w : workers_) polled_.push_back(w.get());
  for (auto& c : clients_) polled_.push_back(c.get());
  faults_end_ = work_until + 3000 * kMs;
  limit_ = faults_end_ + 120'000 * kMs;
  net_max_ = rng.range(50'000, 2 * kMs);

  auto& o = coord_opt_;
  o.log = std::getenv("SHOAL_SIM_LOG") != nullptr;  // the engine's own log, to stderr
  o.name = "sim-coordinator";
  o.first_peer = 1;
  o.heartbeat = std::chrono::milliseconds(200);
  o.heartbeat_timeout = std::chrono::milliseconds(1000);
  o.client_grace = std::chrono::milliseconds(5000);
  o.adopt_wait = std::chrono::milliseconds(300);
  o.unregistered_wait = std::chrono::milliseconds(4000);
  o.cancel_grace = std::chrono::milliseconds(500);
  o.hello_timeout = std::chrono::milliseconds(2000);
  o.retries = static_cast<int>(rng.range(1, 3));
  o.max_crashes = static_cast<std::uint32_t>(rng.range(1, 2));
  o.planted.drop_result = opt_.drop_result;
  if (journaled_) {
    dir_ = make_private_dir();
    o.journal = dir_ + "/journal";
    o.journal_pacer = pacer_;
  }
  std::uint64_t gpus = 0;
  for (auto& w : workers_) gpus += w->has_gpu();
  report.shape = std::to_string(workers) + " worker(s) (" + std::to_string(gpus) + " with a gpu), " +
                 std::to_string(clients) + " client(s), journal " + (journaled_ ? "on" : "off") + ", retries " +
                 std::to_string(o.retries) + ", max crashes " + std::to_string(o.max_crashes);
  event("shape: " + report.shape);
}

void World::plan_faults() {
  auto start = now_ + 500 * kMs;
  auto n = rng.range(0, 12);
  report.planned_faults = n;
  for (std::uint64_t i = 0; i < n; ++i) {
    auto t = rng.range(start, faults_end_);
    auto kind = rng.below(100);
    auto pick = rng.next();
    // Each fault draws the same numbers whether or not it is left out (--without-fault,
    // --no-faults): the rest of the run stays the same.
    auto down = rng.range(100, 3000) * kMs, len = rng.range(300, 4000) * kMs, worst = rng.range(20, 400) * kMs;
    auto jump = rng.range(1, 3600) * 1'000'000'000ull;
    bool back = rng.percent(50);
    if (!opt_.faults || opt_.without_faults.count(i)) continue;
    if (kind < 25) {
      at(t, [this, pick] {
        auto& w = *workers_[pick % workers_.size()];
        if (!w.alive()) return;
        ++report.faults;
        w.kill("killed by the simulation");
      });
    } else if (kind < 55) {
      bool worker = kind < 40;
      at(t, [this, pick, worker] {
        SimPeer& p = worker ? static_cast<SimPeer&>(*workers_[pick % workers_.size()])
                            : static_cast<SimPeer&>(*clients_[pick % clients_.size()]);
        auto it = links_.find(p.current);
        if (it == links_.end() || it->second->reset) return;
        ++report.faults;
        break_link(*it->second, "the network broke it");
      });
    } else if (kind < 65) {
      at(t, [this, down] {
        if (!coord_) return;
        ++report.faults;
        kill_coordinator("killed by the simulation");
        at(now_ + down, [this] {
          if (!coord_) start_coordinator();
        });
      });
    } else if (kind < 75) {
      at(t, [this, len, worst] {
        ++report.faults;
        event("the network is slow for " + std::to_string(len / kMs) + " ms (deliveries up to " +
              std::to_string(worst / kMs) + " ms late)");
        spell_until_ = now_ + len;
        spell_max_ = worst;
      });
    } else if (kind < 95 && journaled_) {
      bool fail = kind >= 85;
      auto slow = worst * 4;
      at(t, [this, fail, len, slow] {
        ++report.faults;
        event(std::string("the disk ") + (fail ? "refuses writes" : "is slow") + " for " + std::to_string(len / kMs) + " ms");
        if (fail) {
          disk_fail_until_ = now_ + len;
        } else {
          disk_slow_until_ = now_ + len;
          disk_slow_ns_ = slow;
        }
      });
    } else {
      at(t, [this, jump, back] {
        ++report.faults;
        event(std::string("the wall clock jumps ") + (back ? "back " : "ahead ") + std::to_string(jump / 1'000'000'000) + " s");
        wall_offset_ = back ? wall_offset_ - jump : wall_offset_ + jump;
      });
    }
  }
}

bool World::settled() {
  for (auto& c : clients_)
    if (!c->settled()) return false;
  return true;
}

RunReport World::run() {
  auto start = now_;
  shape();
  start_coordinator();
  for (auto& w : workers_) at(now_ + rng.range(0, 300) * kMs, [&w] { w->start(); });
  for (auto& c : clients_) at(now_ + rng.range(0, 500) * kMs, [&c] { c->start(); });
  plan_faults();
  while (!(now_ >= faults_end_ && settled()) && now_ < limit_) {
    // On to what comes first: the agenda, the engine's next timer, the disk.
    auto next = std::min(now_ + kStep, std::max(timer_due_, now_));
    if (!agenda_.empty()) next = std::min(next, agenda_.begin()->first.first);
    if (pacer_->write && disk_next_ > now_) next = std::min(next, disk_next_);
    if (pacer_->write && disk_next_ == 0 && pacer_->waiting()) next = now_;  // time its write
    now_ = std::max(now_, next);
    while (!agenda_.empty() && agenda_.begin()->first.first <= now_) {
      auto node = agenda_.extract(agenda_.begin());
      node.mapped()();
    }
    pump();
    disk();
  }
  if (now_ >= limit_) violation("the run did not settle within 120 s of its last fault");
  for (auto& c : clients_) c->check_end();
  report.virtual_ms = (now_ - start) / kMs;
  event("the end: " + std::to_string(report.tasks) + " tasks, " + std::to_string(report.done) + " done, " +
        std::to_string(report.failed) + " failed, " + std::to_string(report.faults) + " faults");
  report.trace_hash = fnv_;
  return std::move(report);
}

RunReport simulate(const SimOptions& options) {
  World world(options);
  return world.run();
}

}  // namespace shoal::sim
