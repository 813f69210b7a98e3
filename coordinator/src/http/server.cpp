// The coordinator's HTTP server (server.hpp), on cpp-httplib: Debian's libcpp-httplib-dev,
// a small, well-kept server with TLS through OpenSSL, which we link already.

#include "server.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <unistd.h>

#include <asio/post.hpp>

#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>

#include "../engine.hpp"
#include "../observe.hpp"
#include "assets.hpp"
#include "shoal/core/error.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/timeline.hpp"

namespace shoal::coordinator {

namespace {

constexpr std::uint64_t kMaxLimit = 10'000;
constexpr auto kEngineWait = std::chrono::seconds(5);

// Runs `f` on the engine's thread and waits for what it returns (nullopt: the engine is
// gone, stopping, or did not answer in time).
template <class F>
auto on_engine(const std::weak_ptr<Engine>& weak, const std::atomic<bool>& stopping, F f)
    -> std::optional<decltype(f(std::declval<Engine&>()))> {
  using R = decltype(f(std::declval<Engine&>()));
  auto engine = weak.lock();
  if (!engine || stopping.load()) return std::nullopt;
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  auto abandoned = std::make_shared<std::atomic<bool>>(false);
  asio::post(engine->ex, [weak, promise, abandoned, f = std::move(f)]() mutable {
    auto e = weak.lock();
    if (!e || abandoned->load()) return;  // nobody waits for it any more: no work for nobody
    try {
      promise->set_value(f(*e));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  engine.reset();  // the engine's lifetime is its owner's, not this request's
  auto deadline = std::chrono::steady_clock::now() + kEngineWait;
  while (future.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
    if (stopping.load() || std::chrono::steady_clock::now() > deadline) {
      abandoned->store(true);
      return std::nullopt;
    }
  try {
    return future.get();
  } catch (const std::future_error&) {
    return std::nullopt;  // dropped unrun: the engine's loop ended
  }
}

std::pair<std::string, int> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? std::string() : address.substr(0, colon);
  std::string port = colon == std::string::npos ? address : address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  int p = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p < 0 || p > 65535)
    throw Error("--http " + address + ": expected HOST:PORT (e.g. 127.0.0.1:8265; port 0 for any free one)");
  return {host, p};
}

bool same_token(const std::string& given, const std::string& token) {
  // Constant time in the token's length: no early exit on the first difference.
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>(token[i] ^ (i < given.size() ? given[i] : 0));
  return diff == 0;
}

bool parse_count(const httplib::Request& req, const char* name, std::uint64_t& out, std::string& why) {
  if (!req.has_param(name)) return true;
  auto v = req.get_param_value(name);
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) {
    why = std::string(name) + "=" + v + ": expected a whole number";
    return false;
  }
  return true;
}

void json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, "application/json");
}

}  // namespace

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  std::string h = host;
  if (h.rfind("::ffff:", 0) == 0) h = h.substr(7);  // an IPv4 client on a dual-stack socket
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

namespace {

// "0100007F:1F90" (little-endian IPv4 as /proc shows it) or the 32-hex-digit IPv6 form.
bool proc_address_matches(std::string_view hex, const in6_addr& want6, bool v6, std::uint32_t want4) {
  if (!v6) {
    if (hex.size() != 8) return false;
    return std::strtoul(std::string(hex).c_str(), nullptr, 16) == want4;
  }
  if (hex.size() != 32) return false;
  // Four 32-bit words, each in host (little-endian) order.
  in6_addr a{};
  for (int w = 0; w < 4; ++w) {
    auto word = static_cast<std::uint32_t>(std::strtoul(std::string(hex.substr(w * 8, 8)).c_str(), nullptr, 16));
    std::memcpy(&a.s6_addr[w * 4], &word, 4);
  }
  return std::memcmp(&a, &want6, sizeof a) == 0;
}

}  // namespace

std::optional<unsigned> local_socket_uid(const std::string& address, int port) {
  std::string h = address;
  in_addr v4{};
  in6_addr v6{};
  bool is6 = false;
  if (h.rfind("::ffff:", 0) == 0 && ::inet_pton(AF_INET, h.substr(7).c_str(), &v4) == 1) {
    // An IPv4 client on a dual-stack socket: its own socket is an IPv4 one.
  } else if (::inet_pton(AF_INET, h.c_str(), &v4) != 1) {
    if (::inet_pton(AF_INET6, h.c_str(), &v6) != 1) return std::nullopt;
    is6 = true;
  }
  char want_port[8];
  std::snprintf(want_port, sizeof want_port, "%04X", port & 0xffff);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    bool table6 = std::string_view(table).ends_with("6");
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
      std::istringstream f(line);
      std::string sl, local, remote, st, txrx, trwhen, retr;
      unsigned uid = 0;
      if (!(f >> sl >> local >> remote >> st >> txrx >> trwhen >> retr >> uid)) continue;
      auto colon = local.find(':');
      if (colon == std::string::npos || local.substr(colon + 1) != want_port) continue;
      auto hex = std::string_view(local).substr(0, colon);
      if (!is6 && table6) {
        // An IPv4 socket may sit in tcp6 as ::ffff:a.b.c.d.
        in6_addr mapped{};
        mapped.s6_addr[10] = mapped.s6_addr[11] = 0xff;
        std::memcpy(&mapped.s6_addr[12], &v4, 4);
        if (proc_address_matches(hex, mapped, true, 0)) return uid;
      } else if (is6 == table6 && proc_address_matches(hex, v6, is6, v4.s_addr)) {
        return uid;
      }
    }
  }
  return std::nullopt;
}

