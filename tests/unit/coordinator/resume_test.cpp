// The coordinator engine as a resumed client meets it, over in-process connections. Both
// cases were found by the deterministic simulation (docs/simulation.md) and failed
// before their fixes.

#include <catch2/catch.hpp>

#include "engine_rig.hpp"

namespace resume_engine_test = engine_rig;

using resume_engine_test::Rig;

// Seed 147: a client that resumed its identity on a new connection while its old one was
// still open lost its registration when the old one closed: nothing it submitted was
// acknowledged, no result reached it.
TEST_CASE("coordinator: a resumed client keeps its registration when its old connection closes", "[coordinator][resume]") {
  Rig rig;
  auto first = rig.connect();
  auto id = first->seen.front().peer;
  REQUIRE(id == 5);
  auto second = rig.connect(id);  // the old connection is still open (half-open TCP)
  CHECK(second->seen.front().peer == id);
  REQUIRE(rig.until([&] { return first->closed; }));  // superseded
  rig.settle();
  auto task = (id << 32) | 1;
  rig.send(*second, [&](schema::Envelope::Builder e) { resume_engine_test::submit(e.initSubmit(), task); });
  CHECK(rig.until([&] { return second->count(schema::Envelope::ACCEPTED, task) == 1; }));
}

// Seed 192: a client resubscribing after a reconnect right after resending its submits,
// one of which failed at once (a dependency gone), got that result twice in one batch.
TEST_CASE("coordinator: a result is sent once when its submit and a subscribe for it come in one turn", "[coordinator][resume]") {
  Rig rig;
  auto c = rig.connect();
  auto id = c->seen.front().peer;
  auto task = (id << 32) | 1;
  rig.send(*c, [&](schema::Envelope::Builder e) {
    resume_engine_test::submit(e.initSubmit(), task, {(id << 32) | 99});  // a dependency never submitted
  });
  rig.send(*c, [&](schema::Envelope::Builder e) { e.initSubscribe().initTaskIds(1).set(0, task); });
  REQUIRE(rig.until([&] {
    return c->count(schema::Envelope::RESULT, task) + c->count(schema::Envelope::RESULT_BATCH, task) > 0;
  }));
  rig.settle();
  CHECK(c->count(schema::Envelope::RESULT, task) + c->count(schema::Envelope::RESULT_BATCH, task) == 1);
}

