// Semaphore and BoundedSemaphore, ported from CPython's Lib/test/lock_tests.py
// (BaseSemaphoreTests, SemaphoreTests, BoundedSemaphoreTests) and test_threading.py's
// test_BoundedSemaphore_limit.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "unit/thread/helpers.hpp"

#include <shoal/sync/bounded_semaphore.hpp>
#include <shoal/sync/semaphore.hpp>

using namespace std::chrono_literals;
using shoal::test::Bunch;
using shoal::test::elapsed;
using shoal::test::eventually;
using shoal::test::Record;

TEMPLATE_TEST_CASE("a semaphore refuses a negative initial value", "[sync][semaphore]", shoal::Semaphore,
                   shoal::BoundedSemaphore) {
  CHECK_THROWS_AS(TestType(-1), shoal::ValueError);
  CHECK_THROWS_AS(TestType(std::numeric_limits<std::int64_t>::min()), shoal::ValueError);
  TestType zero(0);
  CHECK_FALSE(zero.acquire(false));
}

TEMPLATE_TEST_CASE("a semaphore can be acquired as many times as its value", "[sync][semaphore]",
                   shoal::Semaphore, shoal::BoundedSemaphore) {
  {
    TestType sem(1);
    sem.acquire();
    sem.release();
  }
  {
    TestType sem(2);
    sem.acquire();
    sem.acquire();
    sem.release();
    sem.release();
  }
  {
    TestType sem;  // test_acquire_destroy
    sem.acquire();
  }
}

TEMPLATE_TEST_CASE("threads blocked on a semaphore get it as it is released, one per unit", "[sync][semaphore]",
                   shoal::Semaphore, shoal::BoundedSemaphore) {
  shoal::test::Watchdog dog(10s);
  const bool multi = GENERATE(false, true);  // test_acquire_contended, test_multirelease
  CAPTURE(multi);
  TestType sem(7);
  sem.acquire();
  std::atomic<int> phase{0};
  Record<int> results1, results2;
  Bunch b(
      [&] {
        sem.acquire();
        results1.add(phase);
        sem.acquire();
        results2.add(phase);
      },
      10);
  auto got = [&] { return results1.size() + results2.size(); };
  auto all_sorted = [&] {
    auto v = results1.items();
    auto w = results2.items();
    v.insert(v.end(), w.begin(), w.end());
    std::sort(v.begin(), v.end());
    return v;
  };
  auto release = [&](std::size_t n) {
    if (multi)
      sem.release(n);
    else
      for (std::size_t i = 0; i < n; ++i) sem.release();
  };
  REQUIRE(eventually([&] { return got() == 6; }));
  REQUIRE(b.wait_for_blocked());  // the other 14 acquires wait
  CHECK(all_sorted() == std::vector<int>(6, 0));
  phase = 1;
  release(7);
  REQUIRE(eventually([&] { return got() == 13; }));
  std::vector<int> expected(6, 0);
  expected.insert(expected.end(), 7, 1);
  CHECK(all_sorted() == expected);
  phase = 2;
  release(6);
  REQUIRE(eventually([&] { return got() == 19; }));
  expected.insert(expected.end(), 6, 2);
  CHECK(all_sorted() == expected);
  CHECK_FALSE(sem.acquire(false));  // the semaphore is still at zero
  release(1);  // the last thread finishes
  REQUIRE(b.wait_for_finished());
}

TEMPLATE_TEST_CASE("a non-blocking semaphore acquire fails at zero", "[sync][semaphore]", shoal::Semaphore,
                   shoal::BoundedSemaphore) {
  TestType sem(2);
  CHECK(sem.acquire(false));
  CHECK(sem.acquire(false));
  CHECK_FALSE(sem.acquire(false));
  sem.release();
  CHECK(sem.acquire(false));
}

TEMPLATE_TEST_CASE("non-blocking semaphore acquires from several threads succeed exactly value times",
                   "[sync][semaphore]", shoal::Semaphore, shoal::BoundedSemaphore) {
  TestType sem(4);
  sem.acquire();
  Record<bool> results;
  {
    Bunch b(
        [&] {
          results.add(sem.acquire(false));
          results.add(sem.acquire(false));
        },
        5);
    REQUIRE(b.wait_for_finished());
  }
  auto r = results.items();
  std::sort(r.begin(), r.end());
  std::vector<bool> expected(7, false);
  expected.insert(expected.end(), 3, true);
  CHECK(r == expected);
}

