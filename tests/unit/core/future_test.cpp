// Future<T> and Promise<T> on one thread: the cases of CPython's
// Lib/test/test_asyncio/test_futures.py (and the single-threaded ones of
// concurrent.futures' Future tests) that apply to shoal. Cross-thread cases live in
// future_thread_test.cpp.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/run.hpp"
#include "support/stderr_capture.hpp"

using namespace std::chrono_literals;

namespace {

struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

std::exception_ptr boom() { return std::make_exception_ptr(Boom()); }

shoal::Coro<int> await_int(shoal::Future<int> f) { co_return co_await f.wait(); }

shoal::Coro<std::vector<int>> await_twice(shoal::Future<int> f) {
  std::vector<int> got;
  got.push_back(co_await f.wait());
  got.push_back(co_await f.wait());
  co_return got;
}

shoal::Coro<void> await_void(shoal::Future<void> f) { co_await f.wait(); }

}  // namespace

// --- state ------------------------------------------------------------------------------

TEST_CASE("a new future is pending until cancel makes it cancelled", "[core][future]") {
  // test_initial_state
  shoal::Future<int> f;
  CHECK_FALSE(f.done());
  CHECK_FALSE(f.cancelled());
  CHECK_FALSE(f.running());
  CHECK(f.cancel());
  CHECK(f.cancelled());
  CHECK(f.done());
}

TEST_CASE("a future needs no event loop to be created set and read", "[core][future]") {
  // test_constructor_without_loop: Python binds a future to a loop and refuses without
  // one; a shoal future belongs to no loop (it is concurrent.futures' Future as well).
  shoal::Future<std::string> f;
  f.set_result("ok");
  CHECK(f.done());
  CHECK(f.result() == "ok");
  CHECK(f.exception() == nullptr);
}

TEST_CASE("a cancelled future reports CancelledError and refuses to be set", "[core][future][cancel]") {
  // test_cancel
  shoal::Future<int> f;
  REQUIRE(f.cancel());
  CHECK(f.cancelled());
  CHECK(f.done());
  CHECK_THROWS_AS(f.result(), shoal::CancelledError);
  CHECK_THROWS_AS(f.exception(), shoal::CancelledError);
  CHECK_THROWS_AS(f.set_result(1), shoal::InvalidStateError);
  CHECK_THROWS_AS(f.set_exception(boom()), shoal::InvalidStateError);
  CHECK_FALSE(f.cancel());
  CHECK(f.cancelled());
}

TEST_CASE("set_result completes the future once and for all", "[core][future]") {
  // test_result
  shoal::Future<int> f;
  f.set_result(42);
  CHECK_FALSE(f.cancelled());
  CHECK(f.done());
  CHECK(f.result() == 42);
  CHECK(f.exception() == nullptr);
  CHECK_THROWS_AS(f.set_result(7), shoal::InvalidStateError);
  CHECK_THROWS_AS(f.set_exception(boom()), shoal::InvalidStateError);
  CHECK_FALSE(f.cancel());
  CHECK(f.result() == 42);
}

TEST_CASE("set_exception fails the future and result rethrows the same exception", "[core][future]") {
  // test_exception
  shoal::Future<int> f;
  auto e = boom();
  f.set_exception(e);
  CHECK_FALSE(f.cancelled());
  CHECK(f.done());
  CHECK_THROWS_AS(f.result(), Boom);
  CHECK(f.exception() == e);
  CHECK_THROWS_AS(f.set_result(1), shoal::InvalidStateError);
  CHECK_THROWS_AS(f.set_exception(boom()), shoal::InvalidStateError);
  CHECK_FALSE(f.cancel());
}

TEST_CASE("set_exception with a null exception_ptr is a ValueError and leaves the future pending", "[core][future]") {
  // test_exception_class: Python instantiates an exception class; C++ has no such thing,
  // the nearest misuse is an empty exception_ptr.
  shoal::Future<int> f;
  CHECK_THROWS_AS(f.set_exception(nullptr), shoal::ValueError);
  CHECK_FALSE(f.done());
  f.set_result(1);
  CHECK(f.result() == 1);
}

