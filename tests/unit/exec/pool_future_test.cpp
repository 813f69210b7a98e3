// The concurrent.futures face of shoal::Future: states, cancel, result and exception with
// timeouts, done-callbacks, set_running_or_notify_cancel. Ports of CPython's
// test_concurrent_futures/test_future.py, on hand-made futures (util.py's PENDING_FUTURE
// and friends, see exec_helpers.hpp) and on pool futures.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <thread>

#include "exec_helpers.hpp"
#include "support/run.hpp"
#include "support/stderr_capture.hpp"

using namespace std::chrono_literals;
using shoal::Future;
using shoal::ThreadPoolExecutor;
using shoal::test::Boom;
using shoal::test::cancelled_future;
using shoal::test::exception_future;
using shoal::test::Gate;
using shoal::test::pending_future;
using shoal::test::running_future;
using shoal::test::successful_future;
using shoal::test::Watchdog;

namespace {
std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  }
}
}  // namespace

// --- done-callbacks -----------------------------------------------------------------------

TEST_CASE("a done callback sees the result set after it was added", "[exec][future][callback]") {
  int got = 0;
  Future<int> f;
  f.add_done_callback([&got](const Future<int>& done) { got = done.result(); });
  f.set_result(5);
  CHECK(got == 5);
}

TEST_CASE("a done callback sees the exception set after it was added", "[exec][future][callback]") {
  std::exception_ptr got;
  Future<int> f;
  f.add_done_callback([&got](const Future<int>& done) { got = done.exception(); });
  f.set_exception(std::make_exception_ptr(Boom("test")));
  REQUIRE(got);
  CHECK(what_of(got) == "test");
}

TEST_CASE("a done callback sees the cancellation", "[exec][future][callback][cancel]") {
  bool was_cancelled = false;
  Future<int> f;
  f.add_done_callback([&](const Future<int>& done) { was_cancelled = done.cancelled(); });
  CHECK(f.cancel());
  CHECK(was_cancelled);
}

TEST_CASE("a raising done callback is reported and the next callback still runs", "[exec][future][callback]") {
  bool raising_was_called = false;
  bool fn_was_called = false;
  std::string err = shoal::test::capture_stderr([&] {
    Future<int> f;
    f.add_done_callback([&](const Future<int>&) {
      raising_was_called = true;
      throw Boom("doh!");
    });
    f.add_done_callback([&](const Future<int>&) { fn_was_called = true; });
    f.set_result(5);
  });
  CHECK(raising_was_called);
  CHECK(fn_was_called);
  CHECK(err.find("doh!") != std::string::npos);
}

TEST_CASE("a done callback added to a successful future runs at once", "[exec][future][callback]") {
  int got = 0;
  Future<int> f;
  f.set_result(5);
  f.add_done_callback([&got](const Future<int>& done) { got = done.result(); });
  CHECK(got == 5);
}

TEST_CASE("a done callback added to a failed future runs at once", "[exec][future][callback]") {
  std::exception_ptr got;
  Future<int> f;
  f.set_exception(std::make_exception_ptr(Boom("test")));
  f.add_done_callback([&got](const Future<int>& done) { got = done.exception(); });
  REQUIRE(got);
  CHECK(what_of(got) == "test");
}

TEST_CASE("a done callback added to a cancelled future runs at once", "[exec][future][callback][cancel]") {
  bool was_cancelled = false;
  Future<int> f;
  CHECK(f.cancel());
  f.add_done_callback([&](const Future<int>& done) { was_cancelled = done.cancelled(); });
  CHECK(was_cancelled);
}

TEST_CASE("a raising done callback added to a done future is reported", "[exec][future][callback]") {
  std::string err = shoal::test::capture_stderr([] {
    Future<int> f;
    f.set_result(5);
    f.add_done_callback([](const Future<int>&) { throw Boom("doh!"); });
  });
  CHECK(err.find("done-callback") != std::string::npos);
  CHECK(err.find("doh!") != std::string::npos);
}

