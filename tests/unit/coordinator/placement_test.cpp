// The scheduler's placement: resources, labels, strategies, priorities, and requests
// that can never be met.

#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "fixture.hpp"

using namespace coordinator_test;
using Catch::Matchers::Contains;
using shoal::link::Placement;

namespace {

std::map<std::uint64_t, std::vector<std::uint64_t>> by_worker(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& picked) {
  std::map<std::uint64_t, std::vector<std::uint64_t>> out;
  for (auto [task, worker] : picked) out[worker].push_back(task);
  return out;
}

// An unplaced actor of type Model (constructor hash 7) asking for `req`.
ActorRecord& model_actor(Tables& c, std::uint64_t id, std::uint32_t req) {
  auto& a = c.actors.create(id);
  a.cls = "Model";
  a.hash = 7;
  a.req = req;
  c.actors.unplaced(id);
  return a;
}

}  // namespace

TEST_CASE("a GPU task runs only on the worker that has one, and two never overlap on a 1-GPU worker",
          "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("train");
  c.worker_offering(10, {f}, {{"cpu", 8}});
  c.worker_offering(11, {f}, {{"cpu", 8}, {"gpu", 1}});
  c.worker_offering(12, {f}, {{"cpu", 8}});
  auto gpu = c.request({.resources = {{"gpu", 1}}});
  for (std::uint64_t id = 1; id <= 3; ++id) c.task(id, f, {}, gpu);
  c.task(4, f);  // asks nothing: any worker
  auto picked = c.pick();
  auto per = by_worker(picked);
  // One GPU task at a time, on worker 11; the plain task on another (least loaded).
  REQUIRE(per[11].size() == 1);
  CHECK(per[11][0] == 1);
  CHECK(picked.size() == 2);
  CHECK(c.scheduler.worker(11)->free(c.scheduler.placements().resource("gpu")) == 0);
  // Nothing more until it ends; then exactly the next one, on the same worker.
  CHECK(c.pick().empty());
  c.complete(1);
  CHECK(c.scheduler.worker(11)->free(c.scheduler.placements().resource("gpu")) == shoal::link::kResourceUnits);
  auto next = c.pick();
  REQUIRE(next.size() == 1);
  CHECK(next[0] == std::pair<std::uint64_t, std::uint64_t>{2, 11});
  // Its status says why the third waits.
  CHECK_THAT(c.scheduler.why_waiting(*c.tasks.find(3)), Contains("have it in use"));
}

TEST_CASE("fractional and memory requests add up exactly on a worker", "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  using namespace shoal::literals;
  c.worker_offering(10, {f}, {{"gpu", 1}, {"memory", 16_GiB}}, {}, 16);
  auto half = c.request({.resources = {{"gpu", 0.5}, {"memory", 4_GiB}}});
  for (std::uint64_t id = 1; id <= 5; ++id) c.task(id, f, {}, half);
  // Two halves of the GPU, 8 GiB of memory: the third waits for the GPU.
  CHECK(c.pick().size() == 2);
  c.complete(1);
  c.complete(2);
  CHECK(c.pick().size() == 2);
  auto& w = *c.scheduler.worker(10);
  CHECK(w.free(c.scheduler.placements().resource("memory")) == shoal::link::resource_units(8_GiB));
}

