// Loop, run(), sleep() and the thread-safe entry points: CPython's SleepTests and
// RunCoroutineThreadsafeTests (test_tasks.py), the applicable asyncio.run cases
// (test_runners.py), and loop behaviour shoal documents in loop.hpp.

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shoal/compose/wait_for.hpp"
#include "support/loop_thread.hpp"
#include "support/run.hpp"
#include "support/stderr_capture.hpp"

using namespace std::chrono_literals;

namespace {

using Log = std::vector<std::string>;
using Clock = std::chrono::steady_clock;

struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

shoal::Coro<int> answer() { co_return 42; }

shoal::Coro<int> fail_now() {
  throw Boom();
  co_return 0;
}

shoal::Coro<int> add(int a, int b, bool fail = false) {
  co_await shoal::sleep(1ms);
  if (fail) throw std::runtime_error("Fail!");
  co_return a + b;
}

shoal::Coro<int> await_int(shoal::Future<int> f) { co_return co_await f.wait(); }

/// Announces that it is about to await `f`, then awaits it.
shoal::Coro<int> announce_then_await(shoal::Future<void> started, shoal::Future<int> f) {
  started.set_result();
  co_return co_await f.wait();
}

shoal::Coro<std::thread::id> where_am_i() { co_return std::this_thread::get_id(); }

/// Sleeps; when cancelled, awaits twice more before finishing the cancellation.
shoal::Coro<void> slow_cleanup(Log* log) {
  bool cancelled = false;
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    co_await shoal::sleep(0ms);
    co_await shoal::sleep(1ms);
    log->push_back("cleaned up");
    throw shoal::CancelledError();
  }
}

}  // namespace

// --- run() ------------------------------------------------------------------------------

TEST_CASE("run propagates the main coroutine's exception", "[core][loop][run]") {
  // test_runners: test_asyncio_run_raises
  CHECK_THROWS_AS(shoal::test::run(fail_now()), Boom);
}

TEST_CASE("run accepts a coroutine returning nothing", "[core][loop][run]") {
  auto body = [](int* n) -> shoal::Coro<void> {
    *n = 1;
    co_return;
  };
  int n = 0;
  shoal::test::run(body(&n));
  CHECK(n == 1);
}

TEST_CASE("run from a coroutine already running on a loop is an InvalidStateError", "[core][loop][run]") {
  // test_runners: test_asyncio_run_from_running_loop
  auto body = []() -> shoal::Coro<void> {
    CHECK_THROWS_AS(shoal::run(answer()), shoal::InvalidStateError);
    co_return;
  };
  // The refusal is the whole story: no error report from a half-made loop besides it.
  std::string err = shoal::test::capture_stderr([&] { shoal::test::run(body()); });
  CHECK(err.empty());
}

TEST_CASE("run cancels leftover tasks and lets their cleanup await", "[core][loop][run][cancel]") {
  // test_runners: test_asyncio_run_cancels_hanging_tasks
  auto body = [](Log* log) -> shoal::Coro<int> {
    auto t = shoal::create_task(slow_cleanup(log));
    co_await shoal::sleep(0ms);
    co_return 1;
  };
  Log log;
  CHECK(shoal::test::run(body(&log), 5s) == 1);
  CHECK(log == Log{"cleaned up"});
}

TEST_CASE("a leftover task that fails while being cancelled at shutdown is reported", "[core][loop][run][report]") {
  // test_runners: test_asyncio_run_reports_hanging_tasks_errors
  auto leftover = []() -> shoal::Coro<void> {
    try {
      co_await shoal::sleep(10s);
    } catch (const shoal::CancelledError&) {
      throw Boom();
    }
  };
  auto body = [](shoal::Coro<void> c) -> shoal::Coro<int> {
    auto t = shoal::create_task(std::move(c));
    co_await shoal::sleep(0ms);
    co_return 2;
  };
  int result = 0;
  std::string err = shoal::test::capture_stderr([&] { result = shoal::test::run(body(leftover()), 5s); });
  CHECK(result == 2);
  CHECK(err.find("boom") != std::string::npos);
}

TEST_CASE("get_running_loop inside a coroutine returns the loop running it", "[core][loop]") {
  auto body = [](shoal::Loop* expected) -> shoal::Coro<void> {
    CHECK(&shoal::get_running_loop() == expected);
    co_return;
  };
  shoal::Loop loop;
  loop.run_until_complete(body(&loop));
  CHECK_THROWS_AS(shoal::get_running_loop(), shoal::InvalidStateError);
}

// --- sleep ------------------------------------------------------------------------------

