// Condition, ported from CPython's Lib/test/lock_tests.py (ConditionTests). Where Python
// sleeps so that the workers "settle into wait()", the test thread takes the condition's
// lock and counts the workers that went into wait() under it: a worker counted there is
// already queued, since wait() queues before it releases the lock.

#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "unit/thread/helpers.hpp"

#include <shoal/sync/condition.hpp>
#include <shoal/sync/lock.hpp>
#include <shoal/sync/rlock.hpp>
#include <shoal/thread/thread.hpp>

using namespace std::chrono_literals;
using shoal::test::Bunch;
using shoal::test::elapsed;
using shoal::test::eventually;
using shoal::test::Record;

TEST_CASE("a Condition is over its own RLock by default, or over the lock it is given", "[sync][condition]") {
  shoal::Condition cond;
  cond.acquire();
  cond.acquire();  // an RLock: reentrant
  cond.release();
  cond.release();

  shoal::Lock lock;
  shoal::Condition over_lock(lock);
  over_lock.acquire();
  CHECK_FALSE(lock.acquire(false));
  over_lock.release();
  CHECK(lock.acquire(false));
  CHECK_FALSE(over_lock.acquire(false));
  lock.release();
  {
    std::lock_guard hold(over_lock);
    CHECK_FALSE(lock.acquire(false));
  }

  shoal::RLock rlock;
  shoal::Condition over_rlock(rlock);
  over_rlock.acquire();
  CHECK(rlock.is_owned());
  over_rlock.release();
  CHECK_FALSE(rlock.locked());
}

TEST_CASE("waiting on a Condition without holding its lock throws InvalidStateError", "[sync][condition]") {
  shoal::Condition cond;
  CHECK_THROWS_AS(cond.wait(), shoal::InvalidStateError);
  CHECK_THROWS_AS(cond.wait(10ms), shoal::InvalidStateError);
  shoal::Lock lock;
  shoal::Condition over_lock(lock);
  CHECK_THROWS_AS(over_lock.wait(), shoal::InvalidStateError);
}

TEST_CASE("notifying a Condition without holding its lock throws InvalidStateError", "[sync][condition]") {
  shoal::Condition cond;
  CHECK_THROWS_AS(cond.notify(), shoal::InvalidStateError);
  CHECK_THROWS_AS(cond.notify_all(), shoal::InvalidStateError);
}

namespace {

/// lock_tests' ConditionTests._check_notify: 5 workers wait twice; notify(3), notify(5)
/// and notify_all() wake exactly the longest-waiting ones, and every wait returns true.
void check_notify(shoal::Condition& cond) {
  constexpr int n = 5;
  int phase = 0;    // under cond
  int waiting = 0;  // workers inside wait(), under cond
  Record<std::pair<bool, int>> results1, results2;
  Bunch b(
      [&] {
        cond.acquire();
        ++waiting;
        bool r = cond.wait();
        --waiting;
        results1.add({r, phase});
        cond.release();
        cond.acquire();
        ++waiting;
        r = cond.wait();
        --waiting;
        results2.add({r, phase});
        cond.release();
      },
      n);
  auto waiting_is = [&](int k) {
    return eventually([&] {
      std::lock_guard hold(cond);
      return waiting == k;
    });
  };
  using R = std::vector<std::pair<bool, int>>;
  REQUIRE(waiting_is(n));
  CHECK(results1.size() == 0);

  cond.acquire();  // notify 3 of the 5
  cond.notify(3);
  phase = 1;
  cond.release();
  REQUIRE(eventually([&] { return results1.size() == 3; }));
  CHECK(results1.items() == R(3, {true, 1}));
  CHECK(results2.size() == 0);

  REQUIRE(waiting_is(n));  // the 3 are back, in their second wait, behind the other 2
  cond.acquire();
  cond.notify(5);
  phase = 2;
  cond.release();
  REQUIRE(eventually([&] { return results1.size() + results2.size() == 8; }));
  R expected1(3, {true, 1});
  expected1.insert(expected1.end(), 2, {true, 2});
  CHECK(results1.items() == expected1);
  CHECK(results2.items() == R(3, {true, 2}));

  REQUIRE(waiting_is(2));  // the last 2 are in their second wait
  cond.acquire();
  cond.notify_all();
  phase = 3;
  cond.release();
  REQUIRE(eventually([&] { return results2.size() == 5; }));
  R expected2(3, {true, 2});
  expected2.insert(expected2.end(), 2, {true, 3});
  CHECK(results2.items() == expected2);
  REQUIRE(b.wait_for_finished());
}

}  // namespace

