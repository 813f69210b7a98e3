// aio::Semaphore and aio::BoundedSemaphore: the SemaphoreTests of CPython's
// Lib/test/test_asyncio/test_locks.py.

#include <optional>
#include <string>
#include <vector>

#include "aio_support.hpp"

using namespace aio_test;
using shoal::aio::BoundedSemaphore;
using shoal::aio::Semaphore;

namespace {

shoal::Coro<void> acquire_only(Semaphore* sem) { co_await sem->acquire(); }

shoal::Coro<void> acquire_then_log(Semaphore* sem, Log* log, int tag) {
  co_await sem->acquire();
  log->push_back(tag);
}

/// test_acquire_no_hang's c1: holds the semaphore one step, then cancels the other task.
shoal::Coro<void> hold_then_cancel(Semaphore* sem, std::optional<shoal::Task<void>>* other) {
  {
    auto held = co_await sem->scoped();
    co_await tick();
  }
  (*other)->cancel();
}

shoal::Coro<void> must_not_get_in(Semaphore* sem) {
  auto held = co_await sem->scoped();
  FAIL("a cancelled acquire got in");
}

/// test_acquire_fifo_order's coro.
shoal::Coro<void> twice(Semaphore* sem, std::vector<std::string>* result, std::string tag) {
  co_await sem->acquire();
  result->push_back(tag + "_1");
  co_await tick();
  sem->release();
  co_await sem->acquire();
  result->push_back(tag + "_2");
  co_await tick();
  sem->release();
}

/// test_acquire_fifo_order_2's c2.
shoal::Coro<void> log_release_reacquire(Semaphore* sem, Log* log) {
  co_await sem->acquire();
  log->push_back(2);
  sem->release();
  co_await sem->acquire();
  log->push_back(4);
}

struct Fifo4 {
  Semaphore sem{0};
  Log result;
  std::optional<shoal::Task<void>> t4;
};

shoal::Coro<void> fifo4_c4(Fifo4* s) {
  s->result.push_back(4);
  co_return;
}

shoal::Coro<void> fifo4_c1(Fifo4* s) {
  // Waits at once; woken by c2.
  CHECK(s->sem.value() == 0);
  co_await s->sem.acquire();
  CHECK(s->sem.value() == 0);  // every waiting task has been woken by now
  s->t4 = shoal::create_task(fifo4_c4(s));  // runs after c3, not after c2
  s->result.push_back(1);
}

shoal::Coro<void> fifo4_c2(Fifo4* s) {
  // Releases three times, for c1, c2 and c3.
  s->sem.release();
  s->sem.release();
  s->sem.release();
  CHECK(s->sem.value() == 2);
  CHECK(s->sem.locked());  // c1 has not woken up yet
  co_await s->sem.acquire();
  s->result.push_back(2);
}

shoal::Coro<void> fifo4_c3(Fifo4* s) {
  co_await s->sem.acquire();
  CHECK(s->sem.locked());
  s->result.push_back(3);
}

}  // namespace

TEST_CASE("a semaphore with initial value zero is locked", "[aio][semaphore]") {
  // test_initial_value_zero
  Semaphore sem(0);
  CHECK(sem.locked());
}

TEST_CASE("semaphore repr shows the value or locked and the number of waiters", "[aio][semaphore]") {
  // test_repr
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem;
    CHECK(sem.repr() == "<shoal::aio::Semaphore [unlocked, value:1]>");
    co_await sem.acquire();
    CHECK(sem.repr() == "<shoal::aio::Semaphore [locked]>");
    auto t1 = shoal::create_task(acquire_only(&sem));
    co_await tick();
    CHECK(sem.repr() == "<shoal::aio::Semaphore [locked, waiters:1]>");
    auto t2 = shoal::create_task(acquire_only(&sem));
    co_await tick();
    CHECK(sem.repr() == "<shoal::aio::Semaphore [locked, waiters:2]>");
    sem.release();
    sem.release();
    co_await t1.wait();
    co_await t2.wait();
    BoundedSemaphore bounded(2);
    CHECK(bounded.repr() == "<shoal::aio::BoundedSemaphore [unlocked, value:2]>");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a default semaphore has value one and is not locked", "[aio][semaphore]") {
  // test_semaphore
  Semaphore sem;
  CHECK(sem.value() == 1);
  CHECK_FALSE(sem.locked());
}

