#include "shoal/link/listener.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <asio/use_awaitable.hpp>

#include "shoal/core/task.hpp"
#include "shoal/link/private_files.hpp"

namespace shoal::link {

Listener::Listener(const asio::any_io_executor& ex, const Address& address) : address_(address) {
  std::error_code ec;
  if (address.kind == Address::Kind::unix_socket) {
    auto slash = address.path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      auto dir = address.path.substr(0, slash);
      // The default socket's directory is shoal's own: it must be private (another user
      // may have made it first). Another directory is the operator's choice.
      auto def = default_socket_path();
      if (dir == def.substr(0, def.rfind('/')))
        ensure_private_dir(dir);
      else
        make_private_dir(dir);
    }
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
  auto ex = shoal::detail::loop_executor(co_await asio::this_coro::executor);  // its connections belong to no task
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

}  // namespace shoal::link
