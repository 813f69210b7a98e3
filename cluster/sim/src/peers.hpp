#pragma once
// The peers of the simulated world: real worker engines (worker::Worker) and real clients
// (remote::Client's ClientCore), each on a loop of its own that the world polls, their
// connections relayed over the simulated network. Tasks do nothing but wait on the
// virtual clock.

#include <cstdint>
#include <memory>
#include <optional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "shoal/core/future.hpp"
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
class SimWorker final : public SimPeer, public Polled {
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

  bool poll() override;
  void kick() override;
  /// Ends the processes killed since the last call.
  void reap() override;

  // For the tasks it runs (tasks.cpp).
  std::set<std::uint64_t> gpu_running;  // tasks asking for its gpu that run now
  /// A task crashed the process: its crash report leaves after what the worker wrote
  /// before (as shoal-worker's signal handler writes it), then it dies.
  void crash(std::uint64_t task);

 private:
  struct Life;
  std::shared_ptr<link::Connection> dial();

  World& w_;
  std::string name_;
  std::uint32_t threads_;
  bool gpu_;
  Rng rng_;
  bool alive_ = false;
  std::uint64_t incarnation_ = 0;
  std::unique_ptr<Life> life_;
  std::vector<std::unique_ptr<Life>> dead_;  // killed, ended at the next reap()
};

/// A client of the simulated world: the real remote::Client (its ClientCore, over a
/// DialledLink) on a loop of its own that the world polls, its connections relayed over
/// the network as a worker's are. Its script submits `sim.work` tasks (some on earlier
/// ones, some cancelled, half released once done), creates SimCounter actors and calls
/// them. What the engine sends it is checked on the wire (each result once unless asked
/// for again, the values due, nothing accepted it did not submit); what the client makes
/// of it, in its futures (the first outcome the engine sent; a task a journaled
/// coordinator accepted never lost).
class SimClient final : public SimPeer, public Polled {
 public:
  SimClient(World& w, int index, Rng rng, bool gpu_cluster, std::uint64_t work_until);
  ~SimClient() override;
  void start();
  /// The engine's messages (after the network's delay): seen, then into the client's connection.
  void on_message(schema::Envelope::Reader env) override;
  /// Its link broke or the engine closed it: the client's connection closes.
  void on_closed(const std::string& why) override;
  [[nodiscard]] const std::string& name() const override { return name_; }
  bool poll() override;
  void kick() override;
  void reap() override;
  /// Its script is done and every future it holds is (the client gave up: failed).
  [[nodiscard]] bool settled();
  /// At the end: the invariants over what it saw.
  void check_end();

 private:
  enum class End : std::uint8_t { pending, done, failed, cancelled, lost };
  struct Task {
    std::uint64_t id = 0;
    TaskSpec spec;
    std::vector<std::uint64_t> deps;
    bool acked = false, is_dep = false, released = false;
    bool creates_actor = false;  // an actor's constructor (its value is not checked)
    std::uint64_t actor = 0;     // a call on this actor (a create: the actor it creates)
    End end = End::pending;      // what the engine's first result said
    std::string error;           // failed: its type
    int copies_allowed = 0;      // resubscribes since its result: a copy may cross each
    int first_kind = -1;         // the first result's kind (schema::Result::Which)
    std::string first_outcome;   // and its value's bytes or error's type
    std::uint64_t first_generation = 0;  // the coordinator's run that sent it
    std::uint64_t sent_generation = 0;   // the coordinator's run it was last sent to
    std::optional<Future<Bytes>> future;  // the client's (dropped: released)
    bool harvested = false;               // its future's outcome was checked
  };
  struct Life;
  /// A new client, as a program constructs remote::Client.
  void open();
  /// What the client sends, seen on its way: what it asks for again, where it sent a task.
  void outbound(schema::Envelope::Reader env);
  void submit_batch();
  void create_actors();
  /// Submits `t` through the client (its id given there) and keeps it.
  void submit(Task t);
  /// The futures done since the last call: their outcomes checked, half of them released.
  void harvest();
  void on_result(schema::Result::Reader r);
  [[nodiscard]] bool expected(const Task& t, std::uint64_t& value) const;

  World& w_;
  std::string name_;
  Rng rng_;
  bool gpu_cluster_;
  std::uint64_t work_until_;
  std::unique_ptr<Life> life_;
  std::vector<std::unique_ptr<Life>> dead_;  // clients given up on, ended at the next reap()
  std::uint64_t peer_id_ = 0, highest_id_ = 0;
  bool gave_up_ = false, script_done_ = false;
  std::map<std::uint64_t, Task> tasks_;
  std::set<std::uint64_t> resubscribed_;
  struct MyActor {
    std::uint64_t id = 0;
    std::uint32_t calls = 0;
  };
  std::vector<MyActor> actors_;
  bool actors_made_ = false;
};

}  // namespace shoal::sim