TEST_CASE("a required label pins tasks to a zone, a preferred one is honoured where there is room",
          "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  c.worker_offering(10, {f}, {}, {"zone=a", "disk=ssd"}, 2);
  c.worker_offering(11, {f}, {}, {"zone=b"}, 2);
  c.worker_offering(12, {f}, {}, {"zone=b", "disk=ssd"}, 2);
  auto zone_b = c.request({.labels = {.required = {"zone=b"}}});
  for (std::uint64_t id = 1; id <= 6; ++id) c.task(id, f, {}, zone_b);
  for (auto [task, worker] : c.pick()) CHECK((worker == 11 || worker == 12));
  // "!=": a worker without the key satisfies it.
  Tables d;
  auto g = d.fn("g");
  d.worker_offering(20, {g}, {}, {"disk=hdd"}, 2);
  d.worker_offering(21, {g}, {}, {}, 2);
  auto not_hdd = d.request({.labels = {.required = {"disk!=hdd"}}});
  for (std::uint64_t id = 1; id <= 3; ++id) d.task(id, g, {}, not_hdd);
  for (auto [task, worker] : d.pick()) CHECK(worker == 21);
  // Preferred: ssd workers first while they have room, then any.
  Tables e;
  auto h = e.fn("h");
  e.worker_offering(30, {h}, {}, {}, 1);
  e.worker_offering(31, {h}, {}, {"disk=ssd"}, 1);
  auto ssd = e.request({.labels = {.preferred = {"disk=ssd"}}});
  for (std::uint64_t id = 1; id <= 8; ++id) e.task(id, h, {}, ssd);
  auto per = by_worker(e.pick());
  // A one-thread worker's window is 4: the ssd worker's fills first, then the other's.
  CHECK(per[31] == std::vector<std::uint64_t>{1, 2, 3, 4});
  CHECK(per[30] == std::vector<std::uint64_t>{5, 6, 7, 8});
}

TEST_CASE("a request no worker with the function could ever fit is unschedulable, naming what is missing",
          "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("train");
  auto other = c.fn("other");
  c.worker_offering(10, {f}, {{"gpu", 1}}, {"zone=a"});
  c.worker_offering(11, {other}, {{"gpu", 8}}, {"zone=b"});
  // Two GPUs: worker 11 has eight, but not the function.
  auto why = c.scheduler.unschedulable(f, c.request({.resources = {{"gpu", 2}}}));
  CHECK_THAT(why, Contains("gpu=2 (the most offered: 1)"));
  CHECK_THAT(why, Contains("'train'"));
  CHECK_THAT(c.scheduler.unschedulable(f, c.request({.labels = {.required = {"zone=b"}}})), Contains("label zone=b"));
  CHECK_THAT(c.scheduler.unschedulable(f, c.request({.resources = {{"licence", 1}}})), Contains("licence=1"));
  // Each alone is offered, not together.
  c.worker_offering(12, {f}, {}, {"zone=b"});
  CHECK_THAT(c.scheduler.unschedulable(f, c.request({.resources = {{"gpu", 1}}, .labels = {.required = {"zone=b"}}})),
             Contains("together"));
  // What fits somewhere is schedulable, busy or not; preferences never rule out.
  CHECK(c.scheduler.unschedulable(f, c.request({.resources = {{"gpu", 1}}})).empty());
  CHECK(c.scheduler.unschedulable(f, c.request({.labels = {.preferred = {"zone=z"}}})).empty());
  // A function no worker has: NotRegistered decides, not this.
  CHECK(c.scheduler.unschedulable(c.fn("nobody"), c.request({.resources = {{"gpu", 1}}})).empty());
}

TEST_CASE("a worker that has gone is remembered: its tasks wait for one like it", "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  c.worker_offering(10, {f}, {});
  c.worker_offering(11, {f}, {{"gpu", 1}});
  auto gpu = c.request({.resources = {{"gpu", 1}}});
  (void)c.scheduler.remove_worker(11);
  CHECK(c.scheduler.unschedulable(f, gpu).empty());
  c.task(1, f, {}, gpu);
  CHECK(c.pick().empty());
  CHECK_THAT(c.scheduler.why_waiting(*c.tasks.find(1)), Contains("the workers that did are gone"));
  c.worker_offering(12, {f}, {{"gpu", 1}});
  auto picked = c.pick();
  REQUIRE(picked.size() == 1);
  CHECK(picked[0].second == 12);
}

