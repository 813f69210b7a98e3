#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

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
  w.ewma_run_ns = 1'000;  // 1 us tasks: 5 ms of them is more than the most in flight
  CHECK(Scheduler::window(w, false) == 2 + 1024);
  w.ewma_run_ns = 100'000;  // 100 us tasks: 5 ms of them on each of its 2 threads
  CHECK(Scheduler::window(w, false) == 2 + 100);
  w.ewma_run_ns = 10'000'000;  // 10 ms tasks: a couple beyond the threads
  CHECK(Scheduler::window(w, false) == 4);
  w.co_capacity = 7;
  CHECK(Scheduler::window(w, true) == 7);
}

TEST_CASE("a worker that ran tiny tasks takes a new, slow function's calls by that function's measure",
          "[coordinator][scheduler]") {
  // Review of the 5 ms window: the worker's measure mixes its functions. After many 1 us
  // calls its window is 1 + 1024; 100 calls of a function measured at 1 s (or not yet
  // measured) must not all queue there, behind one another, while another worker idles.
  Tables c;
  auto tiny = c.fn("tiny"), slow = c.fn("slow");
  c.functions[tiny].ewma_run_ns = 1'000;
  c.functions[tiny].runs = 1000;
  auto& w = c.worker(10, {tiny, slow}, 1);
  w.ewma_run_ns = 1'000;
  c.scheduler.refresh(w);
  REQUIRE(Scheduler::window(w, false) == 1 + 1024);
  for (std::uint64_t id = 1; id <= 100; ++id) c.task(id, slow);
  CHECK(c.pick().size() == 4);  // unmeasured: twice its threads and 2, as a new worker
  c.functions[slow].ewma_run_ns = 1'000'000'000;
  c.functions[slow].runs = 8;
  auto& other = c.worker(11, {tiny, slow}, 1);
  (void)other;
  CHECK(c.pick().size() == 3);  // measured slow: the other worker gets 1 + 2, this one none more
  // The tiny function still fills the window beyond them.
  for (std::uint64_t id = 1000; id < 1200; ++id) c.task(id, tiny);
  std::size_t tiny_picked = 0;
  for (auto [task, worker] : c.pick()) tiny_picked += task >= 1000;
  CHECK(tiny_picked == 200);
}

TEST_CASE("a pass gives tasks measured short to one worker in a row, and spreads the others",
          "[coordinator][scheduler]") {
  // 256 one-thread workers fed one task each per pass paid a frame and a wake-up per task
  // (B4w256 measured 0.3x of B4 on 2 workers); 50 us worth in a row to one worker pay once.
  Tables c;
  auto f = c.fn("f");
  for (std::uint64_t w = 10; w < 14; ++w) {
    auto& slot = c.worker(w, {f}, 1);
    slot.ewma_run_ns = 2'000;  // a window of 1 + 1024
    c.scheduler.refresh(slot);
  }
  auto spread = [&](std::uint64_t first, std::uint64_t n) {
    for (auto id = first; id < first + n; ++id) c.task(id, f);
    std::map<std::uint64_t, int> per;
    int runs = 0;  // maximal runs of one worker in the pass's order
    std::uint64_t last = 0;
    for (auto [task, worker] : c.pick()) {
      ++per[worker];
      runs += worker != last;
      last = worker;
    }
    std::vector<int> counts;
    for (auto [w, k] : per) counts.push_back(k);
    std::sort(counts.begin(), counts.end());
    return std::pair{runs, counts};
  };
  // Unmeasured: one each, idle workers first.
  CHECK(spread(1, 4) == std::pair{4, std::vector<int>{1, 1, 1, 1}});
  // Measured at 2 us over 8 results: 25 in a row (50 us), then the next worker.
  c.functions[f].ewma_run_ns = 2'000;
  c.functions[f].runs = 8;
  CHECK(spread(100, 60) == std::pair{3, std::vector<int>{10, 25, 25}});
  // A worker whose thread is busy is not chosen over an idle one for a new pass: the
  // first task goes to the idle worker (then its run follows it).
  Tables d;
  auto g = d.fn("g");
  d.functions[g].ewma_run_ns = 2'000;
  d.functions[g].runs = 8;
  d.worker(20, {g}, 1);
  d.task(1, g);
  REQUIRE(d.pick().size() == 1);  // 20 is busy now
  d.worker(21, {g}, 1);
  d.task(2, g);
  auto next = d.pick();
  REQUIRE(next.size() == 1);
  CHECK(next[0].second == 21);
  // Long tasks spread one by one whatever was measured.
  Tables slow;
  auto h = slow.fn("h");
  slow.functions[h].ewma_run_ns = 10'000'000;
  slow.functions[h].runs = 100;
  for (std::uint64_t w = 10; w < 12; ++w) slow.worker(w, {h}, 1);
  for (std::uint64_t id = 1; id <= 4; ++id) slow.task(id, h);
  std::map<std::uint64_t, int> per;
  for (auto [task, worker] : slow.pick()) ++per[worker];
  CHECK(per == std::map<std::uint64_t, int>{{10, 2}, {11, 2}});
}

