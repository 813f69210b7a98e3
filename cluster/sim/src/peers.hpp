#pragma once
// The peers of the simulated world: real worker engines (worker::Worker) on loops the
// world polls, and simulated clients that speak the real protocol (the messages of
// proto/schema/shoal.capnp, over link::Connection) with the behaviour of remote::Client
// where the coordinator can tell (resent submits, resubscribed results, resent cancels)
// and that check what reaches them. Tasks do nothing but wait on the virtual clock.

#include <cstdint>
#include <deque>
#include <memory>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tasks.hpp"
#include "world.hpp"

namespace shoal::sim {

/// A simulated task, carried in its arguments (the coordinator forwards them untouched).
struct TaskSpec {
  enum Behaviour : std::uint8_t { ok = 0, throws = 1, crashes = 2 };
  std::uint32_t run_ms = 0;
  Behaviour behaviour = ok;
  std::uint8_t gpu = 0;     // asks for gpu:1
  std::uint64_t value = 0;  // its result: value xor its dependencies' results
  std::uint32_t seq = 0;    // an actor call's place among its actor's calls (from 1)
};
[[nodiscard]] std::string encode(const TaskSpec& s);
/// false when `data` is not a TaskSpec.
[[nodiscard]] bool decode(capnp::Data::Reader data, TaskSpec& out);
[[nodiscard]] std::string u64_bytes(std::uint64_t v);
[[nodiscard]] bool bytes_u64(capnp::Data::Reader d, std::uint64_t& out);
/// How a task's value takes in its dependency at `index`: by place, so that values given
/// in the wrong order show.
[[nodiscard]] inline std::uint64_t dep_mix(std::uint64_t v, std::size_t index) {
  auto r = static_cast<unsigned>(index % 63 + 1);
  return (v << r) | (v >> (64 - r));
}

/// A real worker engine (worker::Worker, as shoal-worker runs it) in the simulated world:
/// its own shoal::Loop, polled by the world on the virtual clock; its connection to the
/// coordinator an in-process pair whose far end the world relays over a Link (with the
/// network's delays and faults). It runs the simulation's tasks (tasks.hpp), which check
/// on it what only a worker can see: resources held, actor calls' order, none twice.
class SimWorker final : public SimPeer {
 public:
  SimWorker(World& w, int index, std::uint32_t threads, bool gpu, Rng rng);
  ~SimWorker() override;
  /// Starts a new process of it: a fresh loop and engine that dial the coordinator.
  void start();
  /// Dies as a killed process does: its connection resets, its tasks and actors are gone;
  /// a supervisor starts it again after a while.
  void kill(const std::string& why);
  /// The engine's messages (after the network's delay): into the worker's connection.
  void on_message(schema::Envelope::Reader env) override;
  /// Its link broke or the engine closed it: the worker's connection closes.
  void on_closed(const std::string& why) override;
  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] bool has_gpu() const noexcept { return gpu_; }
  [[nodiscard]] bool alive() const noexcept { return alive_; }
  [[nodiscard]] World& world() noexcept { return w_; }
  [[nodiscard]] std::uint64_t incarnation() const noexcept { return incarnation_; }

  /// Runs what is ready on its loop; true when anything ran.
  bool poll();
  bool dirty = false;                        // something was handed to its loop: poll it
  std::uint64_t due = ~std::uint64_t{0};     // its loop's earliest timer (virtual ns)
  /// The clock moved: its next poll looks at its timers.
  void kick();
  /// Ends the processes killed since the last call (never from inside a poll).
  void reap();

  // For the tasks it runs (tasks.cpp).
  std::set<std::uint64_t> gpu_running;  // tasks asking for its gpu that run now
  /// A task crashed the process: its crash report leaves after what the worker wrote
  /// before (as shoal-worker's signal handler writes it), then it dies.
  void crash(std::uint64_t task);

 private:
  struct Far;
  struct Life;
  std::shared_ptr<link::Connection> dial();
  void from_worker(Far& far, schema::Envelope::Reader env);
  void worker_closed(Far& far, const std::string& why);
  [[nodiscard]] Far* current_far();

  World& w_;
  std::string name_;
  std::uint32_t threads_;
  bool gpu_;
  Rng rng_;
  Link* link_ = nullptr;
  bool alive_ = false;
  std::uint64_t incarnation_ = 0;
  std::unique_ptr<Life> life_;
  std::vector<std::unique_ptr<Life>> dead_;  // killed, ended at the next reap()
};

class SimClient final : public SimPeer {
 public:
  SimClient(World& w, int index, Rng rng, bool gpu_cluster, std::uint64_t work_until);
  void start();
  void on_message(schema::Envelope::Reader env) override;
  void on_closed(const std::string& why) override;
  [[nodiscard]] const std::string& name() const override { return name_; }
  /// Every task it submitted has ended (or it was lost), and its script is done.
  [[nodiscard]] bool settled() const;
  /// At the end: the invariants over what it saw.
  void check_end();

 private:
  enum class End : std::uint8_t { pending, done, failed, cancelled, lost };
  struct Task {
    std::uint64_t id = 0;
    TaskSpec spec;
    std::vector<std::uint64_t> deps;
    bool acked = false, is_dep = false, cancel_sent = false, released = false;
    bool creates_actor = false;  // an actor's constructor (its value is not checked)
    std::uint64_t actor = 0;     // a call on this actor (a create: the actor it creates)
    End end = End::pending;
    std::string error;  // failed: its type
    int copies_allowed = 0;    // resubscribes since its result: a copy may cross each
    int first_kind = -1;       // the first result's kind (schema::Result::Which)
    std::string first_outcome; // and its value's bytes or error's type
    std::uint64_t first_generation = 0;  // the coordinator's run that sent it
    std::uint64_t sent_generation = 0;   // the coordinator's run it was last sent to
    std::int32_t max_restarts = 0, max_task_retries = 0;  // an actor's create's
  };
  void connect();
  void hello();
  void submit_batch();
  void create_actors();
  void send_create(const Task& create);
  void send_submits(const std::vector<std::uint64_t>& ids);
  void on_result(schema::Result::Reader r);
  void become_lost(const std::string& why);
  [[nodiscard]] bool expected(const Task& t, std::uint64_t& value) const;

  World& w_;
  std::string name_;
  Rng rng_;
  bool gpu_cluster_;
  std::uint64_t work_until_;
  Link* link_ = nullptr;
  std::uint64_t peer_id_ = 0, seq_ = 0, backoff_ = 50 * kMs, away_since_ = 0;
  bool welcomed_ = false, lost_ = false, script_done_ = false;
  std::string lost_why_;
  std::map<std::uint64_t, Task> tasks_;
  std::deque<std::uint64_t> unacked_;
  std::set<std::uint64_t> resubscribed_;
  std::vector<std::uint64_t> to_release_;
  struct MyActor {
    std::uint64_t id = 0;
    std::uint32_t calls = 0;
  };
  std::vector<MyActor> actors_;
  bool actors_made_ = false;
};

}  // namespace shoal::sim
