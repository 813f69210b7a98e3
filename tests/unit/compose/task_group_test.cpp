#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/run.hpp"
#include "support/stderr_capture.hpp"

using namespace std::chrono_literals;

namespace {

template <typename T>
shoal::Coro<T> after(std::chrono::milliseconds d, T v) {
  co_await shoal::sleep(d);
  co_return v;
}

shoal::Coro<void> settle(int rounds = 5) {
  for (int i = 0; i < rounds; ++i) co_await shoal::sleep(0ms);
}

shoal::Coro<void> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await shoal::sleep(d);
  throw std::runtime_error(what);
}

/// Sleeps until cancelled, counts the cancellation and re-raises it.
shoal::Coro<void> count_cancel(int* num) {
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    ++*num;
    throw;
  }
}

/// Sleeps until cancelled, then fails instead of ending cancelled.
shoal::Coro<void> raise_on_cancel(std::string what) {
  try {
    co_await shoal::sleep(10s);
  } catch (...) {
  }
  throw std::runtime_error(what);
}

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "<not a std::exception>";
  }
}

/// The members of an ExceptionGroup (empty, with a failed CHECK, for anything else).
std::vector<std::exception_ptr> members_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const shoal::ExceptionGroup& g) {
    return g.exceptions();
  } catch (...) {
    FAIL_CHECK("expected an ExceptionGroup, got: " << shoal::describe(e));
  }
  return {};
}

std::vector<std::string> member_whats(const std::exception_ptr& e) {
  std::vector<std::string> out;
  for (const auto& m : members_of(e)) out.push_back(what_of(m));
  return out;
}

/// What awaiting `f` threw (null when it returned).
template <typename T>
shoal::Coro<std::exception_ptr> error_of(shoal::Future<T> f) {
  try {
    co_await f.wait();
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

}  // namespace

// CPython test_taskgroup_01.
TEST_CASE("TaskGroup join waits for every task and keeps their results", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::TaskGroup g;
    auto t1 = g.create_task(after(2ms, 42));
    auto t2 = g.create_task(after(5ms, 11));
    co_await g.join();
    CHECK(t1.result() == 42);
    CHECK(t2.result() == 11);
  };
  shoal::test::run(body());
}

// CPython test_taskgroup_02.
TEST_CASE("TaskGroup accepts a task created after another one finished", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::TaskGroup g;
    auto t1 = g.create_task(after(1ms, 42));
    co_await t1.wait();
    auto t2 = g.create_task(after(2ms, 11));
    co_await g.join();
    CHECK(t1.result() == 42);
    CHECK(t2.result() == 11);
  };
  shoal::test::run(body());
}

// CPython test_taskgroup_03.
TEST_CASE("a task cancelled explicitly does not fail its TaskGroup", "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::TaskGroup g;
    auto t1 = g.create_task(after(10s, 42));
    co_await settle();
    t1.cancel();
    auto t2 = g.create_task(after(2ms, 11));
    co_await g.join();
    CHECK(t1.cancelled());
    CHECK(t2.result() == 11);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> flag_cancel(bool* flag, int* num) {
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    *flag = true;
    throw;
  }
  *num += 1;
}
shoal::Coro<void> runner04(std::optional<shoal::Task<void>>* t2, bool* t2_cancel, int* num) {
  shoal::TaskGroup g;
  (void)g.create_task(fail_after(1ms, "division by zero"));
  t2->emplace(g.create_task(flag_cancel(t2_cancel, num)));
  co_await g.join();
  *num += 10;
}
}  // namespace

// CPython test_taskgroup_04.
TEST_CASE("a failing task cancels its siblings and join raises an ExceptionGroup", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    int num = 0;
    bool t2_cancel = false;
    std::optional<shoal::Task<void>> t2;
    auto e = co_await error_of(shoal::create_task(runner04(&t2, &t2_cancel, &num)));
    CHECK(member_whats(e) == std::vector<std::string>{"division by zero"});
    CHECK(num == 0);
    CHECK(t2_cancel);
    REQUIRE(t2);
    CHECK(t2->cancelled());
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> runner_three_failures(bool* t2_cancel, int* num) {
  shoal::TaskGroup g;
  (void)g.create_task(fail_after(1ms, "division by zero"));
  (void)g.create_task(fail_after(1ms, "division by zero"));
  (void)g.create_task(fail_after(1ms, "division by zero"));
  (void)g.create_task(flag_cancel(t2_cancel, num));
  co_await g.join();
  *num += 10;
}
}  // namespace

