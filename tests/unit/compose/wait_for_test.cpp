#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <optional>
#include <semaphore>
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

shoal::Coro<void> settle(int rounds = 5) {
  for (int i = 0; i < rounds; ++i) co_await shoal::sleep(0ms);
}

template <typename T>
shoal::Coro<T> after(std::chrono::milliseconds d, T v) {
  co_await shoal::sleep(d);
  co_return v;
}

shoal::Coro<std::string> await_future(shoal::Future<std::string> f) { co_return co_await f.wait(); }

/// CPython's SlowTask: runs for `total`, ignoring every cancellation.
shoal::Coro<int> slow_ignoring(std::chrono::milliseconds total, bool* exited, shoal::Future<void> started) {
  started.set_result();
  auto until = Clock::now() + total;
  while (true) {
    auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) break;
    try {
      co_await shoal::sleep(left);
    } catch (const shoal::CancelledError&) {
    }
  }
  *exited = true;
  co_return 7;
}

shoal::Coro<int> wait_for_slow(bool* exited, shoal::Future<void> started) {
  co_return co_await shoal::wait_for(slow_ignoring(40ms, exited, started), 1s);
}

/// Sleeps for long; records whether it is running (CPython's foo()).
shoal::Coro<std::string> foo(std::optional<bool>* running, shoal::Future<void> started) {
  *running = true;
  started.set_result();
  try {
    co_await shoal::sleep(10s);
  } catch (...) {
    *running = false;
    throw;
  }
  *running = false;
  co_return "done";
}

struct SetOnExit {
  bool* flag;
  ~SetOnExit() { *flag = true; }
};

/// On cancellation takes a few loop turns before re-raising (CPython's inner() with
/// `await asyncio.sleep(_EPSILON)` in its except clause and `task_done = True` in finally).
shoal::Coro<void> slow_to_cancel(bool* task_done, shoal::Future<void> cleaning) {
  SetOnExit finally{task_done};
  bool cancelled = false;
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    cleaning.set_result();
    co_await settle(3);
    throw shoal::CancelledError();
  }
}

}  // namespace

// CPython AsyncioWaitForTest.test_asyncio_wait_for_cancelled.
TEST_CASE("cancelling wait_for waits for an inner task that ignores the cancellation", "[compose][wait_for][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    bool exited = false;
    shoal::Future<void> started;
    auto w = shoal::create_task(wait_for_slow(&exited, started));
    co_await shoal::shield(started);
    w.cancel();
    auto r = co_await shoal::wait(vec(w));
    CHECK(r.done.size() == 1);
    CHECK(exited);
    // The inner coroutine swallowed the cancellation and returned: so does wait_for.
    CHECK(w.result() == 7);
  };
  shoal::test::run(body());
}

// CPython AsyncioWaitForTest.test_asyncio_wait_for_timeout.
TEST_CASE("wait_for returns the value of an inner task that ignores the timeout's cancellation",
          "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    bool exited = false;
    shoal::Future<void> started;
    auto v = co_await shoal::wait_for(slow_ignoring(40ms, &exited, started), 10ms);
    CHECK(exited);
    CHECK(v == 7);
  };
  shoal::test::run(body());
}

// CPython test_wait_for_timeout_less_then_0_or_0_future_done.
TEST_CASE("wait_for with a zero or negative timeout returns the result of a done future", "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<std::string> fut;
    fut.set_result("done");
    auto got = co_await shoal::wait_for(fut, 0ms);
    CHECK(got == "done");
    auto got2 = co_await shoal::wait_for(fut, -1ms);
    CHECK(got2 == "done");
    CHECK(fut.done());
  };
  shoal::test::run(body());
}

// CPython test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started.
TEST_CASE("wait_for with a zero timeout never starts a coroutine", "[compose][wait_for]") {
  static bool foo_started;
  foo_started = false;
  auto body = []() -> shoal::Coro<void> {
    auto t0 = Clock::now();
    CHECK_THROWS_AS(co_await shoal::wait_for(
                        []() -> shoal::Coro<void> {
                          foo_started = true;
                          co_return;
                        }(),
                        0ms),
                    shoal::TimeoutError);
    CHECK(Clock::now() - t0 < 1s);
    co_await settle();
    CHECK_FALSE(foo_started);
  };
  shoal::test::run(body());
}

