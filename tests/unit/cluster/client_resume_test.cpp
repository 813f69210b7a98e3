// remote::Client across reconnects, against a scripted coordinator that answers (or does
// not) exactly as a test needs. Each case was found by the deterministic simulation
// (docs/simulation.md) and failed before its fix in ClientCore::Impl.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "shoal/remote/client.hpp"
#include "support/scripted_coordinator.hpp"

namespace schema = shoal::proto::schema;
using namespace std::chrono_literals;

namespace resume_test {

shoal::RawCall call() {
  shoal::RawCall c;
  c.function = "f";
  c.signature_hash = 1;
  c.args = shoal::Bytes::copy(std::string_view("args"));
  return c;
}

// A client of `coord`, welcomed as peer 7 of a journaled coordinator.
shoal::Client connect(shoal::test::Scripted& coord) {
  std::thread welcomer([&] {
    REQUIRE(coord.next(schema::Envelope::HELLO).conn == 1);
    coord.welcome(1, 7);
  });
  shoal::Client client(coord.address());
  welcomer.join();
  return client;
}

struct Tally {
  std::int64_t n = 0;
  std::int64_t add(std::int64_t k) { return n += k; }
};

}  // namespace resume_test

SHOAL_ACTOR(resume_test::Tally, &resume_test::Tally::add)

using shoal::test::Scripted;

// Seed 186: a task subscribed on one reconnect, whose connection broke in turn before the
// answer, was not asked for again on the next: its result, made while the client was
// away, never came. Every reconnect asks for every result still awaited.
TEST_CASE("client: a result asked for on a connection that broke is asked for again on the next", "[client][resume]") {
  Scripted coord;
  auto client = resume_test::connect(coord);
  auto task = client.submit_raw(resume_test::call());
  auto s = coord.next(schema::Envelope::SUBMIT);
  REQUIRE(s.ids == std::vector<std::uint64_t>{task.id});
  coord.send(1, [&](schema::Envelope::Builder e) { e.initAccepted(1).set(0, task.id); });
  coord.close(1);
  // Reconnect 1: it asks for the result; the connection breaks before any answer.
  auto h2 = coord.next(schema::Envelope::HELLO);
  CHECK(h2.resume == 7);
  coord.welcome(2, 7);
  CHECK(coord.next(schema::Envelope::SUBSCRIBE).ids == std::vector<std::uint64_t>{task.id});
  coord.close(2);
  // Reconnect 2: it must ask again, and get the result.
  REQUIRE(coord.next(schema::Envelope::HELLO).resume == 7);
  coord.welcome(3, 7);
  auto sub = coord.next(schema::Envelope::SUBSCRIBE);
  CHECK(sub.conn == 3);
  CHECK(sub.ids == std::vector<std::uint64_t>{task.id});
  coord.send(3, [&](schema::Envelope::Builder e) {
    auto r = e.initResult();
    r.setTaskId(task.id);
    r.setValue(shoal::link::data(std::string_view("done")));
  });
  auto value = task.result.result(10s);
  CHECK(std::string(reinterpret_cast<const char*>(value.data()), value.size()) == "done");
}

// Seed 191: a submit the coordinator refused (its journal failing: a result, no
// acknowledgement) was sent again after a reconnect, and could run though its caller had
// seen it fail. A submit answered is not sent again (a journaled coordinator answers a
// task it accepted only after acknowledging it: an answer without one is final).
TEST_CASE("client: a submit the coordinator answered is not sent again after a reconnect", "[client][resume]") {
  Scripted coord;
  auto client = resume_test::connect(coord);
  auto refused = client.submit_raw(resume_test::call());
  REQUIRE(coord.next(schema::Envelope::SUBMIT).ids == std::vector<std::uint64_t>{refused.id});
  auto waiting = client.submit_raw(resume_test::call());
  REQUIRE(coord.next(schema::Envelope::SUBMIT).ids == std::vector<std::uint64_t>{waiting.id});
  coord.send(1, [&](schema::Envelope::Builder e) {
    auto r = e.initResult();
    r.setTaskId(refused.id);
    auto err = r.initError();
    err.setTypeName("shoal::Error");
    err.setMessage("cannot write the journal: the coordinator accepts no work until its journal can be written");
    err.setKind(schema::ErrorKind::OVERLOADED);
  });
  CHECK_THROWS(refused.result.result(10s));
  coord.close(1);
  REQUIRE(coord.next(schema::Envelope::HELLO).resume == 7);
  coord.welcome(2, 7);
  // Sent again: the one still awaited, not the refused one.
  auto again = coord.next(schema::Envelope::SUBMIT);
  CHECK(again.conn == 2);
  CHECK(again.ids == std::vector<std::uint64_t>{waiting.id});
}