TEST_CASE("sleep suspends for at least the requested time", "[core][loop][sleep]") {
  // test_sleep
  auto sleeper = [](std::chrono::milliseconds dt, int arg) -> shoal::Coro<int> {
    co_await shoal::sleep(dt / 2);
    co_await shoal::sleep(dt / 2);
    co_return arg;
  };
  auto start = Clock::now();
  CHECK(shoal::test::run(sleeper(20ms, 7)) == 7);
  CHECK(Clock::now() - start >= 20ms);
}

TEST_CASE("a sleep longer than the clock can count saturates instead of returning at once",
          "[core][loop][sleep]") {
  // Found broken: sleep(milliseconds(INT64_MAX)) wrapped round and returned at once.
  auto outlived = [](auto d) -> shoal::Coro<bool> {
    try {
      co_await shoal::wait_for(shoal::sleep(d), 30ms);
    } catch (const shoal::TimeoutError&) {
      co_return true;  // still sleeping when the 30 ms ran out
    }
    co_return false;
  };
  CHECK(shoal::test::run(outlived(std::chrono::milliseconds(std::numeric_limits<std::int64_t>::max()))));
  CHECK(shoal::test::run(outlived(std::chrono::hours(std::numeric_limits<std::int64_t>::max() / 2))));
  CHECK(shoal::test::run(outlived(std::chrono::nanoseconds::max() - std::chrono::nanoseconds(1))));
  CHECK(shoal::test::run(outlived(std::chrono::duration<double>(1e300))));
  CHECK_THROWS_AS(shoal::test::run(outlived(std::chrono::duration<double>(std::nan("")))), shoal::ValueError);
}

TEST_CASE("sleep(0) lets the callbacks scheduled before it run", "[core][loop][sleep]") {
  // test_sleep_zero
  auto body = [](int* result) -> shoal::Coro<void> {
    shoal::get_running_loop().call_soon_threadsafe([result] { *result += 1; });
    CHECK(*result == 0);
    co_await shoal::sleep(0ms);
    CHECK(*result == 1);
    *result += 10;
  };
  int result = 0;
  shoal::test::run(body(&result));
  CHECK(result == 11);
}

TEST_CASE("a negative sleep returns after one turn of the loop like sleep(0)", "[core][loop][sleep]") {
  auto body = [](int* result) -> shoal::Coro<void> {
    shoal::get_running_loop().call_soon_threadsafe([result] { *result += 1; });
    co_await shoal::sleep(-50ms);
    CHECK(*result == 1);
  };
  int result = 0;
  auto start = Clock::now();
  shoal::test::run(body(&result));
  CHECK(result == 1);
  CHECK(Clock::now() - start < 1s);
}

TEST_CASE("cancelling a sleep stops its timer at once", "[core][loop][sleep][cancel]") {
  // test_sleep_cancel: the timer handle is cancelled, the task does not wait 10 s.
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(shoal::sleep(10s));
    co_await shoal::sleep(0ms);
    auto start = Clock::now();
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(Clock::now() - start < 1s);
    CHECK(t.cancelled());
  };
  shoal::test::run(body(), 5s);
}

// --- call_soon_threadsafe ---------------------------------------------------------------