TEST_CASE("queued tasks a worker of a new kind rules out are taken as unschedulable", "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  auto gpu = c.request({.resources = {{"gpu", 1}}});
  c.task(1, f, {}, gpu);
  c.task(2, f);
  CHECK(c.scheduler.take_unschedulable().empty());  // no worker has f yet: it waits
  c.worker_offering(10, {f}, {{"cpu", 4}});
  auto out = c.scheduler.take_unschedulable();
  REQUIRE(out.size() == 1);
  CHECK(out[0].first == 1);
  CHECK_THAT(out[0].second, Contains("gpu=1"));
  auto picked = c.pick();
  REQUIRE(picked.size() == 1);
  CHECK(picked[0].first == 2);
}

TEST_CASE("a high-priority task submitted after 10,000 queued low-priority ones starts before them",
          "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  auto low = c.request({.priority = -1});
  for (std::uint64_t id = 1; id <= 10000; ++id) c.task(id, f, {}, low);
  c.task(10001, f);  // priority 0
  auto urgent = c.request({.priority = 10});
  c.task(10002, f, {}, urgent);
  c.worker(50, {f}, 1);
  auto picked = c.pick();
  REQUIRE(picked.size() == 4);  // one thread: a window of 4
  CHECK(picked[0].first == 10002);
  CHECK(picked[1].first == 10001);
  CHECK(picked[2].first == 1);
  CHECK(picked[3].first == 2);
}

TEST_CASE("spread takes the least loaded worker, pack the most loaded that has room", "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  c.worker(10, {f}, 4);
  c.worker(11, {f}, 4);
  c.worker(12, {f}, 4);
  auto pack = c.request({.strategy = shoal::Strategy::pack});
  for (std::uint64_t id = 1; id <= 10; ++id) c.task(id, f, {}, pack);
  auto per = by_worker(c.pick());
  // Pack fills one worker's threads before touching another (and queues behind busy
  // threads only when no worker has one free).
  std::vector<std::size_t> sizes;
  for (auto& [w, ids] : per) sizes.push_back(ids.size());
  std::sort(sizes.begin(), sizes.end());
  CHECK(sizes == std::vector<std::size_t>{2, 4, 4});
  for (std::uint64_t id = 11; id <= 30; ++id) c.task(id, f, {}, pack);
  std::size_t more = c.pick().size();
  CHECK(more == 20);  // then the windows (3 x 10 = 30 in all)
  Tables d;
  auto g = d.fn("g");
  d.worker(10, {g}, 4);
  d.worker(11, {g}, 4);
  d.worker(12, {g}, 4);
  for (std::uint64_t id = 1; id <= 9; ++id) d.task(id, g);
  for (auto& [w, ids] : by_worker(d.pick())) CHECK(ids.size() == 3);
}

TEST_CASE("an actor holds its resources for its life", "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  auto& w = c.worker_offering(10, {f}, {{"gpu", 1}});
  w.actor_classes["Model"] = 7;
  auto& a = model_actor(c, 1, c.request({.resources = {{"gpu", 1}}}));
  model_actor(c, 2, a.req);
  auto placed = c.actors.place(c.scheduler);
  REQUIRE(placed.size() == 1);  // one GPU: one actor
  CHECK(placed[0].actor == 1);
  // A GPU task waits while the actor lives.
  c.task(5, f, {}, a.req);
  CHECK(c.pick().empty());
  c.scheduler.unreserve(w, a.req);  // the engine does this when the actor ends
  CHECK(c.actors.place(c.scheduler).size() == 1);  // the second actor takes it
  // An actor asking what no worker with its type has is unplaceable.
  model_actor(c, 3, c.request({.resources = {{"gpu", 4}}}));
  auto never = c.actors.unplaceable(c.scheduler);
  REQUIRE(never.size() == 1);
  CHECK(never[0].first == 3);
}

TEST_CASE("a result for a task already forgotten still frees what it held", "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  auto& w = c.worker_offering(10, {f}, {{"gpu", 1}});
  auto gpu = c.request({.resources = {{"gpu", 1}}});
  c.task(1, f, {}, gpu);
  REQUIRE(c.pick().size() == 1);
  c.tasks.erase(1);  // cancelled and freed while it ran
  c.scheduler.release_slot(w, 1, 0);
  CHECK(w.free(c.scheduler.placements().resource("gpu")) == shoal::link::kResourceUnits);
}

