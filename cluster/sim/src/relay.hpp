#pragma once
// The relay of one simulated process (a worker's, a client's) between its end of its
// connection to the coordinator, an in-process pair on the process's own loop, and its
// Link over the simulated network.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>

#include "world.hpp"

namespace shoal::sim {

/// One per process's life: made with it, and dropped with its loop (its ends live on it).
/// `owner` is the peer the world delivers to; it hands the relay what the engine sends.
class Relay {
 public:
  Relay(World& w, SimPeer& owner);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  /// A new connection for the process, its end on `ex` (its loop's executor); the one it
  /// had closes after what it sent. nullptr while the coordinator is down (refused).
  std::shared_ptr<link::Connection> dial(const asio::any_io_executor& ex);
  /// Whether the process has a live connection (what the engine sends can reach it).
  [[nodiscard]] bool live() { return current_far() != nullptr; }
  /// The engine's message, after the network's delay: into the process's connection.
  void deliver(schema::Envelope::Reader env);
  /// A message of the process's own making (a crash report), straight onto its link.
  void send(capnp::MessageBuilder& msg);
  /// The link broke or the engine closed it: the process's connection closes.
  void engine_closed(const std::string& why);
  /// The process is gone: what it sent still arrives, then its link closes; nothing of it
  /// reaches the world again.
  void process_gone(const std::string& why);

  /// Nothing of the process reaches the world any more (its loop is about to run its last).
  void silence();

  /// What the process writes, seen on its way (the client's checks); may be empty.
  std::function<void(schema::Envelope::Reader)> outbound;

 private:
  struct Far;
  Far* current_far();
  void from_process(Far& far, schema::Envelope::Reader env);
  void process_closed(Far& far, const std::string& why);

  World& w_;
  SimPeer& owner_;
  Link* link_ = nullptr;
  std::vector<std::unique_ptr<Far>> fars_;
};

}  // namespace shoal::sim