// Found with the simulation's review: a journaled coordinator sent a task's result before
// its submit was on disk (before acknowledging it). Had it died then, it would have
// restarted without the task, while its client held the result; the client, taking the
// answer as final, would not have sent it again, and a dependent sent after would have
// found it unknown. The result now waits for the submit to be written.
TEST_CASE("coordinator: with a journal, a task's result leaves only after its submit is on disk and acknowledged",
          "[coordinator][journal]") {
  char dir_template[] = "/tmp/shoal-durable-XXXXXX";
  REQUIRE(::mkdtemp(dir_template));
  std::string dir = dir_template;
  auto o = Rig::options();
  o.journal = dir + "/journal";
  o.journal_pacer = std::make_shared<shoal::coordinator::JournalPacer>();
  auto pacer = o.journal_pacer;
  {
    Rig rig(o);
    REQUIRE(pacer->write);
    auto worker = rig.connect(0, schema::Role::WORKER);
    rig.send(*worker, [&](schema::Envelope::Builder e) {
      auto r = e.initRegisterWorker();
      r.setCapacity(1);
      auto f = r.initFunctions(1)[0];
      f.setName("f");
      f.setSignatureHash(1);
      f.setSignature("int64(bytes)");
    });
    (void)pacer->write("");  // the hellos
    auto c = rig.connect();
    (void)pacer->write("");
    auto task = (c->seen.front().peer << 32) | 1;
    rig.send(*c, [&](schema::Envelope::Builder e) { resume_engine_test::submit(e.initSubmit(), task); });
    REQUIRE(rig.until([&] { return worker->count(schema::Envelope::ASSIGN, task) == 1; }));
    resume_engine_test::send_value(rig, *worker, task);
    rig.settle();
    rig.settle();
    // Ran and finished, but its submit is not on disk: no acknowledgement, no result.
    CHECK(c->count(schema::Envelope::ACCEPTED, task) == 0);
    CHECK(c->count(schema::Envelope::RESULT, task) == 0);
    REQUIRE(pacer->waiting());
    (void)pacer->write("");
    REQUIRE(rig.until([&] { return c->count(schema::Envelope::RESULT, task) == 1; }));
    // The acknowledgement came first.
    std::size_t ack_at = 0, result_at = 0;
    for (std::size_t i = 0; i < c->seen.size(); ++i) {
      for (auto id : c->seen[i].ids) {
        if (c->seen[i].which == schema::Envelope::ACCEPTED && id >= task && !ack_at) ack_at = i;
        if (c->seen[i].which == schema::Envelope::RESULT && id == task) result_at = i;
      }
    }
    CHECK(ack_at > 0);
    CHECK(ack_at < result_at);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// Long run of the simulation, seeds 5580 and 10765: a worker back after a reconnect still
// ran a task that was no longer its (run again elsewhere once it was taken for lost); the
// coordinator ignored it, counted the worker's gpu free and gave it another gpu task. A
// task a worker still runs and that is not its is counted as held there until the worker
// reports it (its outcome, stale or, queued again meanwhile, the task's).
TEST_CASE("coordinator: a task a reconnecting worker still runs and that is not its holds its resources until it ends",
          "[coordinator][resources]") {
  Rig rig;
  auto register_gpu_worker = [&](resume_engine_test::End& w, std::vector<std::uint64_t> running) {
    resume_engine_test::register_gpu_worker(rig, w, std::move(running));
  };
  auto gpu_submit = [&](resume_engine_test::End& c, std::uint64_t id) { resume_engine_test::gpu_submit(rig, c, id); };
  auto first = rig.connect(0, schema::Role::WORKER);
  register_gpu_worker(*first, {});
  rig.settle();
  auto c = rig.connect();
  auto a = (c->seen.front().peer << 32) | 1, b = (c->seen.front().peer << 32) | 2;
  gpu_submit(*c, a);
  REQUIRE(rig.until([&] { return first->count(schema::Envelope::ASSIGN, a) == 1; }));
  // Its connection breaks; a is run again on another gpu worker; it comes back still running a.
  first->conn->close("the network broke it");
  auto other = rig.connect(0, schema::Role::WORKER);
  register_gpu_worker(*other, {});
  REQUIRE(rig.until([&] { return other->count(schema::Envelope::ASSIGN, a) == 1; }));
  auto back = rig.connect(0, schema::Role::WORKER);
  register_gpu_worker(*back, {a});
  rig.settle();
  rig.settle();
  gpu_submit(*c, b);
  rig.settle();
  rig.settle();
  CHECK(back->count(schema::Envelope::ASSIGN, b) == 0);  // its gpu is still a's
  CHECK(other->count(schema::Envelope::ASSIGN, b) == 0);  // and the other's too
  resume_engine_test::send_value(rig, *back, a);
  CHECK(rig.until([&] { return back->count(schema::Envelope::ASSIGN, b) == 1; }));
}

// Found by the simulation (left open in its first notes): a client sends an actor's create
// again after a reconnect when it was not acknowledged; the engine took the second one
// for a protocol error and closed the connection. It is the same actor.
TEST_CASE("coordinator: an actor's create sent again after a reconnect is the same actor", "[coordinator][resume]") {
  Rig rig;
  auto c = rig.connect();
  auto id = c->seen.front().peer;
  auto actor = (id << 32) | 1, create = (id << 32) | 2;
  auto send_create = [&](resume_engine_test::End& end) {
    rig.send(end, [&](schema::Envelope::Builder e) {
      auto a = e.initActorCreate();
      a.setActorId(actor);
      a.setClassName("Counter");
      a.setConstructorHash(7);
      a.setTaskId(create);
      a.setMaxConcurrency(1);
    });
  };
  send_create(*c);
  REQUIRE(rig.until([&] { return c->count(schema::Envelope::ACCEPTED, create) == 1; }));
  auto again = rig.connect(id);  // a reconnect: the acknowledgement did not reach it
  REQUIRE(again->seen.front().peer == id);
  send_create(*again);
  rig.settle();
  CHECK_FALSE(again->closed);
  // Acknowledged (within kAckDelay when no result of its carries it sooner).
  CHECK(rig.until([&] { return again->count(schema::Envelope::ACCEPTED, create) == 1; }));
  // And the actor is the one: a second, other create under its id is still refused.
  rig.send(*again, [&](schema::Envelope::Builder e) {
    auto a = e.initActorCreate();
    a.setActorId(actor);
    a.setClassName("Counter");
    a.setConstructorHash(7);
    a.setTaskId((id << 32) | 3);
  });
  CHECK(rig.until([&] { return again->closed; }));
}

// Found by the simulation running the real client (seed 8954): a restarted coordinator
// whose journal had not written a task met it first as a run a reconnecting worker still
// held (unknown: it asked the worker to stop it), then as its client's submit sent again.
// It took that worker's run as the task's attempt and sent it the task as well: the run
// had ended meanwhile, so the worker ran it a second time, which nothing counted. When
// the first run's result came, the task was done and its gpu free, and another gpu task
// went to the worker while the second run held it. A run a worker still holds is the
// attempt and is not sent again; if it stops as it was asked, the task runs again.
TEST_CASE("coordinator: a task sent again by its client while a worker still runs it is not sent to that worker again",
          "[coordinator][resume][resources]") {
  Rig rig;
  auto c = rig.connect();
  auto a = (c->seen.front().peer << 32) | 1, b = (c->seen.front().peer << 32) | 2;
  auto w = rig.connect(0, schema::Role::WORKER);
  resume_engine_test::register_gpu_worker(rig, *w, {a});  // unknown here: a run from before
  rig.settle();
  CHECK(w->count(schema::Envelope::CANCEL, a) == 1);  // nobody here wants it (yet)
  resume_engine_test::gpu_submit(rig, *c, a);          // its client sends it again
  rig.settle();
  rig.settle();
  CHECK(w->count(schema::Envelope::ASSIGN, a) == 0);  // its run is the attempt
  resume_engine_test::gpu_submit(rig, *c, b);
  rig.settle();
  CHECK(w->count(schema::Envelope::ASSIGN, b) == 0);  // the gpu is a's
  SECTION("the run ended with its value: the task's") {
    resume_engine_test::send_value(rig, *w, a);
    REQUIRE(rig.until([&] { return c->count(schema::Envelope::RESULT, a) == 1; }));
    CHECK(rig.until([&] { return w->count(schema::Envelope::ASSIGN, b) == 1; }));
    CHECK(w->count(schema::Envelope::ASSIGN, a) == 0);
  }
  SECTION("the run stopped as it was asked: the task runs again") {
    rig.send(*w, [&](schema::Envelope::Builder e) {
      auto r = e.initResult();
      r.setTaskId(a);
      r.setAttempt(1);
      r.setCancelled();
    });
    REQUIRE(rig.until([&] { return w->count(schema::Envelope::ASSIGN, a) == 1; }));
    CHECK(c->count(schema::Envelope::RESULT, a) == 0);  // not cancelled: nobody asked
    CHECK(w->count(schema::Envelope::ASSIGN, b) == 0);  // the gpu is a's again
  }
}
