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

using Clock = std::chrono::steady_clock;

template <typename T>
shoal::Coro<T> after(std::chrono::milliseconds d, T v) {
  co_await shoal::sleep(d);
  co_return v;
}

shoal::Coro<int> identity(int v) { co_return v; }

shoal::Coro<void> settle(int rounds = 5) {
  for (int i = 0; i < rounds; ++i) co_await shoal::sleep(0ms);
}

}  // namespace

// CPython test_as_completed.
TEST_CASE("as_completed hands back results in completion order", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<shoal::Coro<std::string>> cs;
    cs.push_back(after<std::string>(5ms, "b"));
    cs.push_back(after<std::string>(60ms, "c"));
    cs.push_back(after<std::string>(5ms, "a"));
    auto it = shoal::as_completed(std::move(cs));
    CHECK(it.remaining() == 3);
    std::vector<std::string> values;
    while (it.has_next()) {
      auto f = co_await it.next();
      CHECK(f.done());
      values.push_back(f.result());
    }
    REQUIRE(values.size() == 3);
    CHECK(std::set<std::string>(values.begin(), values.begin() + 2) == std::set<std::string>{"a", "b"});
    CHECK(values[2] == "c");
  };
  shoal::test::run(body());
}

// CPython test_as_completed_same_tasks_in_as_out.
TEST_CASE("as_completed hands back the very tasks it was given", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    auto b = shoal::create_task(identity(1));
    auto d = shoal::create_task(identity(2));
    auto it = shoal::as_completed(std::vector{b, d});
    std::vector<shoal::Future<int>> out;
    while (it.has_next()) out.push_back(co_await it.next());
    REQUIRE(out.size() == 2);
    CHECK(std::count(out.begin(), out.end(), b) == 1);
    CHECK(std::count(out.begin(), out.end(), d) == 1);
  };
  shoal::test::run(body());
}

// CPython test_as_completed_with_timeout.
TEST_CASE("as_completed raises TimeoutError for what is still pending at the deadline", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(after<std::string>(1ms, "a"));
    auto b = shoal::create_task(after<std::string>(10s, "b"));
    auto t0 = Clock::now();
    auto it = shoal::as_completed(std::vector{a, b}, 30ms);
    auto first = co_await it.next();
    CHECK(first.result() == "a");
    CHECK_THROWS_AS(co_await it.next(), shoal::TimeoutError);
    auto elapsed = Clock::now() - t0;
    CHECK(elapsed >= 30ms);
    CHECK(elapsed < 1s);
    CHECK(it.has_next());
    CHECK_THROWS_AS(co_await it.next(), shoal::TimeoutError);  // still past the deadline
    CHECK_FALSE(b.done());  // as_completed never cancels
    b.cancel();
  };
  shoal::test::run(body());
}

// CPython test_as_completed_with_unused_timeout.
TEST_CASE("as_completed with a timeout that does not expire returns every result", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<shoal::Coro<std::string>> cs;
    cs.push_back(after<std::string>(1ms, "a"));
    auto it = shoal::as_completed(std::move(cs), 10s);
    int n = 0;
    while (it.has_next()) {
      auto f = co_await it.next();
      CHECK(f.result() == "a");
      ++n;
    }
    CHECK(n == 1);
  };
  shoal::test::run(body());
}

// CPython test_as_completed_resume_iterator.
TEST_CASE("as_completed can be resumed after leaving the loop early", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<shoal::Coro<int>> cs;
    for (int i = 0; i < 4; ++i) cs.push_back(identity(i));
    auto it = shoal::as_completed(std::move(cs));
    std::vector<int> collected;
    while (it.has_next()) {
      collected.push_back((co_await it.next()).result());
      if (collected.size() == 2) break;
    }
    CHECK(collected.size() == 2);
    CHECK(it.remaining() == 2);
    while (it.has_next()) collected.push_back((co_await it.next()).result());
    std::sort(collected.begin(), collected.end());
    CHECK(collected == std::vector<int>{0, 1, 2, 3});
  };
  shoal::test::run(body());
}

// CPython test_as_completed_duplicate_coroutines: as_completed works on a set, so the same
// task given twice is handed back once (issue 15; it used to come back once per entry).
TEST_CASE("as_completed hands out the same task given twice once", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    auto c = shoal::create_task(after<std::string>(0ms, "ham"));
    auto spam = shoal::create_task(after<std::string>(1ms, "spam"));
    auto it = shoal::as_completed(std::vector{c, c, spam});
    std::vector<std::string> result;
    while (it.has_next()) result.push_back((co_await it.next()).result());
    CHECK(std::set<std::string>(result.begin(), result.end()) == std::set<std::string>{"ham", "spam"});
    CHECK(result.size() == 2);
  };
  shoal::test::run(body());
}

