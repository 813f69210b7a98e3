// aio::Lock: the LockTests of CPython's Lib/test/test_asyncio/test_locks.py, plus the
// guard, timeouts and the binding to one loop.

#include <optional>
#include <stdexcept>

#include "aio_support.hpp"

using namespace aio_test;
using shoal::aio::Lock;

namespace {

shoal::Coro<void> acquire_only(Lock* lock) { co_await lock->acquire(); }

shoal::Coro<void> acquire_then_log(Lock* lock, Log* log, int tag) {
  co_await lock->acquire();
  log->push_back(tag);
}

/// test_cancel_race's lockit: takes the lock, waits for `blocker` if any, releases.
shoal::Coro<void> lockit(Lock* lock, std::optional<shoal::Future<void>> blocker) {
  co_await lock->acquire();
  try {
    if (blocker) co_await blocker->wait();
  } catch (...) {
    lock->release();
    throw;
  }
  lock->release();
}

/// test_cancel_release_race's lockit: counts calls and acquisitions.
shoal::Coro<void> count_acquire(Lock* lock, int* lock_count, int* call_count) {
  ++*call_count;
  co_await lock->acquire();
  ++*lock_count;
}

shoal::Coro<void> guarded_throw(Lock* lock, bool* was_locked) {
  auto held = co_await lock->scoped();
  *was_locked = lock->locked();
  throw std::runtime_error("inside the lock");
}

}  // namespace

TEST_CASE("lock repr shows whether it is held and how many wait", "[aio][lock]") {
  // test_repr
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    CHECK(lock.repr() == "<shoal::aio::Lock [unlocked]>");
    co_await lock.acquire();
    CHECK(lock.repr() == "<shoal::aio::Lock [locked]>");
    auto t = shoal::create_task(acquire_only(&lock));
    co_await tick();
    CHECK(lock.repr() == "<shoal::aio::Lock [locked, waiters:1]>");
    lock.release();
    co_await t.wait();
    CHECK(lock.repr() == "<shoal::aio::Lock [locked]>");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a new lock is unlocked", "[aio][lock]") {
  // test_lock
  Lock lock;
  CHECK_FALSE(lock.locked());
}

