// Lock and RLock, ported from CPython's Lib/test/lock_tests.py (BaseLockTests, LockTests,
// RLockTests; ConditionAsRLockTests runs the base tests on a Condition) and the lock cases
// of Lib/test/test_threading.py.

#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "unit/thread/helpers.hpp"

#include <shoal/sync/condition.hpp>
#include <shoal/sync/lock.hpp>
#include <shoal/sync/rlock.hpp>
#include <shoal/thread/thread.hpp>

using namespace std::chrono_literals;
using shoal::test::Bunch;
using shoal::test::elapsed;
using shoal::test::eventually;

// --- BaseLockTests: Lock, RLock and a Condition (which is an RLock by default) ----------

TEMPLATE_TEST_CASE("a lock can be made, acquired, released and destroyed while held", "[sync][lock]",
                   shoal::Lock, shoal::RLock, shoal::Condition) {
  { TestType lock; }  // test_constructor
  {
    TestType lock;  // test_acquire_destroy
    lock.acquire();
  }
  TestType lock;  // test_acquire_release
  CHECK(lock.acquire());
  lock.release();
  CHECK(lock.acquire(false));  // test_try_acquire
  lock.release();
}

TEMPLATE_TEST_CASE("a non-blocking acquire of a lock another thread holds fails", "[sync][lock]",
                   shoal::Lock, shoal::RLock, shoal::Condition) {
  TestType lock;
  lock.acquire();
  std::atomic<int> result{-1};
  {
    Bunch b([&] { result = lock.acquire(false) ? 1 : 0; }, 1);
    REQUIRE(b.wait_for_finished());
  }
  CHECK(result == 0);
  lock.release();
}

TEMPLATE_TEST_CASE("threads blocked on a held lock all get it once it is released", "[sync][lock]",
                   shoal::Lock, shoal::RLock, shoal::Condition) {
  shoal::test::Watchdog dog(10s);
  TestType lock;
  lock.acquire();
  constexpr int n = 5;
  Bunch b(
      [&] {
        lock.acquire();
        lock.release();
      },
      n);
  REQUIRE(b.wait_for_blocked());
  CHECK(b.finished() == 0);
  lock.release();
  REQUIRE(b.wait_for_finished());
  CHECK(b.finished() == n);
}

TEMPLATE_TEST_CASE("a lock_guard releases the lock also when its block throws", "[sync][lock]",
                   shoal::Lock, shoal::RLock, shoal::Condition) {
  TestType lock;
  auto with = [&](bool fail) {
    std::lock_guard hold(lock);
    if (fail) throw std::logic_error("inside");
  };
  auto other_thread_can_take_it = [&] {
    std::atomic<bool> ok{false};
    Bunch b(
        [&] {
          ok = lock.acquire(false);
          if (ok) lock.release();
        },
        1);
    b.wait_for_finished();
    return ok.load();
  };
  with(false);
  CHECK(other_thread_can_take_it());
  CHECK_THROWS_AS(with(true), std::logic_error);
  CHECK(other_thread_can_take_it());
}

TEMPLATE_TEST_CASE("using a lock from threads shoal did not start registers no Thread", "[sync][lock]",
                   shoal::Lock, shoal::RLock, shoal::Condition) {
  TestType lock;
  const auto before = shoal::active_count();
  {
    Bunch b(
        [&] {
          lock.acquire();
          lock.release();
        },
        15);
    REQUIRE(b.wait_for_finished());
  }
  CHECK(shoal::active_count() == before);
}

TEMPLATE_TEST_CASE("a lock acquire with a timeout gives up after it while another thread holds the lock",
                   "[sync][lock]", shoal::Lock, shoal::RLock, shoal::Condition) {
  TestType lock;
  CHECK_THROWS_AS(lock.acquire(-100ms), shoal::ValueError);
  // Python's TIMEOUT_MAX is accepted; here any duration is, saturating.
  CHECK(lock.acquire(std::chrono::hours::max()));
  lock.release();
  CHECK(lock.acquire(std::chrono::duration<double>(1e100)));
  lock.release();
  std::chrono::steady_clock::duration took{};
  CHECK(lock.acquire(5s));  // free: no wait
  std::atomic<int> result{-1};
  {
    Bunch b(
        [&] {
          took = elapsed([&] { result = lock.acquire(30ms) ? 1 : 0; });
        },
        1);
    REQUIRE(b.wait_for_finished());
  }
  CHECK(result == 0);
  CHECK(took >= 30ms);
  CHECK(took < 2s);
  lock.release();
}

TEMPLATE_TEST_CASE("a lock is a std TimedLockable", "[sync][lock]", shoal::Lock, shoal::RLock) {
  TestType lock;
  std::unique_lock held(lock, std::defer_lock);
  CHECK(held.try_lock_for(10ms));
  held.unlock();
  CHECK(held.try_lock_until(std::chrono::steady_clock::now() + 10ms));
}

// --- LockTests ----------------------------------------------------------------------------

TEST_CASE("a Lock blocks a second acquire by its holder until another thread releases it", "[sync][lock]") {
  shoal::test::Watchdog dog(10s);
  shoal::Lock lock;
  std::atomic<int> phase{0};
  Bunch b(
      [&] {
        lock.acquire();
        phase = 1;
        lock.acquire();  // not reentrant: blocks until the test thread releases it
        phase = 2;
      },
      1);
  REQUIRE(b.wait_for_blocked());
  CHECK(phase == 1);
  lock.release();
  REQUIRE(b.wait_for_finished());
  CHECK(phase == 2);
  lock.release();
}