TEST_CASE("a done callback on a pool future runs once the call finishes", "[exec][future][callback][pool]") {
  // The seed's exit_handle_result: "Got 5" or "Failed <type>".
  Watchdog dog(5s);
  std::string got, failed;
  std::latch both(2);
  {
    ThreadPoolExecutor pool(8);
    auto f1 = pool.submit([](int x, int y) { return x + y; }, 2, 3);
    auto f2 = pool.submit([]() -> int { throw Boom("bad"); });
    f1.add_done_callback([&](const Future<int>& f) {
      got = "Got " + std::to_string(f.result());
      both.count_down();
    });
    f2.add_done_callback([&](const Future<int>& f) {
      try {
        (void)f.result();
      } catch (const Boom&) {
        failed = "Failed Boom";
      }
      both.count_down();
    });
    both.wait();
  }
  CHECK(got == "Got 5");
  CHECK(failed == "Failed Boom");
}

// --- states -------------------------------------------------------------------------------

TEST_CASE("cancel succeeds on a pending future and is refused on a running or finished one", "[exec][future][cancel]") {
  // CPython test_cancel. shoal has no separate CANCELLED and CANCELLED_AND_NOTIFIED.
  auto f1 = pending_future();
  auto f2 = running_future();
  auto f3 = cancelled_future();
  auto f5 = exception_future();
  auto f6 = successful_future();

  CHECK(f1.cancel());
  CHECK(f1.cancelled());
  CHECK_FALSE(f2.cancel());
  CHECK(f2.running());
  // Already cancelled: concurrent.futures returns True, asyncio False (shoal's choice is
  // core's, not checked here); the future stays cancelled either way.
  (void)f3.cancel();
  CHECK(f3.cancelled());
  CHECK_FALSE(f5.cancel());
  CHECK_FALSE(f5.cancelled());
  CHECK_FALSE(f6.cancel());
  CHECK(f6.result() == 42);
}

TEST_CASE("cancelled done and running report each state", "[exec][future]") {
  // CPython test_cancelled, test_done, test_running.
  CHECK_FALSE(pending_future().cancelled());
  CHECK_FALSE(running_future().cancelled());
  CHECK(cancelled_future().cancelled());
  CHECK_FALSE(exception_future().cancelled());
  CHECK_FALSE(successful_future().cancelled());

  CHECK_FALSE(pending_future().done());
  CHECK_FALSE(running_future().done());
  CHECK(cancelled_future().done());
  CHECK(exception_future().done());
  CHECK(successful_future().done());

  CHECK_FALSE(pending_future().running());
  CHECK(running_future().running());
  CHECK_FALSE(cancelled_future().running());
  CHECK_FALSE(exception_future().running());
  CHECK_FALSE(successful_future().running());
}

TEST_CASE("result with a zero timeout raises per state or returns the value", "[exec][future][timeout]") {
  // CPython test_result_with_timeout.
  CHECK_THROWS_AS(pending_future().result(0s), shoal::TimeoutError);
  CHECK_THROWS_AS(running_future().result(0s), shoal::TimeoutError);
  CHECK_THROWS_AS(cancelled_future().result(0s), shoal::CancelledError);
  CHECK_THROWS_AS(exception_future().result(0s), Boom);
  CHECK(successful_future().result(0s) == 42);
}

TEST_CASE("result with a short timeout raises TimeoutError after about that long", "[exec][future][timeout]") {
  auto f = pending_future();
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(f.result(30ms), shoal::TimeoutError);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 30ms);
  CHECK_FALSE(f.done());  // a timeout leaves the future alone
}

TEST_CASE("exception with a zero timeout raises per state or returns the exception", "[exec][future][timeout]") {
  // CPython test_exception_with_timeout.
  CHECK_THROWS_AS(pending_future().exception(0s), shoal::TimeoutError);
  CHECK_THROWS_AS(running_future().exception(0s), shoal::TimeoutError);
  CHECK_THROWS_AS(cancelled_future().exception(0s), shoal::CancelledError);
  auto e = exception_future().exception(0s);
  REQUIRE(e);
  CHECK_THROWS_AS(std::rethrow_exception(e), Boom);
  CHECK(successful_future().exception(0s) == nullptr);
}

TEST_CASE("result waits for a value set by another thread", "[exec][future][thread]") {
  // CPython test_result_with_success, without its sleep: either order is correct.
  Watchdog dog(5s);
  Future<int> f1;
  std::thread t([f1]() mutable { f1.set_result(42); });
  CHECK(f1.result(5s) == 42);
  t.join();
}

