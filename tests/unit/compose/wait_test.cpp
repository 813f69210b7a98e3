#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/run.hpp"

using namespace std::chrono_literals;

namespace {

/// A vector built outside any co_await expression: g++ 12 rejects a braced list (an
/// std::initializer_list's array) in a full-expression that contains co_await.
template <typename F, typename... R>
std::vector<F> vec(F first, R... rest) {
  return std::vector<F>{first, rest...};
}

using Clock = std::chrono::steady_clock;

template <typename T>
shoal::Coro<T> after(std::chrono::milliseconds d, T v) {
  co_await shoal::sleep(d);
  co_return v;
}

shoal::Coro<void> nap(std::chrono::milliseconds d) { co_await shoal::sleep(d); }

shoal::Coro<void> settle(int rounds = 5) {
  for (int i = 0; i < rounds; ++i) co_await shoal::sleep(0ms);
}

shoal::Coro<int> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await shoal::sleep(d);
  throw std::runtime_error(what);
}

template <typename F>
bool contains(const std::vector<F>& v, const F& f) {
  return std::find(v.begin(), v.end(), f) != v.end();
}

}  // namespace

// CPython test_wait.
TEST_CASE("wait with ALL_COMPLETED returns every task as done", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(nap(2ms));
    auto b = shoal::create_task(nap(5ms));
    auto r = co_await shoal::wait(vec(b, a));
    CHECK(r.done.size() == 2);
    CHECK(r.pending.empty());
    CHECK(contains(r.done, a));
    CHECK(contains(r.done, b));
    // Doing it again takes no time and goes another way (everything is done already).
    auto r2 = co_await shoal::wait(vec(b, a));
    CHECK(r2.done.size() == 2);
    CHECK(r2.pending.empty());
  };
  shoal::test::run(body());
}

// CPython test_wait_duplicate_coroutines (the same task twice: the result lists keep one
// entry per input).
TEST_CASE("wait accepts the same task twice", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    auto c = shoal::create_task(after<std::string>(1ms, "test"));
    auto spam = shoal::create_task(after<std::string>(0ms, "spam"));
    auto r = co_await shoal::wait(vec(c, c, spam));
    CHECK(r.pending.empty());
    CHECK(r.done.size() == 3);
    std::set<std::string> got;
    for (auto& f : r.done) got.insert(f.result());
    CHECK(got == std::set<std::string>{"test", "spam"});
  };
  shoal::test::run(body());
}

// CPython test_wait_errors and test_wait_invalid_args (the others are type errors in C++).
TEST_CASE("wait over an empty vector raises ValueError", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<shoal::Future<int>> none;
    CHECK_THROWS_AS(co_await shoal::wait(none), shoal::ValueError);
    CHECK_THROWS_AS(co_await shoal::wait(none, {.return_when = shoal::FIRST_COMPLETED}), shoal::ValueError);
  };
  shoal::test::run(body());
}

// CPython test_wait_first_completed.
TEST_CASE("wait with FIRST_COMPLETED returns as soon as one task finishes", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(nap(10s));
    auto b = shoal::create_task(nap(1ms));
    auto r = co_await shoal::wait(vec(b, a), {.return_when = shoal::FIRST_COMPLETED});
    CHECK(r.done == std::vector{b});
    CHECK(r.pending == std::vector{a});
    CHECK_FALSE(a.done());
    CHECK(b.done());
    CHECK_NOTHROW(b.result());
    a.cancel();
    auto r2 = co_await shoal::wait(vec(a, b));
    CHECK(r2.done.size() == 2);
    CHECK(a.cancelled());
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> complete_both(shoal::Future<int> a, shoal::Future<int> b) {
  a.set_result(1);
  b.set_result(2);
  co_return;
}
}  // namespace

// CPython test_wait_really_done: done and pending are decided by the futures' states when
// wait resumes, not by which completion woke it.
TEST_CASE("wait sorts futures by their state when it resumes", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b;
    auto setter = shoal::create_task(complete_both(a, b));
    auto r = co_await shoal::wait(vec(b, a), {.return_when = shoal::FIRST_COMPLETED});
    CHECK(r.done == std::vector{b, a});
    CHECK(r.pending.empty());
    CHECK(a.result() == 1);
    CHECK(b.result() == 2);
    co_await setter.wait();
  };
  shoal::test::run(body());
}

// CPython test_wait_first_exception.
TEST_CASE("wait with FIRST_EXCEPTION returns at once when a task has already failed", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(after(10s, 1));
    auto b = shoal::create_task(fail_after(0ms, "err"));
    co_await settle();
    REQUIRE(b.done());
    auto t0 = Clock::now();
    auto r = co_await shoal::wait(vec(b, a), {.return_when = shoal::FIRST_EXCEPTION});
    CHECK(Clock::now() - t0 < 1s);
    CHECK(r.done == std::vector{b});
    CHECK(r.pending == std::vector{a});
    CHECK_THROWS_WITH(b.result(), "err");
    a.cancel();
  };
  shoal::test::run(body());
}

