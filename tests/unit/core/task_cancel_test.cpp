// Task cancellation: the cancel cases of CPython's Lib/test/test_asyncio/test_tasks.py
// that apply to shoal, plus cancel() from other threads.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/run.hpp"

using namespace std::chrono_literals;

namespace {

using Log = std::vector<std::string>;

struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

/// Lets a coroutine reach its own task: the test stores the handle right after
/// create_task, before the coroutine first runs (create_task only schedules it).
template <typename T>
struct Self {
  std::optional<shoal::Task<T>> task;
};

shoal::Coro<int> sleep_then(std::chrono::milliseconds d, int v) {
  co_await shoal::sleep(d);
  co_return v;
}

shoal::Coro<void> sleep_for(std::chrono::milliseconds d) { co_await shoal::sleep(d); }

shoal::Coro<void> record_cleanup(Log* log) {
  try {
    co_await shoal::sleep(10s);
    log->push_back("woke");
  } catch (const shoal::CancelledError&) {
    log->push_back("cleanup");
    throw;
  }
}

shoal::Coro<int> await_int(shoal::Future<int> f) { co_return co_await f.wait(); }
shoal::Coro<void> await_void(shoal::Future<void> f) { co_await f.wait(); }

shoal::Coro<void> cancel_after(std::chrono::milliseconds d, shoal::Task<void> t) {
  co_await shoal::sleep(d);
  t.cancel();
}

}  // namespace

// --- the basics -------------------------------------------------------------------------

TEST_CASE("a sleeping task cancelled by a scheduled callback ends cancelled", "[core][task][cancel]") {
  // test_cancel: loop.call_soon(t.cancel) runs after the task's first step.
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(sleep_then(10s, 12));
    shoal::get_running_loop().call_soon_threadsafe([t]() mutable { t.cancel(); });
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.done());
    CHECK(t.cancelled());
    CHECK_FALSE(t.cancel());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("cancel returns true while the task is cancelling and counts every request", "[core][task][cancel]") {
  // test_cancelling
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(sleep_for(10s));
    CHECK(t.cancelling() == 0);
    CHECK(t.cancel());
    CHECK(t.cancelling() == 1);
    CHECK(t.cancel());
    CHECK(t.cancelling() == 2);
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK_FALSE(t.cancel());  // done: refused and not counted
    CHECK(t.cancelling() == 2);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a task cancelled between two sleep(0) yields ends cancelled", "[core][task][cancel]") {
  // test_cancel_yield
  auto yields = []() -> shoal::Coro<int> {
    co_await shoal::sleep(0ms);
    co_await shoal::sleep(0ms);
    co_return 12;
  };
  auto body = [](shoal::Coro<int> c) -> shoal::Coro<void> {
    auto t = shoal::create_task(std::move(c));
    co_await shoal::sleep(0ms);  // t starts and yields at its first sleep(0)
    REQUIRE_FALSE(t.done());
    CHECK(t.cancel());
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.done());
    CHECK(t.cancelled());
    CHECK_FALSE(t.cancel());
  };
  shoal::test::run(body(yields()), 5s);
}

TEST_CASE("a task cancelled before the loop starts it never runs", "[core][task][cancel]") {
  // test_cancelling and test_cancel_with_message_before_starting_task: the loop is not
  // running when cancel() comes, so the coroutine must never execute a line.
  shoal::test::Watchdog dog(5s);
  Log log;
  auto steps = [](Log* log) -> shoal::Coro<void> {
    log->push_back("started");
    co_await shoal::sleep(10s);
    log->push_back("slept");
  };
  shoal::Loop loop;
  auto t = shoal::create_task(loop, steps(&log));
  CHECK(t.cancel());
  CHECK(t.cancelling() == 1);
  CHECK_THROWS_AS(loop.run_until_complete(t.wait()), shoal::CancelledError);
  CHECK(t.cancelled());
  CHECK(log.empty());
}

