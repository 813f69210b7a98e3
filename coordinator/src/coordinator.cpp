// Coordinator: the public face of the engine (engine.hpp).

#include "shoal/coordinator/coordinator.hpp"

#include <asio/post.hpp>

#include "engine.hpp"
#include "http/server.hpp"
#include "shoal/link/address.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/tls.hpp"

namespace shoal::coordinator {

Coordinator::Coordinator(asio::any_io_executor ex, CoordinatorOptions options)
    : engine_(std::make_shared<Engine>(std::move(ex), std::move(options))) {}

Coordinator::~Coordinator() {
  if (http_) http_->stop();  // before the engine's executor can go
  for (auto& l : engine_->listeners) l->close();
}

void Coordinator::start() {
  auto& e = *engine_;
  std::vector<std::string> addrs = e.opt.listen;
  if (addrs.empty() && e.opt.listen_default) addrs.push_back(link::default_address());
  if (e.opt.tls.enabled()) e.tls = link::TlsContext::server(e.opt.tls);
  if (!e.opt.journal.empty() && !e.journal) e.open_journal();
  for (auto& a : addrs) {
    auto addr = link::parse_address(a);
    if (addr.kind == link::Address::Kind::tcp && e.opt.token.size() < link::kMinTokenBytes)
      throw ValueError("listening on " + a + " needs a token of at least " + std::to_string(link::kMinTokenBytes) +
                       " bytes (--token-file): TCP peers must prove they know it");
    e.listeners.push_back(std::make_unique<link::Listener>(e.ex, addr));
  }
  if (!e.opt.http.empty() && !http_) {
    http_ = std::make_shared<HttpServer>(HttpOptions{e.opt.http, e.opt.http_any_port, e.opt.token, e.opt.tls}, engine_);
    e.http_address = http_->url();
  }
}

std::string Coordinator::http_url() const { return http_ ? http_->url() : std::string(); }

asio::awaitable<void> Coordinator::run() {
  // Locals, not members: this Coordinator may be gone by the time the engine's run ends
  // (its owner may drop it once stop() was called and the loop turned).
  auto engine = engine_;
  auto http = http_;
  co_await engine->run();
  // Stopped: requests would wait on an engine that no longer answers. The threads are
  // joined by the destructor, not here on the engine's thread.
  if (http) http->close();
}

void Coordinator::stop() { engine_->begin_stop(engine_->opt.grace); }

void Coordinator::stop_now() { engine_->begin_stop(std::chrono::milliseconds(0)); }

void Coordinator::adopt(proto::Socket socket) {
  adopt(link::Connection::over_socket(std::move(socket)));
}

void Coordinator::adopt(std::shared_ptr<link::Connection> connection) {
  asio::post(engine_->ex, [e = engine_, c = std::move(connection)]() mutable {
    if (e->stopped) return c->close("the coordinator stopped");
    e->start_peer(std::move(c));
  });
}

asio::any_io_executor Coordinator::executor() const { return engine_->ex; }

std::vector<std::string> Coordinator::addresses() const {
  std::vector<std::string> out;
  for (auto& l : engine_->listeners) out.push_back(l->address().to_string());
  return out;
}

}  // namespace shoal::coordinator
