#pragma once
// A connected pair of Unix stream sockets as asio generic stream sockets.

#include <sys/socket.h>

#include <asio/generic/stream_protocol.hpp>
#include <stdexcept>
#include <utility>

namespace shoal::test {

using GenericSocket = asio::generic::stream_protocol::socket;

inline std::pair<GenericSocket, GenericSocket> socket_pair(const asio::any_io_executor& ex) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair failed");
  asio::generic::stream_protocol proto(AF_UNIX, SOCK_STREAM);
  return {GenericSocket(ex, proto, fds[0]), GenericSocket(ex, proto, fds[1])};
}

}  // namespace shoal::test
