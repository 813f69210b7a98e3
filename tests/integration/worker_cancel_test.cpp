// A real shoal-worker against a scripted coordinator: a coroutine task cancelled in the
// turn it was assigned (its assign and its cancel read together) is reported cancelled,
// and an actor's next call runs after it. Found by the deterministic simulation once it
// ran real worker engines (seed 530: the worker never reported such a task; it held the
// task's slot and gpu for ever and two gpu tasks never ran).

#include <catch2/catch.hpp>

#include <string>
#include <tuple>

#include "shoal/codec/codec.hpp"
#include "support/daemons.hpp"
#include "support/scripted_coordinator.hpp"

namespace schema = shoal::proto::schema;
using shoal::test::Heard;
using shoal::test::Scripted;

namespace {

std::uint64_t id(std::uint64_t n) { return (std::uint64_t{9} << 32) | n; }

struct Worker {
  shoal::test::TempDir dir;
  Scripted coord;
  shoal::test::Daemon daemon{{std::string(SHOAL_BIN_DIR) + "/shoal-worker", "-c", coord.address(), "--load",
                              SHOAL_TEST_TASKS_LIB, "-t", "1", "--name", "w0"},
                             dir.file("w0.log")};
  Heard reg;
  Worker() {
    REQUIRE(coord.next(schema::Envelope::HELLO).conn == 1);
    coord.welcome(1, 3);
    reg = coord.next(schema::Envelope::REGISTER_WORKER);
  }
  std::function<void(schema::Envelope::Builder)> assign(std::uint64_t task, const std::string& fn, shoal::Bytes args,
                                                        std::uint64_t actor = 0) {
    auto hash = reg.hashes[actor ? "Tracker." + fn : fn];
    return [=](schema::Envelope::Builder e) {
      auto a = e.initAssign();
      a.setTaskId(task);
      a.setFunction(fn);
      a.setSignatureHash(hash);
      if (actor) {
        a.setMethod(fn);
        a.setActorId(actor);
      }
      a.setAttempt(1);
      a.setArgs(shoal::link::data(args));
    };
  }
  static std::function<void(schema::Envelope::Builder)> cancel(std::uint64_t task) {
    return [=](schema::Envelope::Builder e) { e.initCancel().setTaskId(task); };
  }
  /// The results of `n` tasks, by task.
  std::map<std::uint64_t, Heard> results(std::size_t n) {
    std::map<std::uint64_t, Heard> out;
    while (out.size() < n) {
      auto r = coord.next(schema::Envelope::RESULT);
      out[r.ids.at(0)] = r;
    }
    return out;
  }
};

std::int64_t value(const Heard& r) {
  REQUIRE(r.error_type.empty());
  REQUIRE_FALSE(r.cancelled);
  return shoal::codec::decode<std::int64_t>(shoal::Bytes::copy(std::string_view(r.value)));
}

}  // namespace

TEST_CASE("a coroutine task cancelled in the turn it was assigned is reported cancelled, and its slot is free",
          "[integration][cancel]") {
  Worker w;
  auto args = shoal::codec::encode(std::tuple<std::int64_t>(50));
  w.coord.send_together(1, {w.assign(id(1), "sleep_ms", args), Worker::cancel(id(1))});
  auto first = w.results(1);
  CHECK(first.at(id(1)).cancelled);
  // The worker has one slot: a task after it runs.
  w.coord.send(1, w.assign(id(2), "sleep_ms", shoal::codec::encode(std::tuple<std::int64_t>(1))));
  CHECK(value(w.results(1).at(id(2))) == 1);
}

TEST_CASE("an actor's coroutine call cancelled in the turn it was assigned does not stall the calls after it",
          "[integration][cancel][actors]") {
  Worker w;
  const auto actor = id(1), create = id(2), cancelled = id(3), next = id(4);
  w.coord.send(1, [&](schema::Envelope::Builder e) {
    auto c = e.initActorCreate();
    c.setActorId(actor);
    c.setClassName("Tracker");
    c.setConstructorHash(w.reg.hashes["Tracker"]);
    c.setArgs(shoal::link::data(shoal::codec::encode(std::tuple<std::int64_t>(0))));
    c.setTaskId(create);
    c.setMaxConcurrency(1);
  });
  (void)w.results(1);
  auto gate = shoal::codec::encode(std::tuple<std::int64_t>(1));
  w.coord.send_together(1, {w.assign(cancelled, "gate", gate, actor), Worker::cancel(cancelled),
                            w.assign(next, "gate", gate, actor)});
  auto got = w.results(2);
  CHECK(got.at(cancelled).cancelled);
  CHECK(value(got.at(next)) == 1);
}