TEST_CASE("result and exception of a pending future on a loop thread are InvalidStateError", "[core][future]") {
  // test_result and test_exception, first lines
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    CHECK_THROWS_AS(f.result(), shoal::InvalidStateError);
    CHECK_THROWS_AS(f.exception(), shoal::InvalidStateError);
    CHECK_THROWS_AS(f.result(1s), shoal::InvalidStateError);
    CHECK_FALSE(f.done());
    co_return;
  };
  shoal::test::run(body());
}

TEST_CASE("copies of a future share one state", "[core][future]") {
  shoal::Future<int> f;
  shoal::Future<int> g = f;
  shoal::Future<int> other;
  CHECK(f == g);
  CHECK_FALSE(f == other);
  g.set_result(3);
  CHECK(f.done());
  CHECK(f.result() == 3);
  CHECK_FALSE(other.done());
}

// --- awaiting ---------------------------------------------------------------------------

TEST_CASE("awaiting a future twice gives the same result both times", "[core][future]") {
  // test_yield_from_twice
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    auto t = shoal::create_task(await_twice(f));
    co_await shoal::sleep(0ms);
    CHECK_FALSE(t.done());  // suspended on the first await
    f.set_result(42);
    std::vector<int> got = co_await t.wait();
    CHECK(got == std::vector<int>{42, 42});
  };
  shoal::test::run(body());
}

TEST_CASE("every coroutine awaiting one future gets its result", "[core][future]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    auto a = shoal::create_task(await_int(f));
    auto b = shoal::create_task(await_int(f));
    auto c = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    f.set_result(9);
    auto a_value = co_await a.wait();
    CHECK(a_value == 9);
    auto b_value = co_await b.wait();
    CHECK(b_value == 9);
    auto c_value = co_await c.wait();
    CHECK(c_value == 9);
  };
  shoal::test::run(body());
}

TEST_CASE("every coroutine awaiting a failed future gets its exception", "[core][future]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    auto a = shoal::create_task(await_int(f));
    auto b = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    f.set_exception(boom());
    CHECK_THROWS_AS(co_await a.wait(), Boom);
    CHECK_THROWS_AS(co_await b.wait(), Boom);
    CHECK_FALSE(a.cancelled());
    CHECK_THROWS_AS(f.result(), Boom);
  };
  shoal::test::run(body());
}

TEST_CASE("awaiting a future that is already done returns its result at once", "[core][future]") {
  // test_shield_shortcut / test_ensure_future_future: a done future needs no suspension
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    f.set_result(5);
    auto f_value = co_await f.wait();
    CHECK(f_value == 5);
    shoal::Future<int> g;
    g.cancel();
    CHECK_THROWS_AS(co_await g.wait(), shoal::CancelledError);
  };
  shoal::test::run(body());
}

TEST_CASE("a void future completes its awaiters", "[core][future]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<void> f;
    auto t = shoal::create_task(await_void(f));
    co_await shoal::sleep(0ms);
    CHECK_FALSE(t.done());
    f.set_result();
    co_await t.wait();
    CHECK(t.done());
    CHECK_FALSE(t.cancelled());
    CHECK(t.exception() == nullptr);
  };
  shoal::test::run(body());
}

TEST_CASE("a move-only result is moved out to the coroutine awaiting it", "[core][future]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<std::unique_ptr<int>> f;
    f.set_result(std::make_unique<int>(5));
    std::unique_ptr<int> p = co_await f.wait();
    REQUIRE(p);
    CHECK(*p == 5);
  };
  shoal::test::run(body());
}

// --- done callbacks ---------------------------------------------------------------------

TEST_CASE("done callbacks run in registration order when the result is set", "[core][future][callback]") {
  // test_callbacks_invoked_on_set_result. Python schedules them with call_soon; shoal runs
  // them on the completing thread, inside set_result (future.hpp says so).
  std::vector<int> bag;
  shoal::Future<std::string> f;
  f.add_done_callback([&bag](const shoal::Future<std::string>&) { bag.push_back(42); });
  f.add_done_callback([&bag](const shoal::Future<std::string>&) { bag.push_back(17); });
  CHECK(bag.empty());
  f.set_result("foo");
  CHECK(bag == std::vector<int>{42, 17});
  CHECK(f.result() == "foo");
}

TEST_CASE("done callbacks run when the future fails", "[core][future][callback]") {
  // test_callbacks_invoked_on_set_exception
  std::vector<int> bag;
  shoal::Future<int> f;
  f.add_done_callback([&bag](const shoal::Future<int>&) { bag.push_back(100); });
  CHECK(bag.empty());
  auto e = boom();
  f.set_exception(e);
  CHECK(bag == std::vector<int>{100});
  CHECK(f.exception() == e);
}

