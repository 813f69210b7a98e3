#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include "support/stderr_capture.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;

namespace {

/// A vector built outside any co_await expression: g++ 12 rejects a braced list (an
/// std::initializer_list's array) in a full-expression that contains co_await.
template <typename F, typename... R>
std::vector<F> vec(F first, R... rest) {
  return std::vector<F>{first, rest...};
}

shoal::Coro<int> after(std::chrono::milliseconds d, int v) {
  co_await shoal::sleep(d);
  co_return v;
}

shoal::Coro<int> identity(int v) { co_return v; }

/// Lets the other ready tasks run a few turns (start, wake up, finish).
shoal::Coro<void> settle(int rounds = 5) {
  for (int i = 0; i < rounds; ++i) co_await shoal::sleep(0ms);
}

shoal::Coro<int> await_future(shoal::Future<int> f) { co_return co_await f.wait(); }

shoal::Coro<std::vector<int>> gather_futures(std::vector<shoal::Future<int>> fs) {
  co_return co_await shoal::gather(fs);
}

shoal::Coro<std::vector<int>> gather_coros_over(std::vector<shoal::Future<int>> fs) {
  std::vector<shoal::Coro<int>> cs;
  for (auto& f : fs) cs.push_back(await_future(f));
  co_return co_await shoal::gather(std::move(cs));
}

shoal::Coro<std::vector<shoal::Outcome<int>>> settle_futures(std::vector<shoal::Future<int>> fs) {
  co_return co_await shoal::gather_settled(fs);
}

shoal::Coro<void> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await shoal::sleep(d);
  throw std::runtime_error(what);
}

shoal::Coro<int> swallow_cancel(int v) {
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    co_return v;
  }
  co_return -1;
}

/// Sleeps until cancelled, counts the cancellation, and re-raises it.
shoal::Coro<int> leaf(int* cleaned) {
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    ++*cleaned;
    throw;
  }
  co_return 0;
}

/// On cancellation takes a few loop turns to clean up before re-raising.
shoal::Coro<int> slow_cleanup(bool* finished) {
  bool cancelled = false;
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    co_await settle(3);
    *finished = true;
    throw shoal::CancelledError();
  }
  co_return 0;
}

}  // namespace

TEST_CASE("gather returns results in argument order", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b, c] = co_await shoal::gather(after(20ms, 1), after(1ms, 2), after(10ms, 3));
    CHECK(a == 1);
    CHECK(b == 2);
    CHECK(c == 3);
  };
  shoal::test::run(body());
}

// CPython GatherTestsBase.test_success (FutureGatherTests).
TEST_CASE("gather of futures completes only when the last one does", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b, c;
    auto t = shoal::create_task(gather_futures({a, b, c}));
    co_await settle();
    b.set_result(1);
    a.set_result(2);
    co_await settle();
    CHECK_FALSE(t.done());
    c.set_result(3);
    const std::vector<int> expected{2, 1, 3};
    auto got = co_await t.wait();
    CHECK(got == expected);
  };
  shoal::test::run(body());
}

// CPython GatherTestsBase.test_success (CoroutineGatherTests).
TEST_CASE("gather of coroutines completes only when the last one does", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b, c;
    auto t = shoal::create_task(gather_coros_over({a, b, c}));
    co_await settle();
    b.set_result(1);
    a.set_result(2);
    co_await settle();
    CHECK_FALSE(t.done());
    c.set_result(3);
    const std::vector<int> expected{2, 1, 3};
    auto got = co_await t.wait();
    CHECK(got == expected);
  };
  shoal::test::run(body());
}

// CPython GatherTestsBase.test_result_exception_success.
TEST_CASE("gather_settled reports every value when all children succeed", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b, c;
    auto t = shoal::create_task(settle_futures({a, b, c}));
    co_await settle();
    b.set_result(1);
    a.set_result(2);
    co_await settle();
    CHECK_FALSE(t.done());
    c.set_result(3);
    auto res = co_await t.wait();
    REQUIRE(res.size() == 3);
    CHECK(res[0].ok());
    CHECK(res[0].value() == 2);
    CHECK(res[1].value() == 1);
    CHECK(res[2].value() == 3);
  };
  shoal::test::run(body());
}

