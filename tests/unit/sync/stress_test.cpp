// Many threads hammering each primitive, checking its invariant (mutual exclusion, the
// semaphore's bound, no lost wake-up, lockstep rounds) under a watchdog: a deadlock fails
// loudly instead of hanging.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "unit/thread/helpers.hpp"

#include <shoal/sync/barrier.hpp>
#include <shoal/sync/condition.hpp>
#include <shoal/sync/event.hpp>
#include <shoal/sync/lock.hpp>
#include <shoal/sync/rlock.hpp>
#include <shoal/sync/semaphore.hpp>

using namespace std::chrono_literals;

namespace {

constexpr int kThreads = 16;

/// Runs fn(i) in n threads, released together once all have started, and joins them.
template <typename F>
void in_threads(int n, F fn) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < n) std::this_thread::yield();
      fn(i);
    });
  for (auto& t : threads) t.join();
}

}  // namespace

TEMPLATE_TEST_CASE("many threads taking a lock never overlap and lose no update", "[sync][stress]",
                   shoal::Lock, shoal::RLock) {
  shoal::test::Watchdog dog(20s);
  TestType lock;
  constexpr int iterations = 5000;
  long counter = 0;  // guarded by lock, deliberately not atomic
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0}, timeouts{0};
  in_threads(kThreads, [&](int id) {
    for (int i = 0; i < iterations; ++i) {
      // Mix the ways in: blocking, polling, with a timeout, via std::lock_guard.
      switch ((i + id) % 4) {
        case 0:
          lock.acquire();
          break;
        case 1:
          while (!lock.acquire(false)) std::this_thread::yield();
          break;
        case 2:
          if (!lock.acquire(5s)) {
            timeouts.fetch_add(1);
            continue;
          }
          break;
        default: {
          std::lock_guard hold(lock);
          if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
          ++counter;
          inside.fetch_sub(1);
          continue;
        }
      }
      if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
      ++counter;
      inside.fetch_sub(1);
      lock.release();
    }
  });
  CHECK(overlaps == 0);
  CHECK(timeouts == 0);
  CHECK(counter == long{kThreads} * iterations);
}

TEST_CASE("a Lock handed from thread to thread, each releasing what another acquired, keeps order",
          "[sync][stress]") {
  // Python's Lock has no owner: here each thread releases the lock its predecessor
  // acquired, passing a baton around a ring.
  shoal::test::Watchdog dog(20s);
  constexpr int rounds = 300;
  constexpr int n = 8;
  shoal::Lock baton;
  std::atomic<int> turn{0};
  std::atomic<int> errors{0};
  int passes = 0;  // protected by the baton
  baton.acquire();
  in_threads(n, [&](int id) {
    for (int r = 0; r < rounds; ++r) {
      const int mine = r * n + id;
      while (turn.load() != mine) std::this_thread::yield();
      // The lock is held by the previous thread's acquire: release it for it, then take it.
      baton.release();
      if (!baton.acquire(5s)) errors.fetch_add(1);
      ++passes;
      turn.store(mine + 1);
    }
  });
  baton.release();
  CHECK(errors == 0);
  CHECK(passes == rounds * n);
  CHECK_FALSE(baton.locked());
}

TEST_CASE("many threads through a Semaphore never exceed its value", "[sync][stress]") {
  shoal::test::Watchdog dog(20s);
  constexpr int limit = 3;
  constexpr int iterations = 1000;
  shoal::Semaphore sem(limit);
  std::atomic<int> inside{0}, peak{0}, entries{0}, excess{0};
  in_threads(kThreads, [&](int id) {
    for (int i = 0; i < iterations; ++i) {
      if ((i + id) % 2)
        sem.acquire();
      else if (!sem.acquire(5s))
        continue;
      const int now = inside.fetch_add(1) + 1;
      if (now > limit) excess.fetch_add(1);
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      entries.fetch_add(1);
      inside.fetch_sub(1);
      sem.release();
    }
  });
  CHECK(excess == 0);
  CHECK(peak <= limit);
  CHECK(entries == kThreads * iterations);
  CHECK(sem.value() == limit);
}

