// aio::Barrier: the BarrierTests of CPython's Lib/test/test_asyncio/test_locks.py.

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "aio_support.hpp"

using namespace aio_test;
using shoal::aio::Barrier;

namespace {

constexpr int N = 5;  // BarrierTests.asyncSetUp

using Indices = std::vector<std::size_t>;

Indices iota(std::size_t n) {
  Indices out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = i;
  return out;
}

/// Python's gather_tasks(n, coro): n tasks of `make()`, gathered.
template <typename T, typename Make>
shoal::Coro<std::vector<shoal::detail::value_t<T>>> gather_tasks(int n, Make make) {
  std::vector<shoal::Task<T>> tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(shoal::create_task(make()));
  co_return co_await shoal::gather(std::move(tasks));
}

shoal::Coro<void> wait_on(Barrier* b) { (void)co_await b->wait(); }

shoal::Coro<void> reset_it(Barrier* b) { co_await b->reset(); }

struct Results {
  Barrier barrier{N};
  std::vector<bool> results1, results2, results3;
  int count = 0;
};

shoal::Coro<void> wait_twice(Results* s) {
  (void)co_await s->barrier.wait();
  s->results1.push_back(true);
  (void)co_await s->barrier.wait();
  s->results2.push_back(false);
}

shoal::Coro<std::size_t> wait_twice_return_second(Results* s) {
  (void)co_await s->barrier.wait();
  s->results1.push_back(true);
  std::size_t i = co_await s->barrier.wait();
  s->results2.push_back(true);
  co_return i;
}

shoal::Coro<void> note_draining(Results* s) {
  (void)co_await s->barrier.wait();
  s->results1.push_back(contains(s->barrier.repr(), "draining"));
}

shoal::Coro<void> note_broken(Results* s) {
  try {
    (void)co_await s->barrier.wait();
  } catch (const shoal::BrokenBarrierError&) {
    s->results1.push_back(true);
  }
}

}  // namespace

TEST_CASE("a new barrier is filling", "[aio][barrier]") {
  // test_barrier
  Barrier barrier(N);
  CHECK(contains(barrier.repr(), "filling"));
  CHECK(barrier.parties() == std::size_t(N));
  CHECK(barrier.n_waiting() == 0);
  CHECK_FALSE(barrier.broken());
}

