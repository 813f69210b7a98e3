#pragma once
// The coordinator's HTTP server (`--http ADDR`): /metrics (Prometheus), the JSON API
// (/api/v1/...), the timeline and the dashboard. It runs on threads of its own (cpp-httplib's);
// a request asks the engine for a copy of what it needs (posted to the engine's executor)
// and renders it here, so that the engine never waits on a browser, a scraper or a slow
// network. Authentication: a loopback client of this same user (its socket's owner, read
// from /proc/net/tcp) is served as it is, if its Host header names loopback (no DNS
// rebinding); any other client must present the cluster's token as a bearer (or a
// certificate, under mutual TLS). The page's static files need nothing: they hold no data.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "shoal/link/tls.hpp"

namespace httplib {
class Server;
}

namespace shoal::coordinator {

struct Engine;

struct HttpOptions {
  std::string address;        // "HOST:PORT" (port 0: any free one)
  bool any_port_if_taken = false;  // the default address: another port when this one is taken
  std::string token;          // a non-loopback client's bearer
  link::TlsOptions tls;       // HTTPS (with ca: clients need a certificate that chains to it)
};

class HttpServer {
 public:
  /// Binds (throws shoal::Error when it cannot, or when a non-loopback address has
  /// neither a token nor TLS) and starts serving on its own threads.
  HttpServer(HttpOptions options, std::shared_ptr<Engine> engine);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// "http://127.0.0.1:8265" (https with TLS), the port as bound.
  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  /// Stops taking connections; requests in progress answer 503. Does not wait.
  void close();
  /// close(), then waits for the threads to end (an idle keep-alive connection: at most
  /// its 2 s timeout).
  void stop();

 private:
  void routes();
  HttpOptions opt_;
  std::weak_ptr<Engine> engine_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string url_;
  std::shared_ptr<std::atomic<bool>> stopping_;
};

/// Whether `host` (an IP address or "localhost") is a loopback address.
[[nodiscard]] bool is_loopback(const std::string& host);
/// The uid owning the local TCP socket at `address`:`port` (an IPv4 or IPv6 address as
/// text), from /proc/net/tcp and tcp6; nullopt when none is found.
[[nodiscard]] std::optional<unsigned> local_socket_uid(const std::string& address, int port);
/// Whether a Host header names loopback ("127.0.0.1:8265", "localhost", "[::1]:80").
[[nodiscard]] bool loopback_host_header(const std::string& host);

}  // namespace shoal::coordinator
