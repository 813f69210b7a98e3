#include "world.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <capnp/serialize.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "peers.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/proto/describe.hpp"

namespace shoal::sim {

namespace {

std::string seconds(std::uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%06llu", static_cast<unsigned long long>(ns / 1'000'000'000),
                static_cast<unsigned long long>(ns % 1'000'000'000 / 1000));
  return buf;
}

// A private directory for the journal: /dev/shm when there is one (its fsync costs
// nothing; the disk's behaviour is the simulation's, not the machine's).
}  // namespace

std::string make_private_dir() {
  for (const char* base : std::initializer_list<const char*>{"/dev/shm", std::getenv("TMPDIR"), "/tmp"}) {
    if (!base || !std::filesystem::is_directory(base)) continue;
    // Not named "shoal": a test counts /dev/shm entries of that name as leaked segments.
    std::string templ = std::string(base) + "/sim-journal-XXXXXX";
    if (::mkdtemp(templ.data())) return templ;
  }
  throw std::runtime_error("shoal-sim: cannot make a temporary directory");
}

namespace {

std::uint64_t name_hash(const std::string& name) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

void replace_all(std::string& s, const std::string& what, const std::string& with) {
  if (what.empty()) return;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size())) s.replace(at, what.size(), with);
}

}  // namespace

std::string describe(schema::Envelope::Reader env) { return proto::describe(env); }

// ---- Link ----

void Link::on_message(schema::Envelope::Reader env, const proto::FrameOwner&) { world.deliver_to_peer(*this, env); }

void Link::on_protocol_error(const std::string& why) {
  world.violation("the engine sent " + owner->name() + " a frame it cannot read: " + why);
}

void Link::on_closed(const std::string& why) {
  if (reset || engine_closed) return;
  engine_closed = true;
  world.event("E closes " + owner->name() + ": " + why);
  auto when = std::max(world.now() + world.delay(*this), to_peer_at);
  to_peer_at = when;
  world.at(when, [this, why] {
    if (reset || owner->current != serial) return;
    owner->current = 0;
    owner->on_closed(why);
  });
}

void Link::send(capnp::MessageBuilder& msg) { world.deliver_to_engine(*this, msg); }

// ---- World ----

World::World(const SimOptions& o) : rng(o.seed), opt_(o) {
  report.seed = o.seed;
  link::set_clock_source(this);
}