// CPython test_wait_first_exception_in_wait.
TEST_CASE("wait with FIRST_EXCEPTION returns when a task fails during the wait", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(after(10s, 1));
    auto b = shoal::create_task(fail_after(5ms, "err"));
    auto r = co_await shoal::wait(vec(b, a), {.return_when = shoal::FIRST_EXCEPTION});
    CHECK(r.done == std::vector{b});
    CHECK(r.pending == std::vector{a});
    CHECK_FALSE(a.done());
    CHECK_THROWS_WITH(b.result(), "err");
    a.cancel();
  };
  shoal::test::run(body());
}

TEST_CASE("wait with FIRST_EXCEPTION counts neither a cancellation nor a success as an exception",
          "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> cancelled;
    auto a = shoal::create_task(after(1ms, 1));
    auto b = shoal::create_task(after(10ms, 2));
    cancelled.cancel();
    auto r = co_await shoal::wait(vec<shoal::Future<int>>(cancelled, a, b),
                                  {.return_when = shoal::FIRST_EXCEPTION});
    // Nothing failed: it behaves like ALL_COMPLETED.
    CHECK(r.done.size() == 3);
    CHECK(r.pending.empty());
    CHECK(b.result() == 2);
  };
  shoal::test::run(body());
}

// CPython test_wait_with_exception.
TEST_CASE("wait with ALL_COMPLETED returns failed tasks in done without raising", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(after(2ms, 1));
    auto b = shoal::create_task(fail_after(5ms, "really"));
    auto r = co_await shoal::wait(vec(b, a));
    CHECK(r.done.size() == 2);
    CHECK(r.pending.empty());
    int errors = 0;
    for (auto& f : r.done) errors += f.exception() != nullptr;
    CHECK(errors == 1);
  };
  shoal::test::run(body());
}

// CPython test_wait_with_timeout.
TEST_CASE("wait with a timeout returns what finished and leaves the rest pending and running", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(after(1ms, 1));
    auto b = shoal::create_task(after(10s, 2));
    auto t0 = Clock::now();
    auto r = co_await shoal::wait(vec(b, a), {.timeout = 30ms});
    auto elapsed = Clock::now() - t0;
    CHECK(elapsed >= 30ms);
    CHECK(elapsed < 1s);
    CHECK(r.done == std::vector{a});
    CHECK(r.pending == std::vector{b});
    CHECK_FALSE(b.done());  // wait never cancels
    b.cancel();
  };
  shoal::test::run(body());
}

TEST_CASE("wait with a timeout of zero returns at once", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(after(10s, 1));
    shoal::Future<int> done;
    done.set_result(3);
    auto r = co_await shoal::wait(vec<shoal::Future<int>>(a, done), {.timeout = 0ms});
    CHECK(r.done == std::vector<shoal::Future<int>>{done});
    CHECK(r.pending == std::vector<shoal::Future<int>>{a});
    a.cancel();
  };
  shoal::test::run(body());
}

TEST_CASE("wait keeps the input order in done and in pending", "[compose][wait]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<shoal::Future<int>> fs(6);
    fs[4].set_result(4);
    fs[1].set_result(1);
    fs[3].set_result(3);
    auto r = co_await shoal::wait(fs, {.return_when = shoal::FIRST_COMPLETED});
    CHECK(r.done == std::vector{fs[1], fs[3], fs[4]});
    CHECK(r.pending == std::vector{fs[0], fs[2], fs[5]});
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> bump_after(shoal::Future<void> waiter, int* proof) {
  co_await waiter.wait();
  *proof += 1;
}
shoal::Coro<void> wait_then_bump(shoal::Task<void> inner, int* proof) {
  (void)co_await shoal::wait(vec(inner));
  *proof += 100;
}
}  // namespace

// CPython test_yield_wait_does_not_shield_cancel.
TEST_CASE("cancelling the task awaiting wait leaves the awaited tasks running", "[compose][wait][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    int proof = 0;
    shoal::Future<void> waiter;
    auto inner = shoal::create_task(bump_after(waiter, &proof));
    auto f = shoal::create_task(wait_then_bump(inner, &proof));
    co_await settle();
    f.cancel();
    CHECK_THROWS_AS(co_await f.wait(), shoal::CancelledError);
    CHECK_FALSE(inner.done());
    CHECK_FALSE(waiter.done());
    waiter.set_result();
    co_await inner.wait();
    CHECK(proof == 1);
  };
  shoal::test::run(body());
}

TEST_CASE("wait returns when another thread completes a future", "[compose][wait][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<int> p0, p1, p2;
    std::vector<shoal::Future<int>> fs{p0.get_future(), p1.get_future(), p2.get_future()};
    std::jthread setter([p = std::move(p1)]() mutable { p.set_result(11); });
    auto r = co_await shoal::wait(fs, {.return_when = shoal::FIRST_COMPLETED});
    CHECK(r.done == std::vector{fs[1]});
    CHECK(r.pending == std::vector{fs[0], fs[2]});
    CHECK(fs[1].result() == 11);
    std::jthread rest([a = std::move(p0), b = std::move(p2)]() mutable {
      a.set_result(10);
      b.set_result(12);
    });
    auto all = co_await shoal::wait(fs, {.timeout = 5s});
    CHECK(all.done.size() == 3);
    CHECK(all.pending.empty());
  };
  shoal::test::run(body());
}