TEST_CASE("a decision scans only the workers that could take a rare request", "[coordinator][placement]") {
  // 1,000 workers, one with a GPU: its tasks go there; the others are spread by load.
  Tables c;
  auto f = c.fn("f");
  for (std::uint64_t id = 1; id <= 1000; ++id)
    c.worker_offering(id, {f}, id == 500 ? shoal::Resources{{"gpu", 1}} : shoal::Resources{}, {}, 1);
  auto gpu = c.request({.resources = {{"gpu", 1}}});
  c.task(1, f, {}, gpu);
  for (std::uint64_t id = 2; id <= 1001; ++id) c.task(id, f);
  auto picked = c.pick();
  REQUIRE(picked.size() == 1001);
  CHECK(picked[0] == std::pair<std::uint64_t, std::uint64_t>{1, 500});
  std::set<std::uint64_t> used;
  for (auto [task, worker] : picked) used.insert(worker);
  CHECK(used.size() == 1000);
}

TEST_CASE("what a task held is freed by its result even when its record is gone, blocked or not",
          "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  auto& w = c.worker(10, {f}, 2);
  c.task(1, f);
  c.task(2, f);
  REQUIRE(c.pick().size() == 2);
  CHECK(w.in_plain == 2);
  c.scheduler.set_blocked(w, *c.tasks.find(2), true);  // lends its slot
  CHECK(w.in_plain == 1);
  c.tasks.erase(1);
  c.tasks.erase(2);
  c.scheduler.release_slot(w, 1, 0);
  c.scheduler.release_slot(w, 2, 0);
  CHECK(w.in_plain == 0);  // not -1 (the blocked one's slot was lent), not 1 (a leak)
  // A task assigned again after it blocked holds a slot again.
  auto& t = c.task(3, f);
  t.blocked = true;
  REQUIRE(c.pick().size() == 1);
  CHECK_FALSE(c.tasks.find(3)->blocked);
  c.complete(3);
  CHECK(w.in_plain == 0);
}

TEST_CASE("queued entries of tasks already running are not taken as unschedulable", "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  auto gpu = c.request({.resources = {{"gpu", 1}}});
  auto& t = c.task(1, f, {}, gpu);
  t.state = TaskState::RUNNING;  // adopted by a worker that still ran it
  c.task(2, f, {}, gpu);
  c.worker_offering(10, {f}, {});
  auto out = c.scheduler.take_unschedulable();
  REQUIRE(out.size() == 1);
  CHECK(out[0].first == 2);
}

TEST_CASE("a released actor is never placed", "[coordinator][placement]") {
  Tables c;
  auto f = c.fn("f");
  auto& w = c.worker_offering(10, {f}, {{"gpu", 1}});
  w.actor_classes["Model"] = 7;
  model_actor(c, 1, c.request({.resources = {{"gpu", 1}}})).released = true;
  CHECK(c.actors.place(c.scheduler).empty());
  CHECK(w.free(c.scheduler.placements().resource("gpu")) == shoal::link::kResourceUnits);
}

TEST_CASE("requests cannot fill the table of resource names workers need", "[coordinator][placement]") {
  Tables c;
  for (std::size_t i = 0; i < Placements::kMaxRequestedNames; ++i)
    (void)c.request({.resources = {{"r" + std::to_string(i), 1}}});
  CHECK_THROWS_WITH(c.request({.resources = {{"one_more", 1}}}), Contains("that no worker offers"));
  // A worker still registers new names, and a request may then ask for them.
  auto f = c.fn("f");
  c.worker_offering(10, {f}, {{"fresh", 1}});
  CHECK_NOTHROW(c.request({.resources = {{"fresh", 1}}}));
  CHECK_THROWS_WITH(c.request({.priority = 1001}), Contains("the priority must be -1000 to 1000"));
}
