#pragma once
// The simulated world around one real coordinator engine (docs/simulation.md): a virtual
// clock (link::ClockSource), an agenda of what happens when, a network of in-process
// connections whose deliveries the world delays and reorders, a paced disk under the
// journal, and the faults a seed chose. Everything runs on this one thread, in agenda
// order: the same seed, the same run.

#include <asio/io_context.hpp>
#include <capnp/message.h>
#include <kj/array.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shoal/coordinator/coordinator.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/link/timer.hpp"
#include "shoal/cluster/sim.hpp"

namespace shoal::sim {

namespace schema = proto::schema;

/// splitmix64: small, fast, and the same numbers on every machine.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : s_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// In [0, n) (0 when n is 0).
  std::uint64_t below(std::uint64_t n) noexcept { return n ? next() % n : 0; }
  /// In [lo, hi].
  std::uint64_t range(std::uint64_t lo, std::uint64_t hi) noexcept { return lo + below(hi - lo + 1); }
  /// True `percent` times in a hundred.
  bool percent(std::uint64_t p) noexcept { return below(100) < p; }
  /// An independent stream (a peer's, a connection's).
  Rng fork() noexcept { return Rng(next()); }

 private:
  std::uint64_t s_;
};

inline constexpr std::uint64_t kMs = 1'000'000;

class World;

/// A simulated peer (a worker or a client): what reaches it over its current link.
class SimPeer {
 public:
  virtual ~SimPeer() = default;
  virtual void on_message(schema::Envelope::Reader env) = 0;
  /// Its link broke, or the engine closed it (after what the engine sent before).
  virtual void on_closed(const std::string& why) = 0;
  [[nodiscard]] virtual const std::string& name() const = 0;
  std::uint64_t current = 0;  // the serial of its live link (0: none)
  std::uint64_t connects = 0;  // how many links it opened
};

/// A process of the simulated world with a loop of its own (a worker's, a client's): the
/// world polls it when something was handed to it or its earliest timer is due.
class Polled {
 public:
  virtual ~Polled() = default;
  /// Runs what is ready on its loop; true when anything ran.
  virtual bool poll() = 0;
  /// The clock moved: its next poll looks at its timers.
  virtual void kick() = 0;
  /// Ends what was killed since the last call (never from inside a poll).
  virtual void reap() {}
  bool dirty = false;                     // something was handed to its loop: poll it
  std::uint64_t due = ~std::uint64_t{0};  // its loop's earliest timer (virtual ns)
};

/// One connection between a simulated peer and the engine: a link::Connection pair on the
/// engine's executor, the engine's end adopted by the coordinator. The world holds what
/// each side sends and hands it over when the network's delay has passed: in order on
/// one link, in any order across links.
class Link final : public link::ConnectionHandler {
 public:
  Link(World& w, std::uint64_t serial, SimPeer& owner, Rng rng) : world(w), serial(serial), owner(&owner), rng(rng) {}
  void on_message(schema::Envelope::Reader env, const proto::FrameOwner& frame) override;
  void on_protocol_error(const std::string& why) override;
  void on_closed(const std::string& why) override;
  /// Peer to engine, after the network's delay.
  void send(capnp::MessageBuilder& msg);

  World& world;
  std::uint64_t serial;
  SimPeer* owner;
  Rng rng;
  std::shared_ptr<link::Connection> mine;  // the peer's end (nullptr once gone)
  bool reset = false;          // broken: what is in flight either way is lost
  bool engine_closed = false;  // the engine closed it: what it sent before still arrives
  std::uint64_t to_engine_at = 0, to_peer_at = 0;  // the latest delivery each way (order on a link)
};

class SimWorker;
class SimClient;

class World final : public link::ClockSource {
 public:
  explicit World(const SimOptions& o);
  ~World() override;
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  RunReport run();

  // The virtual clock.
  std::uint64_t steady_ns() noexcept override { return now_; }
  std::uint64_t wall_ns() noexcept override { return kWallStart + now_ + wall_offset_; }
  [[nodiscard]] std::uint64_t now() const noexcept { return now_; }
  // Every loop (the engine's, each worker's) tells when its earliest timer is due (asio
  // asks while that loop is polled); the clock next stops at the earliest of them all,
  // and only the loops due then are polled. (A timer cancelled since costs a poll.)
  void timer_due_in(std::int64_t ns) noexcept override;
  /// Something was handed to the engine or a worker: they run before the clock moves on.
  void touch_engine() noexcept { engine_dirty_ = true; }
  /// Whether task `id` has not crashed its worker before (a task crashes once: its retry
  /// shows whether the engine counted the crash).
  bool first_crash(std::uint64_t id) { return crashed_.insert(id).second; }