TEST_CASE("map chunks and pack requests go one at a time, and neither chunks nor failures are measured",
          "[coordinator][scheduler]") {
  // Review of the runs: a map of long chunks of a function whose single calls are short
  // went in runs to one worker, and fed the calls' measure.
  Tables c;
  auto f = c.fn("f");
  c.functions[f].ewma_run_ns = 1'000;
  c.functions[f].runs = 8;
  for (std::uint64_t w = 10; w < 14; ++w) c.worker(w, {f}, 1);
  for (std::uint64_t id = 1; id <= 4; ++id) c.task(id, f).mut().method = "map";
  std::set<std::uint64_t> used;
  for (auto [task, worker] : c.pick()) used.insert(worker);
  CHECK(used.size() == 4);  // one chunk per worker, not a run on one
  c.scheduler.release_slot(*c.scheduler.worker(c.tasks.find(1)->worker), 1, 50'000'000);
  CHECK(c.functions[f].runs == 8);  // a chunk's time is not a call's
  CHECK(c.functions[f].ewma_run_ns == 1'000);
  // A failure is not measured either.
  c.task(5, f);
  auto picked = c.pick();
  REQUIRE(picked.size() == 1);
  c.scheduler.release_slot(*c.scheduler.worker(picked[0].second), 5, 90'000'000, false);
  CHECK(c.functions[f].runs == 8);
  // pack chooses by free threads: no runs.
  Tables d;
  auto g = d.fn("g");
  d.functions[g].ewma_run_ns = 1'000;
  d.functions[g].runs = 8;
  for (std::uint64_t w = 10; w < 12; ++w) d.worker(w, {g}, 2);
  auto pack = d.request({.strategy = shoal::Strategy::pack});
  for (std::uint64_t id = 1; id <= 4; ++id) d.task(id, g, {}, pack);
  std::map<std::uint64_t, int> per;
  auto first = d.pick();
  for (auto [task, worker] : first) ++per[worker];
  // Pack fills one worker's threads, then the other's, then queues behind the fullest.
  CHECK(per.size() == 2);
}

TEST_CASE("a result measures its function's run time", "[coordinator][scheduler]") {
  Tables c;
  auto f = c.fn("f");
  c.worker(10, {f}, 1);
  for (std::uint64_t id = 1; id <= 2; ++id) c.task(id, f);
  auto picked = c.pick();
  REQUIRE(picked.size() == 2);
  c.scheduler.release_slot(*c.scheduler.worker(10), 1, 1'000);
  CHECK(c.functions[f].runs == 1);
  CHECK(c.functions[f].ewma_run_ns == 1'000);
  c.scheduler.release_slot(*c.scheduler.worker(10), 2, 2'000);
  CHECK(c.functions[f].runs == 2);
  CHECK(c.functions[f].ewma_run_ns == Approx(1'100));
  c.scheduler.release_slot(*c.scheduler.worker(10), 2, 5'000);  // no longer held there: not counted
  CHECK(c.functions[f].runs == 2);
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
