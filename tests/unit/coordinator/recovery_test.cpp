#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace coordinator_test;
using Catch::Matchers::Contains;

TEST_CASE("a lost worker's tasks that could not have started are retried without spending an attempt",
          "[coordinator][recovery]") {
  Tables c;
  auto f = c.fn("f");
  c.worker(10, {f}, 1);
  for (std::uint64_t id = 1; id <= 4; ++id) c.task(id, f);
  REQUIRE(c.pick().size() == 4);
  auto* w = c.scheduler.worker(10);
  w->started = 1;  // its last report: one task had started
  auto lost = c.scheduler.remove_worker(10);
  auto d = settle_lost_worker(lost, c.tasks, c.functions, "EOF");
  CHECK(d.retry == std::vector<std::uint64_t>{1, 2, 3, 4});
  CHECK(d.fail.empty());
  // Tasks 1 (started) and 2 (the free slot after it) could have run: charged, and isolated.
  CHECK(c.tasks.find(1)->attempt == 1);
  CHECK(c.tasks.find(1)->isolate);
  CHECK(c.tasks.find(2)->attempt == 1);
  CHECK(c.tasks.find(3)->attempt == 0);
  CHECK_FALSE(c.tasks.find(3)->isolate);
  CHECK(c.tasks.find(4)->state == TaskState::QUEUED);
}

TEST_CASE("a task out of retries fails with WorkerLost naming the worker and the attempts",
          "[coordinator][recovery]") {
  Tables c;
  auto f = c.fn("crash");
  c.worker(10, {f}, 1);
  auto& t = c.task(1, f);
  t.retries = 0;
  REQUIRE(c.pick().size() == 1);
  auto d = settle_lost_worker(c.scheduler.remove_worker(10), c.tasks, c.functions, "EOF");
  REQUIRE(d.fail.size() == 1);
  CHECK(d.fail[0].first == 1);
  CHECK(d.fail[0].second.type_name == "shoal::WorkerLost");
  CHECK(d.fail[0].second.kind == shoal::ErrorKind::disconnected);
  CHECK_THAT(d.fail[0].second.message, Contains("task 1 (crash) was on worker w10 (host, pid 0)"));
  CHECK_THAT(d.fail[0].second.message, Contains("stopped answering: EOF; tried 1 time"));
}

TEST_CASE("a lost worker's cancelled task is cancelled and its actor calls are left to the actors",
          "[coordinator][recovery]") {
  Tables c;
  auto f = c.fn("f");
  auto& w = c.worker(10, {f}, 2);
  auto& cancelled = c.task(1, f);
  REQUIRE(c.pick().size() == 1);
  cancelled.cancel_requested = true;
  auto& call = c.tasks.insert(2);
  call.fn = f;
  call.actor = 77;
  call.state = TaskState::QUEUED;
  c.scheduler.assign(call, w);
  auto d = settle_lost_worker(c.scheduler.remove_worker(10), c.tasks, c.functions, "EOF");
  CHECK(d.cancel == std::vector<std::uint64_t>{1});
  CHECK(d.actor_tasks == std::vector<std::uint64_t>{2});
  CHECK(d.retry.empty());
}

TEST_CASE("only the isolated task is charged when a worker running it alone dies", "[coordinator][recovery]") {
  Tables c;
  auto f = c.fn("f");
  c.worker(10, {f}, 1);
  auto& suspect = c.task(1, f);
  suspect.isolate = true;
  suspect.attempt = 1;
  REQUIRE(c.pick().size() == 1);
  CHECK(c.tasks.find(1)->attempt == 2);
  auto d = settle_lost_worker(c.scheduler.remove_worker(10), c.tasks, c.functions, "SIGSEGV");
  CHECK(d.retry == std::vector<std::uint64_t>{1});
  CHECK(c.tasks.find(1)->attempt == 2);
}

TEST_CASE("a task its dying worker names fails with TaskCrashed at once, the tasks beside it retry free",
          "[coordinator][recovery]") {
  // Found broken: one segfaulting task took down all three workers of a cluster, one
  // retry each, then waited forever on a cluster with no worker.
  Tables c;
  auto f = c.fn("segfault");
  auto g = c.fn("fine");
  c.worker(10, {f, g}, 4);
  c.task(1, g);
  auto& culprit = c.task(2, f);
  c.task(3, g);
  REQUIRE(c.pick().size() == 3);
  auto lost = c.scheduler.remove_worker(10);
  lost.started = 3;
  lost.died = true;
  lost.crash_signal = 11;
  lost.crash_task = 2;
  auto d = settle_lost_worker(lost, c.tasks, c.functions, "the peer closed the connection");
  REQUIRE(d.fail.size() == 1);
  CHECK(d.fail[0].first == 2);
  CHECK(d.fail[0].second.type_name == "shoal::TaskCrashed");
  CHECK(d.fail[0].second.kind == shoal::ErrorKind::failed);
  CHECK_THAT(d.fail[0].second.message, Contains("task 2 (segfault) crashed worker w10 (host, pid 0) with SIGSEGV"));
  CHECK_THAT(d.fail[0].second.message, Contains("with SIGSEGV (signal 11)"));
  CHECK(culprit.crashes == 1);
  CHECK(d.retry == std::vector<std::uint64_t>{1, 3});
  CHECK(c.tasks.find(1)->attempt == 0);  // not charged: they only shared the worker
  CHECK_FALSE(c.tasks.find(1)->isolate);
}

