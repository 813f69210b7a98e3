#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "support/run.hpp"
#include "support/stderr_capture.hpp"

using namespace std::chrono_literals;

namespace {

shoal::Coro<int> answer() { co_return 42; }

shoal::Coro<int> sleep_then(std::chrono::milliseconds d, int v) {
  co_await shoal::sleep(d);
  co_return v;
}

shoal::Coro<void> record_cleanup(std::vector<std::string>* log) {
  try {
    co_await shoal::sleep(10s);
    log->push_back("woke");
  } catch (const shoal::CancelledError&) {
    log->push_back("cleanup");
    throw;
  }
}

shoal::Coro<int> swallow_cancel() {
  try {
    co_await shoal::sleep(10s);
  } catch (const shoal::CancelledError&) {
    co_return 7;
  }
  co_return 0;
}

}  // namespace

TEST_CASE("run returns the coroutine's value", "[core][task]") {
  CHECK(shoal::test::run(answer()) == 42);
}

TEST_CASE("create_task starts the coroutine without being awaited", "[core][task]") {
  static bool ran;
  ran = false;
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task([]() -> shoal::Coro<void> {
      ran = true;
      co_return;
    }());
    CHECK_FALSE(ran);  // scheduled, not run inside create_task
    co_await shoal::sleep(0ms);
    CHECK(ran);
    CHECK(t.done());
  };
  shoal::test::run(body());
}

TEST_CASE("cancel raises CancelledError at the next await and runs the cleanup", "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<std::string> log;
    auto t = shoal::create_task(record_cleanup(&log));
    co_await shoal::sleep(0ms);
    CHECK(t.cancel());
    CHECK_FALSE(t.done());
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.cancelled());
    CHECK(log == std::vector<std::string>{"cleanup"});
    CHECK_FALSE(t.cancel());  // already done
  };
  shoal::test::run(body());
}

TEST_CASE("a task that swallows the cancellation and returns a value is not cancelled", "[core][task][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(swallow_cancel());
    co_await shoal::sleep(0ms);
    t.cancel();
    auto t_value = co_await t.wait();
    CHECK(t_value == 7);
    CHECK_FALSE(t.cancelled());
    CHECK(t.result() == 7);
  };
  shoal::test::run(body());
}

TEST_CASE("a task cancelled before it starts never runs", "[core][task][cancel]") {
  static bool ran;
  ran = false;
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task([]() -> shoal::Coro<int> {
      ran = true;
      co_return 1;
    }());
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.cancelled());
    CHECK_FALSE(ran);
  };
  shoal::test::run(body());
}

TEST_CASE("cancelling a task cancels the task it awaits", "[core][task][cancel]") {
  auto outer = [](shoal::Task<int> inner) -> shoal::Coro<int> { co_return co_await inner.wait(); };
  auto body = [](decltype(outer) mk) -> shoal::Coro<void> {
    auto inner = shoal::create_task(sleep_then(10s, 1));
    auto t = shoal::create_task(mk(inner));
    co_await shoal::sleep(0ms);
    co_await shoal::sleep(0ms);
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(inner.cancelled());
  };
  shoal::test::run(body(outer));
}

TEST_CASE("result of a pending task on the loop thread is an InvalidStateError", "[core][task]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(sleep_then(1ms, 3));
    CHECK_THROWS_AS(t.result(), shoal::InvalidStateError);
    auto t_value = co_await t.wait();
    CHECK(t_value == 3);
  };
  shoal::test::run(body());
}

TEST_CASE("an exception in a task propagates to its awaiter", "[core][task]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task([]() -> shoal::Coro<int> {
      throw std::runtime_error("boom");
      co_return 0;
    }());
    CHECK_THROWS_WITH(co_await t.wait(), "boom");
    CHECK(t.done());
    CHECK_FALSE(t.cancelled());
    CHECK(t.exception() != nullptr);
  };
  shoal::test::run(body());
}

TEST_CASE("run cancels tasks left running when main returns", "[core][loop]") {
  static std::vector<std::string> log;
  log.clear();
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(record_cleanup(&log));
    co_await shoal::sleep(0ms);
  };
  shoal::test::run(body());
  CHECK(log == std::vector<std::string>{"cleanup"});
}

// --- more of CPython's test_tasks.py ----------------------------------------------------

