#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace coordinator_test;

TEST_CASE("pick spreads tasks over workers, least loaded first, within each worker's window",
          "[coordinator][scheduler]") {
  Tables c;
  auto f = c.fn("f");
  c.worker(10, {f}, 1);
  c.worker(11, {f}, 1);
  for (std::uint64_t id = 1; id <= 10; ++id) c.task(id, f);
  auto picked = c.pick();
  // A worker of one thread with no measured run time takes 2*1+2 = 4 tasks.
  REQUIRE(picked.size() == 8);
  std::map<std::uint64_t, int> per;
  for (auto [task, worker] : picked) ++per[worker];
  CHECK(per[10] == 4);
  CHECK(per[11] == 4);
  CHECK(c.scheduler.queued(f) == 2);
  CHECK(c.tasks.find(picked[0].first)->state == TaskState::RUNNING);
  CHECK(c.tasks.find(picked[0].first)->attempt == 1);
  // A result frees a slot: exactly one more goes to that worker (no run time reported,
  // so its window stays as it was).
  auto [task, worker] = picked[0];
  c.scheduler.release_slot(*c.scheduler.worker(worker), task, 0);
  c.finish(task);
  auto next = c.pick();
  REQUIRE(next.size() == 1);
  CHECK(next[0].second == worker);
}

TEST_CASE("a measured run time widens the window of a worker with short tasks", "[coordinator][scheduler]") {
  WorkerSlot w;
  w.capacity = 2;
  CHECK(Scheduler::window(w, false) == 6);
  w.ewma_run_ns = 1'000;  // 1 us tasks: a 200 us round trip needs many in flight
  CHECK(Scheduler::window(w, false) == 2 + 400);
  w.ewma_run_ns = 10'000'000;  // 10 ms tasks: a couple beyond the threads
  CHECK(Scheduler::window(w, false) == 4);
  w.co_capacity = 7;
  CHECK(Scheduler::window(w, true) == 7);
}

TEST_CASE("a task that may have killed a worker runs alone on an idle one", "[coordinator][scheduler]") {
  Tables c;
  auto f = c.fn("f");
  c.worker(10, {f}, 4);
  c.task(1, f);
  auto& suspect = c.task(2, f);
  suspect.isolate = true;
  c.task(3, f);
  auto picked = c.pick();
  // Task 1 goes; the suspect waits for an idle worker, and blocks its queue behind it.
  REQUIRE(picked.size() == 1);
  CHECK(picked[0].first == 1);
  c.scheduler.release_slot(*c.scheduler.worker(10), 1, 0);
  c.finish(1);
  picked = c.pick();
  REQUIRE(picked.size() == 1);
  CHECK(picked[0].first == 2);
  CHECK(c.scheduler.worker(10)->isolated == 2);
  CHECK(c.pick().empty());  // nothing beside it
  c.scheduler.release_slot(*c.scheduler.worker(10), 2, 0);
  CHECK(c.scheduler.worker(10)->isolated == 0);
  CHECK(c.pick().size() == 1);
}

TEST_CASE("a worker whose connection is closing gets nothing, nor do its actors", "[coordinator][scheduler]") {
  Tables c;
  auto f = c.fn("f");
  auto& closing = c.worker(10, {f}, 4);
  closing.lost = true;
  closing.actor_classes["Counter"] = 5;
  c.task(1, f);
  CHECK(c.pick().empty());
  auto& a = c.actors.create(1);
  a.cls = "Counter";
  a.hash = 5;
  c.actors.unplaced(1);
  CHECK(c.actors.place(c.scheduler).empty());
  c.worker(11, {f}, 4);
  auto picked = c.pick();
  REQUIRE(picked.size() == 1);
  CHECK(picked[0].second == 11);
}

TEST_CASE("draining workers, workers at their task limit and cancelled tasks get nothing",
          "[coordinator][scheduler]") {
  Tables c;
  auto f = c.fn("f");
  auto& draining = c.worker(10, {f}, 4);
  draining.draining = true;
  auto& limited = c.worker(11, {f}, 4);
  limited.max_tasks = 2;
  for (std::uint64_t id = 1; id <= 4; ++id) c.task(id, f);
  c.finish(1, TaskState::CANCELLED);  // cancelled while queued: skipped
  auto picked = c.pick();
  REQUIRE(picked.size() == 2);
  CHECK(picked[0] == std::pair<std::uint64_t, std::uint64_t>{2, 11});
  CHECK(picked[1] == std::pair<std::uint64_t, std::uint64_t>{3, 11});
  CHECK(c.pick().empty());
}

TEST_CASE("a function no worker registered waits, and says since when", "[coordinator][scheduler]") {
  Tables c;
  auto f = c.fn("f");
  auto g = c.fn("g");
  c.worker(10, {f});
  auto& t = c.tasks.insert(1);
  t.fn = g;
  c.scheduler.enqueue(t, 1234);
  CHECK(c.pick().empty());
  CHECK(c.scheduler.unserved_since(g) == 1234);
  CHECK(c.scheduler.take_ready(g) == std::vector<std::uint64_t>{1});
  CHECK(c.scheduler.unserved_since(g) == 0);
}

TEST_CASE("a blocked plain task lends its slot and takes it back", "[coordinator][scheduler]") {
  Tables c;
  auto f = c.fn("f");
  auto& w = c.worker(10, {f}, 1);
  c.task(1, f);
  REQUIRE(c.pick().size() == 1);
  CHECK(w.in_plain == 1);
  c.scheduler.set_blocked(w, *c.tasks.find(1), true);
  CHECK(w.in_plain == 0);
  c.scheduler.set_blocked(w, *c.tasks.find(1), true);  // twice: once
  CHECK(w.in_plain == 0);
  c.scheduler.set_blocked(w, *c.tasks.find(1), false);
  CHECK(w.in_plain == 1);
}

TEST_CASE("a handed-back task goes first", "[coordinator][scheduler]") {
  Tables c;
  auto f = c.fn("f");
  c.task(1, f);
  auto& back = c.tasks.insert(2);
  back.fn = f;
  back.state = TaskState::QUEUED;
  c.scheduler.enqueue(back, 1, /*front=*/true);
  CHECK(c.scheduler.worker_list() == "no worker");
  c.worker(10, {f});
  CHECK(c.scheduler.worker_list() == "workers w10");
  auto picked = c.pick();
  REQUIRE(picked.size() == 2);
  CHECK(picked[0].first == 2);
}