TEST_CASE("lock waiters acquire in FIFO order one per release", "[aio][lock]") {
  // test_acquire
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    Log result;
    co_await lock.acquire();
    CHECK(lock.locked());

    auto t1 = shoal::create_task(acquire_then_log(&lock, &result, 1));
    auto t2 = shoal::create_task(acquire_then_log(&lock, &result, 2));
    co_await tick();
    CHECK(result.empty());

    lock.release();
    co_await tick();
    CHECK(result == Log{1});
    co_await tick();
    CHECK(result == Log{1});

    auto t3 = shoal::create_task(acquire_then_log(&lock, &result, 3));
    lock.release();
    co_await tick();
    CHECK(result == (Log{1, 2}));

    lock.release();
    co_await tick();
    CHECK(result == (Log{1, 2, 3}));

    CHECK(t1.done());
    CHECK(t2.done());
    CHECK(t3.done());
    co_await t1.wait();
    co_await t2.wait();
    co_await t3.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a cancelled acquire leaves no waiter behind", "[aio][lock][cancel]") {
  // test_acquire_cancel
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    co_await lock.acquire();
    auto task = shoal::create_task(acquire_only(&lock));
    call_soon([task]() mutable { task.cancel(); });
    bool cancelled = co_await ended_cancelled(task);
    CHECK(cancelled);
    CHECK(lock.repr() == "<shoal::aio::Lock [locked]>");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("release skips a waiter cancelled but not yet removed and the lock reaches the next", "[aio][lock][cancel]") {
  // test_cancel_race: A holds the lock, B and C wait; B is cancelled as A releases.
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    shoal::Future<void> fa;
    auto ta = shoal::create_task(lockit(&lock, fa));
    co_await tick();
    CHECK(lock.locked());
    auto tb = shoal::create_task(lockit(&lock, std::nullopt));
    co_await tick();
    CHECK(lock.repr() == "<shoal::aio::Lock [locked, waiters:1]>");
    auto tc = shoal::create_task(lockit(&lock, std::nullopt));
    co_await tick();
    CHECK(lock.repr() == "<shoal::aio::Lock [locked, waiters:2]>");

    fa.set_result();
    tb.cancel();
    co_await tick();
    CHECK_FALSE(lock.locked());
    CHECK(ta.done());
    CHECK(tb.cancelled());
    co_await tc.wait();
    CHECK_FALSE(lock.locked());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("cancelling a waiter as the lock is released lets exactly one acquire", "[aio][lock][cancel]") {
  // test_cancel_release_race (bpo-32734)
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    int lock_count = 0;
    int call_count = 0;
    co_await lock.acquire();
    auto t1 = shoal::create_task(count_acquire(&lock, &lock_count, &call_count));
    auto t2 = shoal::create_task(count_acquire(&lock, &lock_count, &call_count));
    auto t3 = shoal::create_task(count_acquire(&lock, &lock_count, &call_count));
    co_await tick();  // start them

    Lock* l = &lock;
    call_soon([t1, l]() mutable {
      t1.cancel();
      l->release();
    });
    bool cancelled = co_await ended_cancelled(t1);
    CHECK(cancelled);

    CHECK(lock_count == 1);  // only one acquisition
    CHECK(call_count == 3);  // while three were attempted
    CHECK(t1.cancelled());
    CHECK(t2.done());

    t3.cancel();  // the one stuck in acquire()
    co_await tick();
    CHECK(t3.cancelled());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a waiter cancelled before the release does not keep the lock from the next", "[aio][lock][cancel]") {
  // test_finished_waiter_cancelled
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    co_await lock.acquire();
    CHECK(lock.locked());
    auto tb = shoal::create_task(acquire_only(&lock));
    co_await tick();
    CHECK(lock.repr() == "<shoal::aio::Lock [locked, waiters:1]>");

    // A second waiter, then wake the first and cancel it: the second must get the lock.
    auto tc = shoal::create_task(acquire_only(&lock));
    tb.cancel();
    lock.release();
    co_await tick();
    CHECK(lock.locked());
    CHECK(tb.cancelled());
    co_await tc.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a waiter woken then cancelled before it runs passes the lock on", "[aio][lock][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    co_await lock.acquire();
    auto tb = shoal::create_task(acquire_only(&lock));
    auto tc = shoal::create_task(acquire_only(&lock));
    co_await tick();
    lock.release();  // wakes tb ...
    tb.cancel();     // ... which is cancelled before it runs
    bool cancelled = co_await ended_cancelled(tb);
    CHECK(cancelled);
    co_await tc.wait();
    CHECK(lock.locked());
    CHECK(lock.repr() == "<shoal::aio::Lock [locked]>");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("releasing a lock that is not held throws InvalidStateError", "[aio][lock]") {
  // test_release_not_acquired
  Lock lock;
  CHECK_THROWS_AS(lock.release(), shoal::InvalidStateError);
}

TEST_CASE("releasing a lock without waiters unlocks it", "[aio][lock]") {
  // test_release_no_waiters
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    co_await lock.acquire();
    CHECK(lock.locked());
    lock.release();
    CHECK_FALSE(lock.locked());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("the scoped guard holds the lock until the end of its scope", "[aio][lock]") {
  // test_context_manager
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    CHECK_FALSE(lock.locked());
    {
      auto held = co_await lock.scoped();
      CHECK(lock.locked());
      CHECK(held.owns());
    }
    CHECK_FALSE(lock.locked());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("the scoped guard releases on an exception and when released early only once", "[aio][lock]") {
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    bool was_locked = false;
    CHECK_THROWS_AS(co_await guarded_throw(&lock, &was_locked), std::runtime_error);
    CHECK(was_locked);
    CHECK_FALSE(lock.locked());

    auto held = co_await lock.scoped();
    held.release();
    CHECK_FALSE(held.owns());
    CHECK_FALSE(lock.locked());
    auto moved = co_await lock.scoped();
    auto other = std::move(moved);
    CHECK_FALSE(moved.owns());
    CHECK(other.owns());
    CHECK(lock.locked());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("an acquire that times out under wait_for holds nothing", "[aio][lock][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    Lock lock;
    co_await lock.acquire();
    CHECK_THROWS_AS(co_await shoal::wait_for(lock.acquire(), 20ms), shoal::TimeoutError);
    CHECK(lock.repr() == "<shoal::aio::Lock [locked]>");
    lock.release();
    CHECK_FALSE(lock.locked());
    co_await shoal::wait_for(lock.acquire(), 1s);
    CHECK(lock.locked());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a lock bound to one loop refuses waiters from another", "[aio][lock]") {
  // test_ambiguous_loops: Python's _LoopBoundMixin raises RuntimeError.
  Lock lock;
  auto first = [](Lock* lock) -> shoal::Coro<void> {
    co_await lock->acquire();
    auto t = shoal::create_task(acquire_only(lock));  // waits: binds the lock to this loop
    co_await tick();
    t.cancel();
    bool cancelled = co_await ended_cancelled(t);
    CHECK(cancelled);
    lock->release();
  };
  shoal::test::run(first(&lock), 5s);
  auto second = [](Lock* lock) -> shoal::Coro<void> {
    co_await lock->acquire();  // the fast path involves no loop, as in Python
    CHECK_THROWS_AS(co_await lock->acquire(), shoal::InvalidStateError);
    lock->release();
  };
  shoal::test::run(second(&lock), 5s);
}
