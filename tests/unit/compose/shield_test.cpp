#include <catch2/catch.hpp>

#include <chrono>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/run.hpp"
#include "support/stderr_capture.hpp"

using namespace std::chrono_literals;

namespace {

shoal::Coro<void> settle(int rounds = 5) {
  for (int i = 0; i < rounds; ++i) co_await shoal::sleep(0ms);
}

}  // namespace

// CPython test_shield_result.
TEST_CASE("shield returns the result of the inner future", "[compose][shield]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> inner;
    auto outer = shoal::create_task(shoal::shield(inner));
    inner.set_result(42);
    auto got = co_await outer.wait();
    CHECK(got == 42);
  };
  shoal::test::run(body());
}

// CPython test_shield_exception.
TEST_CASE("shield raises the exception of the inner future", "[compose][shield]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> inner;
    auto outer = shoal::create_task(shoal::shield(inner));
    co_await settle();
    auto exc = std::make_exception_ptr(std::runtime_error("expected"));
    inner.set_exception(exc);
    CHECK_THROWS_WITH(co_await outer.wait(), "expected");
    CHECK(outer.exception() == exc);
  };
  shoal::test::run(body());
}

// CPython test_shield_cancel_inner.
TEST_CASE("shield raises CancelledError when the inner future is cancelled", "[compose][shield][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> inner;
    auto outer = shoal::create_task(shoal::shield(inner));
    co_await settle();
    inner.cancel();
    CHECK_THROWS_AS(co_await outer.wait(), shoal::CancelledError);
    CHECK(outer.cancelled());
  };
  shoal::test::run(body());
}

// CPython test_shield_cancel_outer and test_shield_cancel_outer_result.
TEST_CASE("cancelling the task awaiting shield leaves the inner future pending", "[compose][shield][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> inner;
    auto outer = shoal::create_task(shoal::shield(inner));
    co_await settle();
    CHECK(outer.cancel());
    CHECK_THROWS_AS(co_await outer.wait(), shoal::CancelledError);
    CHECK(outer.cancelled());
    CHECK_FALSE(inner.done());
    inner.set_result(1);  // nobody waits any more: this is fine
    co_await settle();
    CHECK(inner.result() == 1);
  };
  shoal::test::run(body());
}

// CPython test_shield_shortcut.
TEST_CASE("shield of a done future returns its result at once", "[compose][shield]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> fut;
    fut.set_result(42);
    auto got = co_await shoal::shield(fut);
    CHECK(got == 42);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> inner_bump(shoal::Future<void> waiter, int* proof, shoal::Future<void> finished) {
  co_await waiter.wait();
  *proof += 1;
  finished.set_result();
}
shoal::Coro<void> outer_shield(shoal::Future<void> waiter, int* proof, shoal::Future<void> finished) {
  co_await shoal::shield(inner_bump(waiter, proof, finished));
  *proof += 100;
}
}  // namespace

// CPython test_shield_effect.
TEST_CASE("cancelling the task awaiting shield does not cancel the shielded coroutine", "[compose][shield][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int proof = 0;
    shoal::Future<void> waiter, finished;
    auto f = shoal::create_task(outer_shield(waiter, &proof, finished));
    co_await settle();
    f.cancel();
    CHECK_THROWS_AS(co_await f.wait(), shoal::CancelledError);
    CHECK_FALSE(waiter.done());
    CHECK_FALSE(finished.done());
    waiter.set_result();
    co_await finished.wait();
    CHECK(proof == 1);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<std::tuple<int, int>> gather_two(shoal::Future<int> a, shoal::Future<int> b) {
  co_return co_await shoal::gather(a, b);
}
}  // namespace

// CPython test_shield_gather.
TEST_CASE("shield keeps a gather running when its awaiting task is cancelled", "[compose][shield][gather]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> child1, child2;
    auto parent = shoal::create_task(gather_two(child1, child2));
    auto outer = shoal::create_task(shoal::shield(parent));
    co_await settle();
    outer.cancel();
    CHECK_THROWS_AS(co_await outer.wait(), shoal::CancelledError);
    CHECK(outer.cancelled());
    CHECK_FALSE(parent.done());
    child1.set_result(1);
    child2.set_result(2);
    const std::tuple<int, int> expected{1, 2};
    auto got = co_await parent.wait();
    CHECK(got == expected);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<std::tuple<int, int>> gather_tasks(shoal::Task<int> a, shoal::Task<int> b) {
  co_return co_await shoal::gather(a, b);
}
}  // namespace

// CPython test_gather_shield.
TEST_CASE("cancelling a gather of shields cancels the shields but not what they shield", "[compose][shield][gather]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> child1, child2;
    auto inner1 = shoal::create_task(shoal::shield(child1));
    auto inner2 = shoal::create_task(shoal::shield(child2));
    auto parent = shoal::create_task(gather_tasks(inner1, inner2));
    co_await settle();
    parent.cancel();
    CHECK_THROWS_AS(co_await parent.wait(), shoal::CancelledError);
    CHECK(inner1.cancelled());
    CHECK(inner2.cancelled());
    CHECK_FALSE(child1.done());
    CHECK_FALSE(child2.done());
    child1.set_result(1);
    child2.set_result(2);
    CHECK(child1.result() == 1);
  };
  shoal::test::run(body());
}

TEST_CASE("shield returns the result another thread sets", "[compose][shield][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<int> p;
    auto fut = p.get_future();
    std::jthread setter([p = std::move(p)]() mutable { p.set_result(8); });
    auto got = co_await shoal::shield(fut);
    CHECK(got == 8);
  };
  shoal::test::run(body());
}

TEST_CASE("cancelling the task awaiting shield of a thread's future leaves the work running",
          "[compose][shield][thread][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<int> p;
    auto fut = p.get_future();
    std::binary_semaphore go{0};
    std::jthread worker([p = std::move(p), &go]() mutable {
      go.acquire();
      p.set_result(8);
    });
    auto outer = shoal::create_task(shoal::shield(fut));
    co_await settle();
    outer.cancel();
    CHECK_THROWS_AS(co_await outer.wait(), shoal::CancelledError);
    CHECK_FALSE(fut.done());
    go.release();
    auto got = co_await fut.wait();
    CHECK(got == 8);
  };
  shoal::test::run(body());
}

namespace {
std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}
}  // namespace

// CPython test_shield_cancel_outer_exception and test_shield_duplicate_log_once: the
// exception of a future whose shields were all cancelled is nobody's, and is reported
// once as never retrieved.
TEST_CASE("a failure behind cancelled shields is reported once as never retrieved", "[compose][shield][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> inner;
    auto outer1 = shoal::create_task(shoal::shield(inner));
    co_await settle();
    outer1.cancel();
    CHECK_THROWS_AS(co_await outer1.wait(), shoal::CancelledError);
    auto outer2 = shoal::create_task(shoal::shield(inner));
    co_await settle();
    outer2.cancel();
    CHECK_THROWS_AS(co_await outer2.wait(), shoal::CancelledError);
    inner.set_exception(std::make_exception_ptr(std::runtime_error("foo behind shields")));
    co_await settle();
  };
  auto err = shoal::test::capture_stderr([&] { shoal::test::run(body()); });
  CHECK(count_of(err, "foo behind shields") == 1);
}