TEST_CASE("barrier repr follows filling draining resetting and broken", "[aio][barrier]") {
  // test_repr
  auto body = []() -> shoal::Coro<void> {
    Barrier barrier(N);
    CHECK(barrier.repr() == "<shoal::aio::Barrier [filling, waiters:0/5]>");
    std::vector<shoal::Task<void>> waiters;
    const int incr = 2;
    for (int i = 0; i < incr; ++i) waiters.push_back(shoal::create_task(wait_on(&barrier)));
    co_await tick();
    CHECK(barrier.repr() == "<shoal::aio::Barrier [filling, waiters:2/5]>");

    // The missing waiters.
    for (std::size_t i = 0, n = barrier.parties() - barrier.n_waiting(); i < n; ++i)
      waiters.push_back(shoal::create_task(wait_on(&barrier)));
    co_await tick();
    CHECK(barrier.repr() == "<shoal::aio::Barrier [draining, waiters:0/5]>");

    // Some waiters more, and reset.
    for (int i = 0; i < incr; ++i) waiters.push_back(shoal::create_task(wait_on(&barrier)));
    co_await tick();
    co_await barrier.reset();
    CHECK(contains(barrier.repr(), "resetting"));

    // Some waiters more again, and abort.
    for (int i = 0; i < incr; ++i) waiters.push_back(shoal::create_task(wait_on(&barrier)));
    co_await tick();
    co_await barrier.abort();
    CHECK(barrier.repr() == "<shoal::aio::Barrier [broken]>");
    CHECK(barrier.broken());
    (void)co_await shoal::gather_settled(waiters);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a barrier needs at least one party", "[aio][barrier]") {
  // test_barrier_parties
  CHECK_THROWS_AS(Barrier(0), shoal::ValueError);
  CHECK_THROWS_AS(Barrier(-4), shoal::ValueError);
  CHECK_NOTHROW(Barrier(N));
}

TEST_CASE("barrier wait gives each party a distinct index", "[aio][barrier]") {
  // test_context_manager
  auto body = []() -> shoal::Coro<void> {
    Barrier three(3);
    std::vector<shoal::Task<std::size_t>> tasks;
    for (int i = 0; i < 3; ++i) tasks.push_back(shoal::create_task(three.wait()));
    Indices got = co_await shoal::gather(std::move(tasks));
    std::sort(got.begin(), got.end());
    CHECK(got == iota(3));
    CHECK(three.n_waiting() == 0);
    CHECK_FALSE(three.broken());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a barrier of one party never blocks", "[aio][barrier]") {
  // test_filling_one_task
  auto body = []() -> shoal::Coro<void> {
    Barrier barrier(1);
    std::size_t i = co_await barrier.wait();
    CHECK(i == 0);
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a barrier of one party passes two waiters one after the other", "[aio][barrier]") {
  // test_filling_one_task_twice
  auto body = []() -> shoal::Coro<void> {
    Barrier barrier(1);
    auto t1 = shoal::create_task(barrier.wait());
    co_await tick();
    CHECK(barrier.n_waiting() == 0);
    auto t2 = shoal::create_task(barrier.wait());
    co_await tick();
    REQUIRE(t1.done());
    REQUIRE(t2.done());
    CHECK(t1.result() == t2.result());
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("n_waiting counts the parties as they arrive", "[aio][barrier]") {
  // test_filling_task_by_task
  auto body = []() -> shoal::Coro<void> {
    Barrier barrier(3);
    auto t1 = shoal::create_task(barrier.wait());
    co_await tick();
    CHECK(barrier.n_waiting() == 1);
    CHECK(contains(barrier.repr(), "filling"));
    auto t2 = shoal::create_task(barrier.wait());
    co_await tick();
    CHECK(barrier.n_waiting() == 2);
    CHECK(contains(barrier.repr(), "filling"));
    auto t3 = shoal::create_task(barrier.wait());
    co_await tick();
    (void)co_await shoal::gather(t1, t2, t3);
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a barrier can be passed twice in a row", "[aio][barrier]") {
  // test_filling_tasks_wait_twice
  auto body = []() -> shoal::Coro<void> {
    Results s;
    auto make = [&s] { return wait_twice(&s); };
    (void)co_await gather_tasks<void>(N, make);
    CHECK(s.results1.size() == std::size_t(N));
    CHECK(s.results2.size() == std::size_t(N));
    CHECK(s.barrier.n_waiting() == 0);
    CHECK_FALSE(s.barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("the second pass of a barrier gives distinct indices again", "[aio][barrier]") {
  // test_filling_tasks_check_return_value
  auto body = []() -> shoal::Coro<void> {
    Results s;
    auto make = [&s] { return wait_twice_return_second(&s); };
    Indices res = co_await gather_tasks<std::size_t>(N, make);
    CHECK(s.results1.size() == std::size_t(N));
    CHECK(s.results2.size() == std::size_t(N));
    std::sort(res.begin(), res.end());
    CHECK(res == iota(N));
    CHECK(s.barrier.n_waiting() == 0);
    CHECK_FALSE(s.barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("the barrier drains until the last released party leaves", "[aio][barrier]") {
  // test_draining_state
  auto body = []() -> shoal::Coro<void> {
    Results s;
    auto make = [&s] { return note_draining(&s); };
    (void)co_await gather_tasks<void>(N, make);
    REQUIRE(s.results1.size() == std::size_t(N));
    CHECK_FALSE(s.results1.back());  // the last out sees the barrier filling again
    CHECK(std::all_of(s.results1.begin(), s.results1.end() - 1, [](bool b) { return b; }));
    CHECK(s.barrier.n_waiting() == 0);
    CHECK_FALSE(s.barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

namespace {
struct Rewait {
  Barrier barrier{N};
  Barrier nowaiting{N - 2};
  int rewait_n = 2;
};
shoal::Coro<void> rewait_coro(Rewait* s) {
  (void)co_await s->barrier.wait();  // first time
  if (s->rewait_n > 0) {
    --s->rewait_n;
    (void)co_await s->barrier.wait();  // again, for the rewait tasks only
  } else {
    (void)co_await s->nowaiting.wait();  // for the end of draining
    (void)co_await s->barrier.wait();    // for the others
  }
}
}  // namespace

TEST_CASE("parties arriving while the barrier drains wait for the next round", "[aio][barrier]") {
  // test_blocking_tasks_while_draining: succeeds when `nowaiting` was waited for by
  // exactly N-2 tasks.
  auto body = []() -> shoal::Coro<void> {
    Rewait s;
    auto make = [&s] { return rewait_coro(&s); };
    (void)co_await gather_tasks<void>(N, make);
    CHECK(s.barrier.n_waiting() == 0);
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<void> wait_then_note(Barrier* b, std::vector<bool>* results) {
  (void)co_await b->wait();
  results->push_back(true);
}
}  // namespace

TEST_CASE("a cancelled barrier waiter no longer counts", "[aio][barrier][cancel]") {
  // test_filling_tasks_cancel_one
  auto body = []() -> shoal::Coro<void> {
    Barrier barrier(3);
    std::vector<bool> results;
    auto t1 = shoal::create_task(wait_then_note(&barrier, &results));
    co_await tick();
    CHECK(barrier.n_waiting() == 1);
    auto t2 = shoal::create_task(wait_then_note(&barrier, &results));
    co_await tick();
    CHECK(barrier.n_waiting() == 2);

    t1.cancel();
    co_await tick();
    CHECK(barrier.n_waiting() == 1);
    bool cancelled = co_await ended_cancelled(t1);
    CHECK(cancelled);
    CHECK(t1.cancelled());

    auto t3 = shoal::create_task(wait_then_note(&barrier, &results));
    co_await tick();
    CHECK(barrier.n_waiting() == 2);
    auto t4 = shoal::create_task(wait_then_note(&barrier, &results));
    (void)co_await shoal::gather(t2, t3, t4);
    CHECK(results.size() == 3);
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("resetting an empty barrier leaves it filling", "[aio][barrier]") {
  // test_reset_barrier
  auto body = []() -> shoal::Coro<void> {
    Barrier barrier(1);
    auto t = shoal::create_task(reset_it(&barrier));
    co_await tick();
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
    co_await t.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("reset sends BrokenBarrierError to the waiters and refills the barrier", "[aio][barrier]") {
  // test_reset_barrier_while_tasks_waiting
  auto body = []() -> shoal::Coro<void> {
    Results s;
    std::vector<shoal::Task<void>> tasks;
    for (int i = 0; i < N - 1; ++i) tasks.push_back(shoal::create_task(note_broken(&s)));
    co_await tick();
    auto r = shoal::create_task(reset_it(&s.barrier));
    (void)co_await shoal::gather(std::move(tasks));
    co_await r.wait();
    CHECK(s.results1.size() == std::size_t(N - 1));
    CHECK(s.barrier.n_waiting() == 0);
    CHECK_FALSE(contains(s.barrier.repr(), "resetting"));
    CHECK_FALSE(s.barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

namespace {
/// test_reset_barrier_when_tasks_half_draining's coro. Python compares `barrier._count`
/// (the parties still inside) with N//2; counting the parties that left says the same.
shoal::Coro<void> reset_when_half_left(Results* s) {
  try {
    (void)co_await s->barrier.wait();
  } catch (const shoal::BrokenBarrierError&) {
    s->results1.push_back(true);  // still waiting to drain
    co_return;
  }
  ++s->count;  // left the barrier
  if (N - s->count == N / 2) co_await s->barrier.reset();
}
}  // namespace

TEST_CASE("a reset while half the parties drain breaks the ones still inside", "[aio][barrier]") {
  // test_reset_barrier_when_tasks_half_draining
  auto body = []() -> shoal::Coro<void> {
    Results s;
    auto make = [&s] { return reset_when_half_left(&s); };
    (void)co_await gather_tasks<void>(N, make);
    CHECK(s.results1 == std::vector<bool>(N / 2, true));
    CHECK(s.barrier.n_waiting() == 0);
    CHECK_FALSE(contains(s.barrier.repr(), "resetting"));
    CHECK_FALSE(s.barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

namespace {
/// test_reset_barrier_when_tasks_half_draining_half_blocking's coro.
shoal::Coro<void> half_draining_half_blocking_reset(Results* s) {
  bool broken = false;
  try {
    (void)co_await s->barrier.wait();
  } catch (const shoal::BrokenBarrierError&) {
    broken = true;
  }
  if (broken) {
    s->results1.push_back(true);       // still waiting when the reset came
    (void)co_await s->barrier.wait();  // so now wait again to reach the parties
    co_return;
  }
  if (++s->count > N / 2) {
    co_await s->barrier.reset();  // BrokenBarrierError for the waiting tasks
    (void)co_await s->barrier.wait();
  } else {
    try {
      (void)co_await s->barrier.wait();
    } catch (const shoal::BrokenBarrierError&) {
      s->results2.push_back(true);  // never: blocked tasks go on waiting
    }
  }
}
}  // namespace

TEST_CASE("a reset while parties drain and others block lets everyone through the next round", "[aio][barrier]") {
  // test_reset_barrier_when_tasks_half_draining_half_blocking
  auto body = []() -> shoal::Coro<void> {
    Results s;
    auto make = [&s] { return half_draining_half_blocking_reset(&s); };
    (void)co_await gather_tasks<void>(N, make);
    CHECK(s.results1 == std::vector<bool>(N / 2, true));
    CHECK(s.results2.empty());
    CHECK(s.barrier.n_waiting() == 0);
    CHECK_FALSE(contains(s.barrier.repr(), "resetting"));
    CHECK_FALSE(s.barrier.broken());
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<void> broken_then_again(Results* s) {
  try {
    (void)co_await s->barrier.wait();
  } catch (const shoal::BrokenBarrierError&) {
    s->results1.push_back(true);
  }
  // Python's `finally:` (it awaits, so it cannot be a catch handler here).
  (void)co_await s->barrier.wait();
  s->results2.push_back(true);
}
shoal::Coro<void> pass_once(Results* s) {
  (void)co_await s->barrier.wait();
  s->results2.push_back(true);
}
}  // namespace

TEST_CASE("waiters broken by a reset can wait again and pass", "[aio][barrier]") {
  // test_reset_barrier_while_tasks_waiting_and_waiting_again
  auto body = []() -> shoal::Coro<void> {
    Results s;
    std::vector<shoal::Task<void>> tasks;
    for (int i = 0; i < N - 1; ++i) tasks.push_back(shoal::create_task(broken_then_again(&s)));
    // Reset: the N-1 waiting tasks get BrokenBarrierError.
    auto r = shoal::create_task(reset_it(&s.barrier));
    co_await tick();
    // Completes the waiting tasks in their `finally`.
    auto last = shoal::create_task(pass_once(&s));
    (void)co_await shoal::gather(std::move(tasks));
    co_await r.wait();
    co_await last.wait();
    CHECK_FALSE(s.barrier.broken());
    CHECK(s.results1.size() == std::size_t(N - 1));
    CHECK(s.results2.size() == std::size_t(N));
    CHECK(s.barrier.n_waiting() == 0);
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<void> reset_while_draining(Results* s) {
  (void)co_await s->barrier.wait();
  if (++s->count == N) {
    co_await s->barrier.reset();       // the last task out of the barrier
    (void)co_await s->barrier.wait();  // waits here to reach the parties
  } else {
    try {
      (void)co_await s->barrier.wait();  // second wait: N-1 tasks here
      s->results1.push_back(true);
    } catch (const std::exception&) {
      s->results2.push_back(true);  // never
    }
  }
  // Pass the barrier once more: must complete.
  (void)co_await s->barrier.wait();
  s->results3.push_back(true);
}
}  // namespace

TEST_CASE("a reset by the last party out does not break the next round", "[aio][barrier]") {
  // test_reset_barrier_while_tasks_draining
  auto body = []() -> shoal::Coro<void> {
    Results s;
    auto make = [&s] { return reset_while_draining(&s); };
    (void)co_await gather_tasks<void>(N, make);
    CHECK_FALSE(s.barrier.broken());
    CHECK(s.results1.size() == std::size_t(N - 1));
    CHECK(s.results2.empty());
    CHECK(s.results3.size() == std::size_t(N));
    CHECK(s.barrier.n_waiting() == 0);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("abort breaks the barrier", "[aio][barrier]") {
  // test_abort_barrier
  auto body = []() -> shoal::Coro<void> {
    Barrier barrier(1);
    auto abort_it = [](Barrier* b) -> shoal::Coro<void> { co_await b->abort(); };
    auto t = shoal::create_task(abort_it(&barrier));
    co_await tick();
    CHECK(barrier.n_waiting() == 0);
    CHECK(barrier.broken());
    CHECK_THROWS_AS(co_await barrier.wait(), shoal::BrokenBarrierError);
    co_await t.wait();
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<void> half_draining_half_blocking_abort(Results* s) {
  try {
    (void)co_await s->barrier.wait();
  } catch (const shoal::BrokenBarrierError&) {
    s->results1.push_back(true);  // waiting to drain
    co_return;
  }
  if (++s->count > N / 2) {
    co_await s->barrier.abort();  // BrokenBarrierError for every task
  } else {
    try {
      (void)co_await s->barrier.wait();
    } catch (const shoal::BrokenBarrierError&) {
      s->results2.push_back(true);  // blocked tasks, already drained
    }
  }
}
}  // namespace

TEST_CASE("an abort while parties drain and others block breaks them all", "[aio][barrier]") {
  // test_abort_barrier_when_tasks_half_draining_half_blocking
  auto body = []() -> shoal::Coro<void> {
    Results s;
    auto make = [&s] { return half_draining_half_blocking_abort(&s); };
    (void)co_await gather_tasks<void>(N, make);
    CHECK(s.barrier.broken());
    CHECK(s.results1 == std::vector<bool>(N / 2, true));
    CHECK(s.results2 == std::vector<bool>(N - N / 2 - 1, true));
    CHECK(s.barrier.n_waiting() == 0);
    CHECK_FALSE(contains(s.barrier.repr(), "resetting"));
  };
  shoal::test::run(body(), 5s);
}

namespace {
/// test_abort_barrier_when_exception's coro (from threading's lock_tests.test_reset).
shoal::Coro<void> abort_on_exception(Results* s) {
  bool failed = false;
  try {
    std::size_t i = co_await s->barrier.wait();
    if (i == N / 2) throw std::runtime_error("the middle party fails");
    (void)co_await s->barrier.wait();
    s->results1.push_back(true);
  } catch (const shoal::BrokenBarrierError&) {
    s->results2.push_back(true);
  } catch (const std::runtime_error&) {
    failed = true;
  }
  if (failed) co_await s->barrier.abort();
}
}  // namespace

TEST_CASE("a party that fails and aborts breaks the barrier for the others", "[aio][barrier]") {
  // test_abort_barrier_when_exception
  auto body = []() -> shoal::Coro<void> {
    Results s;
    auto make = [&s] { return abort_on_exception(&s); };
    (void)co_await gather_tasks<void>(N, make);
    CHECK(s.barrier.broken());
    CHECK(s.results1.empty());
    CHECK(s.results2.size() == std::size_t(N - 1));
    CHECK(s.barrier.n_waiting() == 0);
  };
  shoal::test::run(body(), 5s);
}

namespace {
struct TwoBarriers {
  Barrier barrier1{N};
  Barrier barrier2{N};
  std::vector<bool> results1, results2, results3;
};
/// test_abort_barrier_when_exception_then_resetting's coro (lock_tests.test_abort_and_reset).
shoal::Coro<void> abort_then_reset(TwoBarriers* s) {
  bool failed = false;
  try {
    std::size_t i = co_await s->barrier1.wait();
    if (i == N / 2) throw std::runtime_error("the middle party fails");
    (void)co_await s->barrier1.wait();
    s->results1.push_back(true);
  } catch (const shoal::BrokenBarrierError&) {
    s->results2.push_back(true);
  } catch (const std::runtime_error&) {
    failed = true;
  }
  if (failed) co_await s->barrier1.abort();

  // Synchronize and reset barrier1: first so that everyone has left it when it is reset,
  // and after so that no one enters it before the reset.
  std::size_t i = co_await s->barrier2.wait();
  if (i == N / 2) co_await s->barrier1.reset();
  (void)co_await s->barrier2.wait();
  (void)co_await s->barrier1.wait();
  s->results3.push_back(true);
}
}  // namespace

TEST_CASE("a barrier broken by an abort works again after reset", "[aio][barrier]") {
  // test_abort_barrier_when_exception_then_resetting
  auto body = []() -> shoal::Coro<void> {
    TwoBarriers s;
    auto make = [&s] { return abort_then_reset(&s); };
    (void)co_await gather_tasks<void>(N, make);
    CHECK_FALSE(s.barrier1.broken());
    CHECK(s.results1.empty());
    CHECK(s.results2.size() == std::size_t(N - 1));
    CHECK(s.results3.size() == std::size_t(N));
    CHECK(s.barrier1.n_waiting() == 0);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a barrier wait that times out leaves the barrier usable", "[aio][barrier][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    Barrier barrier(2);
    CHECK_THROWS_AS(co_await shoal::wait_for(barrier.wait(), 20ms), shoal::TimeoutError);
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
    auto t = shoal::create_task(barrier.wait());
    std::size_t mine = co_await barrier.wait();
    std::size_t theirs = co_await t.wait();
    CHECK(mine + theirs == 1);
  };
  shoal::test::run(body(), 5s);
}
