// Futures, promises and tasks crossed by std::threads: what shoal adds to asyncio by
// making Future<T> also concurrent.futures' Future (see future.hpp). Catch2 assertions are
// not thread-safe, so helper threads only record what they saw; the test thread checks.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/run.hpp"

using namespace std::chrono_literals;

namespace {

struct Boom : std::runtime_error {
  explicit Boom(const std::string& what = "boom") : std::runtime_error(what) {}
};

shoal::Coro<int> await_int(shoal::Future<int> f) { co_return co_await f.wait(); }

shoal::Coro<int> sleep_then(std::chrono::milliseconds d, int v) {
  co_await shoal::sleep(d);
  co_return v;
}

/// Announces that it is about to await `f`, then awaits it.
shoal::Coro<int> announce_then_await(shoal::Future<void> started, shoal::Future<int> f) {
  started.set_result();
  co_return co_await f.wait();
}

}  // namespace

// --- coroutines awaiting futures completed by threads -----------------------------------

TEST_CASE("a coroutine awaiting a future is resumed when another thread sets it", "[core][future][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    auto t = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    REQUIRE_FALSE(t.done());  // t is suspended on f
    std::thread th([f]() mutable { f.set_result(7); });
    int v = co_await t.wait();
    th.join();
    CHECK(v == 7);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("an exception set by another thread reaches the awaiting coroutine with its type and message", "[core][future][thread]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Promise<int> p;
    auto t = shoal::create_task(await_int(p.get_future()));
    co_await shoal::sleep(0ms);
    std::thread th([p = std::move(p)]() mutable {
      try {
        throw Boom("from a thread");
      } catch (...) {
        p.set_current_exception();
      }
    });
    std::string what;
    try {
      co_await t.wait();
    } catch (const Boom& e) {
      what = e.what();
    }
    th.join();
    CHECK(what == "from a thread");
    CHECK(t.done());
    CHECK_FALSE(t.cancelled());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a future set by a thread racing the await is never missed", "[core][future][thread]") {
  // Whether set_result lands before, during or after the suspension, the await completes.
  auto body = []() -> shoal::Coro<void> {
    int sum = 0;
    for (int i = 0; i < 200; ++i) {
      shoal::Future<int> f;
      std::thread th([f, i]() mutable { f.set_result(i); });
      sum += co_await f.wait();
      th.join();
    }
    CHECK(sum == 199 * 200 / 2);
  };
  shoal::test::run(body(), 10s);
}

TEST_CASE("a promise destroyed on another thread wakes the awaiting coroutine with BrokenPromise", "[core][promise][thread]") {
  auto body = []() -> shoal::Coro<void> {
    auto p = std::make_unique<shoal::Promise<int>>();
    auto t = shoal::create_task(await_int(p->get_future()));
    co_await shoal::sleep(0ms);
    std::thread th([p = std::move(p)]() mutable { p.reset(); });
    CHECK_THROWS_AS(co_await t.wait(), shoal::BrokenPromise);
    th.join();
  };
  shoal::test::run(body(), 5s);
}

// --- blocking result() off the loop -----------------------------------------------------

TEST_CASE("a blocking result waits for the value another thread sets", "[core][future][thread]") {
  // concurrent.futures test_result_with_success
  shoal::test::Watchdog dog(5s);
  shoal::Future<int> f;
  std::latch go(1);
  std::thread th([f, &go]() mutable {
    go.wait();
    f.set_result(42);
  });
  go.count_down();
  CHECK(f.result() == 42);  // no timeout: blocks until set (the watchdog bounds it)
  th.join();
}

TEST_CASE("a blocking result with a timeout returns the value another thread sets", "[core][future][thread]") {
  shoal::Future<std::string> f;
  std::thread th([f]() mutable { f.set_result("done"); });
  CHECK(f.result(5s) == "done");
  th.join();
}

TEST_CASE("a blocking result wakes with CancelledError when another thread cancels", "[core][future][thread][cancel]") {
  // concurrent.futures test_result_with_cancel
  shoal::Future<int> f;
  std::thread th([f]() mutable { f.cancel(); });
  CHECK_THROWS_AS(f.result(5s), shoal::CancelledError);
  th.join();
  CHECK(f.cancelled());
}

TEST_CASE("a blocking exception returns the exception another thread set", "[core][future][thread]") {
  // concurrent.futures test_exception_with_success
  shoal::Future<int> f;
  std::thread th([f]() mutable { f.set_exception(std::make_exception_ptr(shoal::TimeoutError("late"))); });
  auto e = f.exception(5s);
  th.join();
  REQUIRE(e != nullptr);
  try {
    std::rethrow_exception(e);
  } catch (const shoal::Error& err) {
    CHECK(err.kind() == shoal::ErrorKind::timeout);
    CHECK(std::string(err.what()) == "late");
  }
}

TEST_CASE("a blocking result with a timeout racing set_result never loses the value", "[core][future][thread]") {
  // The waiter times out just as the value arrives: it must either time out cleanly or
  // see the value, and never leave a dangling waiter behind.
  int seen = 0;
  int timed_out = 0;
  for (int i = 0; i < 300; ++i) {
    shoal::Future<int> f;
    std::latch go(2);
    std::thread setter([f, &go, i]() mutable {
      go.arrive_and_wait();
      f.set_result(i);
    });
    go.arrive_and_wait();
    try {
      if (f.result(std::chrono::microseconds(i % 7)) == i) ++seen;
    } catch (const shoal::TimeoutError&) {
      ++timed_out;
    }
    setter.join();
    REQUIRE(f.result(0s) == i);
  }
  CHECK(seen + timed_out == 300);
}

TEST_CASE("many threads blocked on one future all wake when it is set", "[core][future][thread]") {
  constexpr int n = 8;
  shoal::Future<int> f;
  std::latch started(n);
  std::vector<int> got(n, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([f, &started, &got, i] {
      started.count_down();
      try {
        got[i] = f.result(5s);
      } catch (...) {
        got[i] = -2;
      }
    });
  started.wait();
  f.set_result(3);
  for (auto& t : threads) t.join();
  CHECK(got == std::vector<int>(n, 3));
}

// --- races between completing threads ---------------------------------------------------

TEST_CASE("exactly one of many threads racing set_result wins", "[core][future][thread]") {
  constexpr int n = 8;
  for (int round = 0; round < 50; ++round) {
    shoal::Future<int> f;
    std::latch go(n);
    std::atomic<int> winners{0};
    std::atomic<int> losers{0};
    std::atomic<int> winner_value{-1};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
      threads.emplace_back([f, &go, &winners, &losers, &winner_value, i]() mutable {
        go.arrive_and_wait();
        try {
          f.set_result(i);
          winners.fetch_add(1);
          winner_value.store(i);
        } catch (const shoal::InvalidStateError&) {
          losers.fetch_add(1);
        }
      });
    for (auto& t : threads) t.join();
    REQUIRE(winners.load() == 1);
    REQUIRE(losers.load() == n - 1);
    REQUIRE(f.result() == winner_value.load());
  }
  SUCCEED("50 rounds, one winner each");
}

TEST_CASE("set_result set_exception and cancel racing from threads leave one consistent outcome", "[core][future][thread]") {
  for (int round = 0; round < 50; ++round) {
    shoal::Future<int> f;
    std::latch go(3);
    std::atomic<int> wins{0};
    std::atomic<int> which{-1};
    std::thread a([&, f]() mutable {
      go.arrive_and_wait();
      try {
        f.set_result(1);
        wins.fetch_add(1);
        which.store(0);
      } catch (const shoal::InvalidStateError&) {
      }
    });
    std::thread b([&, f]() mutable {
      go.arrive_and_wait();
      try {
        f.set_exception(std::make_exception_ptr(Boom()));
        wins.fetch_add(1);
        which.store(1);
      } catch (const shoal::InvalidStateError&) {
      }
    });
    std::thread c([&, f]() mutable {
      go.arrive_and_wait();
      if (f.cancel()) {
        wins.fetch_add(1);
        which.store(2);
      }
    });
    a.join();
    b.join();
    c.join();
    REQUIRE(wins.load() == 1);
    REQUIRE(f.done());
    switch (which.load()) {
      case 0: REQUIRE(f.result() == 1); break;
      case 1: REQUIRE_THROWS_AS(f.result(), Boom); break;
      default: REQUIRE(f.cancelled()); break;
    }
  }
  SUCCEED("50 rounds, one consistent outcome each");
}

TEST_CASE("done callbacks added from many threads while another completes the future all run once", "[core][future][thread][callback]") {
  constexpr int threads_n = 6;
  constexpr int per_thread = 200;
  shoal::Future<int> f;
  auto counts = std::make_unique<std::atomic<int>[]>(threads_n * per_thread);
  std::latch go(threads_n + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_n; ++t)
    threads.emplace_back([f, &go, &counts, t]() mutable {
      go.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        std::atomic<int>* slot = &counts[t * per_thread + i];
        f.add_done_callback([slot](const shoal::Future<int>& g) {
          if (g.result() == 5) slot->fetch_add(1);
        });
      }
    });
  std::thread setter([f, &go]() mutable {
    go.arrive_and_wait();
    f.set_result(5);
  });
  for (auto& t : threads) t.join();
  setter.join();
  int ran_once = 0;
  for (int i = 0; i < threads_n * per_thread; ++i) ran_once += counts[i].load() == 1;
  CHECK(ran_once == threads_n * per_thread);
}

TEST_CASE("a done callback runs on the thread that completes the future", "[core][future][thread][callback]") {
  shoal::Future<int> f;
  std::thread::id ran_on;
  f.add_done_callback([&ran_on](const shoal::Future<int>&) { ran_on = std::this_thread::get_id(); });
  std::thread th([f]() mutable { f.set_result(1); });
  std::thread::id setter_id = th.get_id();
  th.join();
  CHECK(ran_on == setter_id);
  // Once done, a new callback runs at once on the thread adding it.
  std::thread::id late;
  f.add_done_callback([&late](const shoal::Future<int>&) { late = std::this_thread::get_id(); });
  CHECK(late == std::this_thread::get_id());
}

// --- several loops ----------------------------------------------------------------------

TEST_CASE("one future completed from a thread wakes coroutines on two loops", "[core][future][thread][loop]") {
  shoal::test::Watchdog dog(5s);
  shoal::Future<int> f;
  shoal::Future<void> started_a;
  shoal::Future<void> started_b;
  int got_a = 0;
  int got_b = 0;
  // Each loop lives until this thread has returned from set_result (not needed since
  // Sleeper::fire holds the io_context while it posts; see the "[teardown]" case below).
  std::latch set_done(1);
  auto run_loop = [&set_done](shoal::Future<void> started, shoal::Future<int> fut, int* got) {
    shoal::Loop loop;
    *got = loop.run_until_complete(announce_then_await(started, fut));
    loop.shutdown();
    set_done.wait();
  };
  std::thread la(run_loop, started_a, f, &got_a);
  std::thread lb(run_loop, started_b, f, &got_b);
  started_a.result(5s);
  started_b.result(5s);
  f.set_result(17);
  set_done.count_down();
  la.join();
  lb.join();
  CHECK(got_a == 17);
  CHECK(got_b == 17);
}

TEST_CASE("a coroutine on one loop can await a task running on another loop", "[core][task][thread][loop]") {
  shoal::test::Watchdog dog(5s);
  shoal::Loop here;  // outlives `runner`, whose last act may be the wake-up posted here
  shoal::Loop other;
  shoal::Future<void> stop;
  std::thread runner([&] { other.run_until_complete(stop.wait()); });
  auto remote = shoal::create_task(other, sleep_then(1ms, 23));
  auto body = [](shoal::Task<int> t) -> shoal::Coro<int> { co_return co_await t.wait() + 1; };
  int v = here.run_until_complete(body(remote));
  stop.set_result();
  runner.join();
  here.shutdown();
  CHECK(v == 24);
  CHECK(remote.result() == 23);
}

TEST_CASE("a loop destroyed right after a thread's wake-up resumed its last coroutine", "[core][future][thread][loop][teardown]") {
  // shoal::run destroys its loop as soon as main returns; the thread whose set_result
  // resumed main may still be inside asio::post (signalling the scheduler's condition
  // variable after unlocking it). Sleeper::fire holds the loop's io_context through the
  // post, so it is destroyed after, on whichever side lets go last. Before that, TSan
  // reported a race on the condition variable here (ASan: a heap-use-after-free).
  shoal::test::Watchdog dog(10s);
  for (int i = 0; i < 100; ++i) {
    shoal::Future<int> f;
    shoal::Future<void> started;
    int got = -1;
    std::thread lt([&] { got = shoal::run(announce_then_await(started, f)); });
    started.result(5s);
    f.set_result(i);
    lt.join();
    REQUIRE(got == i);
  }
}