TEST_CASE("a task cancelled before it starts reports CancelledError from result and exception", "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(sleep_then(1ms, 1));
    bool callback_saw_cancel = false;
    t.add_done_callback([&callback_saw_cancel](const shoal::Future<int>& f) { callback_saw_cancel = f.cancelled(); });
    t.cancel();
    co_await shoal::sleep(0ms);  // the launch runs and finds the cancellation
    REQUIRE(t.done());
    CHECK(t.cancelled());
    co_await shoal::sleep(0ms);  // the callback was posted to the loop when it ended (call_soon)
    CHECK(callback_saw_cancel);
    CHECK_THROWS_AS(t.result(), shoal::CancelledError);
    CHECK_THROWS_AS(t.exception(), shoal::CancelledError);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("cancelling a finished task returns false and keeps its result", "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(sleep_then(0ms, 4));
    auto t_value = co_await t.wait();
    CHECK(t_value == 4);
    CHECK_FALSE(t.cancel());
    CHECK(t.cancelling() == 0);
    CHECK_FALSE(t.cancelled());
    CHECK(t.result() == 4);
  };
  shoal::test::run(body(), 5s);
}

// --- the future a task awaits -----------------------------------------------------------

TEST_CASE("cancelling the future a task awaits cancels the task", "[core][task][cancel]") {
  // test_cancel_inner_future
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    auto t = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    f.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(f.cancelled());
    CHECK(t.cancelled());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("cancelling both a task and the future it awaits cancels both", "[core][task][cancel]") {
  // test_cancel_both_task_and_inner_future
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    auto t = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    f.cancel();
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.done());
    CHECK(f.cancelled());
    CHECK(t.cancelled());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("cancelling a task cancels the future it is waiting on at once", "[core][task][cancel]") {
  // test_task_cancel_waiter_future
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    auto t = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    REQUIRE_FALSE(t.done());
    t.cancel();
    CHECK(f.cancelled());  // synchronously, as Python's Task.cancel() cancels _fut_waiter
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.cancelled());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a task that catches the cancellation of its await can return a value", "[core][task][cancel]") {
  // test_cancel_task_catching
  auto task = [](shoal::Future<void> fut1, shoal::Future<void> fut2) -> shoal::Coro<int> {
    co_await fut1.wait();
    try {
      co_await fut2.wait();
    } catch (const shoal::CancelledError&) {
      co_return 42;
    }
    co_return 0;
  };
  auto body = [](shoal::Future<void> fut1, shoal::Future<void> fut2, shoal::Coro<int> c) -> shoal::Coro<void> {
    auto t = shoal::create_task(std::move(c));
    co_await shoal::sleep(0ms);  // t waits on fut1
    fut1.set_result();
    co_await shoal::sleep(0ms);  // t waits on fut2
    REQUIRE_FALSE(fut2.done());
    t.cancel();
    CHECK(fut2.cancelled());
    auto t_value = co_await t.wait();
    CHECK(t_value == 42);
    CHECK_FALSE(t.cancelled());
  };
  shoal::Future<void> fut1;
  shoal::Future<void> fut2;
  shoal::test::run(body(fut1, fut2, task(fut1, fut2)), 5s);
}

TEST_CASE("a task that ignores the cancellation of one await goes on to the next", "[core][task][cancel]") {
  // test_cancel_task_ignoring
  auto task = [](shoal::Future<void> fut1, shoal::Future<void> fut2, shoal::Future<int> fut3) -> shoal::Coro<int> {
    co_await fut1.wait();
    try {
      co_await fut2.wait();
    } catch (const shoal::CancelledError&) {
    }
    co_return co_await fut3.wait();
  };
  auto body = [](shoal::Future<void> fut1, shoal::Future<void> fut2, shoal::Future<int> fut3,
                 shoal::Coro<int> c) -> shoal::Coro<void> {
    auto t = shoal::create_task(std::move(c));
    co_await shoal::sleep(0ms);
    fut1.set_result();
    co_await shoal::sleep(0ms);
    t.cancel();
    CHECK(fut2.cancelled());
    co_await shoal::sleep(0ms);  // t moves on to fut3
    CHECK_FALSE(t.done());
    fut3.set_result(42);
    auto t_value = co_await t.wait();
    CHECK(t_value == 42);
    CHECK_FALSE(fut3.cancelled());
    CHECK_FALSE(t.cancelled());
  };
  shoal::Future<void> fut1;
  shoal::Future<void> fut2;
  shoal::Future<int> fut3;
  shoal::test::run(body(fut1, fut2, fut3, task(fut1, fut2, fut3)), 5s);
}