TEST_CASE("producers and consumers over a Condition lose and duplicate no item", "[sync][stress]") {
  shoal::test::Watchdog dog(20s);
  constexpr int producers = 8, consumers = 8, per_producer = 2000;
  shoal::Lock lock;
  shoal::Condition cond(lock);
  std::deque<int> items;  // under lock
  int done_producers = 0;  // under lock
  std::vector<std::atomic<int>> seen(producers * per_producer);
  std::atomic<long> sum{0};
  in_threads(producers + consumers, [&](int id) {
    if (id < producers) {
      for (int i = 0; i < per_producer; ++i) {
        std::lock_guard hold(cond);
        items.push_back(id * per_producer + i);
        cond.notify();
      }
      std::lock_guard hold(cond);
      ++done_producers;
      cond.notify_all();
    } else {
      for (;;) {
        std::lock_guard hold(cond);
        // A bounded wait also exercises timeouts racing notifies.
        cond.wait_for([&] { return !items.empty() || done_producers == producers; }, 20ms);
        if (items.empty()) {
          if (done_producers == producers) return;
          continue;
        }
        const int v = items.front();
        items.pop_front();
        seen[v].fetch_add(1);
        sum.fetch_add(v);
      }
    }
  });
  int missing = 0, duplicated = 0;
  for (auto& s : seen) {
    if (s == 0) ++missing;
    if (s > 1) ++duplicated;
  }
  CHECK(missing == 0);
  CHECK(duplicated == 0);
  const long n = producers * per_producer;
  CHECK(sum == n * (n - 1) / 2);
}

TEST_CASE("Condition notify from many threads wakes exactly as many waiters as it is asked to",
          "[sync][stress]") {
  // A token count under the lock: each notify(1) adds a token, each woken waiter takes one.
  // No wake-up may be lost (the test would hang) and no waiter may return without a token.
  shoal::test::Watchdog dog(20s);
  constexpr int waiters = 8, notifiers = 8, per_notifier = 500;
  shoal::Condition cond;
  int tokens = 0;  // under cond
  std::atomic<int> taken{0}, empty_wakeups{0};
  in_threads(waiters + notifiers, [&](int id) {
    if (id < waiters) {
      for (;;) {
        std::lock_guard hold(cond);
        while (tokens == 0 && taken.load() < notifiers * per_notifier) cond.wait();
        if (tokens == 0) {
          if (taken.load() >= notifiers * per_notifier) return;
          empty_wakeups.fetch_add(1);
          continue;
        }
        --tokens;
        if (taken.fetch_add(1) + 1 == notifiers * per_notifier) cond.notify_all();
      }
    } else {
      for (int i = 0; i < per_notifier; ++i) {
        std::lock_guard hold(cond);
        ++tokens;
        cond.notify();
      }
    }
  });
  CHECK(taken == notifiers * per_notifier);
  CHECK(empty_wakeups == 0);
}

TEST_CASE("an Event set and cleared by one thread while many wait loses no wake-up", "[sync][stress]") {
  shoal::test::Watchdog dog(20s);
  constexpr int n = 12, rounds = 200;
  shoal::Event go, done;
  std::atomic<int> round{0}, arrived{0}, failures{0};
  std::thread setter([&] {
    for (int r = 1; r <= rounds; ++r) {
      // Everyone is back for round r before the event opens it.
      while (arrived.load() < n * (r - 1)) std::this_thread::yield();
      round.store(r);
      go.set();
      while (arrived.load() < n * r) std::this_thread::yield();
      go.clear();
    }
    done.set();
  });
  in_threads(n, [&](int) {
    for (int r = 1; r <= rounds; ++r) {
      while (round.load() < r) {
        if (!go.wait(5s)) failures.fetch_add(1);
        if (round.load() < r) std::this_thread::yield();  // the previous round's set: go again
      }
      arrived.fetch_add(1);
    }
  });
  setter.join();
  CHECK(done.is_set());
  CHECK(failures == 0);
  CHECK(arrived == n * rounds);
}

TEST_CASE("many threads through many Barrier rounds stay in lockstep", "[sync][stress]") {
  shoal::test::Watchdog dog(20s);
  constexpr int n = 8, rounds = 200;
  std::vector<int> round_of(n, 0);  // each slot written by its thread, read after the barrier
  std::atomic<int> actions{0}, out_of_step{0}, bad_indices{0};
  std::vector<std::atomic<int>> index_mask(rounds);
  shoal::Barrier barrier(n, [&] { actions.fetch_add(1); }, 5s);
  in_threads(n, [&](int id) {
    for (int r = 0; r < rounds; ++r) {
      round_of[id] = r;
      const std::size_t i = barrier.wait();
      if (index_mask[r].fetch_or(1 << i) & (1 << i)) bad_indices.fetch_add(1);
      for (int j = 0; j < n; ++j)
        if (round_of[j] < r) out_of_step.fetch_add(1);
      barrier.wait();  // nobody writes round r+1 before everyone has checked round r
    }
  });
  CHECK(out_of_step == 0);
  CHECK(bad_indices == 0);
  CHECK(actions == 2 * rounds);
  for (auto& m : index_mask) CHECK(m == (1 << n) - 1);
  CHECK_FALSE(barrier.broken());
}