// CPython GatherTestsBase.test_one_exception.
TEST_CASE("gather raises the first exception and ignores what the others do afterwards", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b, c, d, e;
    auto t = shoal::create_task(gather_futures({a, b, c, d, e}));
    co_await settle();
    a.set_result(1);
    auto exc = std::make_exception_ptr(std::domain_error("b failed"));
    b.set_exception(exc);
    CHECK_THROWS_WITH(co_await t.wait(), "b failed");
    CHECK(t.exception() == exc);
    // Does nothing.
    c.set_result(3);
    d.cancel();
    e.set_exception(std::make_exception_ptr(std::runtime_error("late")));
    co_await settle();
    CHECK(e.exception() != nullptr);
    CHECK(t.exception() == exc);
  };
  shoal::test::run(body());
}

TEST_CASE("a failing child does not cancel the other children of gather", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> gate;
    auto slow = shoal::create_task(await_future(gate));
    CHECK_THROWS_WITH(co_await shoal::gather(fail_after(1ms, "boom"), slow), "boom");
    CHECK_FALSE(slow.done());
    gate.set_result(7);
    auto got = co_await slow.wait();
    CHECK(got == 7);
  };
  shoal::test::run(body());
}

// CPython GatherTestsBase.test_return_exceptions.
TEST_CASE("gather_settled reports values and exceptions in argument order", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b, c, d;
    auto t = shoal::create_task(settle_futures({a, b, c, d}));
    co_await settle();
    auto exc = std::make_exception_ptr(std::domain_error("zero"));
    auto exc2 = std::make_exception_ptr(std::runtime_error("runtime"));
    b.set_result(1);
    c.set_exception(exc);
    a.set_result(3);
    co_await settle();
    CHECK_FALSE(t.done());
    d.set_exception(exc2);
    auto res = co_await t.wait();
    REQUIRE(res.size() == 4);
    CHECK(res[0].value() == 3);
    CHECK(res[1].value() == 1);
    CHECK(res[2].failed());
    CHECK(res[2].exception() == exc);
    CHECK(res[3].failed());
    CHECK(res[3].exception() == exc2);
    CHECK_THROWS_WITH(res[3].value(), "runtime");
  };
  shoal::test::run(body());
}

// CPython FutureGatherTests.test_one_cancellation.
TEST_CASE("gather raises CancelledError when a child future is cancelled", "[compose][gather][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b, c, d, e;
    auto t = shoal::create_task(gather_futures({a, b, c, d, e}));
    co_await settle();
    a.set_result(1);
    b.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    // Does nothing.
    c.set_result(3);
    d.cancel();
    e.set_exception(std::make_exception_ptr(std::runtime_error("late")));
    CHECK(e.exception() != nullptr);
  };
  shoal::test::run(body());
}

// CPython FutureGatherTests.test_result_exception_one_cancellation.
TEST_CASE("gather_settled reports cancelled children as cancelled outcomes", "[compose][gather][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b, c, d, e, f;
    auto t = shoal::create_task(settle_futures({a, b, c, d, e, f}));
    co_await settle();
    auto zde = std::make_exception_ptr(std::domain_error("zero"));
    auto rte = std::make_exception_ptr(std::runtime_error("runtime"));
    a.set_result(1);
    b.set_exception(zde);
    c.cancel();
    co_await settle();
    CHECK_FALSE(t.done());
    d.set_result(3);
    e.cancel();
    f.set_exception(rte);
    auto res = co_await t.wait();
    REQUIRE(res.size() == 6);
    CHECK(res[0].value() == 1);
    CHECK(res[1].exception() == zde);
    CHECK(res[2].cancelled());
    CHECK_FALSE(res[2].failed());
    CHECK_THROWS_AS(res[2].value(), shoal::CancelledError);
    CHECK(res[3].value() == 3);
    CHECK(res[4].cancelled());
    CHECK(res[5].exception() == rte);
  };
  shoal::test::run(body());
}

// CPython CoroutineGatherTests.test_duplicate_coroutines (a C++ coroutine can be awaited
// once, so the same task is passed several times instead).
TEST_CASE("gather accepts the same task several times", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    auto c = shoal::create_task(identity(1));
    auto d = shoal::create_task(identity(2));
    auto res = co_await shoal::gather(vec(c, c, d, c));
    CHECK(res == std::vector<int>{1, 1, 2, 1});
    auto [x, y, z] = co_await shoal::gather(c, d, c);
    CHECK(x == 1);
    CHECK(y == 2);
    CHECK(z == 1);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> bump_after(shoal::Future<void> waiter, int* proof) {
  co_await waiter.wait();
  *proof += 1;
}
shoal::Coro<void> gather_then_bump(shoal::Task<void> c1, shoal::Task<void> c2, int* proof) {
  co_await shoal::gather(c1, c2);
  *proof += 100;
}
}  // namespace

