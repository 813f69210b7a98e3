// Blocking shoal::wait() and shoal::as_completed() over pool futures: Python's
// concurrent.futures.wait and as_completed. Ports of CPython's
// test_concurrent_futures/test_wait.py and test_as_completed.py, plus the same calls from
// a coroutine.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "exec_helpers.hpp"
#include "support/run.hpp"

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

int mul(int x, int y) { return x * y; }

int divide(int a, int b) {
  if (b == 0) throw Boom("division by zero");
  return a / b;
}

/// True when `got` holds exactly the futures in `want`, in any order (Python compares sets).
bool same_set(std::vector<Future<int>> got, std::vector<Future<int>> want) {
  if (got.size() != want.size()) return false;
  for (auto& f : want)
    if (std::find(got.begin(), got.end(), f) == got.end()) return false;
  return true;
}

/// A pool call that blocks on the gate, then returns 0.
auto blocked_on(const Gate& gate) {
  return [h = gate.handle()] {
    h.result();
    return 0;
  };
}

}  // namespace

// --- wait ---------------------------------------------------------------------------------

TEST_CASE("wait on the same future twice returns when it is done", "[exec][wait]") {
  // CPython test_20369 (bpo-20369). Python's sets fold the duplicate; shoal's lists keep
  // the input, in order.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  auto f = pool.submit(mul, 1, 2);
  shoal::WaitResult<Future<int>> r = shoal::wait(std::vector{f, f}, {.return_when = shoal::ALL_COMPLETED});
  CHECK(r.done.size() == 2);
  CHECK(r.done[0] == f);
  CHECK(r.pending.empty());
}

TEST_CASE("wait FIRST_COMPLETED returns when one pool call finishes", "[exec][wait]") {
  // CPython test_first_completed. Its CANCELLED_FUTURE (cancelled, waiters not notified)
  // counts as pending there; shoal has no such state, so a pending future stands in.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  Gate event;
  auto never = pending_future();
  auto future1 = pool.submit(mul, 21, 2);
  auto future2 = pool.submit(blocked_on(event));
  auto r = shoal::wait(std::vector{never, future1, future2}, {.return_when = shoal::FIRST_COMPLETED}).get();
  CHECK(same_set(r.done, {future1}));
  CHECK(same_set(r.pending, {never, future2}));
  event.open();
  future2.result();
}

TEST_CASE("wait FIRST_COMPLETED returns at once when some are already done", "[exec][wait]") {
  // CPython test_first_completed_some_already_completed.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  Gate event;
  auto cancelled = cancelled_future();
  auto success = successful_future();
  auto future1 = pool.submit(blocked_on(event));
  auto r = shoal::wait(std::vector{cancelled, success, future1}, {.return_when = shoal::FIRST_COMPLETED}).get();
  CHECK(same_set(r.done, {cancelled, success}));
  CHECK(same_set(r.pending, {future1}));
  event.open();
  future1.result();
}

TEST_CASE("wait FIRST_EXCEPTION returns when a pool call raises", "[exec][wait]") {
  // CPython test_first_exception: future1 finishes before future2 raises; future3 blocks.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  Gate event1, event2;
  auto future1 = pool.submit(mul, 2, 21);
  auto future2 = pool.submit([h = event1.handle()]() -> int {
    h.result();
    throw Boom("this is an exception");
  });
  auto future3 = pool.submit(blocked_on(event2));
  std::thread t([future1, &event1] {
    future1.result();
    event1.open();
  });
  auto r = shoal::wait(std::vector{future1, future2, future3}, {.return_when = shoal::FIRST_EXCEPTION}).get();
  t.join();
  CHECK(same_set(r.done, {future1, future2}));
  CHECK(same_set(r.pending, {future3}));
  CHECK_THROWS_AS(future2.result(), Boom);
  event2.open();
  future3.result();
}

TEST_CASE("wait FIRST_EXCEPTION returns at once when one already failed among done ones", "[exec][wait]") {
  // CPython test_first_exception_some_already_complete (its CANCELLED_FUTURE is pending).
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  Gate event;
  auto success = successful_future();
  auto never = pending_future();
  auto cancelled = cancelled_future();
  auto future1 = pool.submit(divide, 21, 0);
  auto future2 = pool.submit(blocked_on(event));
  auto r = shoal::wait(std::vector{success, never, cancelled, future1, future2},
                       {.return_when = shoal::FIRST_EXCEPTION})
               .get();
  CHECK(same_set(r.done, {success, cancelled, future1}));
  CHECK(same_set(r.pending, {never, future2}));
  CHECK_THROWS_AS(future1.result(), Boom);
  event.open();
  future2.result();
}