// CPython test_wait_for_timeout_less_then_0_or_0.
TEST_CASE("wait_for with a zero or negative timeout cancels a running task and waits for it", "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    const std::array<std::chrono::milliseconds, 2> timeouts{0ms, -1ms};
    for (auto timeout : timeouts) {
      std::optional<bool> running;
      shoal::Future<void> started;
      auto fut = shoal::create_task(foo(&running, started));
      co_await started.wait();
      CHECK(running == true);
      CHECK_THROWS_AS(co_await shoal::wait_for(fut, timeout), shoal::TimeoutError);
      CHECK(fut.done());
      CHECK(fut.cancelled());
      CHECK(running == false);
    }
  };
  shoal::test::run(body());
}

// CPython test_wait_for.
TEST_CASE("wait_for cancels the inner task on timeout", "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    std::optional<bool> running;
    shoal::Future<void> started;
    auto fut = shoal::create_task(foo(&running, started));
    auto t0 = Clock::now();
    CHECK_THROWS_AS(co_await shoal::wait_for(fut, 20ms), shoal::TimeoutError);
    auto elapsed = Clock::now() - t0;
    CHECK(elapsed >= 20ms);
    CHECK(elapsed < 1s);
    CHECK(fut.done());
    CHECK(fut.cancelled());
    CHECK(running == false);
  };
  shoal::test::run(body());
}

// CPython test_wait_for_blocking (there is no "no timeout" in shoal: a plain co_await is that).
TEST_CASE("wait_for returns the result of a coroutine that finishes in time", "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    auto got = co_await shoal::wait_for(after<std::string>(0ms, "done"), 10s);
    CHECK(got == "done");
    auto t = shoal::create_task(after<std::string>(1ms, "task"));
    auto got2 = co_await shoal::wait_for(t, 10s);
    CHECK(got2 == "task");
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> set_soon(shoal::Future<std::string> f) {
  co_await shoal::sleep(0ms);
  f.set_result("ok");
}
}  // namespace

// CPython test_wait_for_race_condition.
TEST_CASE("wait_for returns the result of a future set before the timeout", "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<std::string> fut;
    auto setter = shoal::create_task(set_soon(fut));
    auto got = co_await shoal::wait_for(fut, 10s);
    CHECK(got == "ok");
    co_await setter.wait();
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<int> catch_cancel_return(int v) {
  bool caught = false;
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    caught = true;
  }
  CHECK(caught);
  co_return v;
}
}  // namespace

// CPython test_wait_for_cancellation_race_condition and test_wait_for_cancel_suppressed
// (GH-86296): an inner coroutine that suppresses the cancellation and returns a value
// makes wait_for return that value.
TEST_CASE("wait_for returns the value of an inner coroutine that suppresses the timeout's cancellation",
          "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    auto got = co_await shoal::wait_for(catch_cancel_return(1), 10ms);
    CHECK(got == 1);
    auto t = shoal::create_task(catch_cancel_return(42));
    auto got2 = co_await shoal::wait_for(t, 10ms);
    CHECK(got2 == 42);
    CHECK_FALSE(t.cancelled());
  };
  shoal::test::run(body());
}

// CPython test_wait_for_waits_for_task_cancellation.
TEST_CASE("wait_for waits for the inner task to finish cancelling before raising TimeoutError",
          "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    bool task_done = false;
    shoal::Future<void> cleaning;
    auto inner = shoal::create_task(slow_to_cancel(&task_done, cleaning));
    CHECK_THROWS_AS(co_await shoal::wait_for(inner, 1ms), shoal::TimeoutError);
    CHECK(task_done);
    CHECK(inner.cancelled());
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> wait_for_after_start(bool* task_done) {
  shoal::Future<void> cleaning;
  auto inner = shoal::create_task(slow_to_cancel(task_done, cleaning));
  co_await shoal::sleep(1ms);
  co_await shoal::wait_for(inner, 0ms);
}
}  // namespace

// CPython test_wait_for_waits_for_task_cancellation_w_timeout_0.
TEST_CASE("wait_for with a zero timeout waits for a started task to finish cancelling", "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    bool task_done = false;
    CHECK_THROWS_AS(co_await wait_for_after_start(&task_done), shoal::TimeoutError);
    CHECK(task_done);
  };
  shoal::test::run(body());
}

namespace {
struct FooException : std::runtime_error {
  FooException() : std::runtime_error("foo") {}
};
shoal::Coro<void> raise_in_finally() {
  try {
    co_await shoal::sleep(10s);
  } catch (...) {
  }
  throw FooException();
}
}  // namespace