TEST_CASE("cancelling a task propagates through nested coroutines to the future they await", "[core][task][cancel]") {
  // test_yield_future_passes_cancel
  auto inner = [](int* proof, shoal::Future<void> waiter) -> shoal::Coro<void> {
    try {
      co_await waiter.wait();
    } catch (const shoal::CancelledError&) {
      *proof += 1;
      throw;
    }
    *proof += 1000;  // must not get past the await
  };
  auto outer = [](int* proof, shoal::Coro<void> in) -> shoal::Coro<void> {
    bool cancelled = false;
    try {
      co_await std::move(in);
    } catch (const shoal::CancelledError&) {
      cancelled = true;
      *proof += 100;
    }
    if (!cancelled) *proof += 10;
  };
  auto body = [](shoal::Coro<void> c, shoal::Future<void> waiter, int* proof) -> shoal::Coro<void> {
    auto f = shoal::create_task(std::move(c));
    co_await shoal::sleep(0ms);
    f.cancel();
    co_await f.wait();  // outer swallowed the cancellation: f ends normally
    CHECK(*proof == 101);
    CHECK(waiter.cancelled());
    CHECK_FALSE(f.cancelled());
  };
  int proof = 0;
  shoal::Future<void> waiter;
  shoal::test::run(body(outer(&proof, inner(&proof, waiter)), waiter, &proof), 5s);
  CHECK(proof == 101);
}

TEST_CASE("a sleeping task cancelled by another task reports the cancellation to its awaiter", "[core][task][cancel]") {
  // test_task_cancel_sleeping_task
  auto doit = []() -> shoal::Coro<std::string> {
    auto sleeper = shoal::create_task(sleep_for(5000s));
    auto canceller = shoal::create_task(cancel_after(10ms, sleeper));
    try {
      co_await sleeper.wait();
    } catch (const shoal::CancelledError&) {
      co_return "cancelled";
    }
    co_return "slept in";
  };
  auto start = std::chrono::steady_clock::now();
  CHECK(shoal::test::run(doit(), 5s) == "cancelled");
  CHECK(std::chrono::steady_clock::now() - start >= 10ms);
}

TEST_CASE("cancelling a task that awaits a running future abandons the wait and leaves the future alone", "[core][task][cancel]") {
  // A running plain future refuses cancel() (concurrent.futures); the task stops waiting.
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    REQUIRE(f.set_running_or_notify_cancel());
    auto t = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.cancelled());
    CHECK_FALSE(f.done());
    CHECK(f.running());
    f.set_result(1);
    CHECK(f.result() == 1);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("the cancellation of a task awaiting another task waits for that task's cleanup", "[core][task][cancel]") {
  // Python: the outer task's _fut_waiter is the inner task; the outer task resumes only
  // once the inner one has finished cancelling.
  auto inner = [](Log* log) -> shoal::Coro<void> {
    bool cancelled = false;
    try {
      co_await shoal::sleep(10s);
    } catch (const shoal::CancelledError&) {
      cancelled = true;
    }
    if (cancelled) {
      co_await shoal::sleep(5ms);  // cleanup that awaits
      log->push_back("inner cleaned up");
      throw shoal::CancelledError();
    }
  };
  auto outer = [](Log* log, shoal::Task<void> in) -> shoal::Coro<void> {
    try {
      co_await in.wait();
    } catch (const shoal::CancelledError&) {
      log->push_back(in.done() ? "outer after inner done" : "outer before inner done");
      throw;
    }
  };
  auto body = [](Log* log, shoal::Coro<void> in_coro,
                 decltype(outer) mk_outer) -> shoal::Coro<void> {
    auto in = shoal::create_task(std::move(in_coro));
    auto out = shoal::create_task(mk_outer(log, in));
    co_await shoal::sleep(0ms);
    out.cancel();
    CHECK_THROWS_AS(co_await out.wait(), shoal::CancelledError);
    CHECK(in.cancelled());
    CHECK(out.cancelled());
  };
  Log log;
  shoal::test::run(body(&log, inner(&log), outer), 5s);
  CHECK(log == Log{"inner cleaned up", "outer after inner done"});
}