// CPython test_cancel_children_on_child_error (without runner_cancel: shoal does not
// interrupt the code before join, see the next test).
TEST_CASE("failures of several tasks are gathered into one ExceptionGroup", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    int num = 0;
    bool t2_cancel = false;
    auto e = co_await error_of(shoal::create_task(runner_three_failures(&t2_cancel, &num)));
    auto whats = member_whats(e);
    // The three may fail in one turn or the first may cancel the others first.
    CHECK(whats.size() >= 1);
    CHECK(whats.size() <= 3);
    CHECK(std::all_of(whats.begin(), whats.end(), [](const std::string& w) { return w == "division by zero"; }));
    CHECK(num == 0);
    CHECK(t2_cancel);
  };
  shoal::test::run(body());
}

// The documented difference from Python: without an async destructor, a failing child
// cancels its siblings but cannot interrupt the code between create_task and join().
TEST_CASE("a failing task does not interrupt the code before join", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    int num = 0;
    bool body_finished = false;
    std::exception_ptr e;
    try {
      shoal::TaskGroup g;
      auto failing = g.create_task(fail_after(0ms, "boom"));
      auto sibling = g.create_task(count_cancel(&num));
      std::vector just_failing{failing};
      (void)co_await shoal::wait(just_failing);
      co_await settle();
      CHECK(sibling.cancelled());
      body_finished = true;
      co_await g.join();
    } catch (...) {
      e = std::current_exception();
    }
    CHECK(body_finished);
    CHECK(member_whats(e) == std::vector<std::string>{"boom"});
    CHECK(num == 1);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> runner_join(int* num) {
  shoal::TaskGroup g;
  for (int i = 0; i < 5; ++i) (void)g.create_task(count_cancel(num));
  co_await g.join();
}
}  // namespace

// CPython test_cancellation and test_taskgroup_22.
TEST_CASE("cancelling the task awaiting join cancels every child and raises CancelledError",
          "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int num = 0;
    auto r = shoal::create_task(runner_join(&num));
    co_await settle();
    CHECK_FALSE(r.done());
    r.cancel();
    CHECK_THROWS_AS(co_await r.wait(), shoal::CancelledError);
    CHECK(r.cancelled());
    CHECK(num == 5);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<int> swallow_slowly(int v) {
  bool cancelled = false;
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) co_await settle(3);
  co_return v;
}
shoal::Coro<void> runner_swallow(std::optional<shoal::Task<int>>* child) {
  shoal::TaskGroup g;
  child->emplace(g.create_task(swallow_slowly(5)));
  co_await g.join();
}
}  // namespace

TEST_CASE("join keeps waiting for a child that swallows the cancellation", "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    std::optional<shoal::Task<int>> child;
    auto r = shoal::create_task(runner_swallow(&child));
    co_await settle();
    r.cancel();
    CHECK_THROWS_AS(co_await r.wait(), shoal::CancelledError);
    REQUIRE(child);
    CHECK(child->done());
    CHECK(child->result() == 5);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> runner08() {
  shoal::TaskGroup g;
  for (int i = 0; i < 5; ++i) (void)g.create_task(raise_on_cancel("division by zero"));
  co_await g.join();
}
}  // namespace

// CPython test_taskgroup_08.
TEST_CASE("children failing while join cancels them make join raise an ExceptionGroup",
          "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    auto r = shoal::create_task(runner08());
    co_await settle();
    r.cancel();
    auto e = co_await error_of(r);
    CHECK(member_whats(e) == std::vector<std::string>(5, "division by zero"));
    CHECK_FALSE(r.cancelled());
  };
  shoal::test::run(body());
}