namespace {

struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

shoal::Coro<int> inner1() { co_return 42; }
shoal::Coro<int> inner2() { co_return 1000; }
shoal::Coro<int> outer_sum() {
  int a = co_await inner1();
  int b = co_await inner2();
  co_return a + b;
}

shoal::Coro<int> fail_now() {
  throw Boom();
  co_return 0;
}

shoal::Coro<int> await_int(shoal::Future<int> f) { co_return co_await f.wait(); }

shoal::Coro<void> append(std::vector<int>* order, int v) {
  order->push_back(v);
  co_return;
}

template <typename F>
concept can_set_result = requires(F f) { f.set_result(1); };
template <typename F>
concept can_set_exception = requires(F f) { f.set_exception(std::exception_ptr()); };

}  // namespace

TEST_CASE("a coroutine can await nested coroutines and combine their results", "[core][task]") {
  // test_task_basics
  CHECK(shoal::test::run(outer_sum()) == 1042);
}

TEST_CASE("a Task is a Future and can be awaited and read through its base", "[core][task]") {
  // test_task_class, GenericTaskTests.test_future_subclass
  static_assert(std::is_base_of_v<shoal::Future<int>, shoal::Task<int>>);
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f = shoal::create_task(answer());
    auto f_value = co_await f.wait();
    CHECK(f_value == 42);
    CHECK(f.done());
    CHECK(f.result() == 42);
  };
  shoal::test::run(body());
}

TEST_CASE("a task's result cannot be set from outside", "[core][task]") {
  // test_task_set_methods: Python raises RuntimeError; shoal deletes the methods.
  static_assert(!can_set_result<shoal::Task<int>>);
  static_assert(!can_set_exception<shoal::Task<int>>);
  static_assert(can_set_result<shoal::Future<int>>);
  static_assert(can_set_exception<shoal::Future<int>>);
  CHECK(shoal::test::run(answer()) == 42);
}

TEST_CASE("create_task without a running loop is an InvalidStateError", "[core][task]") {
  // test_ensure_future_coroutine / test_bare_create_task outside a loop
  CHECK_THROWS_AS(shoal::create_task(answer()), shoal::InvalidStateError);
  CHECK_THROWS_AS(shoal::get_running_loop(), shoal::InvalidStateError);
}

TEST_CASE("tasks start in the order they were created", "[core][task]") {
  auto body = [](std::vector<int>* order) -> shoal::Coro<void> {
    auto a = shoal::create_task(append(order, 1));
    auto b = shoal::create_task(append(order, 2));
    auto c = shoal::create_task(append(order, 3));
    co_await c.wait();
    co_await a.wait();
    co_await b.wait();
  };
  std::vector<int> order;
  shoal::test::run(body(&order));
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("awaiting a finished task returns its result again", "[core][task]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(answer());
    auto t_value = co_await t.wait();
    CHECK(t_value == 42);
    auto t_value2 = co_await t.wait();
    CHECK(t_value2 == 42);
    CHECK(t.result() == 42);
    CHECK(t.result(0s) == 42);
  };
  shoal::test::run(body());
}

TEST_CASE("a task can be awaited by several coroutines at once", "[core][task]") {
  auto waiter = [](shoal::Task<int> t) -> shoal::Coro<int> { co_return co_await t.wait() + 1; };
  auto body = [](decltype(waiter) mk) -> shoal::Coro<void> {
    auto t = shoal::create_task(sleep_then(2ms, 10));
    auto a = shoal::create_task(mk(t));
    auto b = shoal::create_task(mk(t));
    auto a_value = co_await a.wait();
    CHECK(a_value == 11);
    auto b_value = co_await b.wait();
    CHECK(b_value == 11);
  };
  shoal::test::run(body(waiter));
}

TEST_CASE("a failed task's exception is readable without awaiting it", "[core][task]") {
  // test_exception_traceback
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(fail_now());
    co_await shoal::sleep(0ms);  // skip one loop iteration
    REQUIRE(t.done());
    auto e = t.exception();
    REQUIRE(e != nullptr);
    CHECK_THROWS_AS(std::rethrow_exception(e), Boom);
    CHECK_THROWS_AS(t.result(), Boom);
    CHECK_FALSE(t.cancelled());
  };
  shoal::test::run(body());
}

TEST_CASE("exception is null for a task that succeeded", "[core][task]") {
  auto body = []() -> shoal::Coro<void> {
    auto t = shoal::create_task(answer());
    co_await t.wait();
    CHECK(t.exception() == nullptr);
    CHECK(t.exception(0s) == nullptr);
  };
  shoal::test::run(body());
}