TEMPLATE_TEST_CASE("a semaphore acquire with a timeout gives up after it at zero", "[sync][semaphore]",
                   shoal::Semaphore, shoal::BoundedSemaphore) {
  TestType sem(2);
  CHECK(sem.acquire(5ms));
  CHECK(sem.acquire(5ms));
  CHECK_FALSE(sem.acquire(5ms));
  sem.release();
  CHECK(sem.acquire(5ms));
  bool r = true;
  auto took = elapsed([&] { r = sem.acquire(30ms); });
  CHECK_FALSE(r);
  CHECK(took >= 30ms);
  CHECK(took < 2s);
  CHECK_FALSE(sem.acquire(-5ms));  // a negative timeout polls
}

TEMPLATE_TEST_CASE("a semaphore starts at 1 by default", "[sync][semaphore]", shoal::Semaphore,
                   shoal::BoundedSemaphore) {
  shoal::test::Watchdog dog(10s);
  TestType sem;
  sem.acquire();
  Bunch b(
      [&] {
        sem.acquire();
        sem.release();
      },
      1);
  REQUIRE(b.wait_for_blocked());
  CHECK(b.finished() == 0);
  sem.release();
  REQUIRE(b.wait_for_finished());
}

TEMPLATE_TEST_CASE("a lock_guard over a semaphore releases it also when its block throws", "[sync][semaphore]",
                   shoal::Semaphore, shoal::BoundedSemaphore) {
  TestType sem(2);
  auto with = [&](bool fail) {
    std::lock_guard outer(sem);
    CHECK(sem.acquire(false));
    sem.release();
    std::lock_guard inner(sem);
    CHECK_FALSE(sem.acquire(false));
    if (fail) throw std::logic_error("inside");
  };
  with(false);
  CHECK(sem.acquire(false));
  sem.release();
  CHECK_THROWS_AS(with(true), std::logic_error);
  CHECK(sem.acquire(false));
  sem.release();
  CHECK(sem.value() == 2);
}

TEMPLATE_TEST_CASE("releasing a semaphore by zero throws ValueError", "[sync][semaphore]", shoal::Semaphore,
                   shoal::BoundedSemaphore) {
  TestType sem(1);
  CHECK_THROWS_AS(sem.release(0), shoal::ValueError);
  CHECK(sem.value() == 1);
}

TEST_CASE("a Semaphore may be released above its initial value", "[sync][semaphore]") {
  shoal::Semaphore sem(1);
  sem.release();
  sem.acquire();
  sem.acquire();
  sem.release(5);
  CHECK(sem.value() == 5);
}

TEST_CASE("a BoundedSemaphore released above its initial value throws ValueError", "[sync][semaphore]") {
  shoal::BoundedSemaphore sem;
  CHECK_THROWS_AS(sem.release(), shoal::ValueError);
  sem.acquire();
  sem.release();
  CHECK_THROWS_AS(sem.release(), shoal::ValueError);
  shoal::BoundedSemaphore three(3);
  three.acquire();
  three.acquire();
  CHECK_THROWS_AS(three.release(3), shoal::ValueError);  // all or nothing
  CHECK(three.value() == 1);
  three.release(2);
  CHECK(three.value() == 3);
}

TEST_CASE("a BoundedSemaphore acquired and released by as many threads as its limit refuses one more release",
          "[sync][semaphore]") {
  for (int limit = 1; limit < 10; ++limit) {
    shoal::BoundedSemaphore bs(limit);
    std::vector<std::thread> threads;
    for (int i = 0; i < limit; ++i) threads.emplace_back([&] { bs.acquire(); });
    for (auto& t : threads) t.join();
    threads.clear();
    std::atomic<int> failures{0};
    for (int i = 0; i < limit; ++i)
      threads.emplace_back([&] {
        try {
          bs.release();
        } catch (const shoal::ValueError&) {
          ++failures;
        }
      });
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    CHECK_THROWS_AS(bs.release(), shoal::ValueError);
  }
}