// CPython test_wait_for_reraises_exception_during_cancellation.
TEST_CASE("wait_for rethrows an exception the inner task raises while it is cancelled", "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    auto inner = shoal::create_task(raise_in_finally());
    CHECK_THROWS_AS(co_await shoal::wait_for(inner, 1ms), FooException);
    CHECK_FALSE(inner.cancelled());
  };
  shoal::test::run(body());
}

namespace {
/// Holds up two cancellations, then returns 42 (CPython's test_wait_for_self_cancellation).
shoal::Coro<int> hold_up_cancellations(shoal::Future<void> first_caught) {
  for (int i = 0; i < 2; ++i) {
    try {
      co_await shoal::sleep(10s);
      co_return 0;
    } catch (const shoal::CancelledError&) {
      if (i == 0) first_caught.set_result();
    }
  }
  co_await settle(2);
  co_return 42;
}
shoal::Coro<int> wait_for_task(shoal::Task<int> t, std::chrono::milliseconds timeout) {
  co_return co_await shoal::wait_for(t, timeout);
}
}  // namespace

// CPython test_wait_for_self_cancellation, as Python 3.12 answers it: the inner task holds
// up both the timeout's cancellation and its waiter's, then returns a value, which
// wait_for returns.
TEST_CASE("wait_for returns the value of a task that holds up the timeout and an outer cancellation",
          "[compose][wait_for][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<void> first_caught;
    auto inner = shoal::create_task(hold_up_cancellations(first_caught));
    auto w = shoal::create_task(wait_for_task(inner, 5ms));
    co_await shoal::shield(first_caught);  // the timeout has fired and cancelled inner once
    CHECK_FALSE(w.done());
    w.cancel();
    auto got = co_await w.wait();
    CHECK(got == 42);
    auto got2 = co_await inner.wait();
    CHECK(got2 == 42);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> block_forever(shoal::Future<void> never) { co_await never.wait(); }
}  // namespace

// CPython _test_cancel_wait_for / test_cancel_wait_for (Python issue #23219). The
// timeout=None variant is a plain co_await in shoal.
TEST_CASE("cancelling the task awaiting wait_for cancels the inner task", "[compose][wait_for][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<void> never;
    auto task = shoal::create_task(block_forever(never));
    auto wait = shoal::create_task([](shoal::Task<void> t) -> shoal::Coro<void> {
      co_await shoal::wait_for(t, 60s);
    }(task));
    co_await settle();
    wait.cancel();
    CHECK_THROWS_AS(co_await wait.wait(), shoal::CancelledError);
    CHECK(task.cancelled());
    CHECK(never.cancelled());
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<std::string> done_at_once() { co_return "done"; }
shoal::Coro<void> wait_for_then_sleep(shoal::Task<std::string> inner, bool* reached_end) {
  (void)co_await shoal::wait_for(inner, 100s);
  co_await shoal::sleep(10s);
  *reached_end = true;
}
}  // namespace

// CPython test_wait_for_issue86296.
TEST_CASE("a task cancelled after wait_for returned is cancelled at its next await", "[compose][wait_for][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    bool reached_end = false;
    auto inner = shoal::create_task(done_at_once());
    auto task = shoal::create_task(wait_for_then_sleep(inner, &reached_end));
    CHECK_FALSE(task.done());
    co_await settle();
    task.cancel();
    CHECK_THROWS_AS(co_await task.wait(), shoal::CancelledError);
    CHECK(inner.done());
    auto got = co_await inner.wait();
    CHECK(got == "done");
    CHECK_FALSE(reached_end);
  };
  shoal::test::run(body());
}

namespace {
shoal::Coro<void> with_cleanup_then_timeout(shoal::Task<void> inner) { co_await shoal::wait_for(inner, 1ms); }
}  // namespace

// Python 3.12's wait_for (asyncio.timeout underneath) lets an outer cancellation win over
// its own timeout: the awaiting task ends cancelled, not with TimeoutError.
TEST_CASE("cancelling the task awaiting wait_for while the inner task finishes cancelling raises CancelledError",
          "[compose][wait_for][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    bool task_done = false;
    shoal::Future<void> cleaning;
    auto inner = shoal::create_task(slow_to_cancel(&task_done, cleaning));
    auto w = shoal::create_task(with_cleanup_then_timeout(inner));
    co_await shoal::shield(cleaning);  // the timeout fired: inner is cleaning up
    CHECK_FALSE(w.done());
    w.cancel();
    CHECK_THROWS_AS(co_await w.wait(), shoal::CancelledError);
    CHECK(w.cancelled());
    CHECK(inner.cancelled());
    CHECK(task_done);
  };
  shoal::test::run(body());
}

