#pragma once
/// \file
/// The links a client may run over besides a socket of its own (Client(address)): an
/// in-process link to a coordinator in this process (LocalCluster), and connections its
/// program dials on an executor it polls itself (the deterministic simulation).

#include <asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>

namespace shoal::link {
class Connection;
}

namespace shoal::remote::detail {

/// An in-process link to a coordinator in this process (LocalCluster): the client makes
/// a link::Connection::local_pair() on `executor` (the coordinator's) and gives the
/// coordinator its end through `adopt` (Coordinator::adopt).
struct LocalLink {
  std::string address;  ///< shown in messages
  asio::any_io_executor executor;
  std::function<void(std::shared_ptr<link::Connection>)> adopt;
};

/// A link the embedding program makes and drives (the deterministic simulation): the
/// client runs on `executor`, which that program runs on one thread of its own (polling
/// it, as the simulation does); `dial` makes each connection, the first and every
/// reconnect's (nullptr: refused, as a socket nobody listens on would be). Nothing
/// blocks: start_dialled() returns before the Welcome (peer_id() is 0 until it came),
/// and close() is called on that thread.
struct DialledLink {
  std::string address;  ///< shown in messages
  asio::any_io_executor executor;
  std::function<std::shared_ptr<link::Connection>()> dial;
};

}  // namespace shoal::remote::detail
