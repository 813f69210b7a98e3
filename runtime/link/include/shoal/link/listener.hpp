#pragma once
/// \file
/// Listener: accepts connections on one address. A Unix socket's directory is created
/// 0700 and the socket made 0600; a stale socket file (nobody listening) is replaced, a
/// live one makes the constructor throw ("a coordinator is already listening at ...").
/// The socket file is removed when the listener closes.

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>

#include <memory>

#include "shoal/core/coro.hpp"
#include "shoal/link/address.hpp"

namespace shoal::link {

class Listener {
 public:
  Listener(const asio::any_io_executor& ex, const Address& address);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// The next connection. Throws ConnectionError once closed; cancelled by close().
  Coro<proto::Socket> accept();
  /// Stops accepting (a pending accept() ends) and removes the socket file.
  void close() noexcept;
  /// The address it listens on (a TCP port 0 resolved to the real port).
  [[nodiscard]] const Address& address() const noexcept { return address_; }
  [[nodiscard]] bool is_tcp() const noexcept { return address_.kind == Address::Kind::tcp; }

 private:
  Address address_;
  std::unique_ptr<asio::local::stream_protocol::acceptor> unix_;
  std::unique_ptr<asio::ip::tcp::acceptor> tcp_;
  bool unlink_on_close_ = false;
};

}  // namespace shoal::link
