// Actors as Ray users expect them (issue 15), with real coordinator and worker processes
// killed for real: restarts after a worker's death (max_restarts, max_task_retries,
// ActorDied), named actors another client finds, detached actors that outlive their
// creator, async actors whose coroutine methods interleave up to max_concurrency.

#include <catch2/catch.hpp>

#include <signal.h>

#include <string>

#include "shoal/remote/client.hpp"
#include "support/daemons.hpp"
#include "support/test_tasks.hpp"

using namespace std::chrono_literals;
using shoal::test::Cluster;
using shoal::test::wait_until;
using shoal_test_tasks::Counter;
using shoal_test_tasks::Tracker;

namespace {

void await_workers(shoal::Client& client, std::size_t n, Cluster& c) {
  if (!wait_until([&] { return client.workers().result(5s).size() == n; }, 15s))
    FAIL("workers did not register:\n" << c.logs());
}

/// SIGKILLs the worker process `pid` and waits for it.
void kill_worker(Cluster& c, std::int64_t pid) {
  for (auto& w : c.workers)
    if (w->pid() == pid) {
      w->signal(SIGKILL);
      (void)w->wait();
      return;
    }
  FAIL("no worker has pid " << pid);
}

/// Waits until task `f` runs on its worker.
template <typename T>
void await_running(shoal::Client& client, const shoal::Future<T>& f) {
  auto id = shoal::Client::task_id(f);
  REQUIRE(wait_until([&] {
    auto s = client.status(id).result(5s);
    return !s.tasks.empty() && s.tasks[0].state == "running";
  }));
}

}  // namespace