// --- what the coroutine does with the cancellation --------------------------------------

TEST_CASE("an exception thrown while handling the cancellation fails the task instead", "[core][task][cancel]") {
  // test_baseexception_during_cancel
  auto notmuch = []() -> shoal::Coro<void> {
    try {
      co_await sleep_for(10s);
    } catch (const shoal::CancelledError&) {
      throw Boom();
    }
  };
  auto body = [](shoal::Coro<void> c) -> shoal::Coro<void> {
    auto t = shoal::create_task(std::move(c));
    co_await shoal::sleep(0ms);
    t.cancel();
    CHECK_FALSE(t.done());
    CHECK_THROWS_AS(co_await t.wait(), Boom);
    CHECK(t.done());
    CHECK_FALSE(t.cancelled());
    CHECK(t.exception() != nullptr);
  };
  shoal::test::run(body(notmuch()), 5s);
}

TEST_CASE("a task that swallowed one cancellation can be cancelled again", "[core][task][cancel]") {
  auto stubborn = [](Log* log) -> shoal::Coro<void> {
    try {
      co_await shoal::sleep(10s);
    } catch (const shoal::CancelledError&) {
      log->push_back("first swallowed");
    }
    try {
      co_await shoal::sleep(10s);
    } catch (const shoal::CancelledError&) {
      log->push_back("second seen");
      throw;
    }
  };
  auto body = [](shoal::Coro<void> c) -> shoal::Coro<void> {
    auto t = shoal::create_task(std::move(c));
    co_await shoal::sleep(0ms);
    t.cancel();
    co_await shoal::sleep(0ms);
    co_await shoal::sleep(0ms);
    CHECK_FALSE(t.done());  // still running: it swallowed the first one
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.cancelled());
    CHECK(t.cancelling() == 2);
  };
  Log log;
  shoal::test::run(body(stubborn(&log)), 5s);
  CHECK(log == Log{"first swallowed", "second seen"});
}

TEST_CASE("a task that cancels itself gets CancelledError at its next await", "[core][task][cancel]") {
  // test_cancel_current_task
  auto task = [](Self<int>* self, Log* log) -> shoal::Coro<int> {
    self->task->cancel();
    try {
      co_await shoal::sleep(100s);  // must not wait
      log->push_back("slept");
    } catch (const shoal::CancelledError&) {
      log->push_back("CancelledError");
      throw;
    }
    co_return 12;
  };
  auto body = [](Self<int>* self, shoal::Coro<int> c) -> shoal::Coro<void> {
    self->task = shoal::create_task(std::move(c));
    auto& t = *self->task;
    CHECK_FALSE(t.cancelled());
    try {
      co_await t.wait();
    } catch (...) {
    }
    CHECK(t.done());
    CHECK(t.cancelled());
    CHECK_FALSE(t.cancel());
  };
  Self<int> self;
  Log log;
  shoal::test::run(body(&self, task(&self, &log)), 5s);
  CHECK(log == Log{"CancelledError"});
}

TEST_CASE("a task that cancels itself and returns without awaiting ends cancelled", "[core][task][cancel]") {
  // test_cancel_at_end
  auto task = [](Self<int>* self) -> shoal::Coro<int> {
    self->task->cancel();
    co_return 12;
  };
  auto body = [](Self<int>* self, shoal::Coro<int> c) -> shoal::Coro<void> {
    self->task = shoal::create_task(std::move(c));
    auto& t = *self->task;
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.done());
    CHECK(t.cancelled());
    CHECK_FALSE(t.cancel());
  };
  Self<int> self;
  shoal::test::run(body(&self, task(&self)), 5s);
}

