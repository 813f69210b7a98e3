// Barrier, ported from CPython's Lib/test/lock_tests.py (BarrierTests). As there, N
// parties are N-1 helper threads plus the test thread; helper threads record, the test
// thread checks. Python's "one thread is late" sleeps become waits on the barrier's state.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "unit/thread/helpers.hpp"

#include <shoal/sync/barrier.hpp>

using namespace std::chrono_literals;
using shoal::test::Bunch;
using shoal::test::eventually;
using shoal::test::Record;

namespace {

constexpr int N = 5;

/// Runs f in N-1 helper threads and in this one.
template <typename F>
void run_threads(F f) {
  Bunch b(f, N - 1);
  f();
  b.wait_for_finished();
}

}  // namespace

TEST_CASE("a Barrier needs at least one party", "[sync][barrier]") {
  CHECK_THROWS_AS(shoal::Barrier(0), shoal::ValueError);
  CHECK_THROWS_AS(shoal::Barrier(-1), shoal::ValueError);
  shoal::Barrier b(3);
  CHECK(b.parties() == 3);
  CHECK(b.n_waiting() == 0);
  CHECK_FALSE(b.broken());
}

TEST_CASE("threads pass a Barrier in lockstep, round after round", "[sync][barrier]") {
  shoal::test::Watchdog dog(10s);
  const int passes = GENERATE(1, 10);  // test_barrier, test_barrier_10
  shoal::Barrier barrier(N, {}, 2s);
  std::atomic<int> arrived{0}, left{0}, mismatches{0};
  run_threads([&] {
    for (int i = 0; i < passes; ++i) {
      arrived.fetch_add(1);
      if (left.load() != i * N) mismatches.fetch_add(1);
      barrier.wait();
      left.fetch_add(1);
      if (arrived.load() != (i + 1) * N) mismatches.fetch_add(1);
      barrier.wait();
    }
  });
  CHECK(mismatches == 0);
  CHECK(barrier.n_waiting() == 0);
  CHECK_FALSE(barrier.broken());
}

TEST_CASE("Barrier wait returns each party a distinct arrival index", "[sync][barrier]") {
  shoal::test::Watchdog dog(10s);
  shoal::Barrier barrier(N, {}, 2s);
  Record<std::size_t> results;
  run_threads([&] { results.add(barrier.wait()); });
  auto r = results.items();
  std::sort(r.begin(), r.end());
  CHECK(r == std::vector<std::size_t>{0, 1, 2, 3, 4});
}

TEST_CASE("a Barrier runs its action once per round, before any party goes on", "[sync][barrier]") {
  shoal::test::Watchdog dog(10s);
  std::atomic<int> actions{0}, mismatches{0};
  shoal::Barrier barrier(N, [&] { actions.fetch_add(1); });
  run_threads([&] {
    barrier.wait();
    if (actions.load() != 1) mismatches.fetch_add(1);
  });
  CHECK(actions == 1);
  CHECK(mismatches == 0);
}

TEST_CASE("aborting a Barrier breaks it for every waiter", "[sync][barrier]") {
  shoal::test::Watchdog dog(10s);
  shoal::Barrier barrier(N, {}, 2s);
  std::atomic<int> passed{0}, broken{0};
  run_threads([&] {
    try {
      if (barrier.wait() == N / 2) throw std::runtime_error("this party fails");
      barrier.wait();
      passed.fetch_add(1);
    } catch (const shoal::BrokenBarrierError&) {
      broken.fetch_add(1);
    } catch (const std::runtime_error&) {
      barrier.abort();
    }
  });
  CHECK(passed == 0);
  CHECK(broken == N - 1);
  CHECK(barrier.broken());
  CHECK_THROWS_AS(barrier.wait(), shoal::BrokenBarrierError);  // until reset()
}