TEST_CASE("the ExceptionGroup lists the failures in the order they happened", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    std::exception_ptr e;
    try {
      shoal::TaskGroup g;
      (void)g.create_task(raise_on_cancel("second"));
      (void)g.create_task(fail_after(1ms, "first"));
      co_await g.join();
    } catch (...) {
      e = std::current_exception();
    }
    CHECK(member_whats(e) == std::vector<std::string>{"first", "second"});
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<int> count_start(int* started) {
  ++*started;
  co_await shoal::sleep(10s);
  co_return 1;
}
shoal::Coro<void> body_raises(std::vector<shoal::Task<int>>* kids, int* started, bool settle_first) {
  shoal::TaskGroup g;
  kids->push_back(g.create_task(count_start(started)));
  kids->push_back(g.create_task(count_start(started)));
  if (settle_first) co_await settle();
  if (!kids->empty()) throw std::domain_error("division by zero");
  co_await g.join();
}
}  // namespace

// CPython test_taskgroup_09 and test_taskgroup_10. The exception from the body leaves the
// scope without join(), so it is not wrapped in an ExceptionGroup; the group's destructor
// cancels the children.
TEST_CASE("an exception in the body cancels the children when the TaskGroup is destroyed",
          "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    const std::array<bool, 2> variants{true, false};
    for (bool settle_first : variants) {
      std::vector<shoal::Task<int>> kids;
      int started = 0;
      CHECK_THROWS_WITH(co_await body_raises(&kids, &started, settle_first), "division by zero");
      REQUIRE(kids.size() == 2);
      for (auto& k : kids) CHECK_THROWS_AS(co_await k.wait(), shoal::CancelledError);
      CHECK(kids[0].cancelled());
      CHECK(kids[1].cancelled());
      // Cancelled before they started, they never run (CPython test_taskgroup_10).
      CHECK(started == (settle_first ? 2 : 0));
    }
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> slow_count_cancel(int* num) {
  bool cancelled = false;
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    co_await settle(3);
    ++*num;
    throw shoal::CancelledError();
  }
}
shoal::Coro<void> runner07(int* num, std::vector<shoal::Task<void>>* kids) {
  shoal::TaskGroup g;
  for (int i = 0; i < 5; ++i) kids->push_back(g.create_task(slow_count_cancel(num)));
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    *num += 10;
    throw;
  }
  co_await g.join();
}
}  // namespace

// CPython test_taskgroup_07, as shoal documents it: the body's CancelledError leaves the
// scope without join(), and the destroyed group cancels its children without waiting.
TEST_CASE("destroying a TaskGroup without join cancels its children without waiting for them",
          "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int num = 0;
    std::vector<shoal::Task<void>> kids;
    auto r = shoal::create_task(runner07(&num, &kids));
    co_await settle();
    CHECK_FALSE(r.done());
    r.cancel();
    CHECK_THROWS_AS(co_await r.wait(), shoal::CancelledError);
    REQUIRE(kids.size() == 5);
    CHECK_FALSE(std::all_of(kids.begin(), kids.end(), [](const auto& k) { return k.done(); }));
    for (auto& k : kids) CHECK_THROWS_AS(co_await k.wait(), shoal::CancelledError);
    CHECK(num == 15);
  };
  shoal::test::run(body());
}

TEST_CASE("a TaskGroup destroyed without join cancels the children it never ran", "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int started = 0;
    std::vector<shoal::Task<int>> kids;
    {
      shoal::TaskGroup g;
      for (int i = 0; i < 3; ++i) kids.push_back(g.create_task(count_start(&started)));
    }
    for (auto& k : kids) CHECK_THROWS_AS(co_await k.wait(), shoal::CancelledError);
    CHECK(started == 0);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> inner_group(int* cancelled_leaves) {
  shoal::TaskGroup g2;
  (void)g2.create_task(count_cancel(cancelled_leaves));
  co_await g2.join();
}
shoal::Coro<void> runner13(int* cancelled_leaves, std::optional<shoal::Task<void>>* nested) {
  shoal::TaskGroup g1;
  (void)g1.create_task(fail_after(1ms, "crash"));
  nested->emplace(g1.create_task(inner_group(cancelled_leaves)));
  co_await g1.join();
}
}  // namespace

