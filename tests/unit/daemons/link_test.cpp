// remote/link.hpp: addresses, the listener's file modes and stale sockets, and how a
// remote error comes back as an exception.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <asio/io_context.hpp>

#include <cstdlib>

#include "shoal/remote/link.hpp"
#include "support/daemons.hpp"

using shoal::remote::Address;
using shoal::remote::parse_address;

TEST_CASE("addresses: unix://, a bare absolute path, tcp://host:port", "[link]") {
  auto a = parse_address("unix:///run/user/1000/shoal/c.sock");
  CHECK(a.kind == Address::Kind::unix_socket);
  CHECK(a.path == "/run/user/1000/shoal/c.sock");
  CHECK(a.to_string() == "unix:///run/user/1000/shoal/c.sock");
  CHECK(parse_address("/tmp/x.sock").path == "/tmp/x.sock");
  auto t = parse_address("tcp://10.0.0.5:7070");
  CHECK(t.kind == Address::Kind::tcp);
  CHECK(t.host == "10.0.0.5");
  CHECK(t.port == 7070);
  CHECK(parse_address("tcp://[::1]:80").host == "::1");
}

TEST_CASE("addresses: what is wrong is said", "[link]") {
  CHECK_THROWS_WITH(parse_address("tcp://host"), Catch::Contains("needs a host and a port"));
  CHECK_THROWS_WITH(parse_address("tcp://host:99999"), Catch::Contains("bad port"));
  CHECK_THROWS_WITH(parse_address("unix://relative.sock"), Catch::Contains("absolute"));
  CHECK_THROWS_WITH(parse_address("http://x"), Catch::Contains("neither"));
  CHECK_THROWS_WITH(parse_address("/" + std::string(200, 'x')), Catch::Contains("longer than"));
}

TEST_CASE("the default address: SHOAL_ADDRESS, then XDG_RUNTIME_DIR, then /tmp/shoal-UID", "[link]") {
  std::string old_addr = std::getenv("SHOAL_ADDRESS") ? std::getenv("SHOAL_ADDRESS") : "";
  std::string old_xdg = std::getenv("XDG_RUNTIME_DIR") ? std::getenv("XDG_RUNTIME_DIR") : "";
  ::setenv("SHOAL_ADDRESS", "tcp://h:1", 1);
  CHECK(shoal::remote::default_address() == "tcp://h:1");
  ::unsetenv("SHOAL_ADDRESS");
  ::setenv("XDG_RUNTIME_DIR", "/run/user/42", 1);
  CHECK(shoal::remote::default_address() == "unix:///run/user/42/shoal/coordinator.sock");
  ::unsetenv("XDG_RUNTIME_DIR");
  CHECK(shoal::remote::default_address() == "unix:///tmp/shoal-" + std::to_string(::getuid()) + "/coordinator.sock");
  if (!old_addr.empty()) ::setenv("SHOAL_ADDRESS", old_addr.c_str(), 1);
  if (!old_xdg.empty()) ::setenv("XDG_RUNTIME_DIR", old_xdg.c_str(), 1);
}

TEST_CASE("a listener: directory 0700, socket 0600, a stale socket replaced, a live one refused", "[link]") {
  shoal::test::TempDir d;
  asio::io_context io;
  auto addr = parse_address("unix://" + d.file("sub/c.sock"));
  {
    shoal::remote::Listener l(io.get_executor(), addr);
    struct stat st {};
    REQUIRE(::stat(d.file("sub").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(d.file("sub/c.sock").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK_THROWS_WITH(shoal::remote::Listener(io.get_executor(), addr), Catch::Contains("already listening"));
    // A connection is accepted as a generic stream socket.
    auto s = shoal::remote::connect_socket(io.get_executor(), addr);
    CHECK(s.is_open());
  }
  // Closing removed the file; a stale one (left by a killed process) is replaced.
  struct stat st {};
  CHECK(::stat(d.file("sub/c.sock").c_str(), &st) != 0);
  {
    asio::local::stream_protocol::acceptor stale(io, asio::local::stream_protocol::endpoint(d.file("sub/c.sock")));
    stale.close();  // the file stays, nobody listens
  }
  REQUIRE(::stat(d.file("sub/c.sock").c_str(), &st) == 0);
  CHECK_NOTHROW(shoal::remote::Listener(io.get_executor(), addr));
  CHECK_THROWS_AS(shoal::remote::connect_socket(io.get_executor(), addr), shoal::ConnectionError);
}

TEST_CASE("remote errors come back as their own type where shoal knows it", "[link]") {
  shoal::codec::RemoteErrorInfo info;
  info.type_name = "shoal::ValueError";
  info.message = "n must be >= 0";
  info.function = "fib";
  info.task_id = 12;
  info.host = "h";
  info.pid = 42;
  // what() is the original message (Python's concurrent.futures); where it ran is the
  // exception's remote_origin(), and describe() prints both (issue 15).
  CHECK_THROWS_WITH(std::rethrow_exception(shoal::remote::make_remote_exception(info)), "n must be >= 0");
  try {
    std::rethrow_exception(shoal::remote::make_remote_exception(info));
  } catch (const shoal::ValueError& e) {
    const auto* origin = shoal::remote_origin(e);
    REQUIRE(origin);
    CHECK(origin->function == "fib");
    CHECK(origin->task_id == 12);
    CHECK(origin->host == "h");
    CHECK(origin->pid == 42);
  }
  CHECK(shoal::describe(shoal::remote::make_remote_exception(info)) ==
        "shoal::ValueError: n must be >= 0 (fib, task 12 on h, pid 42)");
  CHECK(shoal::remote_origin(shoal::ValueError("local")) == nullptr);
  CHECK_THROWS_AS(std::rethrow_exception(shoal::remote::make_remote_exception(info)), shoal::ValueError);

  info.type_name = "my::Oops";
  CHECK_THROWS_AS(std::rethrow_exception(shoal::remote::make_remote_exception(info)), shoal::RemoteError);
  struct Oops : shoal::Error {
    explicit Oops(const std::string& m) : shoal::Error(m) {}
  };
  shoal::remote::register_remote_exception<Oops>("my::Oops");
  CHECK_THROWS_AS(std::rethrow_exception(shoal::remote::make_remote_exception(info)), Oops);

  shoal::NotRegistered original("nope", "workers w0, w1");
  info.type_name = "shoal::NotRegistered";
  info.message = original.what();
  info.function = "nope";
  try {
    std::rethrow_exception(shoal::remote::make_remote_exception(info));
  } catch (const shoal::NotRegistered& e) {
    CHECK(e.function() == "nope");
    CHECK(e.asked() == "workers w0, w1");
  }
}