TEST_CASE("done callbacks run when the future is cancelled", "[core][future][callback]") {
  // concurrent.futures test_done_callback_with_cancel
  bool was_cancelled = false;
  shoal::Future<int> f;
  f.add_done_callback([&](const shoal::Future<int>& g) { was_cancelled = g.cancelled(); });
  CHECK(f.cancel());
  CHECK(was_cancelled);
}

TEST_CASE("a done callback added to a finished future runs at once", "[core][future][callback]") {
  // concurrent.futures test_done_callback_already_successful / _failed / _cancelled
  int ran = 0;
  shoal::Future<int> ok;
  ok.set_result(5);
  int seen = 0;
  ok.add_done_callback([&](const shoal::Future<int>& g) {
    ++ran;
    seen = g.result();
  });
  CHECK(ran == 1);
  CHECK(seen == 5);

  shoal::Future<int> failed;
  failed.set_exception(boom());
  bool had_exception = false;
  failed.add_done_callback([&](const shoal::Future<int>& g) {
    ++ran;
    had_exception = g.exception() != nullptr;
  });
  CHECK(ran == 2);
  CHECK(had_exception);

  shoal::Future<int> cancelled;
  cancelled.cancel();
  bool saw_cancel = false;
  cancelled.add_done_callback([&](const shoal::Future<int>& g) {
    ++ran;
    saw_cancel = g.cancelled();
  });
  CHECK(ran == 3);
  CHECK(saw_cancel);
}

TEST_CASE("a done callback receives a future sharing the completed state", "[core][future][callback]") {
  shoal::Future<int> f;
  bool same = false;
  int value = 0;
  f.add_done_callback([&, f](const shoal::Future<int>& g) {
    same = (g == f);
    value = g.result();
  });
  f.set_result(11);
  CHECK(same);
  CHECK(value == 11);
}

TEST_CASE("an exception thrown by a done callback is reported and the later callbacks still run", "[core][future][callback]") {
  // concurrent.futures test_done_callback_raises; test_futures logs through the loop.
  std::vector<int> bag;
  shoal::Future<int> f;
  f.add_done_callback([&bag](const shoal::Future<int>&) { bag.push_back(1); });
  f.add_done_callback([](const shoal::Future<int>&) { throw std::runtime_error("callback failed"); });
  f.add_done_callback([&bag](const shoal::Future<int>&) { bag.push_back(3); });
  std::string err = shoal::test::capture_stderr([&] { f.set_result(5); });
  CHECK(bag == std::vector<int>{1, 3});
  CHECK(err.find("done-callback") != std::string::npos);
  CHECK(err.find("callback failed") != std::string::npos);
  CHECK(f.result() == 5);
}

TEST_CASE("a done callback may add another callback to the future that just completed", "[core][future][callback]") {
  std::vector<std::string> log;
  shoal::Future<int> f;
  f.add_done_callback([&log](shoal::Future<int> g) {
    log.push_back("outer");
    g.add_done_callback([&log](const shoal::Future<int>&) { log.push_back("inner"); });
    log.push_back("outer end");
  });
  f.set_result(1);
  CHECK(log == std::vector<std::string>{"outer", "inner", "outer end"});
}

TEST_CASE("a done callback may complete another future that has callbacks of its own", "[core][future][callback]") {
  shoal::Future<int> first;
  shoal::Future<int> second;
  int seen = 0;
  second.add_done_callback([&seen](const shoal::Future<int>& g) { seen = g.result(); });
  first.add_done_callback([second](const shoal::Future<int>& g) mutable { second.set_result(g.result() * 2); });
  first.set_result(21);
  CHECK(seen == 42);
}

// --- lost failures ----------------------------------------------------------------------

TEST_CASE("a failure nobody retrieved is reported when the future is destroyed", "[core][future][report]") {
  // test_tb_logger_exception_unretrieved, test_future_exception_never_retrieved
  std::string err = shoal::test::capture_stderr([] {
    shoal::Future<int> f;
    f.set_exception(boom());
  });
  CHECK(err.find("never retrieved") != std::string::npos);
  CHECK(err.find("boom") != std::string::npos);
}

