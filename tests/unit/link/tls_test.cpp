// TLS on link::Connection: frames cross a TCP connection encrypted, mutual TLS refuses a
// peer without a trusted certificate, a client refuses a server it cannot verify, and
// `init_certificates` writes what `shoal cert init` promises.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <capnp/message.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "shoal/core/error.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/private_files.hpp"
#include "shoal/link/tls.hpp"
#include "support/daemons.hpp"

namespace schema = shoal::proto::schema;
using shoal::link::Connection;
using shoal::link::TlsContext;
using shoal::link::TlsOptions;
using Catch::Matchers::Contains;

namespace {

struct Recorder : shoal::link::ConnectionHandler {
  std::vector<std::uint64_t> cancels;
  std::string closed;
  bool ended = false;
  void on_message(schema::Envelope::Reader env, const shoal::proto::FrameOwner&) override {
    if (env.which() == schema::Envelope::CANCEL) cancels.push_back(env.getCancel().getTaskId());
  }
  void on_closed(const std::string& why) override {
    closed = why;
    ended = true;
  }
};

void send_cancel(Connection& c, std::uint64_t id) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Envelope>().initCancel().setTaskId(id);
  c.send(msg);
}

// A connected pair of TCP sockets on loopback, as the generic sockets connections take.
std::pair<shoal::proto::Socket, shoal::proto::Socket> tcp_pair(asio::io_context& io) {
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket client(io), server(io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  auto wrap = [&](asio::ip::tcp::socket& s) {
    asio::generic::stream_protocol proto(AF_INET, IPPROTO_TCP);
    return shoal::proto::Socket(io, proto, s.release());
  };
  return {wrap(client), wrap(server)};
}

// Runs `io` until `done()` or 10 s.
template <typename Done>
bool run_until(asio::io_context& io, Done done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(50));
  return done();
}

struct Pki {
  shoal::test::TempDir tmp;
  std::string dir = tmp.file("pki");
  Pki() { (void)shoal::link::init_certificates(dir, {"node-a.example"}); }
  [[nodiscard]] std::string at(const std::string& f) const { return dir + "/" + f; }
  [[nodiscard]] TlsOptions server(bool mutual = true) const {
    return {.cert = at("coordinator.crt"), .key = at("coordinator.key"), .ca = mutual ? at("ca.crt") : ""};
  }
  [[nodiscard]] TlsOptions client(bool with_cert = true) const {
    return {.cert = with_cert ? at("client.crt") : "", .key = with_cert ? at("client.key") : "", .ca = at("ca.crt")};
  }
};

struct Ends {
  std::shared_ptr<Connection> client, server;
  Recorder rc, rs;
};

void connect_pair(asio::io_context& io, Ends& e, std::shared_ptr<TlsContext> client_tls,
                  std::shared_ptr<TlsContext> server_tls, const std::string& host = "127.0.0.1") {
  auto [c, s] = tcp_pair(io);
  e.client = Connection::over_socket(std::move(c));
  e.server = Connection::over_socket(std::move(s));
  if (client_tls) e.client->secure(std::move(client_tls), host);
  if (server_tls) e.server->secure(std::move(server_tls));
  e.client->start(e.rc);
  e.server->start(e.rs);
}

}  // namespace

TEST_CASE("frames cross a mutual-TLS connection both ways", "[link][tls]") {
  Pki pki;
  asio::io_context io;
  Ends e;
  connect_pair(io, e, TlsContext::client(pki.client()), TlsContext::server(pki.server()));
  CHECK(e.client->secured());
  CHECK(e.client->is_tcp());
  send_cancel(*e.client, 7);  // queued before the handshake: leaves after it
  send_cancel(*e.server, 8);
  REQUIRE(run_until(io, [&] { return !e.rs.cancels.empty() && !e.rc.cancels.empty(); }));
  CHECK(e.rs.cancels == std::vector<std::uint64_t>{7});
  CHECK(e.rc.cancels == std::vector<std::uint64_t>{8});
  e.client->close("done");
  REQUIRE(run_until(io, [&] { return e.rs.ended && e.rc.ended; }));
  CHECK(e.rs.closed == "the peer closed the connection");
}

TEST_CASE("a server with a CA refuses a client without a certificate", "[link][tls]") {
  Pki pki;
  asio::io_context io;
  Ends e;
  connect_pair(io, e, TlsContext::client(pki.client(false)), TlsContext::server(pki.server(true)));
  send_cancel(*e.client, 1);
  REQUIRE(run_until(io, [&] { return e.rs.ended && e.rc.ended; }));
  CHECK(e.rs.cancels.empty());  // nothing got through
  CHECK_THAT(e.rs.closed, Contains("TLS handshake failed"));
  CHECK_THAT(e.rc.closed, Contains("certificate required"));
}

