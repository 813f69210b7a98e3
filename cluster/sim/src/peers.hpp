#pragma once
// The simulated peers: workers and clients that speak the real protocol (the messages of
// proto/schema/shoal.capnp, over link::Connection) with the behaviour of shoal-worker and
// of remote::Client where the coordinator can tell (registration, heartbeats, results
// kept across a reconnect; resent submits, resubscribed results), and that check what
// reaches them. Their tasks do nothing but wait on the virtual clock.

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

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
/// The simulated actor class and its one method.
inline constexpr const char* kActorClass = "SimCounter";
inline constexpr std::uint64_t kActorHash = 0x5a17'5eed'0000'0002ull;
inline constexpr std::uint64_t kMethodHash = 0x5a17'5eed'0000'0003ull;
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

class SimWorker final : public SimPeer {
 public:
  SimWorker(World& w, int index, std::uint32_t threads, bool gpu, Rng rng);
  void start();
  /// Dies as a killed process does: its connection resets, its tasks are gone; it is
  /// started again (a supervisor's restart) after a while.
  void kill(const std::string& why);
  void on_message(schema::Envelope::Reader env) override;
  void on_closed(const std::string& why) override;
  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] bool has_gpu() const noexcept { return gpu_; }
  [[nodiscard]] bool alive() const noexcept { return alive_; }

 private:
  struct Job {
    std::uint64_t id = 0;
    std::uint64_t actor = 0;  // a call on this actor (0: a plain task)
    std::uint32_t attempt = 0;
    TaskSpec spec;
    std::uint64_t deps_xor = 0;
    bool running = false, finished = false;
    std::uint64_t started_at = 0;
    std::string error;  // finished: "" a value
  };
  void connect();
  void welcome(schema::Welcome::Reader w);
  void assign(schema::Assign::Reader a);
  void start_jobs();
  void finish(std::uint64_t id, std::uint64_t incarnation);
  void report(Job& j);
  void heartbeat(std::uint64_t incarnation, std::uint64_t session);

  World& w_;
  std::string name_;
  std::uint32_t threads_;
  bool gpu_;
  Rng rng_;
  Link* link_ = nullptr;
  bool alive_ = false, welcomed_ = false;
  std::uint64_t incarnation_ = 0, session_ = 0, heartbeat_ns_ = 200 * kMs, started_ = 0;
  std::map<std::uint64_t, Job> jobs_;  // held: queued, running, finished and not yet reported
  std::deque<std::uint64_t> queue_;
  std::uint32_t running_ = 0;
  std::uint32_t gpu_held_ = 0;  // gpu asked by the tasks it was given and has not reported
  // The actors it hosts: each instance's last call given (calls come in their order) and
  // whether one runs (one at a time, as max_concurrency 1 says).
  struct Hosted {
    std::uint32_t last_seq = 0;
    std::uint64_t last_generation = 0;  // the coordinator's run that gave it the latest call
    bool busy = false;
    std::set<std::uint64_t> given;  // calls given to this instance: none runs twice (as ActorHost)
  };
  std::map<std::uint64_t, Hosted> actors_;
  void create_actor(schema::ActorCreate::Reader c);
  void result_value(std::uint64_t task, std::uint32_t attempt, std::uint64_t value);
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
    std::uint64_t actor = 0;     // a call on this actor
    End end = End::pending;
    std::string error;  // failed: its type
    int copies_allowed = 0;    // resubscribes since its result: a copy may cross each
    int first_kind = -1;       // the first result's kind (schema::Result::Which)
    std::string first_outcome; // and its value's bytes or error's type
    std::uint64_t first_generation = 0;  // the coordinator's run that sent it
    std::uint64_t sent_generation = 0;   // the coordinator's run it was last sent to
    std::uint64_t sent_link = 0;         // an actor's create: the link it went on
  };
  void connect();
  void hello();
  void submit_batch();
  void create_actors();
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