TEST_CASE("call_soon_threadsafe from another thread runs the function on the loop's thread", "[core][loop][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Loop* loop = &shoal::get_running_loop();
    shoal::Future<std::thread::id> ran_on;
    std::thread th([loop, ran_on]() mutable {
      loop->call_soon_threadsafe([ran_on]() mutable { ran_on.set_result(std::this_thread::get_id()); });
    });
    std::thread::id id = co_await ran_on.wait();
    th.join();
    CHECK(id == std::this_thread::get_id());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("call_soon_threadsafe callbacks run in the order they were scheduled", "[core][loop]") {
  auto body = [](std::vector<int>* order) -> shoal::Coro<void> {
    for (int i = 0; i < 5; ++i)
      shoal::get_running_loop().call_soon_threadsafe([order, i] { order->push_back(i); });
    co_await shoal::sleep(0ms);
  };
  std::vector<int> order;
  shoal::test::run(body(&order));
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

// --- run_coroutine_threadsafe and create_task(loop, ...) from other threads -------------

TEST_CASE("run_coroutine_threadsafe returns a future another thread can block on", "[core][loop][thread]") {
  // test_run_coroutine_threadsafe
  shoal::test::Watchdog dog(5s);
  shoal::test::LoopThread lt;
  auto fut = shoal::run_coroutine_threadsafe(add(1, 2), lt.loop);
  CHECK(fut.result(5s) == 3);
}

TEST_CASE("run_coroutine_threadsafe passes the coroutine's exception to the blocked thread", "[core][loop][thread]") {
  // test_run_coroutine_threadsafe_with_exception
  shoal::test::Watchdog dog(5s);
  shoal::test::LoopThread lt;
  auto fut = shoal::run_coroutine_threadsafe(add(1, 2, true), lt.loop);
  CHECK_THROWS_WITH(fut.result(5s), "Fail!");
  CHECK_FALSE(fut.cancelled());
}

TEST_CASE("run_coroutine_threadsafe with a timeout that passes leaves a task the thread can cancel", "[core][loop][thread][cancel]") {
  // test_run_coroutine_threadsafe_with_timeout
  shoal::test::Watchdog dog(5s);
  shoal::test::LoopThread lt;
  shoal::Future<int> gate;  // never set: the coroutine cannot finish by itself
  shoal::Future<void> started;
  auto fut = shoal::run_coroutine_threadsafe(announce_then_await(started, gate), lt.loop);
  started.result(5s);  // the task is running (a cancel before that would stop it starting)
  CHECK_THROWS_AS(fut.result(0s), shoal::TimeoutError);
  CHECK(fut.cancel());
  CHECK_THROWS_AS(fut.result(5s), shoal::CancelledError);
  CHECK(fut.cancelled());
  CHECK(gate.cancelled());  // the task's cancellation reached what it awaited
}

TEST_CASE("run_coroutine_threadsafe of a coroutine that cancels itself reports CancelledError", "[core][loop][thread][cancel]") {
  // test_run_coroutine_threadsafe_task_cancelled
  struct Self {
    std::optional<shoal::Future<int>> fut;
  };
  auto add_then_cancel = [](Self* self, shoal::Future<void> go) -> shoal::Coro<int> {
    co_await go.wait();
    co_await shoal::sleep(1ms);
    self->fut->cancel();
    co_await shoal::sleep(0ms);
    co_return 3;
  };
  shoal::test::Watchdog dog(5s);
  shoal::test::LoopThread lt;
  Self self;
  shoal::Future<void> go;
  self.fut = shoal::run_coroutine_threadsafe(add_then_cancel(&self, go), lt.loop);
  go.set_result();
  CHECK_THROWS_AS(self.fut->result(5s), shoal::CancelledError);
  CHECK(self.fut->cancelled());
}

TEST_CASE("create_task from another thread runs the coroutine on the loop's thread", "[core][loop][thread]") {
  shoal::test::Watchdog dog(5s);
  shoal::test::LoopThread lt;
  auto t = shoal::create_task(lt.loop, where_am_i());
  CHECK(t.result(5s) == lt.id());
  CHECK(t.result(5s) != std::this_thread::get_id());
}

TEST_CASE("run_until_complete on a thread while the loop runs on another is an InvalidStateError", "[core][loop][thread]") {
  shoal::test::Watchdog dog(5s);
  shoal::test::LoopThread lt;
  // Block until the loop is running a task, so that it is surely running.
  REQUIRE(shoal::create_task(lt.loop, answer()).result(5s) == 42);
  CHECK(lt.loop.is_running());
  CHECK_THROWS_AS(lt.loop.run_until_complete(answer()), shoal::InvalidStateError);
}

// --- the loop's life --------------------------------------------------------------------

TEST_CASE("a task scheduled on a loop that shuts down before starting it never runs", "[core][loop][cancel]") {
  Log log;
  auto steps = [](Log* log) -> shoal::Coro<void> {
    log->push_back("started");
    co_return;
  };
  shoal::Loop loop;
  auto t = shoal::create_task(loop, steps(&log));
  loop.shutdown();
  CHECK(t.done());
  CHECK(t.cancelled());
  CHECK(log.empty());
}

TEST_CASE("run_until_complete after shutdown is an InvalidStateError and shutdown is idempotent", "[core][loop]") {
  shoal::Loop loop;
  CHECK(loop.run_until_complete(answer()) == 42);
  CHECK_FALSE(loop.closing());
  loop.shutdown();
  CHECK(loop.closing());
  loop.shutdown();
  CHECK_THROWS_AS(loop.run_until_complete(answer()), shoal::InvalidStateError);
}

TEST_CASE("a loop can run twice and its tasks keep their state in between", "[core][loop]") {
  auto start = [](shoal::Future<int> gate) -> shoal::Coro<shoal::Task<int>> {
    auto t = shoal::create_task(await_int(gate));
    co_await shoal::sleep(0ms);
    co_return t;
  };
  shoal::test::Watchdog dog(5s);
  shoal::Loop loop;
  shoal::Future<int> gate;
  shoal::Task<int> t = loop.run_until_complete(start(gate));
  CHECK_FALSE(t.done());
  CHECK(loop.task_count() == 1);
  gate.set_result(5);  // off-loop: the task's resumption waits for the next run
  CHECK(loop.run_until_complete(t.wait()) == 5);
  CHECK(t.result() == 5);
  CHECK(loop.task_count() == 0);
}

TEST_CASE("run_until_complete throws InvalidStateError when the loop is stopped before main completes", "[core][loop]") {
  // test_stop_while_run_in_complete; shutdown then cancels what is left, cleanup included.
  auto stopper = [](int* x) -> shoal::Coro<void> {
    while (*x < 10) {
      co_await shoal::sleep(1ms);
      *x += 1;
      if (*x == 2) shoal::get_running_loop().context().stop();
    }
  };
  auto body = [](Log* log, shoal::Coro<void> c) -> shoal::Coro<void> {
    auto bg = shoal::create_task(slow_cleanup(log));
    co_await std::move(c);
  };
  shoal::test::Watchdog dog(5s);
  int x = 0;
  Log log;
  shoal::Loop loop;
  CHECK_THROWS_AS(loop.run_until_complete(body(&log, stopper(&x))), shoal::InvalidStateError);
  CHECK(x == 2);
  loop.shutdown();
  CHECK(x == 2);
  CHECK(loop.task_count() == 0);
  CHECK(log == Log{"cleaned up"});
}

TEST_CASE("a main task left over from a stopped run does not stop a later run", "[core][loop]") {
  auto stopper = [](int* x) -> shoal::Coro<void> {
    while (*x < 10) {
      co_await shoal::sleep(1ms);
      *x += 1;
      if (*x == 2) shoal::get_running_loop().context().stop();
    }
  };
  auto outlive = [](int* x) -> shoal::Coro<int> {
    while (*x < 10) co_await shoal::sleep(1ms);  // the first main finishes meanwhile
    co_await shoal::sleep(0ms);
    co_return 7;
  };
  shoal::test::Watchdog dog(5s);
  int x = 0;
  shoal::Loop loop;
  CHECK_THROWS_AS(loop.run_until_complete(stopper(&x)), shoal::InvalidStateError);
  CHECK(loop.run_until_complete(outlive(&x)) == 7);
  CHECK(x == 10);
}

TEST_CASE("task_count counts the tasks that started and have not finished", "[core][loop]") {
  auto body = []() -> shoal::Coro<void> {
    auto& loop = shoal::get_running_loop();
    CHECK(loop.task_count() == 1);  // main itself
    auto a = shoal::create_task(add(1, 1));
    auto b = shoal::create_task(add(2, 2));
    CHECK(loop.task_count() == 1);  // scheduled, not started
    co_await shoal::sleep(0ms);
    CHECK(loop.task_count() == 3);
    co_await a.wait();
    co_await b.wait();
    CHECK(loop.task_count() == 1);
  };
  shoal::test::run(body());
}

TEST_CASE("is_running and closing follow the loop's life", "[core][loop]") {
  auto body = [](shoal::Loop* loop) -> shoal::Coro<void> {
    CHECK(loop->is_running());
    CHECK_FALSE(loop->closing());
    co_return;
  };
  shoal::Loop loop;
  CHECK_FALSE(loop.is_running());
  loop.run_until_complete(body(&loop));
  CHECK_FALSE(loop.is_running());
  loop.shutdown();
  CHECK_FALSE(loop.is_running());
  CHECK(loop.closing());
}

TEST_CASE("poll runs what is ready without waiting, as the running loop, and leaves the rest for later", "[core][loop]") {
  shoal::Loop loop;
  Log log;
  auto step = [](Log* log, shoal::Loop* loop) -> shoal::Coro<void> {
    CHECK(&shoal::get_running_loop() == loop);
    log->push_back("started");
    co_await shoal::sleep(0s);  // yields: the next poll round resumes it
    log->push_back("resumed");
    co_await shoal::sleep(1h);  // not due: poll does not wait for it
    log->push_back("never");
  };
  auto task = shoal::create_task(loop, step(&log, &loop));
  CHECK(log.empty());
  while (loop.poll() > 0) {
  }
  CHECK(log == Log{"started", "resumed"});
  CHECK_FALSE(loop.is_running());  // between polls it runs nowhere
  CHECK_THROWS_AS(shoal::get_running_loop(), shoal::InvalidStateError);
  CHECK_FALSE(task.done());
  loop.shutdown();  // cancels the sleeper
  CHECK(task.cancelled());
  CHECK_THROWS_AS(loop.poll(), shoal::InvalidStateError);
}