TEST_CASE("a client refuses a server whose certificate another CA signed", "[link][tls]") {
  Pki ours, theirs;
  asio::io_context io;
  Ends e;
  connect_pair(io, e, TlsContext::client(ours.client()), TlsContext::server(theirs.server(false)));
  send_cancel(*e.client, 1);
  REQUIRE(run_until(io, [&] { return e.rs.ended && e.rc.ended; }));
  CHECK(e.rs.cancels.empty());
  CHECK_THAT(e.rc.closed, Contains("TLS handshake failed") && Contains("certificate verify failed"));
}

TEST_CASE("a client refuses a certificate made out to another host", "[link][tls]") {
  Pki pki;
  asio::io_context io;
  Ends e;
  connect_pair(io, e, TlsContext::client(pki.client()), TlsContext::server(pki.server()), "node-b.example");
  REQUIRE(run_until(io, [&] { return e.rc.ended; }));
  CHECK_THAT(e.rc.closed, Contains("TLS handshake failed"));
  Ends ok;  // the name it was made for passes
  connect_pair(io, ok, TlsContext::client(pki.client()), TlsContext::server(pki.server()), "node-a.example");
  send_cancel(*ok.client, 3);
  REQUIRE(run_until(io, [&] { return !ok.rs.cancels.empty(); }));
  ok.client->close("done");
  REQUIRE(run_until(io, [&] { return ok.rs.ended; }));
}

TEST_CASE("a plain peer gets nothing from a TLS server", "[link][tls]") {
  Pki pki;
  asio::io_context io;
  Ends e;
  connect_pair(io, e, nullptr, TlsContext::server(pki.server(false)));
  send_cancel(*e.client, 1);  // a frame where a ClientHello should be
  REQUIRE(run_until(io, [&] { return e.rs.ended; }));
  CHECK(e.rs.cancels.empty());
  CHECK_THAT(e.rs.closed, Contains("TLS handshake failed"));
}

TEST_CASE("TLS settings that cannot work are refused with one line", "[link][tls]") {
  Pki pki;
  CHECK_THROWS_WITH(TlsContext::server({.ca = pki.at("ca.crt")}), Contains("needs its certificate and key"));
  CHECK_THROWS_WITH(TlsContext::client({.cert = pki.at("client.crt"), .ca = pki.at("ca.crt")}),
                    Contains("both a certificate and its key"));
  CHECK_THROWS_WITH(TlsContext::server({.cert = pki.at("coordinator.crt"), .key = pki.at("worker.key")}),
                    Contains("does not belong to the certificate"));
  CHECK_THROWS_WITH(TlsContext::server({.cert = pki.at("token"), .key = pki.at("coordinator.key")}),
                    Contains("is not a PEM certificate"));
  CHECK_THROWS_WITH(TlsContext::client({.ca = pki.at("missing.crt")}), Contains("cannot read the CA certificate"));
  ::chmod(pki.at("client.key").c_str(), 0644);
  CHECK_THROWS_WITH(TlsContext::client(pki.client()), Contains("readable by others"));
  std::filesystem::create_symlink(pki.at("worker.key"), pki.at("link.key"));
  CHECK_THROWS_WITH(TlsContext::client({.cert = pki.at("worker.crt"), .key = pki.at("link.key"), .ca = pki.at("ca.crt")}),
                    Contains("is a symlink"));
}

TEST_CASE("init_certificates writes a CA, certificates, private keys and a token, once", "[link][tls]") {
  Pki pki;
  auto mode = [&](const std::string& f) {
    struct stat st{};
    REQUIRE(::lstat(pki.at(f).c_str(), &st) == 0);
    return st.st_mode & 0777;
  };
  for (const char* key : {"ca.key", "coordinator.key", "worker.key", "client.key", "token"}) CHECK(mode(key) == 0600);
  for (const char* crt : {"ca.crt", "coordinator.crt", "worker.crt", "client.crt"}) CHECK(mode(crt) == 0644);
  CHECK(mode("") == 0700);
  CHECK(shoal::link::read_token_file(pki.at("token")).size() >= shoal::link::kMinTokenBytes);
  CHECK_THROWS_WITH(shoal::link::init_certificates(pki.dir, {}), Contains("already holds a CA"));
  CHECK_THROWS_WITH(shoal::link::init_certificates(pki.tmp.file("other"), {"a b"}), Contains("not a host name"));
}

TEST_CASE("the TLS files come from the environment where the options leave them empty", "[link][tls]") {
  ::setenv("SHOAL_TLS_CA", "/env/ca.crt", 1);
  ::setenv("SHOAL_TLS_CERT", "/env/c.crt", 1);
  ::unsetenv("SHOAL_TLS_KEY");
  auto t = shoal::link::tls_from_env({.cert = "/given.crt"});
  ::unsetenv("SHOAL_TLS_CA");
  ::unsetenv("SHOAL_TLS_CERT");
  CHECK(t.cert == "/given.crt");
  CHECK(t.ca == "/env/ca.crt");
  CHECK(t.key.empty());
  CHECK(t.enabled());
  CHECK_FALSE(TlsOptions{}.enabled());
}