TEST_CASE("as_completed of an empty vector has nothing to hand out", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    auto it = shoal::as_completed(std::vector<shoal::Future<int>>{});
    CHECK_FALSE(it.has_next());
    CHECK(it.remaining() == 0);
    CHECK_THROWS_AS(co_await it.next(), shoal::InvalidStateError);
  };
  shoal::test::run(body());
}

TEST_CASE("next after every future was handed out raises InvalidStateError", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    f.set_result(1);
    auto it = shoal::as_completed(std::vector{f});
    auto got = co_await it.next();
    CHECK(got == f);
    CHECK_FALSE(it.has_next());
    CHECK_THROWS_AS(co_await it.next(), shoal::InvalidStateError);
  };
  shoal::test::run(body());
}

TEST_CASE("as_completed hands back failed and cancelled futures without raising", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> ok, bad, gone;
    auto it = shoal::as_completed(std::vector{ok, bad, gone});
    bad.set_exception(std::make_exception_ptr(std::runtime_error("bad")));
    gone.cancel();
    ok.set_result(3);
    auto f1 = co_await it.next();
    auto f2 = co_await it.next();
    auto f3 = co_await it.next();
    CHECK(f1 == bad);
    CHECK(f2 == gone);
    CHECK(f3 == ok);
    CHECK_THROWS_WITH(f1.result(), "bad");
    CHECK(f2.cancelled());
    CHECK(f3.result() == 3);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<int> first_of(std::vector<shoal::Future<int>> fs) {
  auto it = shoal::as_completed(std::move(fs));
  auto f = co_await it.next();
  co_return f.result();
}
}  // namespace

TEST_CASE("cancelling the task awaiting as_completed leaves the futures alone", "[compose][as_completed][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b;
    auto t = shoal::create_task(first_of({a, b}));
    co_await settle();
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK_FALSE(a.done());
    CHECK_FALSE(b.done());
    a.set_result(1);
    b.set_result(2);
  };
  shoal::test::run(body());
}

TEST_CASE("as_completed follows the order in which another thread completes the futures",
          "[compose][as_completed][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<int> p0, p1, p2;
    std::vector<shoal::Future<int>> fs{p0.get_future(), p1.get_future(), p2.get_future()};
    auto it = shoal::as_completed(fs, 5s);
    std::jthread setter([a = std::move(p0), b = std::move(p1), c = std::move(p2)]() mutable {
      c.set_result(2);
      a.set_result(0);
      b.set_result(1);
    });
    std::vector<int> order;
    while (it.has_next()) order.push_back((co_await it.next()).result());
    CHECK(order == std::vector<int>{2, 0, 1});
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<shoal::Future<int>> next_of(shoal::AsCompleted<int>* it) { co_return co_await it->next(); }
}  // namespace

// CPython test_as_completed_concurrent awaits two of as_completed's placeholders at once.
// shoal's iterator hands out one future per next(): a second next() while one is pending
// is refused instead of leaving one of them suspended forever.
TEST_CASE("as_completed refuses a second next while one is pending", "[compose][as_completed]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> a, b;
    auto it = shoal::as_completed(std::vector{a, b});
    auto first = shoal::create_task(next_of(&it));
    co_await settle();
    CHECK_THROWS_AS(co_await it.next(), shoal::InvalidStateError);
    a.set_result(1);
    auto got = co_await first.wait();
    CHECK(got == a);
    b.set_result(2);
    auto got2 = co_await it.next();
    CHECK(got2 == b);
    CHECK_FALSE(it.has_next());
  };
  shoal::test::run(body());
}

TEST_CASE("a moved-from as_completed has nothing left to hand out", "[compose][as_completed]") {
  shoal::Future<int> f;
  f.set_result(1);
  auto it = shoal::as_completed(std::vector<shoal::Future<int>>{f});
  auto moved = std::move(it);
  CHECK_FALSE(it.has_next());  // NOLINT(bugprone-use-after-move): what this test checks
  CHECK(moved.has_next());
  CHECK(moved.next_blocking().result() == 1);
  CHECK_FALSE(moved.has_next());
}