TEST_CASE("wait FIRST_EXCEPTION returns at once when a future already failed", "[exec][wait]") {
  // CPython test_first_exception_one_already_failed.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  Gate event;
  auto failed = exception_future();
  auto future1 = pool.submit(blocked_on(event));
  auto r = shoal::wait(std::vector{failed, future1}, {.return_when = shoal::FIRST_EXCEPTION}).get();
  CHECK(same_set(r.done, {failed}));
  CHECK(same_set(r.pending, {future1}));
  event.open();
  future1.result();
}

TEST_CASE("wait FIRST_EXCEPTION does not count a cancellation as an exception", "[exec][wait][cancel][timeout]") {
  // A cancelled member must not end the wait: it lasts until the timeout.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(1);
  Gate event;
  auto running = pool.submit(blocked_on(event));
  auto queued = pool.submit(mul, 1, 1);
  REQUIRE(queued.cancel());
  auto start = std::chrono::steady_clock::now();
  auto r = shoal::wait(std::vector{running, queued}, {.timeout = 30ms, .return_when = shoal::FIRST_EXCEPTION}).get();
  CHECK(std::chrono::steady_clock::now() - start >= 30ms);
  CHECK(same_set(r.done, {queued}));
  CHECK(same_set(r.pending, {running}));
  event.open();
}

TEST_CASE("wait ALL_COMPLETED returns every future done", "[exec][wait]") {
  // CPython test_all_completed.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  auto success = successful_future();
  auto cancelled = cancelled_future();
  auto failed = exception_future();
  auto future1 = pool.submit(divide, 2, 0);
  auto future2 = pool.submit(mul, 2, 21);
  auto r = shoal::wait(std::vector{success, cancelled, failed, future1, future2}).get();
  CHECK(same_set(r.done, {success, cancelled, failed, future1, future2}));
  CHECK(r.pending.empty());
  CHECK_THROWS_AS(future1.result(), Boom);
  CHECK(future2.result() == 42);
}

TEST_CASE("wait with a timeout returns the done and the pending without raising", "[exec][wait][timeout]") {
  // CPython test_timeout: 50 ms, ALL_COMPLETED.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  Gate event;
  auto cancelled = cancelled_future();
  auto failed = exception_future();
  auto success = successful_future();
  auto future = pool.submit(blocked_on(event));
  auto start = std::chrono::steady_clock::now();
  shoal::WaitResult<Future<int>> r = shoal::wait(std::vector{cancelled, failed, success, future},
                                                 {.timeout = 50ms, .return_when = shoal::ALL_COMPLETED});
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
  CHECK(same_set(r.done, {cancelled, failed, success}));
  CHECK(same_set(r.pending, {future}));
  event.open();
  future.result();
}

TEST_CASE("wait FIRST_COMPLETED with a timeout and nothing done returns all pending", "[exec][wait][timeout]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  Gate event;
  auto a = pool.submit(blocked_on(event));
  auto b = pool.submit(blocked_on(event));
  auto r = shoal::wait(std::vector{a, b}, {.timeout = 20ms, .return_when = shoal::FIRST_COMPLETED}).get();
  CHECK(r.done.empty());
  CHECK(r.pending == std::vector{a, b});  // in input order
}

TEST_CASE("wait with a zero timeout only sorts the futures", "[exec][wait][timeout]") {
  auto success = successful_future();
  auto never = pending_future();
  auto r = shoal::wait(std::vector{never, success}, {.timeout = 0s}).get();
  CHECK(r.done == std::vector{success});
  CHECK(r.pending == std::vector{never});
}

TEST_CASE("wait on an empty set raises ValueError", "[exec][wait]") {
  CHECK_THROWS_AS(shoal::wait(std::vector<Future<int>>{}), shoal::ValueError);
}

TEST_CASE("wait ALL_COMPLETED on many calls released together misses none", "[exec][wait][stress]") {
  // CPython test_pending_calls_race (bpo-14406): 100 calls released at once.
  Watchdog dog(10s);
  ThreadPoolExecutor pool(5);
  Gate event;
  std::vector<Future<int>> fs;
  for (int i = 0; i < 100; ++i) fs.push_back(pool.submit(blocked_on(event)));
  event.open();
  auto r = shoal::wait(fs, {.return_when = shoal::ALL_COMPLETED}).get();
  CHECK(r.done.size() == 100);
  CHECK(r.pending.empty());
}