// CPython CoroutineGatherTests.test_cancellation_broadcast.
TEST_CASE("cancelling the task awaiting gather cancels every child and waits for them", "[compose][gather][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int proof = 0;
    shoal::Future<void> waiter;
    auto child1 = shoal::create_task(bump_after(waiter, &proof));
    auto child2 = shoal::create_task(bump_after(waiter, &proof));
    auto f = shoal::create_task(gather_then_bump(child1, child2, &proof));
    co_await settle();
    CHECK(f.cancel());
    CHECK_THROWS_AS(co_await f.wait(), shoal::CancelledError);
    CHECK(f.cancelled());
    CHECK(child1.done());
    CHECK(child2.done());
    CHECK(waiter.cancelled());
    CHECK(child1.cancelled());
    CHECK(child2.cancelled());
    co_await settle();
    CHECK(proof == 0);
  };
  shoal::test::run(body());
}

// CPython test_cancel_gather_2 (gather(..., return_exceptions=True) still propagates the
// cancellation of its awaiting task).
TEST_CASE("gather_settled raises CancelledError when its awaiting task is cancelled", "[compose][gather][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int cleaned = 0;
    auto child = shoal::create_task(leaf(&cleaned));
    auto t = shoal::create_task(
        [](shoal::Task<int> c) -> shoal::Coro<void> { (void)co_await shoal::gather_settled(vec(c)); }(child));
    co_await settle();
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.cancelled());
    CHECK(child.cancelled());
    CHECK(cleaned == 1);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<std::vector<int>> gather_swallowers() {
  std::vector<shoal::Coro<int>> cs;
  cs.push_back(swallow_cancel(1));
  cs.push_back(swallow_cancel(2));
  co_return co_await shoal::gather(std::move(cs));
}
shoal::Coro<std::tuple<int, int>> gather_swallowers_tuple() {
  co_return co_await shoal::gather(swallow_cancel(1), swallow_cancel(2));
}
}  // namespace

// CPython's _GatheringFuture propagates a requested cancellation even when every child
// swallowed it (bpo-32684).
TEST_CASE("gather raises CancelledError when cancelled even if the children swallow the cancellation",
          "[compose][gather][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(gather_swallowers());
    auto u = shoal::create_task(gather_swallowers_tuple());
    co_await settle();
    t.cancel();
    u.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK_THROWS_AS(co_await u.wait(), shoal::CancelledError);
    CHECK(t.cancelled());
    CHECK(u.cancelled());
  };
  shoal::test::run(body());
}

// CPython FutureGatherTests.test_constructor_empty_sequence_use_running_loop.
TEST_CASE("gather of an empty vector returns an empty vector", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<shoal::Future<int>> none;
    auto res = co_await shoal::gather(none);
    CHECK(res.empty());
    auto settled = co_await shoal::gather_settled(none);
    CHECK(settled.empty());
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> nothing() { co_return; }
shoal::Coro<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }
}  // namespace

TEST_CASE("gather mixes coroutines, tasks and futures and gives monostate for void", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    auto task = shoal::create_task(identity(2));
    shoal::Future<int> fut;
    fut.set_result(3);
    auto [a, b, c, d] = co_await shoal::gather(after(1ms, 1), task, fut, nothing());
    CHECK(a == 1);
    CHECK(b == 2);
    CHECK(c == 3);
    CHECK(d == std::monostate{});
    std::vector<shoal::Coro<void>> voids;
    voids.push_back(nothing());
    voids.push_back(nothing());
    auto vs = co_await shoal::gather(std::move(voids));
    CHECK(vs.size() == 2);
  };
  shoal::test::run(body());
}

TEST_CASE("gather moves a move-only result out of its child", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    auto [p, q] = co_await shoal::gather(boxed(1), boxed(2));
    REQUIRE(p);
    REQUIRE(q);
    CHECK(*p == 1);
    CHECK(*q == 2);
  };
  shoal::test::run(body());
}

TEST_CASE("gather collects futures completed from other threads", "[compose][gather][thread]") {
  auto body = []() -> shoal::Coro<void> {
    constexpr int n = 8;
    std::vector<shoal::Future<int>> fs;
    std::vector<std::jthread> threads;
    for (int i = 0; i < n; ++i) {
      shoal::Promise<int> p;
      fs.push_back(p.get_future());
      threads.emplace_back([p = std::move(p), i]() mutable { p.set_result(i * i); });
    }
    auto res = co_await shoal::gather(fs);
    REQUIRE(res.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) CHECK(res[static_cast<std::size_t>(i)] == i * i);
  };
  shoal::test::run(body());
}

