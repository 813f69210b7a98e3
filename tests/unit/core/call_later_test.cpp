// Loop::call_soon, call_later and call_at with handles that cancel (issue 15): CPython's
// test_asyncio/test_base_events.py (test_call_later, test_call_soon, ...) and
// test_events.py HandleTests.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/run.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_CASE("test_call_soon: callbacks run at the loop's next turn, in order", "[core][loop][call_later]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<std::string> log;
    auto& loop = shoal::get_running_loop();
    loop.call_soon([&log] { log.push_back("a"); });
    auto h = loop.call_soon([&log] { log.push_back("cancelled"); });
    loop.call_soon([&log] { log.push_back("b"); });
    h.cancel();
    CHECK(h.cancelled());
    CHECK(log.empty());  // not inside the call
    co_await shoal::sleep(0ms);
    co_await shoal::sleep(0ms);
    CHECK(log == std::vector<std::string>{"a", "b"});
  };
  shoal::test::run(body());
}

TEST_CASE("test_call_later: a callback runs once its delay has passed, the shorter delay first",
          "[core][loop][call_later]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<std::string> log;
    auto& loop = shoal::get_running_loop();
    auto t0 = Clock::now();
    Clock::time_point ran_at{};
    shoal::Promise<void> done;
    loop.call_later(40ms, [&] {
      log.push_back("later");
      ran_at = Clock::now();
      done.set_result();
    });
    auto h = loop.call_later(10ms, [&log] { log.push_back("sooner"); });
    CHECK(h.when() >= t0 + 10ms);
    CHECK_FALSE(h.cancelled());
    co_await done.get_future().wait();
    CHECK(log == std::vector<std::string>{"sooner", "later"});
    CHECK(ran_at - t0 >= 40ms);
    CHECK_FALSE(h.cancelled());  // it ran: not cancelled
  };
  shoal::test::run(body());
}

TEST_CASE("test_handle_cancel: a timer cancelled before it is due never runs", "[core][loop][call_later]") {
  auto body = []() -> shoal::Coro<void> {
    bool ran = false;
    auto& loop = shoal::get_running_loop();
    auto h = loop.call_later(20ms, [&ran] { ran = true; });
    h.cancel();
    h.cancel();  // idempotent
    CHECK(h.cancelled());
    co_await shoal::sleep(60ms);
    CHECK_FALSE(ran);
  };
  shoal::test::run(body());
}

TEST_CASE("call_at runs at a steady_clock time point, and a negative delay runs at once", "[core][loop][call_later]") {
  auto body = []() -> shoal::Coro<void> {
    auto& loop = shoal::get_running_loop();
    auto when = Clock::now() + 15ms;
    shoal::Promise<Clock::time_point> at, neg;
    auto h = loop.call_at(when, [&at] { at.set_result(Clock::now()); });
    CHECK(h.when() == when);
    loop.call_later(-5s, [&neg] { neg.set_result(Clock::now()); });
    auto neg_time = co_await neg.get_future().wait();
    CHECK(neg_time < when);
    auto at_time = co_await at.get_future().wait();
    CHECK(at_time >= when);
  };
  shoal::test::run(body());
}

TEST_CASE("call_later from another thread runs the callback on the loop's thread", "[core][loop][call_later]") {
  auto body = []() -> shoal::Coro<void> {
    auto& loop = shoal::get_running_loop();
    shoal::Promise<std::thread::id> ran;
    std::thread t([&loop, &ran] { loop.call_later(5ms, [&ran] { ran.set_result(std::this_thread::get_id()); }); });
    auto id = co_await ran.get_future().wait();
    t.join();
    CHECK(id == std::this_thread::get_id());
  };
  shoal::test::run(body());
}

TEST_CASE("an exception from a scheduled callback is reported and the loop goes on", "[core][loop][call_later]") {
  auto body = []() -> shoal::Coro<int> {
    auto& loop = shoal::get_running_loop();
    loop.call_soon([] { throw std::runtime_error("from call_soon"); });
    co_await shoal::sleep(1ms);
    co_return 7;
  };
  CHECK(shoal::test::run(body()) == 7);
}

TEST_CASE("a handle kept after its loop is gone can still be cancelled and dropped", "[core][loop][call_later]") {
  shoal::TimerHandle never, far;
  {
    shoal::Loop loop;
    loop.run_until_complete([](shoal::TimerHandle& n, shoal::TimerHandle& f) -> shoal::Coro<void> {
      auto& l = shoal::get_running_loop();
      n = l.call_later(std::chrono::hours::max(), [] { FAIL("a huge delay never runs"); });
      f = l.call_later(1h, [] { FAIL("not due before the loop ends"); });
      co_return;
    }(never, far));
    loop.shutdown();
  }
  CHECK_FALSE(never.cancelled());
  never.cancel();  // the loop is gone: nothing to wake, nothing touched
  CHECK(never.cancelled());
}