TEST_CASE("a failure retrieved by exception or result or an awaiter is not reported", "[core][future][report]") {
  // test_tb_logger_exception_retrieved, test_tb_logger_exception_result_retrieved
  std::string err = shoal::test::capture_stderr([] {
    shoal::Future<int> a;
    a.set_exception(boom());
    (void)a.exception();
    shoal::Future<int> b;
    b.set_exception(boom());
    try {
      (void)b.result();
    } catch (const Boom&) {
    }
    shoal::Future<int> c;
    c.set_exception(boom());
    auto body = [](shoal::Future<int> f) -> shoal::Coro<void> {
      try {
        co_await f.wait();
      } catch (const Boom&) {
      }
    };
    shoal::test::run(body(c));
  });
  CHECK(err.empty());
}

TEST_CASE("a successful or abandoned or cancelled future is never reported", "[core][future][report]") {
  // test_tb_logger_abandoned, test_tb_logger_result_unretrieved, _result_retrieved
  std::string err = shoal::test::capture_stderr([] {
    shoal::Future<int> pending;
    shoal::Future<int> ok;
    ok.set_result(42);
    shoal::Future<int> read;
    read.set_result(42);
    (void)read.result();
    shoal::Future<int> cancelled;
    cancelled.cancel();
  });
  CHECK(err.empty());
}

// --- set_running_or_notify_cancel (concurrent.futures) ----------------------------------

TEST_CASE("a running future can no longer be cancelled", "[core][future][cancel]") {
  // concurrent.futures test_running, test_cancel (RUNNING_FUTURE)
  shoal::Future<int> f;
  CHECK(f.set_running_or_notify_cancel());
  CHECK(f.running());
  CHECK_FALSE(f.done());
  CHECK_FALSE(f.cancel());
  CHECK_FALSE(f.cancelled());
  f.set_result(1);
  CHECK_FALSE(f.running());
  CHECK(f.done());
  CHECK(f.result() == 1);
}

TEST_CASE("set_running_or_notify_cancel of a cancelled future returns false", "[core][future][cancel]") {
  shoal::Future<int> f;
  f.cancel();
  CHECK_FALSE(f.set_running_or_notify_cancel());
  CHECK(f.cancelled());
}

TEST_CASE("set_running_or_notify_cancel twice or after completion is an InvalidStateError", "[core][future]") {
  shoal::Future<int> running;
  REQUIRE(running.set_running_or_notify_cancel());
  CHECK_THROWS_AS(running.set_running_or_notify_cancel(), shoal::InvalidStateError);
  running.set_result(0);
  shoal::Future<int> finished;
  finished.set_result(0);
  CHECK_THROWS_AS(finished.set_running_or_notify_cancel(), shoal::InvalidStateError);
}

TEST_CASE("a blocking result with a timeout on a finished future returns at once", "[core][future]") {
  // concurrent.futures test_result_with_timeout (finished futures)
  shoal::Future<int> ok;
  ok.set_result(42);
  CHECK(ok.result(0s) == 42);
  CHECK(ok.exception(0s) == nullptr);
  shoal::Future<int> failed;
  failed.set_exception(boom());
  CHECK_THROWS_AS(failed.result(0s), Boom);
  CHECK(failed.exception(0s) != nullptr);
  shoal::Future<int> cancelled;
  cancelled.cancel();
  CHECK_THROWS_AS(cancelled.result(0s), shoal::CancelledError);
  CHECK_THROWS_AS(cancelled.exception(0s), shoal::CancelledError);
}

TEST_CASE("a blocking result with a timeout on a pending future throws TimeoutError", "[core][future]") {
  // concurrent.futures test_result_with_timeout / test_exception_with_timeout (pending)
  shoal::Future<int> f;
  CHECK_THROWS_AS(f.result(0s), shoal::TimeoutError);
  CHECK_THROWS_AS(f.result(5ms), shoal::TimeoutError);
  CHECK_THROWS_AS(f.exception(5ms), shoal::TimeoutError);
  CHECK_FALSE(f.done());
  f.set_result(3);  // still usable after the timeouts
  CHECK(f.result(0s) == 3);
}

// --- Promise ----------------------------------------------------------------------------

