#pragma once
// TlsLayer: a proto::StreamLayer over asio::ssl::stream, which the Connection reads and
// writes through once secure() was called. Private to the link layer.

#include <asio/ssl.hpp>

#include <functional>
#include <memory>
#include <string>

#include "shoal/link/tls.hpp"
#include "shoal/proto/stream.hpp"

namespace shoal::link {

struct TlsContext::Impl {
  explicit Impl(asio::ssl::context::method m) : ctx(m) {}
  asio::ssl::context ctx;
};

class TlsLayer final : public proto::StreamLayer {
 public:
  /// Over `socket` (which must outlive the layer). `host`: the name or address a client
  /// dialled, checked against the server's certificate and sent as SNI.
  TlsLayer(proto::Socket& socket, std::shared_ptr<TlsContext> context, const std::string& host);

  /// The TLS handshake; `done` gets an empty string, or why it failed.
  void handshake(std::function<void(const std::string& error)> done);

  /// `why` a secured connection ended, with what a TLS alert from the peer means for us.
  [[nodiscard]] static std::string explain(const std::string& why);

  void async_read_some(asio::mutable_buffer buffer, Handler handler) override;
  void async_write(asio::const_buffer buffer, Handler handler) override;

 private:
  std::shared_ptr<TlsContext> context_;
  asio::ssl::stream<proto::Socket&> stream_;
};

}  // namespace shoal::link
