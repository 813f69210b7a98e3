// Task names, cancel(msg), cancelling() and uncancel(): the cases of CPython's
// Lib/test/test_asyncio/test_tasks.py that name them (issue 15).

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/run.hpp"
#include "support/stderr_capture.hpp"

using namespace std::chrono_literals;

namespace {

shoal::Coro<int> sleeper(std::chrono::milliseconds d = 10s) {
  co_await shoal::sleep(d);
  co_return 1;
}

shoal::Coro<int> after_future(shoal::Future<void> f) {
  co_await f.wait();
  co_return 42;
}

// The message a cancelled task's result() raises with.
std::string cancelled_message(const shoal::Task<int>& t) {
  try {
    (void)t.result();
  } catch (const shoal::CancelledError& e) {
    return e.what();
  }
  return "(not cancelled)";
}

}  // namespace

TEST_CASE("test_task_default_name: a task is named Task-N, N counting up", "[core][task][name]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(sleeper(0ms));
    auto b = shoal::create_task(sleeper(0ms));
    std::string na = a.get_name(), nb = b.get_name();
    REQUIRE(na.rfind("Task-", 0) == 0);
    REQUIRE(nb.rfind("Task-", 0) == 0);
    CHECK(std::stoull(nb.substr(5)) == std::stoull(na.substr(5)) + 1);
    co_await a.wait();
    co_await b.wait();
  };
  shoal::test::run(body());
}

TEST_CASE("test_task_set_name: create_task's name, set_name, and the name in describe()", "[core][task][name]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(sleeper(0ms), {.name = "fetch"});
    CHECK(t.get_name() == "fetch");
    CHECK(t.describe() == "<Task name='fetch' pending>");
    t.set_name("fetch-2");
    CHECK(t.get_name() == "fetch-2");
    co_await t.wait();
    CHECK(t.describe() == "<Task name='fetch-2' finished>");
  };
  shoal::test::run(body());
}

TEST_CASE("a failure nobody retrieved is reported with the task's name", "[core][task][name]") {
  auto out = shoal::test::capture_stderr([] {
    auto body = []() -> shoal::Coro<void> {
      auto fail = []() -> shoal::Coro<void> {
        throw std::runtime_error("lost");
        co_return;
      };
      auto t = shoal::create_task(fail(), {.name = "nightly-report"});
      co_await shoal::sleep(1ms);
      CHECK(t.done());
      CHECK(t.describe().find("failed: ") != std::string::npos);
    };
    shoal::test::run(body());
  });
  CHECK(out.find("task 'nightly-report'") != std::string::npos);
  CHECK(out.find("lost") != std::string::npos);
}

TEST_CASE("test_cancel_with_message_then_future_result: result() raises CancelledError with the message",
          "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<std::string> {
    auto t = shoal::create_task(sleeper());
    co_await shoal::sleep(0ms);
    CHECK(t.cancel("my message"));
    std::vector<shoal::Future<int>> fs{t};
    co_await shoal::wait(fs);
    CHECK(t.cancelled());
    co_return cancelled_message(t);
  };
  CHECK(shoal::test::run(body()) == "my message");
}

TEST_CASE("test_cancel_with_message_then_future_exception: exception() raises it too", "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<std::string> {
    auto t = shoal::create_task(sleeper());
    co_await shoal::sleep(0ms);
    t.cancel("from exception()");
    std::vector<shoal::Future<int>> fs{t};
    co_await shoal::wait(fs);
    try {
      (void)t.exception();
    } catch (const shoal::CancelledError& e) {
      co_return e.what();
    }
    co_return "";
  };
  CHECK(shoal::test::run(body()) == "from exception()");
}

TEST_CASE("test_cancel_with_message_before_starting_task: a task cancelled before it ran keeps the message",
          "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<std::string> {
    auto t = shoal::create_task(sleeper());
    t.cancel("before start");
    std::vector<shoal::Future<int>> fs{t};
    co_await shoal::wait(fs);
    co_return cancelled_message(t);
  };
  CHECK(shoal::test::run(body()) == "before start");
}

TEST_CASE("the last cancel's message wins, and a plain cancel() after cancel(msg) clears it", "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    auto a = shoal::create_task(sleeper());
    a.cancel("first");
    a.cancel("second");
    auto b = shoal::create_task(sleeper());
    b.cancel("first");
    b.cancel();
    std::vector<shoal::Future<int>> fs{a, b};
    co_await shoal::wait(fs);
    CHECK(cancelled_message(a) == "second");
    CHECK(cancelled_message(b) == shoal::CancelledError().what());
  };
  shoal::test::run(body());
}

TEST_CASE("test_cancelling and test_uncancel_basic: requests are counted and can be withdrawn",
          "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(sleeper());
    co_await shoal::sleep(0ms);
    CHECK(t.cancelling() == 0);
    CHECK(t.uncancel() == 0);  // nothing to withdraw: stays at 0
    t.cancel();
    t.cancel();
    CHECK(t.cancelling() == 2);
    CHECK(t.uncancel() == 1);
    CHECK(t.cancelling() == 1);
    // The request already reached the coroutine: it ends cancelled, as in Python.
    std::vector<shoal::Future<int>> fs{t};
    co_await shoal::wait(fs);
    CHECK(t.cancelled());
  };
  shoal::test::run(body());
}

TEST_CASE("uncancel() only counts, as in Python 3.11: a withdrawn request still arrives",
          "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<void> p;
    p.set_result();
    auto t = shoal::create_task(after_future(p.get_future()));
    t.cancel();
    CHECK(t.uncancel() == 0);
    CHECK(t.cancelling() == 0);
    std::vector<shoal::Future<int>> fs{t};
    co_await shoal::wait(fs);
    CHECK(t.cancelled());
  };
  shoal::test::run(body());
}

TEST_CASE("a cancel passed on by a combinator clears an earlier cancel(msg)", "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<std::string> {
    // The task catches the first cancellation (with a message) and goes on; a later
    // cancellation from wait_for's deadline carries no message.
    auto keeps_going = []() -> shoal::Coro<int> {
      try {
        co_await shoal::sleep(10s);
      } catch (const shoal::CancelledError&) {
      }
      co_await shoal::sleep(10s);
      co_return 0;
    };
    auto t = shoal::create_task(keeps_going());
    co_await shoal::sleep(0ms);
    t.cancel("first");
    co_await shoal::sleep(1ms);
    try {
      (void)co_await shoal::wait_for(t, 5ms);
    } catch (const shoal::TimeoutError&) {
    }
    co_return cancelled_message(t);
  };
  CHECK(shoal::test::run(body()) == shoal::CancelledError().what());
}