TEST_CASE("a Lock released by another thread can be acquired again", "[sync][lock]") {
  shoal::Lock lock;
  lock.acquire();
  {
    Bunch b([&] { lock.release(); }, 1);
    REQUIRE(b.wait_for_finished());
  }
  CHECK(lock.acquire(false));
  lock.release();
}

TEST_CASE("a Lock released by another thread wakes a waiter", "[sync][lock]") {
  shoal::test::Watchdog dog(10s);
  shoal::Lock lock;
  lock.acquire();
  std::atomic<bool> got{false};
  std::atomic<std::uint64_t> tid{0};
  std::thread waiter([&] {
    tid = shoal::get_native_id();
    got = lock.acquire();
  });
  REQUIRE(eventually([&] { return tid != 0; }));
  REQUIRE(shoal::test::wait_until_blocked(tid));
  // The releaser is neither the holder nor the waiter.
  std::thread([&] { lock.release(); }).join();
  waiter.join();
  CHECK(got);
  CHECK(lock.locked());
  lock.release();
}

TEST_CASE("a Lock is free and acquirable after an acquire timed out", "[sync][lock]") {
  shoal::Lock lock;
  lock.acquire();
  CHECK_FALSE(lock.acquire(10ms));
  lock.release();
  CHECK_FALSE(lock.locked());
  CHECK(lock.acquire(false));
  lock.release();
}

TEST_CASE("releasing an unlocked Lock throws InvalidStateError", "[sync][lock]") {
  shoal::Lock lock;
  CHECK_THROWS_AS(lock.release(), shoal::InvalidStateError);
  lock.acquire();
  lock.release();
  CHECK_THROWS_AS(lock.release(), shoal::InvalidStateError);
  CHECK_FALSE(lock.locked());
}

TEST_CASE("locked reports whether a Lock is held by any thread", "[sync][lock]") {
  shoal::Lock lock;
  CHECK_FALSE(lock.locked());
  lock.acquire();
  CHECK(lock.locked());
  std::atomic<bool> seen{false};
  std::thread([&] { seen = lock.locked(); }).join();
  CHECK(seen);
  lock.release();
  CHECK_FALSE(lock.locked());
}

// --- RLockTests ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("a reentrant lock may be taken again by its owner", "[sync][rlock]", shoal::RLock,
                   shoal::Condition) {
  TestType lock;
  lock.acquire();
  lock.acquire();
  lock.release();
  lock.acquire();
  lock.release();
  lock.release();
  CHECK(lock.acquire(false));
  lock.release();
}

TEMPLATE_TEST_CASE("releasing a reentrant lock more times than it was acquired throws InvalidStateError",
                   "[sync][rlock]", shoal::RLock, shoal::Condition) {
  TestType lock;
  CHECK_THROWS_AS(lock.release(), shoal::InvalidStateError);
  lock.acquire();
  lock.acquire();
  lock.release();
  lock.acquire();
  lock.release();
  lock.release();
  CHECK_THROWS_AS(lock.release(), shoal::InvalidStateError);
}

TEMPLATE_TEST_CASE("a reentrant lock cannot be released by a thread that does not own it", "[sync][rlock]",
                   shoal::RLock, shoal::Condition) {
  TestType lock;
  Bunch b([&] { lock.acquire(); }, 1, true);  // holds it until do_finish()
  REQUIRE(b.wait_for_finished());
  CHECK_THROWS_AS(lock.release(), shoal::InvalidStateError);
  CHECK_FALSE(lock.acquire(false));
}

TEST_CASE("an RLock knows whether the calling thread owns it", "[sync][rlock]") {
  shoal::RLock lock;
  CHECK_FALSE(lock.is_owned());
  lock.acquire();
  CHECK(lock.is_owned());
  lock.acquire();
  CHECK(lock.is_owned());
  std::atomic<int> other{-1};
  std::thread([&] { other = lock.is_owned() ? 1 : 0; }).join();
  CHECK(other == 0);
  lock.release();
  CHECK(lock.is_owned());
  lock.release();
  CHECK_FALSE(lock.is_owned());
}

TEST_CASE("an RLock counts its owner's recursion", "[sync][rlock]") {
  shoal::RLock lock;
  CHECK(lock.recursion_count() == 0);
  lock.acquire();
  CHECK(lock.recursion_count() == 1);
  lock.acquire();
  lock.acquire();
  CHECK(lock.recursion_count() == 3);
  std::atomic<std::size_t> other{99};
  std::thread([&] { other = lock.recursion_count(); }).join();
  CHECK(other == 0);
  lock.release();
  CHECK(lock.recursion_count() == 2);
  lock.release();
  lock.release();
  CHECK(lock.recursion_count() == 0);
}

TEST_CASE("an RLock is locked while any thread owns it", "[sync][rlock]") {
  shoal::RLock lock;
  CHECK_FALSE(lock.locked());
  lock.acquire();
  CHECK(lock.locked());
  lock.acquire();
  lock.release();
  CHECK(lock.locked());
  std::atomic<bool> seen{false};
  std::thread([&] { seen = lock.locked(); }).join();
  CHECK(seen);
  lock.release();
  CHECK_FALSE(lock.locked());
}

TEST_CASE("an RLock acquire with a timeout succeeds at once for its owner", "[sync][rlock]") {
  shoal::RLock lock;
  lock.acquire();
  CHECK(lock.acquire(0ms));
  CHECK(lock.recursion_count() == 2);
  lock.release();
  lock.release();
}