TEST_CASE("a coroutine awaits wait over pool futures without blocking its loop", "[exec][wait][coro]") {
  auto body = []() -> shoal::Coro<void> {
    ThreadPoolExecutor pool(2);
    Gate event;
    auto slow = pool.submit(blocked_on(event));
    auto fast = pool.submit(mul, 3, 3);
    // The vectors are named locals: g++ 12 rejects an initializer list written inside a
    // co_await expression, `co_await shoal::wait(std::vector{f})` ("array used as
    // initializer").
    std::vector<Future<int>> both{slow, fast};
    std::vector<Future<int>> only_slow{slow};
    shoal::WaitOptions first{.return_when = shoal::FIRST_COMPLETED};
    shoal::WaitOptions briefly{.timeout = 10ms};
    auto r = co_await shoal::wait(both, first);
    CHECK(r.done == std::vector{fast});
    CHECK(r.pending == std::vector{slow});
    auto r2 = co_await shoal::wait(only_slow, briefly);
    CHECK(r2.pending.size() == 1);
    event.open();
    auto r3 = co_await shoal::wait(both);
    CHECK(r3.done.size() == 2);
  };
  shoal::test::run(body(), 5s);
}

// --- as_completed -------------------------------------------------------------------------

TEST_CASE("as_completed yields every future when there is no timeout", "[exec][as_completed]") {
  // CPython test_no_timeout.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  auto cancelled = cancelled_future();
  auto failed = exception_future();
  auto success = successful_future();
  auto future1 = pool.submit(mul, 2, 21);
  auto future2 = pool.submit(mul, 7, 6);
  std::vector<Future<int>> completed;
  for (auto f : shoal::as_completed(std::vector{cancelled, failed, success, future1, future2})) {
    CHECK(f.done());
    completed.push_back(f);
  }
  CHECK(same_set(completed, {cancelled, failed, success, future1, future2}));
}

TEST_CASE("as_completed yields the done futures then raises TimeoutError", "[exec][as_completed][timeout]") {
  // CPython test_future_times_out, for timeouts of 0 and 100 ms.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  Gate event;
  for (auto timeout : {0ms, 100ms}) {
    auto cancelled = cancelled_future();
    auto failed = exception_future();
    auto success = successful_future();
    auto future = pool.submit(blocked_on(event));
    std::vector<Future<int>> completed;
    bool timed_out = false;
    try {
      for (auto f : shoal::as_completed(std::vector{cancelled, failed, success, future}, timeout))
        completed.push_back(f);
    } catch (const shoal::TimeoutError&) {
      timed_out = true;
    }
    CHECK(timed_out);
    CHECK(same_set(completed, {cancelled, failed, success}));
  }
  event.open();
}

TEST_CASE("as_completed's timeout message counts the unfinished futures", "[exec][as_completed][timeout]") {
  // CPython test_correct_timeout_exception_msg: '2 (of 4) futures unfinished' there.
  std::string msg;
  try {
    for (auto f : shoal::as_completed(
             std::vector{cancelled_future(), pending_future(), running_future(), successful_future()}, 0ms))
      (void)f;
  } catch (const shoal::TimeoutError& e) {
    msg = e.what();
  }
  CHECK(msg.find("2 future(s)") != std::string::npos);
}

TEST_CASE("as_completed yields pool futures in the order they complete", "[exec][as_completed]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(3);
  Gate g0, g1, g2;
  auto f0 = pool.submit(blocked_on(g0));
  auto f1 = pool.submit(blocked_on(g1));
  auto f2 = pool.submit(blocked_on(g2));
  // Each step opens the next gate: completion order 2, 0, 1.
  g2.open();
  std::vector<Future<int>> order;
  for (auto f : shoal::as_completed(std::vector{f0, f1, f2}, 5s)) {
    order.push_back(f);
    if (order.size() == 1) g0.open();
    if (order.size() == 2) g1.open();
  }
  CHECK(order == std::vector{f2, f0, f1});
}

TEST_CASE("as_completed with a timeout raises once the remaining calls miss the deadline", "[exec][as_completed][timeout]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  Gate event;
  auto fast = pool.submit(mul, 2, 2);
  auto slow = pool.submit(blocked_on(event));
  auto it = shoal::as_completed(std::vector{fast, slow}, 30ms);
  CHECK(it.next_blocking() == fast);
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(it.next_blocking(), shoal::TimeoutError);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  CHECK_FALSE(slow.done());  // a timeout leaves the futures alone
  event.open();
  CHECK(slow.result() == 0);
}

TEST_CASE("a coroutine takes pool futures from as_completed with co_await next", "[exec][as_completed][coro]") {
  auto body = []() -> shoal::Coro<void> {
    ThreadPoolExecutor pool(4);
    std::vector<Future<int>> fs;
    for (int i = 0; i < 10; ++i) fs.push_back(pool.submit(mul, i, i));
    auto it = shoal::as_completed(fs, 5s);
    std::vector<int> got;
    while (it.has_next()) {
      auto f = co_await it.next();
      got.push_back(f.result());  // done: result() does not block the loop
    }
    std::sort(got.begin(), got.end());
    std::vector<int> want;
    for (int i = 0; i < 10; ++i) want.push_back(i * i);
    CHECK(got == want);
  };
  shoal::test::run(body(), 5s);
}
