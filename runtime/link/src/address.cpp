#include "shoal/link/address.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace shoal::link {


std::string Address::to_string() const {
  if (kind == Kind::tcp) return "tcp://" + host + ":" + std::to_string(port);
  return "unix://" + path;
}

Address parse_address(std::string_view text) {
  Address a;
  if (text.starts_with("unix://")) {
    a.path = std::string(text.substr(7));
  } else if (text.starts_with("/")) {
    a.path = std::string(text);
  } else if (text.starts_with("tcp://")) {
    auto rest = text.substr(6);
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size())
      throw ValueError("address " + std::string(text) + " needs a host and a port: tcp://HOST:PORT");
    a.kind = Address::Kind::tcp;
    a.host = std::string(rest.substr(0, colon));
    if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
    auto port = rest.substr(colon + 1);
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value > 65535)
      throw ValueError("address " + std::string(text) + " has a bad port: " + std::string(port));
    a.port = static_cast<std::uint16_t>(value);
    return a;
  } else {
    throw ValueError("address " + std::string(text) +
                     " is neither unix:///PATH, an absolute socket path, nor tcp://HOST:PORT");
  }
  if (a.path.empty() || a.path.front() != '/')
    throw ValueError("address " + std::string(text) + " needs an absolute socket path");
  if (a.path.size() >= sizeof(sockaddr_un::sun_path))
    throw ValueError("socket path " + a.path + " is longer than the " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                     " bytes Unix sockets allow");
  return a;
}

std::string default_socket_path() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg) return std::string(xdg) + "/shoal/coordinator.sock";
  return "/tmp/shoal-" + std::to_string(::getuid()) + "/coordinator.sock";
}

std::string default_address() {
  if (const char* env = std::getenv("SHOAL_ADDRESS"); env && *env) return env;
  return "unix://" + default_socket_path();
}

proto::Socket adopt_socket(const asio::any_io_executor& ex, int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int family = AF_UNIX;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) family = ss.ss_family;
  return proto::Socket(ex, asio::generic::stream_protocol(family, SOCK_STREAM), fd);
}

proto::Socket connect_socket(const asio::any_io_executor& ex, const Address& address) {
  std::error_code ec;
  if (address.kind == Address::Kind::unix_socket) {
    asio::local::stream_protocol::socket s(ex);
    s.connect(asio::local::stream_protocol::endpoint(address.path), ec);
    if (ec) throw ConnectionError("no coordinator at " + address.to_string() + ": " + ec.message());
    // The server end must be ours: another user could have put a socket where ours goes
    // and would read what we submit.
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(s.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
      throw ConnectionError("cannot tell who listens at " + address.to_string() + ": " + std::strerror(errno));
    if (cred.uid != ::geteuid())
      throw ConnectionError("the server at " + address.to_string() + " runs as uid " + std::to_string(cred.uid) +
                            ", not as you (uid " + std::to_string(::geteuid()) + "): refusing to talk to it");
    return proto::Socket(ex, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), s.release());
  }
  asio::ip::tcp::resolver resolver(ex);
  auto endpoints = resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec) throw ConnectionError("cannot resolve " + address.to_string() + ": " + ec.message());
  asio::ip::tcp::socket s(ex);
  asio::connect(s, endpoints, ec);
  if (ec) throw ConnectionError("no coordinator at " + address.to_string() + ": " + ec.message());
  s.set_option(asio::ip::tcp::no_delay(true));
  auto family = s.local_endpoint().protocol().family();
  return proto::Socket(ex, asio::generic::stream_protocol(family, SOCK_STREAM), s.release());
}

void make_private_dir(const std::string& dir) {
  if (dir.empty()) return;
  struct stat st{};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw Error(dir + " exists and is not a directory");
    return;
  }
  auto slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) make_private_dir(dir.substr(0, slash));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw Error("cannot create directory " + dir + ": " + std::strerror(errno));
}

}  // namespace shoal::link