TEST_CASE("resetting a Barrier frees its waiters with BrokenBarrierError and leaves it usable", "[sync][barrier]") {
  shoal::test::Watchdog dog(10s);
  shoal::Barrier barrier(N, {}, 2s);
  std::atomic<int> passed{0}, broken{0}, again{0};
  run_threads([&] {
    if (barrier.wait() == N / 2) {
      // Wait until the other threads are all in the barrier.
      eventually([&] { return barrier.n_waiting() == N - 1; });
      barrier.reset();
    } else {
      try {
        barrier.wait();
        passed.fetch_add(1);
      } catch (const shoal::BrokenBarrierError&) {
        broken.fetch_add(1);
      }
    }
    barrier.wait();  // now pass the barrier again
    again.fetch_add(1);
  });
  CHECK(passed == 0);
  CHECK(broken == N - 1);
  CHECK(again == N);
}

TEST_CASE("a broken Barrier can be reset and used again", "[sync][barrier]") {
  shoal::test::Watchdog dog(10s);
  shoal::Barrier barrier(N, {}, 2s);
  shoal::Barrier barrier2(N);
  std::atomic<int> passed{0}, broken{0}, again{0};
  run_threads([&] {
    try {
      if (barrier.wait() == N / 2) throw std::runtime_error("this party fails");
      barrier.wait();
      passed.fetch_add(1);
    } catch (const shoal::BrokenBarrierError&) {
      broken.fetch_add(1);
    } catch (const std::runtime_error&) {
      barrier.abort();
    }
    // Everyone has left the broken barrier before the reset, and no one enters it before.
    if (barrier2.wait() == N / 2) barrier.reset();
    barrier2.wait();
    barrier.wait();
    again.fetch_add(1);
  });
  CHECK(passed == 0);
  CHECK(broken == N - 1);
  CHECK(again == N);
}

TEST_CASE("a Barrier wait that times out breaks the barrier for everyone", "[sync][barrier]") {
  shoal::test::Watchdog dog(10s);
  const bool default_timeout = GENERATE(false, true);  // test_timeout, test_default_timeout
  CAPTURE(default_timeout);
  shoal::Barrier barrier(N, {}, default_timeout ? std::optional<std::chrono::nanoseconds>(30ms) : 2s);
  std::atomic<int> broken{0};
  run_threads([&] {
    // The first round must not depend on the short default: with both cores busy (TSan,
    // a parallel build) N threads can take longer than 30 ms to arrive (issue 15).
    const std::size_t i = barrier.wait(10s);
    if (i == N / 2) eventually([&] { return barrier.broken(); });  // one party is late
    try {
      if (default_timeout)
        barrier.wait();
      else
        barrier.wait(30ms);
    } catch (const shoal::BrokenBarrierError&) {
      broken.fetch_add(1);
    }
  });
  CHECK(broken == N);
  CHECK(barrier.broken());
}

TEST_CASE("a Barrier of one party never waits", "[sync][barrier]") {
  shoal::Barrier b(1);
  CHECK(b.wait() == 0);
  CHECK(b.wait() == 0);
}

TEST_CASE("a Barrier action that throws breaks the barrier and reaches the thread that ran it",
          "[sync][barrier]") {
  shoal::test::Watchdog dog(10s);
  shoal::Barrier barrier(N, [] { throw std::runtime_error("action failed"); }, 2s);
  std::atomic<int> action_errors{0}, broken{0};
  run_threads([&] {
    try {
      barrier.wait();
    } catch (const std::runtime_error& e) {
      if (dynamic_cast<const shoal::BrokenBarrierError*>(&e))
        broken.fetch_add(1);
      else
        action_errors.fetch_add(1);
    }
  });
  CHECK(action_errors == 1);
  CHECK(broken == N - 1);
  CHECK(barrier.broken());
}

TEST_CASE("n_waiting counts the parties waiting in the current round", "[sync][barrier]") {
  shoal::test::Watchdog dog(10s);
  shoal::Barrier barrier(3);
  std::thread a([&] { barrier.wait(); });
  REQUIRE(eventually([&] { return barrier.n_waiting() == 1; }));
  std::thread b([&] { barrier.wait(); });
  REQUIRE(eventually([&] { return barrier.n_waiting() == 2; }));
  barrier.wait();
  a.join();
  b.join();
  CHECK(barrier.n_waiting() == 0);
}