TEST_CASE("a promise completes its future", "[core][promise]") {
  shoal::Promise<int> p;
  auto f = p.get_future();
  CHECK_FALSE(f.done());
  p.set_result(5);
  CHECK(f.result() == 5);
  CHECK_THROWS_AS(p.set_result(6), shoal::InvalidStateError);
  CHECK(p.get_future() == f);
}

TEST_CASE("destroying an unset promise fails its future with BrokenPromise", "[core][promise]") {
  shoal::Future<int> f;
  {
    shoal::Promise<int> p;
    f = p.get_future();
  }
  REQUIRE(f.done());
  CHECK_FALSE(f.cancelled());
  CHECK_THROWS_AS(f.result(), shoal::BrokenPromise);
  try {
    (void)f.result();
  } catch (const shoal::BrokenPromise& e) {
    CHECK(e.kind() == shoal::ErrorKind::failed);
  }
}

TEST_CASE("a coroutine awaiting an abandoned promise wakes with BrokenPromise", "[core][promise]") {
  auto body = []() -> shoal::Coro<void> {
    auto p = std::make_unique<shoal::Promise<int>>();
    auto t = shoal::create_task(await_int(p->get_future()));
    co_await shoal::sleep(0ms);
    CHECK_FALSE(t.done());
    p.reset();
    CHECK_THROWS_AS(co_await t.wait(), shoal::BrokenPromise);
  };
  shoal::test::run(body());
}

TEST_CASE("destroying a promise that was set or cancelled changes nothing", "[core][promise]") {
  shoal::Future<int> set;
  shoal::Future<int> cancelled;
  {
    shoal::Promise<int> p;
    set = p.get_future();
    p.set_result(8);
    shoal::Promise<int> q;
    cancelled = q.get_future();
    cancelled.cancel();
    CHECK(q.cancelled());
    CHECK_FALSE(q.set_running_or_notify_cancel());
  }
  CHECK(set.result() == 8);
  CHECK(cancelled.cancelled());
}

TEST_CASE("moving a promise keeps its future alive", "[core][promise]") {
  shoal::Promise<int> p;
  auto f = p.get_future();
  shoal::Promise<int> q(std::move(p));
  shoal::Promise<int> r;
  auto r_old = r.get_future();
  r = std::move(q);  // r's old future is abandoned
  CHECK_FALSE(f.done());
  CHECK_THROWS_AS(r_old.result(), shoal::BrokenPromise);
  r.set_result(4);
  CHECK(f.result() == 4);
}

TEST_CASE("set_current_exception stores the exception being handled", "[core][promise]") {
  shoal::Promise<int> p;
  auto f = p.get_future();
  try {
    throw Boom();
  } catch (...) {
    p.set_current_exception();
  }
  CHECK_THROWS_AS(f.result(), Boom);
}

TEST_CASE("cancelling a failed future counts as retrieving its failure", "[core][future][report]") {
  // Python: Future.cancel() on a done future clears __log_traceback.
  std::string err = shoal::test::capture_stderr([] {
    shoal::Future<int> f;
    f.set_exception(boom());
    CHECK_FALSE(f.cancel());
  });
  CHECK(err.find("never retrieved") == std::string::npos);
}

TEST_CASE("result() of a temporary future is a copy that outlives it, of a named one a reference into it",
          "[core][future]") {
  auto make = [] {
    shoal::Future<std::vector<std::string>> f;
    f.set_result(std::vector<std::string>{"a", "b", "c"});
    return f;
  };
  // A range-for over a temporary's result: the future dies before the loop body runs.
  std::string joined;
  for (const auto& s : make().result()) joined += s;
  CHECK(joined == "abc");
  static_assert(std::is_same_v<decltype(make().result()), std::vector<std::string>>);
  auto named = make();
  static_assert(std::is_same_v<decltype(named.result()), const std::vector<std::string>&>);
  CHECK(&named.result() == &named.result());
  static_assert(std::is_void_v<decltype(shoal::Future<void>().result())>);
}

TEST_CASE("result() of a temporary future with a move-only value is still a reference", "[core][future]") {
  auto make = [] {
    shoal::Future<std::unique_ptr<int>> f;
    f.set_result(std::make_unique<int>(7));
    return f;
  };
  static_assert(std::is_same_v<decltype(make().result()), const std::unique_ptr<int>&>);
  auto f = make();
  CHECK(*f.result() == 7);
}