TEST_CASE("an actor restarts on another worker after its worker dies, up to max_restarts, and its running calls fail "
          "with ActorDied",
          "[integration][actors]") {
  Cluster c;
  for (int i = 0; i < 3; ++i) c.add_worker(2);
  shoal::Client client(c.address);
  await_workers(client, 3, c);
  auto t = client.spawn<Tracker>(shoal::ActorOptions{.max_restarts = 1}, std::int64_t{100});
  t.ready().result(10s);
  CHECK(t.call(&Tracker::add_slowly, std::int64_t{1}, std::int64_t{0}).result(10s) == 101);
  auto first = t.call(&Tracker::pid).result(10s);
  auto running = t.call(&Tracker::add_slowly, std::int64_t{5}, std::int64_t{30'000});
  await_running(client, running);
  kill_worker(c, first);
  try {
    (void)running.result(20s);
    FAIL("no exception");
  } catch (const shoal::ActorDied& e) {
    CHECK(std::string(e.what()).find("stopped answering") != std::string::npos);
  }
  // Constructed again from its constructor's arguments, on another worker.
  CHECK(t.call(&Tracker::add_slowly, std::int64_t{1}, std::int64_t{0}).result(20s) == 101);
  auto second = t.call(&Tracker::pid).result(10s);
  CHECK(second != first);
  INFO(c.logs());
  CHECK(shoal::test::read_file(c.dir.file("coordinator.log")).find("restarts, 1 of 1") != std::string::npos);
  // Its one restart spent: the next death is its end.
  kill_worker(c, second);
  try {
    (void)t.call(&Tracker::pid).result(20s);
    FAIL("no exception");
  } catch (const shoal::ActorDied& e) {
    CHECK(std::string(e.what()).find("restarted 1 time(s)") != std::string::npos);
  }
  // ActorDied is a WorkerLost: code that caught that still does.
  CHECK_THROWS_AS(t.call(&Tracker::pid).result(10s), shoal::WorkerLost);
}

TEST_CASE("max_task_retries runs a call that was running again on the restarted actor", "[integration][actors]") {
  Cluster c;
  for (int i = 0; i < 2; ++i) c.add_worker(2);
  shoal::Client client(c.address);
  await_workers(client, 2, c);
  auto t = client.spawn<Tracker>(shoal::ActorOptions{.max_restarts = -1, .max_task_retries = 1}, std::int64_t{0});
  auto where = t.call(&Tracker::pid).result(10s);
  auto running = t.call(&Tracker::add_slowly, std::int64_t{5}, std::int64_t{1500});
  await_running(client, running);
  kill_worker(c, where);
  CHECK(running.result(30s) == 5);  // run again, on the actor constructed again from 0
  CHECK(t.call(&Tracker::pid).result(10s) != where);
}

TEST_CASE("a named actor is found by another client, its name is unique, a lookup of the wrong type is refused",
          "[integration][actors]") {
  Cluster c;
  c.add_worker(2);
  shoal::Client creator(c.address);
  await_workers(creator, 1, c);
  auto counter = creator.spawn<Counter>(shoal::ActorOptions{.name = "tally"}, std::int64_t{10});
  counter.ready().result(10s);
  shoal::Client other(c.address);
  auto found = other.get_actor<Counter>("tally");
  CHECK(found.id() == counter.id());
  CHECK(found.call(&Counter::add, std::int64_t{5}).result(10s) == 15);
  CHECK(counter.call(&Counter::get).result(10s) == 15);  // one actor, seen by both
  // A second actor may not take a live actor's name.
  auto twin = creator.spawn<Counter>(shoal::ActorOptions{.name = "tally"}, std::int64_t{0});
  CHECK_THROWS_WITH(twin.ready().result(10s), Catch::Contains("an actor named 'tally' is alive already"));
  CHECK_THROWS_WITH(other.get_actor<Counter>("nobody"), Catch::Contains("no live actor is named 'nobody'"));
  CHECK_THROWS_AS(other.get_actor<Tracker>("tally"), shoal::TypeMismatch);
  // Dropping a looked-up handle leaves the actor alone.
  { auto again = other.get_actor<Counter>("tally"); }
  CHECK(counter.call(&Counter::get).result(10s) == 15);
  // Not detached: it ends with its creator's handles, and its name is free again.
  counter = shoal::Actor<Counter>();
  twin = shoal::Actor<Counter>();
  REQUIRE(wait_until([&] {
    try {
      (void)other.get_actor<Counter>("tally");
      return false;
    } catch (const shoal::ValueError&) {
      return true;
    }
  }));
  auto reborn = other.spawn<Counter>(shoal::ActorOptions{.name = "tally"}, std::int64_t{1});
  CHECK(reborn.call(&Counter::get).result(10s) == 1);
}

TEST_CASE("a detached actor outlives its creator until it is killed", "[integration][actors]") {
  Cluster c;
  c.add_worker(2);
  {
    shoal::Client creator(c.address);
    await_workers(creator, 1, c);
    CHECK_THROWS_AS(creator.spawn<Counter>(shoal::ActorOptions{.detached = true}, std::int64_t{0}), shoal::ValueError);
    auto kept = creator.spawn<Counter>(shoal::ActorOptions{.name = "kept", .detached = true}, std::int64_t{7});
    CHECK(kept.call(&Counter::add, std::int64_t{1}).result(10s) == 8);
  }  // the creator's handles and connection are gone
  shoal::Client later(c.address);
  auto kept = later.get_actor<Counter>("kept");
  CHECK(kept.call(&Counter::get).result(10s) == 8);
  later.kill_actor(kept);
  CHECK_THROWS_AS(kept.call(&Counter::get).result(10s), shoal::ActorDied);
  CHECK_THROWS_AS(later.get_actor<Counter>("kept"), shoal::ValueError);
}

namespace actors_test {
/// An actor type no worker has (its library is this program's, not the workers').
struct Nowhere {
  explicit Nowhere(std::int64_t) {}
  std::int64_t get() { return 0; }
};
SHOAL_ACTOR(Nowhere, shoal::init<std::int64_t>, &Nowhere::get)
}  // namespace actors_test

TEST_CASE("kill_actor ends an actor now: its running and queued calls fail with ActorDied, an unplaced one's ready() "
          "too",
          "[integration][actors]") {
  // Found by review: a kill let the calls already sent run to their end, and left an
  // unplaced actor's ready() waiting for ever.
  Cluster c;
  c.add_worker(2);
  shoal::Client client(c.address);
  await_workers(client, 1, c);
  auto t = client.spawn<Tracker>(std::int64_t{0});
  auto running = t.call(&Tracker::add_slowly, std::int64_t{1}, std::int64_t{30'000});
  auto queued = t.call(&Tracker::add_slowly, std::int64_t{1}, std::int64_t{0});
  await_running(client, running);
  auto t0 = std::chrono::steady_clock::now();
  client.kill_actor(t);
  CHECK_THROWS_AS(running.result(10s), shoal::ActorDied);
  CHECK_THROWS_AS(queued.result(10s), shoal::ActorDied);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  auto nowhere = client.spawn<actors_test::Nowhere>(std::int64_t{0});
  client.kill_actor(nowhere);
  CHECK_THROWS_AS(nowhere.ready().result(10s), shoal::ActorDied);
  // The worker is free for others.
  auto other = client.spawn<Tracker>(std::int64_t{5});
  CHECK(other.call(&Tracker::add_slowly, std::int64_t{1}, std::int64_t{0}).result(10s) == 6);
}

TEST_CASE("an async actor's coroutine methods interleave up to max_concurrency", "[integration][actors]") {
  Cluster c;
  c.add_worker(2);
  shoal::Client client(c.address);
  await_workers(client, 1, c);
  auto t = client.spawn<Tracker>(shoal::ActorOptions{.max_concurrency = 3}, std::int64_t{0});
  // Each waits until three are inside at once: they can only all return if they overlap.
  std::vector<shoal::Future<std::int64_t>> gates;
  for (int i = 0; i < 3; ++i) gates.push_back(t.call(&Tracker::gate, std::int64_t{3}));
  for (auto& g : gates) CHECK(g.result(20s) == 3);
}