TEST_CASE("a task that cancels itself cancels the task it then awaits", "[core][task][cancel]") {
  // test_cancel_awaited_task (bpo-34872)
  auto coro = [](Self<void>* self, std::optional<shoal::Task<void>>* nested,
                 shoal::Future<void> fut) -> shoal::Coro<void> {
    *nested = shoal::create_task(await_void(fut));
    co_await shoal::sleep(0ms);  // let the nested task start
    self->task->cancel();
    shoal::Task<void> n = **nested;
    co_await n.wait();  // must be cancelled at once
  };
  auto body = [](Self<void>* self, std::optional<shoal::Task<void>>* nested, shoal::Future<void> fut,
                 shoal::Coro<void> c) -> shoal::Coro<void> {
    self->task = shoal::create_task(std::move(c));
    CHECK_THROWS_AS(co_await self->task->wait(), shoal::CancelledError);
    // Checked here, before run() shuts the loop down and cancels whatever is left.
    CHECK(self->task->cancelled());
    REQUIRE(*nested);
    CHECK((*nested)->cancelled());
    CHECK(fut.cancelled());
  };
  Self<void> self;
  std::optional<shoal::Task<void>> nested;
  shoal::Future<void> fut;
  shoal::test::run(body(&self, &nested, fut, coro(&self, &nested, fut)), 5s);
  CHECK(fut.cancelled());
}

// --- cancel() from other threads --------------------------------------------------------

TEST_CASE("a task cancelled from another thread through its handle raises CancelledError inside it", "[core][task][cancel][thread]") {
  auto body = [](Log* log) -> shoal::Coro<void> {
    auto t = shoal::create_task(record_cleanup(log));
    co_await shoal::sleep(0ms);
    std::thread th([t]() mutable { t.cancel(); });
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    th.join();
    CHECK(t.cancelled());
  };
  Log log;
  shoal::test::run(body(&log), 5s);
  CHECK(log == Log{"cleanup"});
}

TEST_CASE("cancel called from many threads at once cancels the task once", "[core][task][cancel][thread]") {
  auto body = [](Log* log) -> shoal::Coro<void> {
    const int n = 8;
    auto t = shoal::create_task(record_cleanup(log));
    co_await shoal::sleep(0ms);
    std::latch go(n);
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
      threads.emplace_back([t, &go, &accepted]() mutable {
        go.arrive_and_wait();
        if (t.cancel()) accepted.fetch_add(1);
      });
    // Joined on the loop thread: the posted cancellations can only run afterwards, so
    // every cancel() finds the task pending.
    for (auto& th : threads) th.join();
    CHECK(accepted.load() == n);
    CHECK(t.cancelling() == n);
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.cancelled());
  };
  Log log;
  shoal::test::run(body(&log), 5s);
  CHECK(log == Log{"cleanup"});
}

TEST_CASE("a task cancelled from another thread while its loop runs elsewhere ends cancelled", "[core][task][cancel][thread]") {
  shoal::test::Watchdog dog(5s);
  shoal::Loop loop;
  shoal::Future<void> stop;
  std::thread runner([&] { loop.run_until_complete(stop.wait()); });
  Log log;
  auto t = shoal::create_task(loop, record_cleanup(&log));
  // Wait (blocking, off-loop) until the task is running, then cancel it from here.
  auto started = shoal::run_coroutine_threadsafe(sleep_then(0ms, 0), loop);
  started.result(5s);
  CHECK(t.cancel());
  CHECK_THROWS_AS(t.result(5s), shoal::CancelledError);
  stop.set_result();
  runner.join();
  CHECK(t.cancelled());
  CHECK(log == Log{"cleanup"});
}

TEST_CASE("a task awaiting itself ends cancelled when it is cancelled", "[core][task][cancel]") {
  // test_task_awaits_on_itself: Python raises RuntimeError at the await. shoal cannot tell
  // which task is awaiting, so the wait lasts until a cancellation; forwarding that
  // cancellation to the awaited task (itself) must end the wait, not recurse.
  auto awaits_itself = [](Self<void>* self) -> shoal::Coro<void> { co_await self->task->wait(); };
  auto body = [](Self<void>* self, shoal::Coro<void> c) -> shoal::Coro<void> {
    self->task = shoal::create_task(std::move(c));
    co_await shoal::sleep(1ms);
    REQUIRE_FALSE(self->task->done());
    CHECK(self->task->cancel());
    CHECK_THROWS_AS(co_await self->task->wait(), shoal::CancelledError);
    CHECK(self->task->cancelled());
  };
  Self<void> self;
  shoal::test::run(body(&self, awaits_itself(&self)), 5s);
}
