// A real shoal-worker against a scripted coordinator: an actor call sent again by a
// coordinator restarted on its journal (it had the call's end, and died before writing
// it) does not run a second time on the actor that survived. Found by the deterministic
// simulation (seed 299 as it ran then: calls 3 and 4 ran again after call 6).

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <tuple>

#include "shoal/codec/codec.hpp"
#include "support/daemons.hpp"
#include "support/scripted_coordinator.hpp"

namespace schema = shoal::proto::schema;
using namespace std::chrono_literals;
using shoal::test::Heard;
using shoal::test::Scripted;

namespace {

void assign_add(Scripted& coord, int conn, std::uint64_t task, std::uint64_t actor, std::uint64_t hash, std::int64_t k) {
  coord.send(conn, [&](schema::Envelope::Builder e) {
    auto a = e.initAssign();
    a.setTaskId(task);
    a.setFunction("add");
    a.setMethod("add");
    a.setSignatureHash(hash);
    a.setActorId(actor);
    a.setAttempt(1);
    a.setArgs(shoal::link::data(shoal::codec::encode(std::tuple<std::int64_t>(k))));
  });
}

Heard result_of(Scripted& coord, std::uint64_t task) {
  auto r = coord.next(schema::Envelope::RESULT);
  REQUIRE(r.ids == std::vector<std::uint64_t>{task});
  return r;
}

std::int64_t value(const Heard& r) {
  REQUIRE(r.error_type.empty());
  return shoal::codec::decode<std::int64_t>(shoal::Bytes::copy(std::string_view(r.value)));
}

}  // namespace

TEST_CASE("an actor call sent again after its coordinator restarted does not run twice", "[integration][actors]") {
  shoal::test::TempDir dir;
  Scripted coord;
  shoal::test::Daemon worker({std::string(SHOAL_BIN_DIR) + "/shoal-worker", "-c", coord.address(), "--load",
                              SHOAL_TEST_TASKS_LIB, "-t", "1", "--name", "w0"},
                             dir.file("w0.log"));
  REQUIRE(coord.next(schema::Envelope::HELLO).conn == 1);
  coord.welcome(1, 3);
  auto reg = coord.next(schema::Envelope::REGISTER_WORKER);
  REQUIRE(reg.hashes.count("Counter"));
  REQUIRE(reg.hashes.count("Counter.add"));
  const std::uint64_t actor = (std::uint64_t{9} << 32) | 1, create = (std::uint64_t{9} << 32) | 2;
  const std::uint64_t first = (std::uint64_t{9} << 32) | 3, second = (std::uint64_t{9} << 32) | 4;
  coord.send(1, [&](schema::Envelope::Builder e) {
    auto c = e.initActorCreate();
    c.setActorId(actor);
    c.setClassName("Counter");
    c.setConstructorHash(reg.hashes["Counter"]);
    c.setArgs(shoal::link::data(shoal::codec::encode(std::tuple<std::int64_t>(0))));
    c.setTaskId(create);
  });
  (void)result_of(coord, create);
  assign_add(coord, 1, first, actor, reg.hashes["Counter.add"], 5);
  CHECK(value(result_of(coord, first)) == 5);
  // The coordinator dies; the worker and its actor live on, and come back to the next one.
  coord.close(1);
  auto hello = coord.next(schema::Envelope::HELLO);
  REQUIRE(hello.conn == 2);
  coord.welcome(2, 4);
  auto again = coord.next(schema::Envelope::REGISTER_WORKER);
  CHECK(again.live_actors == std::vector<std::uint64_t>{actor});
  // The restarted coordinator had not written the first call's end: it sends it again.
  assign_add(coord, 2, first, actor, reg.hashes["Counter.add"], 5);
  auto replayed = result_of(coord, first);
  CHECK(replayed.error_type == "shoal::InvalidStateError");
  // The actor's state is as one run of it left it: 5 + 1, not 5 + 5 + 1.
  assign_add(coord, 2, second, actor, reg.hashes["Counter.add"], 1);
  CHECK(value(result_of(coord, second)) == 6);
}