World::~World() {
  kill_coordinator("the run ended");
  // The workers' processes end on the machine's clock: whatever waits in them is due.
  link::set_clock_source(nullptr);
  polled_.clear();
  clients_.clear();  // first: their tasks' futures release what they hold
  workers_.clear();
  links_.clear();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void World::event(const std::string& line) {
  ++report.events;
  std::string l = seconds(now_) + " " + line;
  replace_all(l, dir_, "$DIR");
  // The engine names its host and process in the errors it makes, and the workers (threads
  // of this process) their pid: neither is the run's. In this order: host:pid first.
  static const auto masks = [] {
    auto pid = std::to_string(::getpid());
    return std::vector<std::pair<std::string, std::string>>{{link::this_host() + ":" + pid, "$HOST:$PID"},
                                                            {link::this_host(), "$HOST"},
                                                            {"pid=" + pid, "pid=$PID"},
                                                            {"pid " + pid, "pid $PID"}};
  }();
  for (const auto& [what, with] : masks) replace_all(l, what, with);
  for (unsigned char c : l) fnv_ = (fnv_ ^ c) * 0x100000001b3ull;
  fnv_ = (fnv_ ^ '\n') * 0x100000001b3ull;
  if (opt_.trace) report.trace.push_back(std::move(l));
}

void World::violation(const std::string& what) {
  event("VIOLATION " + what);
  report.violations.push_back("at " + seconds(now_) + " s: " + what);
}

void World::at(std::uint64_t when, std::function<void()> fn) {
  agenda_.emplace(std::pair{std::max(when, now_), ++seq_}, std::move(fn));
}

std::uint64_t World::delay(Link& l) {
  if (now_ < spell_until_ && l.rng.percent(50)) return l.rng.range(net_max_, spell_max_);
  return l.rng.range(net_min_, net_max_);
}

Link* World::connect(SimPeer& p) {
  if (!coord_) return nullptr;
  auto serial = ++next_link_;
  // Its delays from a stream of its own, named by the peer and how often it connected:
  // another peer's reconnects (a fault left out) do not change them.
  auto l = std::make_unique<Link>(*this, serial, p, Rng(opt_.seed ^ name_hash(p.name()) ^ (++p.connects * 0x9e3779b97f4a7c15ull)));
  auto [engine_end, peer_end] = link::Connection::local_pair(io_->get_executor());
  l->mine = std::move(peer_end);
  l->mine->start(*l);
  coord_->adopt(std::move(engine_end));
  touch_engine();
  p.current = serial;
  auto* raw = l.get();
  links_.emplace(serial, std::move(l));
  event(p.name() + " connects (link " + std::to_string(serial) + ")");
  return raw;
}

void World::break_link(Link& l, const std::string& why, bool tell_peer) {
  if (l.reset) return;
  l.reset = true;
  event("link " + std::to_string(l.serial) + " of " + l.owner->name() + " breaks: " + why);
  if (l.mine) l.mine->close(why);
  touch_engine();
  if (!tell_peer) return;
  at(now_ + delay(l), [this, &l, why] {
    if (l.owner->current != l.serial) return;
    l.owner->current = 0;
    l.owner->on_closed(why);
  });
}

void World::close_after_sent(Link& l, const std::string& why) {
  if (l.owner->current == l.serial) l.owner->current = 0;
  at(std::max(now_, l.to_engine_at), [this, &l, why] {
    if (l.reset) return;
    l.reset = true;
    event("link " + std::to_string(l.serial) + " of " + l.owner->name() + " closes: " + why);
    if (l.mine) l.mine->close(why);
    touch_engine();
  });
}

void World::deliver_to_peer(Link& l, schema::Envelope::Reader env) {
  if (l.reset) return;
  proto::Builder copy;
  copy.setRoot(env);
  auto words = std::make_shared<kj::Array<capnp::word>>(capnp::messageToFlatArray(copy));
  auto when = std::max(now_ + delay(l), l.to_peer_at);
  l.to_peer_at = when;
  at(when, [this, &l, words] {
    if (l.reset || l.owner->current != l.serial) return;
    capnp::FlatArrayMessageReader r(*words);
    auto env = r.getRoot<schema::Envelope>();
    event("E>" + l.owner->name() + " " + describe(env));
    l.owner->on_message(env);
  });
}

void World::deliver_to_engine(Link& l, capnp::MessageBuilder& msg) {
  if (l.reset || l.engine_closed) return;
  auto words = std::make_shared<kj::Array<capnp::word>>(capnp::messageToFlatArray(msg));
  auto when = std::max(now_ + delay(l), l.to_engine_at);
  l.to_engine_at = when;
  at(when, [this, &l, words] {
    if (l.reset || l.engine_closed || !l.mine) return;
    capnp::FlatArrayMessageReader r(*words);
    auto env = r.getRoot<schema::Envelope>();
    event(l.owner->name() + ">E " + describe(env));
    proto::Builder copy;
    copy.setRoot(env);
    l.mine->send(copy);
    touch_engine();
  });
}

void World::start_coordinator() {
  ++generation_;
  // Ids from a start of its own each run, as a coordinator's random start makes them (a
  // journaled one goes on from the ids its journal recorded).
  coord_opt_.first_peer = 1 + (generation_ - 1) * 1'000'000;
  io_ = std::make_unique<asio::io_context>(1);
  kicker_ = std::make_unique<link::Timer>(*io_);
  coord_ = std::make_unique<coordinator::Coordinator>(io_->get_executor(), coord_opt_);
  coord_->start();
  asio::co_spawn(*io_, coord_->run(), asio::detached);
  timer_due_ = engine_due_ = now_;
  event("the coordinator starts" + std::string(journaled_ ? " on its journal" : ""));
  pump();
}

void World::kill_coordinator(const std::string& why) {
  if (!coord_) return;
  event("the coordinator dies: " + why);
  for (auto& [serial, l] : links_) {
    if (!l->mine) continue;
    bool tell = !l->reset && l->owner->current == serial;
    l->reset = true;
    l->mine->abandon();
    l->mine.reset();
    if (tell)
      at(now_ + delay(*l), [lk = l.get()] {
        if (lk->owner->current != lk->serial) return;
        lk->owner->current = 0;
        lk->owner->on_closed("the coordinator died");
      });
  }
  // Its executor goes with everything on it: the engine, its timers, what it had not
  // written to the journal (a paced journal writes only when told).
  coord_.reset();
  kicker_.reset();
  io_.reset();
  engine_dirty_ = false;
  engine_due_ = std::numeric_limits<std::uint64_t>::max();
  disk_next_ = 0;  // what it had not written is gone with it
}

void World::timer_due_in(std::int64_t ns) noexcept {
  if (kicking_) return;
  auto t = ns <= 0 ? now_ : now_ + static_cast<std::uint64_t>(ns);
  auto& due = polling_ ? polling_->due : in_engine_poll_ ? engine_due_ : stray_due_;
  due = std::min(due, t);
  timer_due_ = std::min(timer_due_, t);
}

void World::pump() {
  for (auto* p : polled_) p->reap();
  if (now_ >= timer_due_) {
    // asio arms its timerfd on the machine's clock: made to fire now, the next poll of a
    // loop looks at every timer, and asio tells timer_due_in() of the loop's next one.
    bool all = now_ >= stray_due_;
    if (all) stray_due_ = std::numeric_limits<std::uint64_t>::max();
    kicking_ = true;
    if (io_ && (all || now_ >= engine_due_)) {
      engine_due_ = std::numeric_limits<std::uint64_t>::max();
      link::kick_timers(*kicker_);
      engine_dirty_ = true;
    }
    for (auto* p : polled_)
      if (all || now_ >= p->due) {
        p->due = std::numeric_limits<std::uint64_t>::max();
        p->kick();
        p->dirty = true;
      }
    kicking_ = false;
    timer_due_ = std::min(engine_due_, stray_due_);
    for (auto* p : polled_) timer_due_ = std::min(timer_due_, p->due);
  }
  // The loops handed something, in turn, until none has anything left to do now.
  for (int rounds = 0; rounds < 100000; ++rounds) {
    bool ran = false;
    if (io_ && engine_dirty_) {
      engine_dirty_ = false;
      if (io_->stopped()) io_->restart();
      in_engine_poll_ = true;
      engine_dirty_ = io_->poll() > 0;
      in_engine_poll_ = false;
      ran = ran || engine_dirty_;
    }
    for (auto* p : polled_) {
      if (!p->dirty) continue;
      polling_ = p;
      p->dirty = p->poll();
      polling_ = nullptr;
      ran = ran || p->dirty;
    }
    if (!ran) break;
  }
  engine_dirty_ = false;
  if (io_ && io_->stopped()) io_->restart();
}

void World::disk() {
  if (!io_ || !pacer_->write) return;
  if (disk_next_ == 0) {
    // A write takes its time from when there is something to write.
    if (!pacer_->waiting()) return;
    disk_next_ = now_ + (now_ < disk_slow_until_ ? disk_slow_ns_ : disk_rng_.range(200'000, 5 * kMs));
    return;
  }
  if (now_ < disk_next_) return;
  disk_next_ = 0;
  bool failing = now_ < disk_fail_until_;
  if (!pacer_->write(failing ? "injected: No space left on device" : "")) return;
  event(failing ? "the disk refuses a journal write" : "the journal is written");
  touch_engine();
  pump();
  disk();  // what came meanwhile waits a write of its own
}

}  // namespace shoal::sim
