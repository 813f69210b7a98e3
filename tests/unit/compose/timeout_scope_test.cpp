// timeout() / timeout_at() scopes (issue 15): the cases of CPython's
// Lib/test/test_asyncio/test_timeouts.py, the block written as a callable.

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>

#include "support/run.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_CASE("test_timeout_basic: the block is cancelled at the deadline and TimeoutError raised", "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<void> {
    auto t0 = Clock::now();
    bool cancelled_inside = false;
    bool expired = false;
    CHECK_THROWS_AS(co_await shoal::timeout(20ms, [&](shoal::Timeout& t) -> shoal::Coro<void> {
      try {
        co_await shoal::sleep(10s);
      } catch (const shoal::CancelledError&) {
        cancelled_inside = true;
        expired = t.expired();
        throw;
      }
    }), shoal::TimeoutError);
    CHECK(cancelled_inside);
    CHECK(expired);
    CHECK(Clock::now() - t0 >= 20ms);
    CHECK(Clock::now() - t0 < 5s);
  };
  shoal::test::run(body());
}

TEST_CASE("test_timeout_at_basic and test_timeout_not_called: a block that finishes in time returns its value",
          "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<int> {
    int a = co_await shoal::timeout_at(Clock::now() + 5s, []() -> shoal::Coro<int> {
      co_await shoal::sleep(1ms);
      co_return 40;
    });
    int b = co_await shoal::timeout(5s, [](shoal::Timeout& t) -> shoal::Coro<int> {
      CHECK_FALSE(t.expired());
      co_return 2;
    });
    co_return a + b;
  };
  CHECK(shoal::test::run(body()) == 42);
}

TEST_CASE("test_timeout_disabled: no deadline until one is set", "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<int> {
    co_return co_await shoal::timeout(std::nullopt, [](shoal::Timeout& t) -> shoal::Coro<int> {
      CHECK_FALSE(t.when().has_value());
      co_await shoal::sleep(20ms);
      co_return 1;
    });
  };
  CHECK(shoal::test::run(body()) == 1);
}

TEST_CASE("test_timeout_zero and test_timeout_in_the_past_sleep_zero: the block is cancelled at its first await",
          "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<void> {
    bool started = false;
    CHECK_THROWS_AS(co_await shoal::timeout(0s, [&]() -> shoal::Coro<void> {
      started = true;  // the first step runs, as inside Python's `async with`
      co_await shoal::sleep(10s);
    }), shoal::TimeoutError);
    CHECK(started);
    CHECK_THROWS_AS(co_await shoal::timeout_at(Clock::now() - 11s, []() -> shoal::Coro<void> {
      co_await shoal::sleep(0ms);
    }), shoal::TimeoutError);
  };
  shoal::test::run(body());
}

TEST_CASE("test_reschedule: a block moves its deadline later, and earlier", "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<void> {
    // Later: the first deadline (20 ms) would have cut a 60 ms sleep.
    int v = co_await shoal::timeout(20ms, [](shoal::Timeout& t) -> shoal::Coro<int> {
      t.reschedule(Clock::now() + 5s);
      co_await shoal::sleep(60ms);
      co_return 1;
    });
    CHECK(v == 1);
    // Earlier: from none to 20 ms, during a 10 s sleep.
    auto t0 = Clock::now();
    CHECK_THROWS_AS(co_await shoal::timeout(std::nullopt, [](shoal::Timeout& t) -> shoal::Coro<void> {
      t.reschedule(Clock::now() + 20ms);
      co_await shoal::sleep(10s);
    }), shoal::TimeoutError);
    CHECK(Clock::now() - t0 < 5s);
    // Removed: a deadline taken away before it passes never fires.
    int w = co_await shoal::timeout(10ms, [](shoal::Timeout& t) -> shoal::Coro<int> {
      t.reschedule(std::nullopt);
      co_await shoal::sleep(40ms);
      co_return 2;
    });
    CHECK(w == 2);
  };
  shoal::test::run(body());
}

TEST_CASE("reschedule after the deadline passed raises InvalidStateError", "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<bool> {
    bool refused = false;
    try {
      co_await shoal::timeout(10ms, [&](shoal::Timeout& t) -> shoal::Coro<void> {
        try {
          co_await shoal::sleep(10s);
        } catch (const shoal::CancelledError&) {
          try {
            t.reschedule(Clock::now() + 1s);
          } catch (const shoal::InvalidStateError&) {
            refused = true;
          }
          throw;
        }
      });
    } catch (const shoal::TimeoutError&) {
    }
    co_return refused;
  };
  CHECK(shoal::test::run(body()));
}

TEST_CASE("test_nested_timeouts: the inner deadline raises in the inner block only", "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<int> {
    co_return co_await shoal::timeout(5s, []() -> shoal::Coro<int> {
      try {
        co_await shoal::timeout(10ms, []() -> shoal::Coro<void> { co_await shoal::sleep(10s); });
      } catch (const shoal::TimeoutError&) {
        co_return 1;  // the outer block goes on
      }
      co_return 0;
    });
  };
  CHECK(shoal::test::run(body()) == 1);
}

TEST_CASE("test_foreign_exception_passed: an error of the block propagates as it is", "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<void> {
    CHECK_THROWS_AS(co_await shoal::timeout(5s, []() -> shoal::Coro<void> {
      co_await shoal::sleep(0ms);
      throw shoal::ValueError("foreign");
    }), shoal::ValueError);
  };
  shoal::test::run(body());
}

TEST_CASE("test_foreign_cancel_doesnt_timeout_if_not_expired: cancelling the awaiting task raises CancelledError",
          "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<void> {
    bool block_cancelled = false;
    // A named callable: a coroutine lambda's captures live in the lambda object.
    auto outer_fn = [&]() -> shoal::Coro<void> {
      co_await shoal::timeout(5s, [&]() -> shoal::Coro<void> {
        try {
          co_await shoal::sleep(10s);
        } catch (const shoal::CancelledError&) {
          block_cancelled = true;
          throw;
        }
      });
    };
    auto outer = shoal::create_task(outer_fn());
    co_await shoal::sleep(5ms);
    outer.cancel();
    std::vector<shoal::Future<void>> fs{outer};
    co_await shoal::wait(fs);
    CHECK(outer.cancelled());  // not a TimeoutError
    CHECK(block_cancelled);
  };
  shoal::test::run(body());
}

TEST_CASE("test_outer_task_is_not_cancelled: the deadline cancels only the block", "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<void> {
    auto outer = shoal::create_task([]() -> shoal::Coro<int> {
      try {
        co_await shoal::timeout(5ms, []() -> shoal::Coro<void> { co_await shoal::sleep(10s); });
      } catch (const shoal::TimeoutError&) {
      }
      co_await shoal::sleep(5ms);  // still able to await: nothing cancelled it
      co_return 3;
    }());
    int got = co_await outer.wait();
    CHECK(got == 3);
    CHECK(outer.cancelling() == 0);
  };
  shoal::test::run(body());
}

TEST_CASE("a block that swallows the deadline's cancellation returns its value", "[compose][timeout-scope]") {
  auto body = []() -> shoal::Coro<int> {
    co_return co_await shoal::timeout(5ms, []() -> shoal::Coro<int> {
      try {
        co_await shoal::sleep(10s);
      } catch (const shoal::CancelledError&) {
        co_return 9;
      }
      co_return 0;
    });
  };
  CHECK(shoal::test::run(body()) == 9);
}