bool loopback_host_header(const std::string& host) {
  std::string h = host;
  if (!h.empty() && h.front() == '[') {
    auto close = h.find(']');
    if (close == std::string::npos) return false;
    h = h.substr(1, close - 1);
  } else if (auto colon = h.rfind(':'); colon != std::string::npos && h.find(':') == colon) {
    h = h.substr(0, colon);
  }
  return is_loopback(h);
}

HttpServer::HttpServer(HttpOptions options, std::shared_ptr<Engine> engine)
    : opt_(std::move(options)), engine_(engine), stopping_(std::make_shared<std::atomic<bool>>(false)) {
  auto [host, port] = split_address(opt_.address);
  bool tls = opt_.tls.enabled();
  if (!is_loopback(host) && opt_.token.empty() && !tls)
    throw Error("--http " + opt_.address +
                ": serving beyond loopback needs the cluster's token (--token: clients send it as a bearer) or TLS "
                "(--tls-cert, --tls-key); or serve on 127.0.0.1");
  if (tls) {
    (void)link::TlsContext::server(opt_.tls);  // the files' problems, named (missing, not private, no match)
    auto s = std::make_unique<httplib::SSLServer>(opt_.tls.cert.c_str(), opt_.tls.key.c_str(),
                                                 opt_.tls.ca.empty() ? nullptr : opt_.tls.ca.c_str());
    if (!s->is_valid()) throw Error("--http: cannot set up TLS with " + opt_.tls.cert + " and " + opt_.tls.key);
    server_ = std::move(s);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  // A few threads: the engine does the work; these wait on it and on the network.
  server_->new_task_queue = [] { return new httplib::ThreadPool(4); };
  server_->set_payload_max_length(64 * 1024);
  server_->set_read_timeout(5, 0);
  server_->set_write_timeout(10, 0);
  server_->set_keep_alive_max_count(100);
  server_->set_keep_alive_timeout(2);  // an idle browser connection holds a thread (and stop()) this long
  routes();
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
  } else if (!server_->bind_to_port(host, port)) {
    bound = opt_.any_port_if_taken ? server_->bind_to_any_port(host) : -1;
  }
  if (bound <= 0)
    throw Error("--http " + opt_.address + ": cannot listen there (in use, or not an address of this machine)");
  auto shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  url_ = std::string(tls ? "https://" : "http://") + shown + ":" + std::to_string(bound);
  if (!is_loopback(host) && !tls)
    std::cerr << "shoal-coordinator: warning: " << url_
              << " is plain HTTP beyond loopback: the bearer token crosses the network in clear (use --tls-cert)\n";
  thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
  // Server::stop() does nothing until the listening thread has begun: wait for it, so that
  // a stop right after this can never be lost (and the join after it hang).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!server_->is_running()) {
    server_->stop();
    thread_.detach();  // never started: nothing to join that would ever end
    throw Error("--http " + opt_.address + ": the server did not start");
  }
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::close() {
  stopping_->store(true);
  if (server_) server_->stop();
}