// CPython test_taskgroup_13 and test_taskgroup_16, with the inner group in a task of the
// outer one (shoal does not interrupt the outer group's body).
TEST_CASE("a failing task cancels a nested TaskGroup running in a sibling", "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int cancelled_leaves = 0;
    std::optional<shoal::Task<void>> nested;
    auto e = co_await error_of(shoal::create_task(runner13(&cancelled_leaves, &nested)));
    CHECK(member_whats(e) == std::vector<std::string>{"crash"});
    CHECK(cancelled_leaves == 1);
    REQUIRE(nested);
    CHECK(nested->cancelled());
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> inner_group_crash() {
  shoal::TaskGroup g2;
  (void)g2.create_task(fail_after(1ms, "inner crash"));
  co_await g2.join();
}
shoal::Coro<void> runner14(int* cancelled) {
  shoal::TaskGroup g1;
  (void)g1.create_task(count_cancel(cancelled));
  (void)g1.create_task(inner_group_crash());
  co_await g1.join();
}
}  // namespace

// CPython test_taskgroup_14.
TEST_CASE("the ExceptionGroup of a nested TaskGroup is nested in the outer one", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    int cancelled = 0;
    auto e = co_await error_of(shoal::create_task(runner14(&cancelled)));
    auto outer = members_of(e);
    REQUIRE(outer.size() == 1);
    CHECK(member_whats(outer[0]) == std::vector<std::string>{"inner crash"});
    CHECK(cancelled == 1);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> runner17(int* num) {
  shoal::TaskGroup g;
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    *num += 10;
    throw;
  }
  co_await g.join();
}
}  // namespace

// CPython test_taskgroup_17.
TEST_CASE("a TaskGroup without tasks lets a cancellation of its body through", "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int num = 0;
    auto r = shoal::create_task(runner17(&num));
    co_await settle();
    CHECK_FALSE(r.done());
    r.cancel();
    CHECK_THROWS_AS(co_await r.wait(), shoal::CancelledError);
    CHECK(num == 10);
  };
  shoal::test::run(body());
}

TEST_CASE("join of an empty TaskGroup returns at once", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::TaskGroup g;
    co_await g.join();
    CHECK(g.size() == 0);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> throw_int() {
  co_await shoal::sleep(0ms);
  throw 42;
}
}  // namespace

// CPython test_taskgroup_20a and test_taskgroup_21a raise a BaseException; the nearest C++
// case is an exception that does not derive from std::exception.
TEST_CASE("a child throwing a non-std exception is reported in the ExceptionGroup", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    int cancelled = 0;
    std::exception_ptr e;
    try {
      shoal::TaskGroup g;
      (void)g.create_task(throw_int());
      (void)g.create_task(count_cancel(&cancelled));
      co_await g.join();
    } catch (...) {
      e = std::current_exception();
    }
    auto members = members_of(e);
    REQUIRE(members.size() == 1);
    int value = 0;
    try {
      std::rethrow_exception(members[0]);
    } catch (int v) {
      value = v;
    } catch (...) {
    }
    CHECK(value == 42);
    CHECK(cancelled == 1);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> root(shoal::TaskGroup* g, std::vector<shoal::Task<int>>* spawned) {
  co_await shoal::sleep(1ms);
  spawned->push_back(g->create_task(after(1ms, 1)));
  spawned->push_back(g->create_task(after(2ms, 2)));
}
}  // namespace

// CPython test_taskgroup_24.
TEST_CASE("tasks that a child creates while join waits are awaited too", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::TaskGroup g;
    std::vector<shoal::Task<int>> spawned;
    (void)g.create_task(root(&g, &spawned));
    co_await g.join();
    REQUIRE(spawned.size() == 2);
    CHECK(spawned[0].result() == 1);
    CHECK(spawned[1].result() == 2);
    CHECK(g.size() == 3);
  };
  shoal::test::run(body());
}