  /// Something happened: into the trace hash (and the trace, when kept).
  void event(const std::string& line);
  /// An invariant broke (the run goes on; the report lists it).
  void violation(const std::string& what);
  /// `fn` runs at `when` (virtual ns), after everything already due then.
  void at(std::uint64_t when, std::function<void()> fn);

  /// A new connection for `p` (its current link), or nullptr while the coordinator is down.
  Link* connect(SimPeer& p);
  /// Breaks `l` as a reset would: the engine hears it closed, the peer too (after a delay,
  /// unless `tell_peer` is false: a peer that died), and what was in flight is lost.
  void break_link(Link& l, const std::string& why, bool tell_peer = true);
  /// A peer that died: what it sent before still reaches the engine, then its connection
  /// closes; what the engine sends it is lost. The peer is told nothing.
  void close_after_sent(Link& l, const std::string& why);
  /// The network's delay for the next message on `l`.
  std::uint64_t delay(Link& l);
  void deliver_to_peer(Link& l, schema::Envelope::Reader env);
  void deliver_to_engine(Link& l, capnp::MessageBuilder& msg);
  [[nodiscard]] bool journaled() const noexcept { return journaled_; }
  /// How many times the coordinator has started.
  [[nodiscard]] std::uint64_t coordinator_generation() const noexcept { return generation_; }

  Rng rng;
  RunReport report;

 private:
  static constexpr std::uint64_t kWallStart = 1'800'000'000ull * 1'000'000'000ull;  // 2027-01-15
  static constexpr std::uint64_t kStep = 1000 * kMs;  // the longest the clock jumps at once

  void shape();
  void plan_faults();
  void start_coordinator();
  void kill_coordinator(const std::string& why);
  void pump();  // runs the engine until it has nothing more to do now
  void disk();
  [[nodiscard]] bool settled();
  void check_end();

  SimOptions opt_;
  std::uint64_t now_ = 1'000'000'000;  // 1 s: timers due "at the start" are before it
  std::uint64_t wall_offset_ = 0;
  std::uint64_t seq_ = 0;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::function<void()>> agenda_;
  std::map<std::uint64_t, std::unique_ptr<Link>> links_;
  std::uint64_t next_link_ = 0;
  bool journaled_ = false;
  std::uint64_t generation_ = 0;
  std::string dir_, journal_path_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<link::Timer> kicker_;
  std::uint64_t timer_due_ = ~std::uint64_t{0};  // when the earliest timer of any loop is due (asio says)
  std::uint64_t engine_due_ = ~std::uint64_t{0};  // the engine's loop's
  std::uint64_t stray_due_ = ~std::uint64_t{0};   // a timer armed outside any poll: every loop looks
  Polled* polling_ = nullptr;                     // the process whose loop is being polled
  bool in_engine_poll_ = false;
  bool engine_dirty_ = false, kicking_ = false;
  std::unique_ptr<coordinator::Coordinator> coord_;
  std::shared_ptr<coordinator::JournalPacer> pacer_ = std::make_shared<coordinator::JournalPacer>();
  coordinator::CoordinatorOptions coord_opt_;
  // The network: ordinary delays, and while a spell lasts, long ones (reordering across links).
  std::uint64_t net_min_ = 20'000, net_max_ = 400'000, spell_until_ = 0, spell_max_ = 0;
  // The disk: how long a write takes, and spells of slow or failing writes.
  Rng disk_rng_{opt_.seed ^ 0xd15c'0000'0000'0001ull};
  std::uint64_t disk_next_ = 0, disk_slow_until_ = 0, disk_fail_until_ = 0, disk_slow_ns_ = 0;
  std::uint64_t faults_end_ = 0, limit_ = 0;
  std::vector<std::unique_ptr<SimWorker>> workers_;
  std::vector<std::unique_ptr<SimClient>> clients_;
  std::vector<Polled*> polled_;  // the workers' and the clients' processes
  std::uint64_t fnv_ = 0xcbf29ce484222325ull;
  std::set<std::uint64_t> crashed_;
};

/// A new private directory for the journal (/dev/shm when there is one).
[[nodiscard]] std::string make_private_dir();

/// What the message is, for the trace: proto::describe().
[[nodiscard]] std::string describe(schema::Envelope::Reader env);

}  // namespace shoal::sim