void HttpServer::stop() {
  close();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::routes() {
  auto& s = *server_;
  auto weak = engine_;
  auto stopping = stopping_;
  bool mutual = opt_.tls.enabled() && !opt_.tls.ca.empty();
  // Who may read: a loopback client of this user (asking for a loopback host: a page of
  // another site rebinding its name to 127.0.0.1 is not one), a verified certificate, or
  // the token as a bearer.
  s.set_pre_routing_handler([token = opt_.token, mutual](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "GET" && req.method != "HEAD") {
      json(res, 405, observe::error_json(req.method + ": only GET is served"));
      return httplib::Server::HandlerResponse::Handled;
    }
    bool asset = req.path == "/" || req.path == "/index.html" || req.path == "/app.js" || req.path == "/style.css";
    if (asset || mutual) return httplib::Server::HandlerResponse::Unhandled;
    if (is_loopback(req.remote_addr) && loopback_host_header(req.get_header_value("Host"))) {
      auto uid = local_socket_uid(req.remote_addr, req.remote_port);
      if (uid && (*uid == ::getuid() || *uid == 0)) return httplib::Server::HandlerResponse::Unhandled;
    }
    auto auth = req.get_header_value("Authorization");
    if (!token.empty() && auth.rfind("Bearer ", 0) == 0 && same_token(auth.substr(7), token))
      return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer realm=\"shoal\"");
    json(res, 401, observe::error_json("send the cluster's token (Authorization: Bearer TOKEN; the dashboard: ?token=TOKEN): "
                                       "only this user's programs on this machine are served without it"));
    return httplib::Server::HandlerResponse::Handled;
  });
  auto unavailable = [](httplib::Response& res) {
    json(res, 503, observe::error_json("the coordinator is stopping or did not answer in time"));
  };
  s.Get("/metrics", [=](const httplib::Request&, httplib::Response& res) {
    auto m = on_engine(weak, *stopping, [](Engine& e) { return e.observe_metrics(); });
    if (!m) return unavailable(res);
    res.set_header("Cache-Control", "no-store");
    res.set_content(observe::prometheus(*m), "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/api/v1/summary", [=](const httplib::Request&, httplib::Response& res) {
    auto m = on_engine(weak, *stopping, [](Engine& e) { return e.observe_summary(); });
    if (!m) return unavailable(res);
    json(res, 200, observe::summary_json(*m));
  });
  s.Get("/api/v1/workers", [=](const httplib::Request&, httplib::Response& res) {
    auto m = on_engine(weak, *stopping, [](Engine& e) { return e.observe_workers(); });
    if (!m) return unavailable(res);
    json(res, 200, observe::workers_json(*m));
  });
  s.Get("/api/v1/jobs", [=](const httplib::Request&, httplib::Response& res) {
    auto m = on_engine(weak, *stopping, [](Engine& e) { return e.observe_jobs(); });
    if (!m) return unavailable(res);
    json(res, 200, observe::jobs_json(*m));
  });
  s.Get("/api/v1/tasks", [=](const httplib::Request& req, httplib::Response& res) {
    observe::TaskQuery q;
    std::string why;
    if (!parse_count(req, "limit", q.limit, why) || !parse_count(req, "offset", q.offset, why))
      return json(res, 400, observe::error_json(why));
    if (q.limit == 0 || q.limit > kMaxLimit)
      return json(res, 400, observe::error_json("limit must be 1 to " + std::to_string(kMaxLimit)));
    q.state = req.get_param_value("state");
    q.function = req.get_param_value("function");
    q.job = req.get_param_value("job");
    static const char* const kStates[] = {"waiting", "queued", "running", "done", "failed", "cancelled"};
    if (!q.state.empty() && std::find(std::begin(kStates), std::end(kStates), q.state) == std::end(kStates))
      return json(res, 400,
                  observe::error_json("state=" + q.state + ": expected waiting, queued, running, done, failed or cancelled"));
    auto m = on_engine(weak, *stopping, [q](Engine& e) { return e.observe_tasks(q); });
    if (!m) return unavailable(res);
    json(res, 200, observe::tasks_json(*m));
  });
  s.Get("/api/v1/failures", [=](const httplib::Request& req, httplib::Response& res) {
    std::uint64_t limit = 20;
    std::string why;
    if (!parse_count(req, "limit", limit, why)) return json(res, 400, observe::error_json(why));
    if (limit == 0 || limit > Metrics::kRecentFailures)
      return json(res, 400, observe::error_json("limit must be 1 to " + std::to_string(Metrics::kRecentFailures)));
    auto m = on_engine(weak, *stopping, [limit](Engine& e) { return e.observe_failures(limit); });
    if (!m) return unavailable(res);
    json(res, 200, observe::tasks_json(*m));
  });
  s.Get(R"(/api/v1/tasks/(\d+))", [=](const httplib::Request& req, httplib::Response& res) {
    std::uint64_t id = 0;
    auto v = req.matches[1].str();
    if (std::from_chars(v.data(), v.data() + v.size(), id).ec != std::errc())
      return json(res, 400, observe::error_json("task " + v + ": not a task id"));
    auto m = on_engine(weak, *stopping, [id](Engine& e) { return e.observe_task(id); });
    if (!m) return unavailable(res);
    if (!*m)
      return json(res, 404,
                  observe::error_json("no task " + v + " (unknown, or forgotten once its result was released)"));
    json(res, 200, observe::task_json(**m));
  });
  s.Get("/api/v1/timeline", [=](const httplib::Request& req, httplib::Response& res) {
    std::uint64_t since_s = 0;
    std::string why;
    if (!parse_count(req, "since", since_s, why)) return json(res, 400, observe::error_json(why));
    auto job = req.get_param_value("job");
    auto since_ns = since_s ? link::wall_ns() - std::min<std::uint64_t>(since_s, 1'000'000'000) * 1'000'000'000ull : 0;
    auto m = on_engine(weak, *stopping, [since_ns, job](Engine& e) { return e.observe_attempts(since_ns, job); });
    if (!m) return unavailable(res);
    json(res, 200, link::chrome_trace(std::move(*m)));
  });
  auto asset = [](std::string_view body, const char* type) {
    return [body, type](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(body.data(), body.size(), type);
    };
  };
  s.Get("/", asset(http_assets::index_html(), "text/html; charset=utf-8"));
  s.Get("/index.html", asset(http_assets::index_html(), "text/html; charset=utf-8"));
  s.Get("/app.js", asset(http_assets::app_js(), "text/javascript; charset=utf-8"));
  s.Get("/style.css", asset(http_assets::style_css(), "text/css; charset=utf-8"));
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty()) json(res, 404, observe::error_json("no such page: " + req.path));
  });
}

}  // namespace shoal::coordinator