// CPython test_taskgroup_23 (shoal's size() counts every task created, not those running).
TEST_CASE("tasks created over time in the body are all awaited by join", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::TaskGroup g;
    std::vector<shoal::Task<int>> ts;
    for (int i = 0; i < 10; ++i) {
      co_await shoal::sleep(1ms);
      ts.push_back(g.create_task(after(3ms, i)));
    }
    CHECK(g.size() == 10);
    co_await g.join();
    for (int i = 0; i < 10; ++i) CHECK(ts[static_cast<std::size_t>(i)].result() == i);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> hydra(shoal::TaskGroup* g, int* nhydras) {
  ++*nhydras;
  co_await shoal::sleep(1ms);
  (void)g->create_task(hydra(g, nhydras));
  (void)g->create_task(hydra(g, nhydras));
}
shoal::Coro<void> hercules(int* nhydras) {
  while (*nhydras < 10) co_await shoal::sleep(1ms);
  throw std::domain_error("division by zero");
}
}  // namespace

// CPython test_taskgroup_25.
TEST_CASE("a failure stops a TaskGroup whose children keep spawning children", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    int nhydras = 0;
    std::exception_ptr e;
    try {
      shoal::TaskGroup g;
      (void)g.create_task(hydra(&g, &nhydras));
      (void)g.create_task(hercules(&nhydras));
      co_await g.join();
    } catch (...) {
      e = std::current_exception();
    }
    CHECK(member_whats(e) == std::vector<std::string>{"division by zero"});
    CHECK(nhydras >= 10);
    CHECK(shoal::get_running_loop().task_count() == 1);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> try_spawn_when_cancelled(shoal::TaskGroup* g, bool* refused) {
  bool cancelled = false;
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    try {
      (void)g->create_task(fail_after(0ms, "never runs"));
    } catch (const shoal::InvalidStateError&) {
      *refused = true;
    }
    throw shoal::CancelledError();
  }
}
}  // namespace

// CPython test_taskgroup_no_create_task_after_failure.
TEST_CASE("create_task on a TaskGroup shutting down after a failure raises InvalidStateError",
          "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    bool refused = false;
    std::exception_ptr e;
    try {
      shoal::TaskGroup g;
      (void)g.create_task(fail_after(1ms, "division by zero"));
      (void)g.create_task(try_spawn_when_cancelled(&g, &refused));
      co_await g.join();
    } catch (...) {
      e = std::current_exception();
    }
    CHECK(refused);
    CHECK(member_whats(e) == std::vector<std::string>{"division by zero"});
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> set_flag(bool* flag) {
  *flag = true;
  co_return;
}
}  // namespace

// CPython test_taskgroup_finished and test_coro_closed_when_tg_closed.
TEST_CASE("create_task after join raises InvalidStateError and never runs the coroutine", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    bool ran = false;
    shoal::TaskGroup g;
    co_await g.join();
    CHECK_THROWS_AS(g.create_task(set_flag(&ran)), shoal::InvalidStateError);
    co_await settle();
    CHECK_FALSE(ran);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> group_with_failure(bool* caught) {
  try {
    shoal::TaskGroup g;
    (void)g.create_task(fail_after(0ms, "runtime"));
    co_await g.join();
  } catch (const shoal::ExceptionGroup&) {
    *caught = true;
  }
  co_await shoal::sleep(0ms);  // a cancellation left behind would surface here
}
}  // namespace

// CPython test_cancelling_level_preserved.
TEST_CASE("a TaskGroup failure does not cancel the task that awaits join", "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    bool caught = false;
    auto t = shoal::create_task(group_with_failure(&caught));
    co_await t.wait();
    CHECK(caught);
    CHECK_FALSE(t.cancelled());
    CHECK(t.cancelling() == 0);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> nested_both(std::vector<std::string>* inner_seen, std::vector<std::string>* outer_seen) {
  try {
    shoal::TaskGroup outer;
    try {
      shoal::TaskGroup inner;
      (void)inner.create_task(fail_after(0ms, "runtime"));
      (void)outer.create_task(fail_after(0ms, "value"));
      co_await inner.join();
    } catch (const shoal::ExceptionGroup&) {
      *inner_seen = member_whats(std::current_exception());
    }
    co_await outer.join();
  } catch (const shoal::ExceptionGroup&) {
    *outer_seen = member_whats(std::current_exception());
  }
}
}  // namespace