TEST_CASE("result raises CancelledError when another thread cancels", "[exec][future][thread][cancel]") {
  // CPython test_result_with_cancel.
  Watchdog dog(5s);
  Future<int> f1;
  std::thread t([f1]() mutable { f1.cancel(); });
  CHECK_THROWS_AS(f1.result(5s), shoal::CancelledError);
  t.join();
}

TEST_CASE("exception waits for an exception set by another thread", "[exec][future][thread]") {
  // CPython test_exception_with_success.
  Watchdog dog(5s);
  Future<int> f1;
  std::thread t([f1]() mutable { f1.set_exception(std::make_exception_ptr(Boom("os"))); });
  auto e = f1.exception(5s);
  t.join();
  REQUIRE(e);
  CHECK(what_of(e) == "os");
}

TEST_CASE("set_result on a finished future raises InvalidStateError and keeps the first result", "[exec][future]") {
  // CPython test_multiple_set_result.
  Future<int> f;
  f.set_result(1);
  CHECK_THROWS_AS(f.set_result(2), shoal::InvalidStateError);
  CHECK(f.done());
  CHECK(f.result() == 1);
}

TEST_CASE("set_exception on a failed future raises InvalidStateError and keeps the first exception", "[exec][future]") {
  // CPython test_multiple_set_exception.
  Future<int> f;
  f.set_exception(std::make_exception_ptr(Boom("first")));
  CHECK_THROWS_AS(f.set_exception(std::make_exception_ptr(Boom("second"))), shoal::InvalidStateError);
  CHECK(what_of(f.exception()) == "first");
}

TEST_CASE("set_running_or_notify_cancel marks a pending future running", "[exec][future]") {
  Future<int> f;
  CHECK(f.set_running_or_notify_cancel());
  CHECK(f.running());
  CHECK_FALSE(f.done());
  CHECK_FALSE(f.cancel());  // running: too late to cancel
  f.set_result(3);
  CHECK_FALSE(f.running());
  CHECK(f.result() == 3);
}

TEST_CASE("set_running_or_notify_cancel returns false for a cancelled future", "[exec][future][cancel]") {
  auto f = cancelled_future();
  CHECK_FALSE(f.set_running_or_notify_cancel());
  CHECK(f.cancelled());
}

TEST_CASE("set_running_or_notify_cancel on a running or finished future raises InvalidStateError", "[exec][future]") {
  // Python raises RuntimeError('Future in unexpected state').
  auto r = running_future();
  CHECK_THROWS_AS(r.set_running_or_notify_cancel(), shoal::InvalidStateError);
  auto s = successful_future();
  CHECK_THROWS_AS(s.set_running_or_notify_cancel(), shoal::InvalidStateError);
}

// --- pool futures -------------------------------------------------------------------------

TEST_CASE("a queued pool future can be cancelled and its call never runs", "[exec][future][pool][cancel]") {
  Watchdog dog(5s);
  std::atomic<bool> ran{false};
  Future<int> queued;
  {
    ThreadPoolExecutor pool(1);
    Gate gate;
    auto blocker = pool.submit([h = gate.handle()] { h.result(); });
    queued = pool.submit([&ran] {
      ran = true;
      return 1;
    });
    CHECK(queued.cancel());
    CHECK(queued.cancelled());
    CHECK_THROWS_AS(queued.result(), shoal::CancelledError);
  }
  CHECK_FALSE(ran);
}

TEST_CASE("a running pool future refuses cancel and completes", "[exec][future][pool][cancel]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(1);
  Gate gate;
  std::latch started(1);
  auto f = pool.submit([&started, h = gate.handle()] {
    started.count_down();
    h.result();
    return 8;
  });
  started.wait();
  CHECK_FALSE(f.cancel());
  CHECK(f.running());
  gate.open();
  CHECK(f.result() == 8);
}

TEST_CASE("a pool future completed by hand before its call runs is left alone", "[exec][future][pool]") {
  // Python's worker finds such a future in an unexpected state and logs it; shoal's pool
  // skips the call. Either way the future keeps the value that was set.
  Watchdog dog(5s);
  std::atomic<bool> ran{false};
  ThreadPoolExecutor pool(1);
  Gate gate;
  auto blocker = pool.submit([h = gate.handle()] { h.result(); });
  auto f = pool.submit([&ran] {
    ran = true;
    return 1;
  });
  f.set_result(99);
  gate.open();
  pool.shutdown(true);
  CHECK_FALSE(ran);
  CHECK(f.result() == 99);
}
