// remote::Client over a dialled link (remote::detail::DialledLink): connections the
// program makes, on an executor it polls itself, as the deterministic simulation runs the
// real client. Here a real coordinator engine and the client share one io_context that
// the test polls: nothing blocks, and a broken connection is dialled again.

#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/coordinator/coordinator.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/remote/client.hpp"

using namespace std::chrono_literals;

namespace dialled_test {

struct Rig {
  asio::io_context io;
  shoal::coordinator::Coordinator coord;
  bool ended = false;
  int dials = 0;
  bool refuse = false;
  std::vector<std::shared_ptr<shoal::link::Connection>> client_ends;  // what each dial gave the client

  Rig() : coord(io.get_executor(), options()) {
    coord.start();
    asio::co_spawn(io, coord.run(), [this](std::exception_ptr) { ended = true; });
  }
  ~Rig() {
    coord.stop_now();
    (void)until([&] { return ended; });
  }
  static shoal::coordinator::CoordinatorOptions options() {
    shoal::coordinator::CoordinatorOptions o;
    o.log = std::getenv("SHOAL_TEST_LOG") != nullptr;
    o.first_peer = 40;
    return o;
  }
  shoal::remote::detail::DialledLink link() {
    return {"test://coordinator", io.get_executor(), [this]() -> std::shared_ptr<shoal::link::Connection> {
              ++dials;
              if (refuse) return nullptr;
              auto [mine, theirs] = shoal::link::Connection::local_pair(io.get_executor());
              coord.adopt(theirs);
              client_ends.push_back(mine);
              return mine;
            }};
  }
  // Polls the one loop until `done` (at most 10 s of the machine's time).
  bool until(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.run_one_for(20ms);
    }
    return true;
  }
};

shoal::RawCall call() {
  shoal::RawCall c;
  c.function = "nobody.serves.this";
  c.signature_hash = 1;
  c.args = shoal::Bytes::copy(std::string_view("a"));
  return c;
}

shoal::ClientOptions reconnecting(std::chrono::milliseconds within) {
  shoal::ClientOptions o;
  o.reconnect = within;
  return o;
}

// A task nobody serves, submitted and known to the coordinator (its status came back).
shoal::RawTask submit_known(Rig& rig, shoal::Client& client) {
  auto task = client.submit_raw(call());
  auto known = client.status(task.id);
  REQUIRE(rig.until([&] { return known.done(); }));
  REQUIRE(known.result().tasks.size() == 1);
  return task;
}

}  // namespace dialled_test

using dialled_test::Rig;

TEST_CASE("client: a dialled client returns at once, is welcomed on the loop its program polls, and closes there",
          "[client][dialled]") {
  Rig rig;
  shoal::Client client(rig.link());
  CHECK(client.peer_id() == 0);  // nothing ran yet: the constructor did not wait
  CHECK(rig.dials == 0);
  REQUIRE(rig.until([&] { return client.peer_id() != 0; }));
  CHECK(rig.dials == 1);
  auto task = client.submit_raw(dialled_test::call());  // no worker serves it: it waits
  auto status = client.status(task.id);
  REQUIRE(rig.until([&] { return status.done(); }));
  CHECK(status.result().tasks.size() == 1);
  client.close();
  CHECK(task.result.done());
  CHECK_THROWS_AS(task.result.result(), shoal::ConnectionError);
  rig.io.poll();  // what the close left queued runs against a closed client
}

TEST_CASE("client: a dialled client whose connection breaks dials again and resumes its identity and its tasks",
          "[client][dialled]") {
  Rig rig;
  shoal::Client client(rig.link(), dialled_test::reconnecting(10s));
  REQUIRE(rig.until([&] { return client.peer_id() != 0; }));
  auto peer = client.peer_id();
  auto task = dialled_test::submit_known(rig, client);
  rig.client_ends.back()->close("the test broke it");
  REQUIRE(rig.until([&] { return rig.dials == 2; }));
  auto again = client.status(task.id);  // asked while it resumes: sent once it has
  REQUIRE(rig.until([&] { return again.done(); }));
  CHECK(again.result().tasks.size() == 1);
  CHECK(client.peer_id() == peer);
  // The same task, known to the coordinator on the new connection: cancelled, it ends so.
  task.result.cancel();
  REQUIRE(rig.until([&] { return task.result.done(); }));
  CHECK(task.result.cancelled());
}

TEST_CASE("client: a dialled client refused at its first dial fails what it was given, saying so",
          "[client][dialled]") {
  Rig rig;
  rig.refuse = true;
  auto core = std::make_shared<shoal::remote::detail::ClientCore>("test://coordinator", shoal::ClientOptions{});
  core->start_dialled(rig.link());
  CHECK_FALSE(core->closed());
  REQUIRE(rig.until([&] { return core->closed(); }));
  CHECK(rig.dials == 1);
  auto status = core->status(0, false, "", 0);
  REQUIRE(status.done());
  CHECK_THROWS_WITH(status.result(), Catch::Contains("no coordinator at test://coordinator: the connection was refused"));
  core->close();
}

TEST_CASE("client: a dialled client that cannot dial again within its reconnect time gives up, failing its tasks",
          "[client][dialled]") {
  Rig rig;
  shoal::Client client(rig.link(), dialled_test::reconnecting(300ms));
  REQUIRE(rig.until([&] { return client.peer_id() != 0; }));
  auto task = dialled_test::submit_known(rig, client);
  rig.refuse = true;
  rig.client_ends.back()->close("the test broke it");
  REQUIRE(rig.until([&] { return task.result.done(); }));
  CHECK(rig.dials >= 2);  // it tried
  CHECK_THROWS_WITH(task.result.result(), Catch::Contains("was not back within 300 ms"));
}

// Review: a request made before the first Welcome left at once, in the middle of the
// handshake. It waits for the Welcome now, and is answered.
TEST_CASE("client: a dialled client asked for something before its Welcome sends it after", "[client][dialled]") {
  Rig rig;
  shoal::Client client(rig.link());
  auto early = client.status();  // nothing ran yet: not even the dial
  REQUIRE(rig.until([&] { return early.done(); }));
  CHECK_NOTHROW(early.result());
  CHECK(client.peer_id() != 0);
}

// Review: a dialled client destroyed between two polls left handlers on its program's
// executor that used it (a flush its last submit posted); the next poll read freed memory
// (ASan). They find it gone now, and do nothing.
TEST_CASE("client: a dialled client destroyed with work queued on its executor leaves nothing that uses it",
          "[client][dialled]") {
  Rig rig;
  std::optional<shoal::RawTask> task;
  {
    shoal::Client client(rig.link());
    REQUIRE(rig.until([&] { return client.peer_id() != 0; }));
    task = client.submit_raw(dialled_test::call());  // posts a flush, not yet run
  }
  rig.io.poll();
  REQUIRE(task->result.done());
  CHECK_THROWS_AS(task->result.result(), shoal::ConnectionError);
}