// CPython test_nested_groups_both_cancelled.
TEST_CASE("nested TaskGroups each report their own failures", "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<std::string> inner_seen, outer_seen;
    auto t = shoal::create_task(nested_both(&inner_seen, &outer_seen));
    co_await t.wait();
    CHECK(inner_seen == std::vector<std::string>{"runtime"});
    CHECK(outer_seen == std::vector<std::string>{"value"});
    CHECK(t.cancelling() == 0);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> body_raises_after(std::vector<shoal::Task<void>>* kids, bool fail_first) {
  shoal::TaskGroup g;
  if (fail_first) {
    kids->push_back(g.create_task(fail_after(0ms, "early failure")));
    std::vector<shoal::Task<void>> just = *kids;
    (void)co_await shoal::wait(just);
  } else {
    kids->push_back(g.create_task(raise_on_cancel("failure while cancelled")));
    co_await settle();
  }
  throw std::domain_error("body failed");
}
}  // namespace

// Python's TaskGroup always joins, so its children's failures always reach the
// ExceptionGroup. Without join(), shoal reports them as never retrieved instead of
// dropping them silently.
TEST_CASE("failures in a TaskGroup destroyed without join are reported as never retrieved",
          "[compose][task_group]") {
  auto body = []() -> shoal::Coro<void> {
    const std::array<bool, 2> variants{true, false};
    for (bool fail_first : variants) {
      std::vector<shoal::Task<void>> kids;
      CHECK_THROWS_WITH(co_await body_raises_after(&kids, fail_first), "body failed");
      (void)co_await shoal::wait(kids);  // let the children finish; nobody looks at them
      CHECK(kids[0].done());
    }
  };
  auto err = shoal::test::capture_stderr([&] { shoal::test::run(body()); });
  CHECK(err.find("early failure") != std::string::npos);
  CHECK(err.find("failure while cancelled") != std::string::npos);
}

namespace {
shoal::Coro<void> runner_nested_in_body(int* outer_cancelled) {
  shoal::TaskGroup g1;
  (void)g1.create_task(count_cancel(outer_cancelled));
  shoal::TaskGroup g2;
  for (int i = 0; i < 5; ++i) (void)g2.create_task(raise_on_cancel("division by zero"));
  co_await g2.join();
  co_await g1.join();
}
}  // namespace

// CPython test_taskgroup_11 and test_taskgroup_12. The inner group's ExceptionGroup leaves
// the outer group's body without its join(), so it is not wrapped a second time; the
// outer group's destructor cancels its child.
TEST_CASE("cancelling a task joining a nested TaskGroup raises the failures of its children",
          "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int outer_cancelled = 0;
    auto r = shoal::create_task(runner_nested_in_body(&outer_cancelled));
    co_await settle();
    CHECK_FALSE(r.done());
    r.cancel();
    auto e = co_await error_of(r);
    CHECK(member_whats(e) == std::vector<std::string>(5, "division by zero"));
    co_await settle();
    CHECK(outer_cancelled == 1);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> third_task() {
  co_await shoal::sleep(0ms);
  throw std::runtime_error("third task failed");
}
shoal::Coro<void> second_task(shoal::TaskGroup* g, bool* ran) {
  (void)g->create_task(third_task());
  bool cancelled = false;
  try {
    for (int i = 0; i < 10; ++i) co_await shoal::sleep(0ms);
  } catch (const shoal::CancelledError&) {
    cancelled = true;
  }
  CHECK(cancelled);
  *ran = true;
}
}  // namespace

// CPython test_cancels_task_if_created_during_creation (gh-128550).
TEST_CASE("a task created by a child and failing cancels that child", "[compose][task_group][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    bool ran = false;
    std::exception_ptr e;
    try {
      shoal::TaskGroup g;
      (void)g.create_task(second_task(&g, &ran));
      co_await g.join();
    } catch (...) {
      e = std::current_exception();
    }
    CHECK(ran);
    CHECK(member_whats(e) == std::vector<std::string>{"third task failed"});
  };
  shoal::test::run(body());
}
