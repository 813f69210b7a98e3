#include "shoal/remote/link.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <asio/connect.hpp>
#include <asio/use_awaitable.hpp>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace shoal::remote {

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

Listener::Listener(const asio::any_io_executor& ex, const Address& address) : address_(address) {
  std::error_code ec;
  if (address.kind == Address::Kind::unix_socket) {
    auto slash = address.path.rfind('/');
    if (slash != std::string::npos && slash > 0) make_private_dir(address.path.substr(0, slash));
    struct stat st{};
    if (::lstat(address.path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) throw Error(address.path + " exists and is not a socket: remove it or listen elsewhere");
      asio::local::stream_protocol::socket probe(ex);
      probe.connect(asio::local::stream_protocol::endpoint(address.path), ec);
      if (!ec) throw Error("a coordinator is already listening at " + address.to_string());
      ::unlink(address.path.c_str());  // stale: its coordinator is gone
    }
    unix_ = std::make_unique<asio::local::stream_protocol::acceptor>(ex);
    asio::local::stream_protocol::endpoint ep(address.path);
    unix_->open(ep.protocol());
    // Bind with a restrictive umask so that the socket is never reachable by others.
    mode_t old = ::umask(0177);
    unix_->bind(ep, ec);
    ::umask(old);
    if (ec) throw Error("cannot listen at " + address.to_string() + ": " + ec.message());
    ::chmod(address.path.c_str(), 0600);
    unix_->listen(asio::socket_base::max_listen_connections);
    unlink_on_close_ = true;
  } else {
    asio::ip::tcp::resolver resolver(ex);
    auto results = resolver.resolve(address.host, std::to_string(address.port), asio::ip::tcp::resolver::passive, ec);
    if (ec || results.empty()) throw Error("cannot resolve " + address.to_string() + ": " + ec.message());
    auto ep = results.begin()->endpoint();
    tcp_ = std::make_unique<asio::ip::tcp::acceptor>(ex);
    tcp_->open(ep.protocol());
    tcp_->set_option(asio::socket_base::reuse_address(true));
    tcp_->bind(ep, ec);
    if (ec) throw Error("cannot listen at " + address.to_string() + ": " + ec.message());
    tcp_->listen(asio::socket_base::max_listen_connections);
    address_.port = tcp_->local_endpoint().port();
  }
}

Listener::~Listener() { close(); }

void Listener::close() noexcept {
  std::error_code ec;
  if (unix_ && unix_->is_open()) unix_->close(ec);
  if (tcp_ && tcp_->is_open()) tcp_->close(ec);
  if (unlink_on_close_) {
    ::unlink(address_.path.c_str());
    unlink_on_close_ = false;
  }
}

Coro<proto::Socket> Listener::accept() {
  auto ex = co_await asio::this_coro::executor;
  if (unix_) {
    if (!unix_->is_open()) throw ConnectionError("the listener is closed");
    auto s = co_await unix_->async_accept(asio::use_awaitable);
    co_return proto::Socket(ex, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), s.release());
  }
  if (!tcp_ || !tcp_->is_open()) throw ConnectionError("the listener is closed");
  auto s = co_await tcp_->async_accept(asio::use_awaitable);
  s.set_option(asio::ip::tcp::no_delay(true));
  auto family = s.local_endpoint().protocol().family();
  co_return proto::Socket(ex, asio::generic::stream_protocol(family, SOCK_STREAM), s.release());
}

const std::string& this_host() {
  static const std::string host = [] {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return std::string("unknown");
    return std::string(name);
  }();
  return host;
}

std::uint64_t steady_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

std::uint64_t wall_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

void set_error(proto::schema::RemoteError::Builder out, const codec::RemoteErrorInfo& info) {
  out.setTypeName(info.type_name);
  out.setMessage(info.message);
  out.setFunction(info.function);
  out.setTaskId(info.task_id);
  out.setHost(info.host);
  out.setPid(info.pid);
  out.setKind(info.kind);
}

codec::RemoteErrorInfo get_error(proto::schema::RemoteError::Reader in) {
  codec::RemoteErrorInfo info;
  info.type_name = text(in.getTypeName());
  info.message = text(in.getMessage());
  info.function = text(in.getFunction());
  info.task_id = in.getTaskId();
  info.host = text(in.getHost());
  info.pid = in.getPid();
  info.kind = text(in.getKind());
  return info;
}

namespace {

using Maker = std::exception_ptr (*)(const std::string&);

struct ExceptionTable {
  std::mutex mu;
  std::map<std::string, Maker, std::less<>> makers;
  ExceptionTable() {
    add<CancelledError>("shoal::CancelledError");
    add<TimeoutError>("shoal::TimeoutError");
    add<TypeMismatch>("shoal::TypeMismatch");
    add<ValueError>("shoal::ValueError");
    add<WorkerLost>("shoal::WorkerLost");
    add<DependencyFailed>("shoal::DependencyFailed");
    add<InvalidStateError>("shoal::InvalidStateError");
    add<DecodeError>("shoal::DecodeError");
  }
  template <typename E>
  void add(const char* name) {
    makers[name] = +[](const std::string& m) { return std::make_exception_ptr(E(m)); };
  }
};

ExceptionTable& exceptions() {
  static ExceptionTable table;
  return table;
}

}  // namespace

void register_remote_exception(std::string type_name, std::exception_ptr (*make)(const std::string& message)) {
  auto& t = exceptions();
  std::lock_guard lock(t.mu);
  t.makers[std::move(type_name)] = make;
}

std::exception_ptr make_remote_exception(const codec::RemoteErrorInfo& info) {
  if (info.type_name == "shoal::NotRegistered") {
    // Rebuilt from its parts: the message reads "'fn' is not registered (asked: WHO): ...".
    std::string asked = "the workers";
    auto at = info.message.find("(asked: ");
    auto end = info.message.find("): ", at);
    if (at != std::string::npos && end != std::string::npos) asked = info.message.substr(at + 8, end - at - 8);
    std::string fn = info.function;
    if (auto q = info.message.find('\''); fn.empty() && q == 0) fn = info.message.substr(1, info.message.find('\'', 1) - 1);
    return std::make_exception_ptr(NotRegistered(fn, asked));
  }
  Maker make = nullptr;
  {
    auto& t = exceptions();
    std::lock_guard lock(t.mu);
    if (auto it = t.makers.find(info.type_name); it != t.makers.end()) make = it->second;
  }
  if (!make) return std::make_exception_ptr(RemoteError(info));
  std::string where;
  if (info.task_id || !info.host.empty()) {
    where = " (";
    if (!info.function.empty()) where += info.function + ", ";
    where += "task " + std::to_string(info.task_id);
    if (!info.host.empty()) where += " on " + info.host + ", pid " + std::to_string(info.pid);
    where += ")";
  }
  return make(info.message + where);
}

}  // namespace shoal::remote