TEST_CASE("wait_for propagates the exception of the inner coroutine", "[compose][wait_for]") {
  auto body = []() -> shoal::Coro<void> {
    CHECK_THROWS_WITH(co_await shoal::wait_for(
                          []() -> shoal::Coro<int> {
                            co_await shoal::sleep(0ms);
                            throw std::runtime_error("inner failed");
                          }(),
                          10s),
                      "inner failed");
  };
  shoal::test::run(body());
}

// WaitForShieldTests.test_zero_timeout.
TEST_CASE("wait_for with a zero timeout on a shielded task leaves the task running", "[compose][wait_for][shield]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<std::string> gate;
    auto task = shoal::create_task(await_future(gate));
    CHECK_THROWS_AS(co_await shoal::wait_for(shoal::shield(task), 0ms), shoal::TimeoutError);
    CHECK_FALSE(task.done());
    CHECK_FALSE(task.cancelled());
    gate.set_result("done");
    auto got = co_await task.wait();
    CHECK(got == "done");
  };
  shoal::test::run(body());
}

// WaitForShieldTests.test_none_timeout (with a long timeout).
TEST_CASE("wait_for on a shielded task returns its result when it finishes in time", "[compose][wait_for][shield]") {
  auto body = []() -> shoal::Coro<void> {
    auto task = shoal::create_task(after<std::string>(5ms, "done"));
    auto got = co_await shoal::wait_for(shoal::shield(task), 10s);
    CHECK(got == "done");
    CHECK(task.done());
  };
  shoal::test::run(body());
}

// WaitForShieldTests.test_shielded_timeout.
TEST_CASE("wait_for times out on a shielded task without cancelling it", "[compose][wait_for][shield]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<std::string> gate;
    auto task = shoal::create_task(await_future(gate));
    CHECK_THROWS_AS(co_await shoal::wait_for(shoal::shield(task), 5ms), shoal::TimeoutError);
    CHECK_FALSE(task.done());
    CHECK_FALSE(task.cancelled());
    gate.set_result("done");
    auto got = co_await task.wait();
    CHECK(got == "done");
  };
  shoal::test::run(body());
}

TEST_CASE("wait_for returns the value another thread sets in time", "[compose][wait_for][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<int> p;
    auto fut = p.get_future();
    std::jthread setter([p = std::move(p)]() mutable { p.set_result(99); });
    auto got = co_await shoal::wait_for(fut, 5s);
    CHECK(got == 99);
  };
  shoal::test::run(body());
}

TEST_CASE("wait_for cancels a future whose thread has not started the work and raises TimeoutError",
          "[compose][wait_for][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<int> p;
    auto fut = p.get_future();
    std::binary_semaphore timed_out{0};
    bool ran = false;
    std::jthread worker([p = std::move(p), &timed_out, &ran]() mutable {
      timed_out.acquire();
      if (!p.set_running_or_notify_cancel()) return;  // cancelled: the work must not run
      ran = true;
      p.set_result(1);
    });
    CHECK_THROWS_AS(co_await shoal::wait_for(fut, 5ms), shoal::TimeoutError);
    CHECK(fut.cancelled());
    timed_out.release();
    worker.join();
    CHECK_FALSE(ran);
  };
  shoal::test::run(body());
}

TEST_CASE("wait_for raises TimeoutError at once when a thread is already running the future's work",
          "[compose][wait_for][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<int> p;
    auto fut = p.get_future();
    std::binary_semaphore running{0}, finish{0};
    std::jthread worker([p = std::move(p), &running, &finish]() mutable {
      if (!p.set_running_or_notify_cancel()) return;
      running.release();
      finish.acquire();
      p.set_result(5);
    });
    running.acquire();  // brief: the worker marks the future running and signals at once
    CHECK(fut.running());
    CHECK_THROWS_AS(co_await shoal::wait_for(fut, 5ms), shoal::TimeoutError);
    CHECK_FALSE(fut.cancelled());  // too late to cancel: the work goes on
    finish.release();
    auto got = co_await fut.wait();
    CHECK(got == 5);
  };
  shoal::test::run(body());
}