TEST_CASE("Condition notify wakes the longest-waiting threads first and notify_all wakes the rest",
          "[sync][condition]") {
  shoal::test::Watchdog dog(10s);
  SECTION("over its own RLock") {
    shoal::Condition cond;
    check_notify(cond);
    check_notify(cond);  // a second time: the internal state is still right
  }
  SECTION("over a Lock") {
    shoal::Lock lock;
    shoal::Condition cond(lock);
    check_notify(cond);
    check_notify(cond);
  }
}

TEST_CASE("a Condition wait with a timeout returns false after it when nobody notifies", "[sync][condition]") {
  shoal::test::Watchdog dog(10s);
  shoal::Condition cond;
  Record<std::pair<std::chrono::steady_clock::duration, bool>> results;
  {
    Bunch b(
        [&] {
          cond.acquire();
          bool r = true;
          auto took = elapsed([&] { r = cond.wait(30ms); });
          cond.release();
          results.add({took, r});
        },
        5);
    REQUIRE(b.wait_for_finished());
  }
  REQUIRE(results.size() == 5);
  for (auto& [took, r] : results.items()) {
    CHECK_FALSE(r);
    CHECK(took >= 30ms);
    CHECK(took < 2s);
  }
}

TEST_CASE("a Condition wait with a timeout releases and retakes an RLock held several times", "[sync][condition]") {
  shoal::RLock rlock;
  shoal::Condition cond(rlock);
  cond.acquire();
  cond.acquire();
  std::atomic<bool> other_got_it{false};
  std::thread t([&] {
    // wait() below released both levels: this thread can take the lock.
    if (rlock.acquire(5s)) {
      other_got_it = true;
      cond.notify();
      rlock.release();
    }
  });
  CHECK(cond.wait(5s));
  CHECK(rlock.recursion_count() == 2);
  cond.release();
  cond.release();
  t.join();
  CHECK(other_got_it);
}

TEST_CASE("Condition wait_for returns once the predicate holds", "[sync][condition]") {
  shoal::test::Watchdog dog(10s);
  shoal::Condition cond;
  int state = 0;  // under cond
  std::atomic<int> result{-1};
  std::atomic<int> seen{-1};
  Bunch b(
      [&] {
        std::lock_guard hold(cond);
        result = cond.wait_for([&] { return state == 4; }) ? 1 : 0;
        seen = state;
      },
      1);
  REQUIRE(b.wait_for_started());
  for (int i = 0; i < 4; ++i) {
    std::lock_guard hold(cond);
    ++state;
    cond.notify();
  }
  REQUIRE(b.wait_for_finished());
  CHECK(result == 1);
  CHECK(seen == 4);
}

TEST_CASE("Condition wait_for with a timeout returns false when the predicate never holds", "[sync][condition]") {
  shoal::test::Watchdog dog(10s);
  shoal::Condition cond;
  int state = 0;
  std::atomic<int> result{-1};
  std::chrono::steady_clock::duration took{};
  Bunch b(
      [&] {
        std::lock_guard hold(cond);
        took = elapsed([&] { result = cond.wait_for([&] { return state == 4; }, 50ms) ? 1 : 0; });
      },
      1);
  REQUIRE(b.wait_for_started());
  for (int i = 0; i < 3; ++i) {  // only 3 increments: state == 4 never happens
    std::lock_guard hold(cond);
    ++state;
    cond.notify();
  }
  REQUIRE(b.wait_for_finished());
  CHECK(result == 0);
  CHECK(took >= 50ms);
  CHECK(took < 2s);
}

TEST_CASE("a notify that finds no waiter is not remembered", "[sync][condition]") {
  shoal::Condition cond;
  std::lock_guard hold(cond);
  cond.notify();
  cond.notify_all();
  CHECK_FALSE(cond.wait(10ms));
}

TEST_CASE("a Condition over a Lock may be notified by a thread while another holds the lock",
          "[sync][condition]") {
  // Python checks only that the Lock is held, not by whom; shoal keeps its waiter list
  // consistent in that case too.
  shoal::test::Watchdog dog(10s);
  shoal::Lock lock;
  shoal::Condition cond(lock);
  std::atomic<bool> woke{false};
  std::atomic<std::uint64_t> tid{0};
  std::thread waiter([&] {
    tid = shoal::get_native_id();
    std::lock_guard hold(cond);
    woke = cond.wait(5s);
  });
  REQUIRE(eventually([&] { return tid != 0; }));
  REQUIRE(shoal::test::wait_until_blocked(tid));
  lock.acquire();  // the waiter released it in wait()
  std::thread([&] { cond.notify(); }).join();
  lock.release();
  waiter.join();
  CHECK(woke);
}