TEST_CASE("gather_settled reports a thread's exception and a promise broken on another thread",
          "[compose][gather][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<int> ok, bad, lost;
    std::vector<shoal::Future<int>> fs{ok.get_future(), bad.get_future(), lost.get_future()};
    std::jthread t1([p = std::move(ok)]() mutable { p.set_result(5); });
    std::jthread t2([p = std::move(bad)]() mutable {
      try {
        throw std::runtime_error("thread failed");
      } catch (...) {
        p.set_current_exception();
      }
    });
    std::jthread t3([p = std::move(lost)]() mutable { shoal::Promise<int> gone = std::move(p); });
    auto res = co_await shoal::gather_settled(fs);
    REQUIRE(res.size() == 3);
    CHECK(res[0].value() == 5);
    CHECK_THROWS_WITH(res[1].value(), "thread failed");
    CHECK_THROWS_AS(res[2].value(), shoal::BrokenPromise);
  };
  shoal::test::run(body());
}

TEST_CASE("gather of 10000 tasks returns every result in order", "[compose][gather][scale]") {
  auto body = []() -> shoal::Coro<void> {
    constexpr int n = 10000;
    std::vector<shoal::Coro<int>> cs;
    cs.reserve(n);
    for (int i = 0; i < n; ++i) cs.push_back(i % 2 ? after(0ms, i) : identity(i));
    auto res = co_await shoal::gather(std::move(cs));
    REQUIRE(res.size() == static_cast<std::size_t>(n));
    bool in_order = true;
    for (int i = 0; i < n; ++i) in_order = in_order && res[static_cast<std::size_t>(i)] == i;
    CHECK(in_order);
    CHECK(shoal::get_running_loop().task_count() == 1);  // only this one is left
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<std::vector<int>> gather_tasks(std::vector<shoal::Task<int>> ts) {
  co_return co_await shoal::gather(ts);
}
shoal::Coro<void> nested_gathers(std::vector<shoal::Task<int>> leaves) {
  std::vector<shoal::Coro<std::vector<int>>> inner;
  inner.push_back(gather_tasks({leaves[0], leaves[1]}));
  inner.push_back(gather_tasks({leaves[2], leaves[3]}));
  (void)co_await shoal::gather(std::move(inner));
}
}  // namespace

TEST_CASE("cancelling nested gathers from outside cancels every leaf and waits for them",
          "[compose][gather][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int cleaned = 0;
    std::vector<shoal::Task<int>> leaves;
    for (int i = 0; i < 4; ++i) leaves.push_back(shoal::create_task(leaf(&cleaned)));
    auto outer = shoal::create_task(nested_gathers(leaves));
    co_await settle();
    CHECK(outer.cancel());
    CHECK_THROWS_AS(co_await outer.wait(), shoal::CancelledError);
    CHECK(cleaned == 4);
    for (auto& l : leaves) CHECK(l.cancelled());
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> gather_pair(shoal::Future<int> plain, shoal::Task<int> task) {
  (void)co_await shoal::gather(plain, task);
}
}  // namespace

TEST_CASE("cancelling gather over a plain future and a task waits for the task to finish cancelling",
          "[compose][gather][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    bool finished = false;
    shoal::Future<int> plain;
    auto child = shoal::create_task(slow_cleanup(&finished));
    auto t = shoal::create_task(gather_pair(plain, child));
    co_await settle();
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(plain.cancelled());
    CHECK(child.done());
    CHECK(finished);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> raise_when_set(shoal::Future<void> f, std::string what) {
  co_await f.wait();
  throw std::runtime_error(what);
}
shoal::Coro<void> gather_raisers(shoal::Future<void> a, shoal::Future<void> b) {
  co_await shoal::gather(raise_when_set(a, "first"), raise_when_set(b, "second"));
}
}  // namespace

// CPython CoroutineGatherTests.test_exception_marking: the failures of the children that
// fail after gather raised are marked retrieved, not reported as never retrieved.
TEST_CASE("gather does not report the later failures of its children as never retrieved", "[compose][gather]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<void> a, b;
    auto t = shoal::create_task(gather_raisers(a, b));
    co_await settle();
    a.set_result();
    CHECK_THROWS_WITH(co_await t.wait(), "first");
    b.set_result();
    co_await settle();
  };
  auto err = shoal::test::capture_stderr([&] { shoal::test::run(body()); });
  CHECK(err.find("never retrieved") == std::string::npos);
}