// Seed 7141 of the long run: a task was cancelled, the coordinator died before writing
// the cancel (or the submit), the client sent the submit again after reconnecting, and
// the restarted coordinator ran it to its end while its dependent had failed for it being
// cancelled. A cancel asked for a task that has not ended is asked again on the next
// connection.
TEST_CASE("client: a cancel asked for a task that has not ended is asked again after a reconnect", "[client][resume]") {
  Scripted coord;
  auto client = resume_test::connect(coord);
  auto task = client.submit_raw(resume_test::call());
  REQUIRE(coord.next(schema::Envelope::SUBMIT).ids == std::vector<std::uint64_t>{task.id});
  client.cancel(task.id);
  auto cancel = coord.next(schema::Envelope::CANCEL);
  CHECK(cancel.conn == 1);
  coord.close(1);
  REQUIRE(coord.next(schema::Envelope::HELLO).resume == 7);
  coord.welcome(2, 7);
  CHECK(coord.next(schema::Envelope::SUBMIT).ids == std::vector<std::uint64_t>{task.id});
  CHECK(coord.next(schema::Envelope::SUBSCRIBE).ids == std::vector<std::uint64_t>{task.id});
  auto again = coord.next(schema::Envelope::CANCEL);
  CHECK(again.conn == 2);
  CHECK(again.ids == std::vector<std::uint64_t>{task.id});
}

// Found by the simulation (left open in its first notes): an actor's create lost with its
// connection (never acknowledged) was not sent again after the reconnect, so the actor
// never existed and its calls failed. It is kept and sent again, as a submit is, until
// acknowledged; the coordinator takes the same ids for the same actor.
TEST_CASE("client: an actor's create not acknowledged is sent again after a reconnect, and one acknowledged is not",
          "[client][resume]") {
  Scripted coord;
  auto client = resume_test::connect(coord);
  auto actor = client.spawn<resume_test::Tally>();
  auto create = coord.next(schema::Envelope::ACTOR_CREATE);
  REQUIRE(create.conn == 1);
  REQUIRE(create.ids.size() == 1);
  coord.close(1);
  REQUIRE(coord.next(schema::Envelope::HELLO).resume == 7);
  coord.welcome(2, 7);
  auto again = coord.next(schema::Envelope::ACTOR_CREATE);
  CHECK(again.conn == 2);
  CHECK(again.ids == create.ids);
  CHECK(coord.next(schema::Envelope::SUBSCRIBE).ids == create.ids);  // then its readiness is asked for
  // Acknowledged on this connection: the next reconnect only asks for its readiness.
  coord.send(2, [&](schema::Envelope::Builder e) { e.initAccepted(1).set(0, create.ids.at(0)); });
  coord.close(2);
  REQUIRE(coord.next(schema::Envelope::HELLO).resume == 7);
  coord.welcome(3, 7);
  auto after = coord.next();
  while (after.which == schema::Envelope::HEARTBEAT) after = coord.next();
  CHECK(after.which == schema::Envelope::SUBSCRIBE);
  CHECK(after.ids == create.ids);
}

// Found when the simulation ran the real client (seed 846): an actor spawned while the
// client was reconnecting had its create kept in the outbox, sent after the calls and
// the subscribes that the Welcome sends first: its readiness was "unknown" there (the
// client failed it as lost) and its first call found no actor. Whatever waited for the
// connection leaves in the order it was made: the create first.
TEST_CASE("client: an actor spawned while the client reconnects is created before its calls and its readiness is asked for",
          "[client][resume]") {
  Scripted coord;
  auto client = resume_test::connect(coord);
  coord.close(1);
  REQUIRE(coord.next(schema::Envelope::HELLO).resume == 7);  // reconnecting: no Welcome yet
  auto actor = client.spawn<resume_test::Tally>();
  auto call = actor.call(&resume_test::Tally::add, std::int64_t{2});
  coord.welcome(2, 7);
  auto first = coord.next();
  while (first.which == schema::Envelope::HEARTBEAT) first = coord.next();
  CHECK(first.which == schema::Envelope::ACTOR_CREATE);
  CHECK(first.conn == 2);
  auto create = first.ids;
  auto submit = coord.next(schema::Envelope::SUBMIT);
  CHECK(submit.ids == std::vector<std::uint64_t>{shoal::Client::task_id(call)});
  auto sub = coord.next(schema::Envelope::SUBSCRIBE);
  CHECK(std::find(sub.ids.begin(), sub.ids.end(), create.at(0)) != sub.ids.end());
}

// Noticed beside seed 846: a kill asked for while the client reconnected stayed in the
// outbox, which leaves after the calls the Welcome sends again; a call made after the
// kill reached the actor before it. The kill goes first, as within one flush.
TEST_CASE("client: an actor killed while the client reconnects is killed before the calls made after it",
          "[client][resume]") {
  Scripted coord;
  auto client = resume_test::connect(coord);
  auto actor = client.spawn<resume_test::Tally>();
  auto create = coord.next(schema::Envelope::ACTOR_CREATE);
  coord.send(1, [&](schema::Envelope::Builder e) { e.initAccepted(1).set(0, create.ids.at(0)); });
  coord.close(1);
  REQUIRE(coord.next(schema::Envelope::HELLO).resume == 7);
  client.kill_actor(actor);
  auto call = actor.call(&resume_test::Tally::add, std::int64_t{1});
  coord.welcome(2, 7);
  auto h = coord.next();
  while (h.which != schema::Envelope::RELEASE && h.which != schema::Envelope::SUBMIT) h = coord.next();
  CHECK(h.which == schema::Envelope::RELEASE);
  CHECK(h.conn == 2);
  CHECK(coord.next(schema::Envelope::SUBMIT).ids == std::vector<std::uint64_t>{shoal::Client::task_id(call)});
}