TEST_CASE("a negative initial value throws ValueError", "[aio][semaphore]") {
  // test_semaphore_value
  CHECK_THROWS_AS(Semaphore(-1), shoal::ValueError);
  CHECK_THROWS_AS(BoundedSemaphore(-1), shoal::ValueError);
}

TEST_CASE("semaphore acquire hands out the counter and queues the rest", "[aio][semaphore]") {
  // test_acquire
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem(3);
    Log result;
    co_await sem.acquire();
    co_await sem.acquire();
    CHECK_FALSE(sem.locked());

    auto t1 = shoal::create_task(acquire_then_log(&sem, &result, 1));
    auto t2 = shoal::create_task(acquire_then_log(&sem, &result, 2));
    auto t3 = shoal::create_task(acquire_then_log(&sem, &result, 3));
    co_await tick();
    CHECK(result == Log{1});
    CHECK(sem.locked());
    CHECK(contains(sem.repr(), "waiters:2"));
    CHECK(sem.value() == 0);

    auto t4 = shoal::create_task(acquire_then_log(&sem, &result, 4));
    sem.release();
    sem.release();
    CHECK(sem.value() == 0);  // both units handed to waiters at once

    co_await tick();
    CHECK(sem.value() == 0);
    CHECK(result.size() == 3);
    CHECK(sem.locked());
    CHECK(contains(sem.repr(), "waiters:1"));
    CHECK(t1.done());
    int done = int(t2.done()) + int(t3.done()) + int(t4.done());
    CHECK(done == 2);

    sem.release();  // the last waiter
    co_await t2.wait();
    co_await t3.wait();
    co_await t4.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a cancelled semaphore acquire leaves no waiter behind", "[aio][semaphore][cancel]") {
  // test_acquire_cancel
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem;
    co_await sem.acquire();
    auto acquire = shoal::create_task(acquire_only(&sem));
    call_soon([acquire]() mutable { acquire.cancel(); });
    bool cancelled = co_await ended_cancelled(acquire);
    CHECK(cancelled);
    CHECK_FALSE(contains(sem.repr(), "waiters"));
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("waiters cancelled before a release do not swallow it", "[aio][semaphore][cancel]") {
  // test_acquire_cancel_before_awoken
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem(0);
    auto t1 = shoal::create_task(acquire_only(&sem));
    auto t2 = shoal::create_task(acquire_only(&sem));
    auto t3 = shoal::create_task(acquire_only(&sem));
    auto t4 = shoal::create_task(acquire_only(&sem));
    co_await tick();

    t1.cancel();
    t2.cancel();
    sem.release();
    co_await tick();
    co_await tick();
    CHECK(int(t3.done()) + int(t4.done()) == 1);
    CHECK(t3.done());
    CHECK_FALSE(t4.done());

    t3.cancel();
    t4.cancel();
    co_await tick();
    bool c1 = co_await ended_cancelled(t1);
    bool c2 = co_await ended_cancelled(t2);
    bool c4 = co_await ended_cancelled(t4);
    CHECK(c1);
    CHECK(c2);
    CHECK(c4);
    co_await t3.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a release after a cancelled waiter reaches the next waiter", "[aio][semaphore][cancel]") {
  // test_acquire_hang
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem(0);
    auto t1 = shoal::create_task(acquire_only(&sem));
    auto t2 = shoal::create_task(acquire_only(&sem));
    co_await tick();
    t1.cancel();
    sem.release();
    co_await tick();
    co_await tick();
    CHECK(sem.locked());
    CHECK(t2.done());
    bool cancelled = co_await ended_cancelled(t1);
    CHECK(cancelled);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a waiter cancelled after it was handed a unit gives it back", "[aio][semaphore][cancel]") {
  // test_acquire_no_hang
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem(1);
    std::optional<shoal::Task<void>> t2;
    auto t1 = shoal::create_task(hold_then_cancel(&sem, &t2));
    t2 = shoal::create_task(must_not_get_in(&sem));
    auto results = co_await shoal::gather_settled(t1, *t2);
    CHECK(std::get<0>(results).ok());
    CHECK(std::get<1>(results).cancelled());
    co_await shoal::wait_for(sem.acquire(), 1s);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("releasing a bounded semaphore past its initial value throws ValueError", "[aio][semaphore]") {
  // test_release_not_acquired
  BoundedSemaphore sem;
  CHECK_THROWS_AS(sem.release(), shoal::ValueError);
  CHECK(sem.value() == 1);
}

TEST_CASE("a bounded semaphore releases what was acquired and refuses more", "[aio][semaphore]") {
  auto body = []() -> shoal::Coro<void> {
    BoundedSemaphore sem(2);
    co_await sem.acquire();
    {
      auto held = co_await sem.scoped();
      CHECK(sem.locked());
    }
    sem.release();
    CHECK(sem.value() == 2);
    CHECK_THROWS_AS(sem.release(), shoal::ValueError);
    CHECK(sem.value() == 2);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("releasing a semaphore without waiters unlocks it", "[aio][semaphore]") {
  // test_release_no_waiters
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem;
    co_await sem.acquire();
    CHECK(sem.locked());
    sem.release();
    CHECK_FALSE(sem.locked());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("semaphore waiters are served in FIFO order across rounds", "[aio][semaphore]") {
  // test_acquire_fifo_order (sleep(0.01) replaced by sleep(0): the order does not depend on it)
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem(1);
    std::vector<std::string> result;
    shoal::TaskGroup tg;
    auto a = tg.create_task(twice(&sem, &result, "c1"));
    auto b = tg.create_task(twice(&sem, &result, "c2"));
    auto c = tg.create_task(twice(&sem, &result, "c3"));
    co_await tg.join();
    CHECK(result == (std::vector<std::string>{"c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"}));
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a release then re-acquire queues behind the waiters", "[aio][semaphore]") {
  // test_acquire_fifo_order_2
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem(1);
    Log result;
    auto t1 = shoal::create_task(acquire_then_log(&sem, &result, 1));
    auto t2 = shoal::create_task(log_release_reacquire(&sem, &result));
    auto t3 = shoal::create_task(acquire_then_log(&sem, &result, 3));
    co_await tick();
    sem.release();
    sem.release();
    co_await shoal::gather(t1, t2, t3);
    CHECK(result == (Log{1, 2, 3, 4}));
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a cancelled waiter is skipped and the order of the others kept", "[aio][semaphore][cancel]") {
  // test_acquire_fifo_order_3
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem(0);
    Log result;
    auto t1 = shoal::create_task(acquire_then_log(&sem, &result, 1));
    auto t2 = shoal::create_task(acquire_then_log(&sem, &result, 2));
    auto t3 = shoal::create_task(acquire_then_log(&sem, &result, 3));
    co_await tick();
    t1.cancel();
    co_await tick();
    sem.release();
    sem.release();
    auto outcomes = co_await shoal::gather_settled(t1, t2, t3);
    CHECK(std::get<0>(outcomes).cancelled());
    CHECK(result == (Log{2, 3}));
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a successful acquire wakes every waiter the counter allows", "[aio][semaphore]") {
  // test_acquire_fifo_order_4
  auto body = []() -> shoal::Coro<void> {
    Fifo4 s;
    auto t1 = shoal::create_task(fifo4_c1(&s));
    auto t2 = shoal::create_task(fifo4_c2(&s));
    auto t3 = shoal::create_task(fifo4_c3(&s));
    co_await tick();
    // Three tasks wait; the first has not woken up yet.
    CHECK(s.sem.value() == 2);
    CHECK(contains(s.sem.repr(), "waiters:3"));
    co_await tick();
    REQUIRE(s.t4);
    co_await shoal::gather(t1, t2, t3, *s.t4);
    CHECK(s.result == (Log{1, 2, 3, 4}));
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a semaphore acquire that times out under wait_for takes nothing", "[aio][semaphore][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    Semaphore sem(0);
    CHECK_THROWS_AS(co_await shoal::wait_for(sem.acquire(), 20ms), shoal::TimeoutError);
    CHECK(sem.value() == 0);
    CHECK_FALSE(contains(sem.repr(), "waiters"));
    sem.release();
    CHECK(sem.value() == 1);
    co_await shoal::wait_for(sem.acquire(), 1s);
    CHECK(sem.value() == 0);
  };
  shoal::test::run(body(), 5s);
}
