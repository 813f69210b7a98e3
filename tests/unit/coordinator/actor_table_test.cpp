#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace coordinator_test;

TEST_CASE("an actor goes to a worker with its class and constructor, fewest actors first",
          "[coordinator][actors]") {
  Tables c;
  auto& a = c.worker(10, {});
  a.actor_classes["Counter"] = 5;
  a.actors = 2;
  auto& b = c.worker(11, {});
  b.actor_classes["Counter"] = 5;
  auto& other = c.worker(12, {});
  other.actor_classes["Counter"] = 6;  // another constructor signature
  auto& first = c.actors.create(1);
  first.cls = "Counter";
  first.hash = 5;
  auto& stranger = c.actors.create(2);
  stranger.cls = "Ledger";
  c.actors.unplaced(1);
  c.actors.unplaced(2);
  auto placed = c.actors.place(c.scheduler);
  REQUIRE(placed.size() == 1);
  CHECK(placed[0].actor == 1);
  CHECK(placed[0].worker == 11);
  CHECK(c.scheduler.worker(11)->actors == 1);
  CHECK(c.actors.waiting_placement() == std::vector<std::uint64_t>{2});
}

TEST_CASE("an actor's calls go in arrival order, stopping at one that waits", "[coordinator][actors]") {
  Tables c;
  auto f = c.fn("Counter.add");
  auto& a = c.actors.create(1);
  for (std::uint64_t id = 1; id <= 3; ++id) {
    auto& t = c.tasks.insert(id);
    t.fn = f;
    t.actor = 1;
    t.state = id == 2 ? TaskState::WAITING : TaskState::QUEUED;
    a.calls.push_back(id);
  }
  CHECK(c.actors.pump(a, c.tasks).forward.empty());  // not placed yet
  a.worker = 10;
  auto pumped = c.actors.pump(a, c.tasks);
  CHECK(pumped.forward == std::vector<std::uint64_t>{1});  // call 2 waits on its deps; 3 after it
  c.tasks.find(2)->state = TaskState::QUEUED;
  CHECK(c.actors.pump(a, c.tasks).forward == std::vector<std::uint64_t>{2, 3});
}

TEST_CASE("a dead actor fails the calls it still had", "[coordinator][actors]") {
  Tables c;
  auto f = c.fn("Counter.add");
  auto& a = c.actors.create(1);
  a.worker = 10;
  for (std::uint64_t id = 1; id <= 2; ++id) {
    auto& t = c.tasks.insert(id);
    t.fn = f;
    t.actor = 1;
    t.state = TaskState::WAITING;
    a.calls.push_back(id);
  }
  ActorTable::kill(a, "its worker died");
  auto pumped = c.actors.pump(a, c.tasks);
  CHECK(pumped.fail == std::vector<std::uint64_t>{1, 2});
  CHECK(a.calls.empty());
  CHECK(c.actors.on_worker(10).empty());  // dead actors are not on a worker any more
}
