#pragma once
// ActorHost: the actors placed on this worker. Each actor's calls wait in its mailbox and
// start in arrival order through the Runner, up to its max_concurrency at once (1: one
// after another; more: an async actor's coroutines interleave, a threaded actor's plain
// methods run on the pool's threads).

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runner.hpp"

namespace shoal::worker {

class ActorHost : public std::enable_shared_from_this<ActorHost> {
 public:
  ActorHost(std::shared_ptr<Runner> runner, remote::Registry& registry) : runner_(std::move(runner)), registry_(registry) {}

  /// Constructs actor `actor` of `cls` from `args`; reports task `task` (its ready()).
  void create(std::uint64_t actor, const std::string& cls, std::uint64_t constructor_hash, const Bytes& args,
              std::uint64_t task, std::uint32_t max_concurrency = 1);
  /// Queues a call (j->actor names the actor, j->function the method); reports an
  /// InvalidStateError when the actor is not here.
  void call(std::shared_ptr<Job> j);
  /// The actor goes once its mailbox is empty and no call runs.
  void release(std::uint64_t actor);
  /// The actor goes now: its calls not started are dropped (reported cancelled), those
  /// running are cancelled (a coroutine at its next await, a plain call asked to stop).
  void kill(std::uint64_t actor);
  /// The actors constructed here and not released (told to a coordinator on registering,
  /// so that one restarted on its journal finds them again).
  [[nodiscard]] std::vector<std::uint64_t> live() const;

 private:
  struct Actor {
    std::optional<remote::ActorInstance> instance;
    std::deque<std::shared_ptr<Job>> mailbox;
    std::uint32_t running = 0;  // calls started and not ended
    std::uint32_t max_concurrency = 1;
    std::vector<std::shared_ptr<Job>> active;  // those calls (a kill cancels them)
    std::uint64_t generation = 0;  // its incarnation on this worker
    bool released = false;
    bool killed = false;
    // The calls this instance was given (the latest kCallsRemembered): a coordinator
    // restarted on its journal sends again the calls whose ends it had not written, and
    // a call must not run twice, nor after the calls that followed it.
    std::unordered_set<std::uint64_t> given;
    std::deque<std::uint64_t> given_order;
  };
  static constexpr std::size_t kCallsRemembered = 1u << 16;
  void pump(std::uint64_t actor);

  std::shared_ptr<Runner> runner_;
  remote::Registry& registry_;
  std::unordered_map<std::uint64_t, Actor> actors_;
};

}  // namespace shoal::worker