TEST_CASE("a task alone on a worker that dies without a word is the culprit, a hung worker's is not",
          "[coordinator][recovery]") {
  for (bool died : {true, false}) {
    Tables c;
    auto f = c.fn("exit42");
    c.worker(10, {f}, 1);
    auto& suspect = c.task(1, f);
    suspect.isolate = true;  // charged once already: runs alone
    suspect.attempt = 1;
    REQUIRE(c.pick().size() == 1);
    auto lost = c.scheduler.remove_worker(10);
    REQUIRE(lost.isolated == 1);
    lost.died = died;  // false: a heartbeat timeout (or we closed it): no crash proven
    auto d = settle_lost_worker(lost, c.tasks, c.functions, died ? "the peer closed the connection" : "no heartbeat");
    INFO("died " << died);
    if (died) {
      REQUIRE(d.fail.size() == 1);
      CHECK(d.fail[0].second.type_name == "shoal::TaskCrashed");
      CHECK_THAT(d.fail[0].second.message, Contains("while it ran alone"));
      CHECK(d.retry.empty());
    } else {
      CHECK(d.fail.empty());
      CHECK(d.retry == std::vector<std::uint64_t>{1});
    }
  }
}

TEST_CASE("a max_crashes of N lets a task kill N-1 workers before it fails", "[coordinator][recovery]") {
  Tables c;
  auto f = c.fn("segfault");
  auto& t = c.task(1, f);
  for (int round = 1; round <= 3; ++round) {
    c.worker(10 + round, {f}, 1);
    REQUIRE(c.pick().size() == 1);
    auto lost = c.scheduler.remove_worker(10 + round);
    lost.died = true;
    lost.crash_signal = 11;
    lost.crash_task = 1;
    auto d = settle_lost_worker(lost, c.tasks, c.functions, "EOF", 3);
    INFO("round " << round);
    CHECK(t.crashes == round);
    if (round < 3) {
      CHECK(d.retry == std::vector<std::uint64_t>{1});
      c.scheduler.enqueue(t, 1);
    } else {
      REQUIRE(d.fail.size() == 1);
      CHECK_THAT(d.fail[0].second.message, Contains("after 3 crashes (--max-crashes 3)"));
    }
  }
}

TEST_CASE("a worker that said it was draining and then went: its tasks retry free, none is charged as a crash",
          "[coordinator][recovery]") {
  // Its operator stopped it (SIGTERM), and a task ignored the stop past the grace: the
  // task did nothing wrong. One that had no retries left must not fail for it.
  Tables c;
  auto f = c.fn("f");
  auto& w = c.worker(10, {f}, 1);
  auto& alone = c.task(1, f);
  alone.retries = 0;
  alone.isolate = true;
  REQUIRE(c.pick().size() == 1);
  w.started = 1;
  w.draining = true;
  auto lost = c.scheduler.remove_worker(10);
  lost.died = true;
  auto d = settle_lost_worker(lost, c.tasks, c.functions, "EOF");
  CHECK(d.retry == std::vector<std::uint64_t>{1});
  CHECK(d.fail.empty());
  CHECK(c.tasks.find(1)->attempt == 0);
  CHECK(c.tasks.find(1)->crashes == 0);
  CHECK(c.tasks.find(1)->state == TaskState::QUEUED);
}

TEST_CASE("runs after a task's own errors do not spend its retries after worker losses",
          "[coordinator][recovery][retry]") {
  Tables c;
  auto f = c.fn("flaky");
  c.worker(10, {f}, 1);
  auto& t = c.task(1, f);
  t.retries = 1;
  t.attempt = 3;                 // three runs so far...
  t.mut().app_retries = 3;       // ...each after an error its retry policy covers
  REQUIRE(c.pick().size() == 1); // the fourth run
  auto d = settle_lost_worker(c.scheduler.remove_worker(10), c.tasks, c.functions, "EOF");
  CHECK(d.fail.empty());
  CHECK(d.retry == std::vector<std::uint64_t>{1});
}