TEST_CASE("a task awaiting a future resumes with that future's value", "[core][task][future]") {
  // test_step_result_future
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    auto t = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    CHECK_FALSE(t.done());
    f.set_result(77);
    co_await shoal::sleep(0ms);
    CHECK(t.done());
    CHECK(t.result() == 77);
  };
  shoal::test::run(body());
}

TEST_CASE("a task whose coroutine returns a future has that future as its value", "[core][task][future]") {
  // test_coroutine_non_gen_function_return_future: the future is a value, not awaited.
  auto func = [](shoal::Future<std::string> f) -> shoal::Coro<shoal::Future<std::string>> { co_return f; };
  auto set = [](shoal::Future<std::string> f) -> shoal::Coro<void> {
    f.set_result("test");
    co_return;
  };
  auto body = [](decltype(func) mk_func, decltype(set) mk_set) -> shoal::Coro<void> {
    shoal::Future<std::string> fut;
    auto t1 = shoal::create_task(mk_func(fut));
    auto t2 = shoal::create_task(mk_set(fut));
    auto res = co_await t1.wait();
    CHECK(res == fut);
    co_await t2.wait();
    CHECK(res.result() == "test");
  };
  shoal::test::run(body(func, set));
}

TEST_CASE("a task's done callbacks run in registration order when it finishes", "[core][task][callback]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<std::string> log;
    auto t = shoal::create_task(sleep_then(1ms, 5));
    t.add_done_callback([&log](const shoal::Future<int>& f) { log.push_back("first " + std::to_string(f.result())); });
    t.add_done_callback([&log](const shoal::Future<int>&) { log.push_back("second"); });
    CHECK(log.empty());
    co_await t.wait();
    CHECK(log == std::vector<std::string>{"first 5", "second"});
    t.add_done_callback([&log](const shoal::Future<int>&) { log.push_back("late"); });
    // Already done: scheduled on the loop (Python's call_soon), not run inside the call.
    CHECK(log.back() == "second");
    co_await shoal::sleep(0ms);
    CHECK(log.back() == "late");
  };
  shoal::test::run(body());
}

TEST_CASE("an exception thrown by a task's done callback is reported and changes nothing", "[core][task][callback]") {
  std::string err = shoal::test::capture_stderr([] {
    auto body = []() -> shoal::Coro<void> {
      auto t = shoal::create_task(answer());
      bool later_ran = false;
      t.add_done_callback([](const shoal::Future<int>&) { throw std::runtime_error("bad callback"); });
      t.add_done_callback([&later_ran](const shoal::Future<int>&) { later_ran = true; });
      auto t_value = co_await t.wait();
      CHECK(t_value == 42);
      CHECK(later_ran);
      CHECK_FALSE(t.cancelled());
    };
    shoal::test::run(body());
  });
  CHECK(err.find("bad callback") != std::string::npos);
}

TEST_CASE("a task's failure nobody retrieved is reported when the task is forgotten", "[core][task][report]") {
  // BaseEventLoop logs "Task exception was never retrieved"
  std::string err = shoal::test::capture_stderr([] {
    auto body = []() -> shoal::Coro<void> {
      {
        auto t = shoal::create_task(fail_now());
      }
      co_await shoal::sleep(0ms);
      co_await shoal::sleep(0ms);
    };
    shoal::test::run(body());
  });
  CHECK(err.find("never retrieved") != std::string::npos);
  CHECK(err.find("boom") != std::string::npos);
}

TEST_CASE("a pending task handle can be destroyed and the task still completes", "[core][task]") {
  auto body = [](shoal::Future<int> out) -> shoal::Coro<void> {
    {
      auto t = shoal::create_task(sleep_then(1ms, 8));
      t.add_done_callback([out](const shoal::Future<int>& f) mutable { out.set_result(f.result()); });
    }  // the handle goes; the loop keeps the task
    auto out_value = co_await out.wait();
    CHECK(out_value == 8);
  };
  shoal::Future<int> out;
  shoal::test::run(body(out));
  CHECK(out.result() == 8);
}

TEST_CASE("a void task finishes with no value", "[core][task]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<int> order;
    auto t = shoal::create_task(append(&order, 4));
    co_await t.wait();
    CHECK(t.done());
    CHECK(order == std::vector<int>{4});
    t.result();  // void: returns, does not throw
    CHECK(t.exception() == nullptr);
  };
  shoal::test::run(body());
}
