#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace coordinator_test;
using Catch::Matchers::Contains;

TEST_CASE("finishing a task makes a dependent ready only when its last dependency is done",
          "[coordinator][task_table]") {
  Tables c;
  auto f = c.fn("f");
  c.task(1, f);
  c.task(2, f);
  auto& join = c.task(3, f, {1, 2});
  CHECK(join.state == TaskState::WAITING);
  CHECK(join.unresolved == 2);
  auto first = c.finish(1);
  CHECK(first.ended == std::vector<std::uint64_t>{1});
  CHECK(first.ready.empty());
  CHECK(c.tasks.find(3)->state == TaskState::WAITING);
  auto second = c.finish(2);
  CHECK(second.ready == std::vector<std::uint64_t>{3});
  CHECK(c.tasks.find(3)->state == TaskState::QUEUED);
  CHECK(c.tasks.done_count() == 2);
}

// Issue 15: as Dask and Ray do, a dependent raises its dependency's original error (type
// and message); its task_id and function name the task where it was raised.
TEST_CASE("a failed task fails its waiting dependents transitively with its own error", "[coordinator][task_table]") {
  Tables c;
  auto f = c.fn("load");
  c.task(1, f);
  c.task(2, f, {1});
  c.task(3, f, {2});
  auto out = c.finish(1, TaskState::FAILED);
  CHECK(out.ended == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(out.ready.empty());
  const auto* two = c.tasks.find(2);
  REQUIRE(two->error);
  CHECK(two->state == TaskState::FAILED);
  CHECK(*two->error == *c.tasks.find(1)->error);
  CHECK(two->error->message == "boom");
  CHECK(*c.tasks.find(3)->error == *c.tasks.find(1)->error);
  CHECK(c.tasks.failed_count() == 3);
}

TEST_CASE("a cancelled dependency fails its dependents, saying it was cancelled", "[coordinator][task_table]") {
  Tables c;
  auto f = c.fn("f");
  c.task(1, f);
  c.task(2, f, {1});
  c.finish(1, TaskState::CANCELLED);
  CHECK_THAT(c.tasks.find(2)->error->message, Contains("was cancelled"));
  CHECK(c.tasks.cancelled_count() == 1);
}

TEST_CASE("link_dependencies names an unknown or already failed dependency", "[coordinator][task_table]") {
  Tables c;
  auto f = c.fn("f");
  auto& orphan = c.tasks.insert(7);
  orphan.mut().deps = {99};
  auto unknown = c.tasks.link_dependencies(orphan);
  REQUIRE(unknown);
  CHECK(unknown->dep == 99);
  CHECK(unknown->error.type_name == "shoal::DependencyFailed");
  CHECK_THAT(unknown->error.message, Contains("task 99, a dependency, is unknown to the coordinator"));
  CHECK(unknown->error.task_id == 7);

  c.task(1, f);
  c.finish(1, TaskState::FAILED);
  auto& late = c.tasks.insert(8);
  late.mut().deps = {1};
  auto failed = c.tasks.link_dependencies(late);
  REQUIRE(failed);
  CHECK(failed->dep == 1);
  CHECK(failed->error == *c.tasks.find(1)->error);  // the dependency's own error
}

TEST_CASE("a result is held while a dependent needs it, and collectable once released and unheld",
          "[coordinator][task_table]") {
  Tables c;
  auto f = c.fn("f");
  c.task(1, f);
  c.task(2, f, {1});
  c.finish(1);
  auto* one = c.tasks.find(1);
  one->released = true;
  CHECK(one->holders == 1);
  CHECK_FALSE(TaskTable::collectable(*one));  // task 2 will read it
  auto out = c.finish(2);
  CHECK(std::find(out.freeable.begin(), out.freeable.end(), 1) != out.freeable.end());
  CHECK(c.tasks.find(1)->holders == 0);
  CHECK(TaskTable::collectable(*c.tasks.find(1)));
  auto* two = c.tasks.find(2);
  CHECK_FALSE(TaskTable::collectable(*two));  // its submitter still holds it
  two->released = true;
  two->detached = true;
  CHECK_FALSE(TaskTable::collectable(*two));  // detached results are kept for the TTL
}

TEST_CASE("finishing a finished task changes nothing", "[coordinator][task_table]") {
  Tables c;
  auto f = c.fn("f");
  c.task(1, f);
  c.finish(1);
  auto again = c.finish(1, TaskState::FAILED);
  CHECK(again.ended.empty());
  CHECK(c.tasks.find(1)->state == TaskState::DONE);
  CHECK(c.tasks.failed_count() == 0);
}
