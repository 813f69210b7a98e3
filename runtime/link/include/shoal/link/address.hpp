#pragma once
/// \file
/// Where a coordinator listens and how a peer reaches it: `unix:///run/shoal.sock` (or a
/// bare absolute path) and `tcp://host:port`, the default socket rule, and blocking
/// connects that return a socket the Connection reads and writes.

#include <asio/any_io_executor.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "shoal/proto/stream.hpp"

namespace shoal::link {

/// A parsed address.
struct Address {
  enum class Kind { unix_socket, tcp };
  Kind kind = Kind::unix_socket;
  std::string path;  ///< unix_socket
  std::string host;  ///< tcp
  std::uint16_t port = 0;

  [[nodiscard]] std::string to_string() const;
};

/// Parses an address. ValueError says what is wrong with it.
[[nodiscard]] Address parse_address(std::string_view text);

/// The coordinator's default socket: `$XDG_RUNTIME_DIR/shoal/coordinator.sock`, else
/// `/tmp/shoal-$UID/coordinator.sock`.
[[nodiscard]] std::string default_socket_path();
/// `$SHOAL_ADDRESS` when set, else `unix://` + default_socket_path().
[[nodiscard]] std::string default_address();

/// Connects to `address` now (blocking, bounded by the kernel: a Unix socket answers at
/// once, TCP within its connect timeout). ConnectionError "no coordinator at ADDRESS: why",
/// or, on a Unix socket, when the server runs as another user (SO_PEERCRED).
[[nodiscard]] proto::Socket connect_socket(const asio::any_io_executor& ex, const Address& address);

/// Wraps a connected stream socket descriptor (a socketpair end, an inherited fd).
[[nodiscard]] proto::Socket adopt_socket(const asio::any_io_executor& ex, int fd);

/// Creates `dir` (and parents) with mode 0700 when missing. Error when it cannot.
void make_private_dir(const std::string& dir);

}  // namespace shoal::link
