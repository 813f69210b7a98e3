// Stress: a thousand coroutines hammering each aio primitive and queue, with random
// cancellations, checking the invariants (mutual exclusion, FIFO, no lost wake-up, no
// lost or doubled item). Seeds are fixed, so a failure replays. A lost wake-up shows as a
// hang, which the watchdog of shoal::test::run turns into a failure within its bound.

#include <algorithm>
#include <cstddef>
#include <deque>
#include <random>
#include <vector>

#include "aio_support.hpp"

using namespace aio_test;

namespace {

constexpr int kCoroutines = 1000;

/// Cancels `n` random tasks of `tasks`, one every 0..max_gap loop turns. Finished tasks
/// refuse, which is part of the game.
template <typename T>
shoal::Coro<void> cancel_randomly(std::vector<shoal::Task<T>>* tasks, std::mt19937* rng, int n,
                                  int max_gap) {
  std::uniform_int_distribution<int> gap(0, max_gap);
  std::uniform_int_distribution<std::size_t> which(0, tasks->size() - 1);
  for (int i = 0; i < n; ++i) {
    co_await tick(gap(*rng));
    (*tasks)[which(*rng)].cancel();
  }
}

/// Counts the coroutines inside a critical section.
struct Occupancy {
  int inside = 0;
  int max_inside = 0;
  long entries = 0;
};

/// Inside the section for its lifetime, also when a cancellation unwinds it.
class Inside {
 public:
  explicit Inside(Occupancy* o) : o_(o) {
    ++o_->inside;
    ++o_->entries;
    o_->max_inside = std::max(o_->max_inside, o_->inside);
  }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;
  ~Inside() { --o_->inside; }

 private:
  Occupancy* o_;
};

/// The coroutines waiting on a primitive, in arrival order, so that a test can cancel the
/// one a release has just woken: the narrow window (woken, not yet run) that random
/// cancellation seldom hits, where the wake-up must be passed on.
struct Line {
  std::deque<std::size_t> ids;
  std::vector<shoal::Task<void>>* tasks = nullptr;

  /// Cancels the first coroutine in line, usually the one just woken.
  void cancel_front() {
    if (!ids.empty() && tasks) (*tasks)[ids.front()].cancel();
  }
};

/// In `line` for its lifetime.
class InLine {
 public:
  InLine(Line* line, std::size_t id) : line_(line), id_(id) { line_->ids.push_back(id); }
  InLine(const InLine&) = delete;
  InLine& operator=(const InLine&) = delete;
  ~InLine() { line_->ids.erase(std::find(line_->ids.begin(), line_->ids.end(), id_)); }

 private:
  Line* line_;
  std::size_t id_;
};

template <typename T>
std::size_t count_cancelled(const std::vector<shoal::Outcome<T>>& outcomes) {
  auto cancelled = [](const auto& o) { return o.cancelled(); };
  return std::size_t(std::count_if(outcomes.begin(), outcomes.end(), cancelled));
}

template <typename T>
std::size_t count_failed(const std::vector<shoal::Outcome<T>>& outcomes) {
  auto failed = [](const auto& o) { return o.failed(); };
  return std::size_t(std::count_if(outcomes.begin(), outcomes.end(), failed));
}

// --- Lock --------------------------------------------------------------------------------

shoal::Coro<void> lock_in_turn(shoal::aio::Lock* lock, Occupancy* occ, std::vector<int>* order, int id,
                               int rounds) {
  for (int r = 0; r < rounds; ++r) {
    co_await lock->acquire();
    {
      Inside in(occ);
      order->push_back(id);
      co_await tick();  // hold the lock across a suspension
    }
    lock->release();
  }
}

template <typename L>
shoal::Coro<shoal::aio::Acquired<L>> acquire_in_line(L* l, Line* line, std::size_t id) {
  InLine in_line(line, id);
  co_return co_await l->scoped();
}

/// Takes `l` `rounds` times, holding it across a suspension; after every other release it
/// cancels the coroutine that the release woke.
template <typename L>
shoal::Coro<void> hold_rounds(L* l, Occupancy* occ, Line* line, std::size_t id, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    auto held = co_await acquire_in_line(l, line, id);
    {
      Inside in(occ);
      co_await tick();
    }
    held.release();
    if (r % 2 == 0) line->cancel_front();
  }
}

}  // namespace

TEST_CASE("a thousand coroutines take a lock one at a time in FIFO order", "[aio][lock][stress]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::aio::Lock lock;
    Occupancy occ;
    std::vector<int> order;
    const int rounds = 3;
    std::vector<shoal::Task<void>> tasks;
    for (int id = 0; id < kCoroutines; ++id)
      tasks.push_back(shoal::create_task(lock_in_turn(&lock, &occ, &order, id, rounds)));
    (void)co_await shoal::gather(std::move(tasks));
    CHECK(occ.max_inside == 1);
    // FIFO: everyone queues in creation order, and a coroutine that releases and asks
    // again goes to the back: the order is 0..999, three times.
    std::vector<int> expected;
    for (int r = 0; r < rounds; ++r)
      for (int id = 0; id < kCoroutines; ++id) expected.push_back(id);
    CHECK(order == expected);
    CHECK(lock.repr() == "<shoal::aio::Lock [unlocked]>");
  };
  shoal::test::run(body(), 30s);
}

TEST_CASE("a lock stays exclusive and loses no wake-up under random cancellation", "[aio][lock][stress][cancel]") {
  auto seed = GENERATE(1u, 2u, 3u);
  auto body = [](unsigned seed) -> shoal::Coro<void> {
    std::mt19937 rng(seed);
    shoal::aio::Lock lock;
    Occupancy occ;
    const int rounds = 3;
    Line line;
    std::vector<shoal::Task<void>> tasks;
    for (std::size_t i = 0; i < std::size_t(kCoroutines); ++i)
      tasks.push_back(shoal::create_task(hold_rounds(&lock, &occ, &line, i, rounds)));
    line.tasks = &tasks;
    auto canceller = shoal::create_task(cancel_randomly(&tasks, &rng, 400, 3));
    auto outcomes = co_await shoal::gather_settled(tasks);
    co_await canceller.wait();
    CHECK(occ.max_inside == 1);
    CHECK(occ.inside == 0);
    CHECK(count_failed(outcomes) == 0);
    std::size_t cancelled = count_cancelled(outcomes);
    CHECK(cancelled > 0);
    CHECK(occ.entries >= long(kCoroutines - cancelled) * rounds);
    CHECK(lock.repr() == "<shoal::aio::Lock [unlocked]>");
    co_await lock.acquire();  // still works
    lock.release();
  };
  shoal::test::run(body(seed), 30s);
}

// --- Semaphore ---------------------------------------------------------------------------

TEST_CASE("a bounded semaphore admits at most its value and keeps count under random cancellation", "[aio][semaphore][stress][cancel]") {
  auto seed = GENERATE(1u, 2u, 3u);
  auto body = [](unsigned seed) -> shoal::Coro<void> {
    std::mt19937 rng(seed);
    const int slots = 7;
    // Bounded: a unit handed back twice would push the counter past 7 and throw.
    shoal::aio::BoundedSemaphore sem(slots);
    Occupancy occ;
    const int rounds = 3;
    Line line;
    std::vector<shoal::Task<void>> tasks;
    for (std::size_t i = 0; i < std::size_t(kCoroutines); ++i)
      tasks.push_back(
          shoal::create_task(hold_rounds<shoal::aio::Semaphore>(&sem, &occ, &line, i, rounds)));
    line.tasks = &tasks;
    auto canceller = shoal::create_task(cancel_randomly(&tasks, &rng, 400, 3));
    auto outcomes = co_await shoal::gather_settled(tasks);
    co_await canceller.wait();
    CHECK(occ.max_inside == slots);  // saturated, never exceeded
    CHECK(occ.inside == 0);
    CHECK(count_failed(outcomes) == 0);
    CHECK(count_cancelled(outcomes) > 0);
    CHECK(sem.value() == slots);
    CHECK_FALSE(sem.locked());
    CHECK(sem.repr() == "<shoal::aio::BoundedSemaphore [unlocked, value:7]>");
    CHECK_THROWS_AS(sem.release(), shoal::ValueError);
  };
  shoal::test::run(body(seed), 30s);
}

// --- Event -------------------------------------------------------------------------------

namespace {

shoal::Coro<void> event_waiter(shoal::aio::Event* ev, int* woken) {
  co_await ev->wait();
  ++*woken;
}

}  // namespace

TEST_CASE("an event wakes every waiter that was not cancelled", "[aio][event][stress][cancel]") {
  auto seed = GENERATE(1u, 2u);
  auto body = [](unsigned seed) -> shoal::Coro<void> {
    std::mt19937 rng(seed);
    shoal::aio::Event ev;
    for (int phase = 0; phase < 2; ++phase) {
      int woken = 0;
      std::vector<shoal::Task<void>> tasks;
      for (int i = 0; i < kCoroutines; ++i)
        tasks.push_back(shoal::create_task(event_waiter(&ev, &woken)));
      co_await tick();  // all waiting
      CHECK(contains(ev.repr(), "waiters:1000"));
      auto canceller = shoal::create_task(cancel_randomly(&tasks, &rng, 300, 1));
      co_await tick(75);  // about half the cancellations come before set()
      ev.set();
      // Some right after it, while the woken have not run yet.
      std::uniform_int_distribution<std::size_t> which(0, tasks.size() - 1);
      for (int i = 0; i < 20; ++i) tasks[which(rng)].cancel();
      auto outcomes = co_await shoal::gather_settled(tasks);
      co_await canceller.wait();
      std::size_t cancelled = count_cancelled(outcomes);
      CHECK(cancelled > 0);
      CHECK(count_failed(outcomes) == 0);
      CHECK(std::size_t(woken) == kCoroutines - cancelled);
      CHECK(ev.repr() == "<shoal::aio::Event [set]>");
      ev.clear();
    }
  };
  shoal::test::run(body(seed), 30s);
}

// --- Condition ---------------------------------------------------------------------------

namespace {

struct Stock {
  shoal::aio::Condition cond;
  int items = 0;
  int consumed = 0;
};

/// Takes one item, waiting for it.
shoal::Coro<void> take_one(Stock* s, Line* line, std::size_t id) {
  auto held = co_await s->cond.scoped();
  Stock* st = s;
  auto available = [st] { return st->items > 0; };
  {
    InLine in_line(line, id);
    co_await s->cond.wait_for(available);
  }
  --s->items;
  ++s->consumed;
}

/// Produces `n` items one at a time, notifying one consumer per item; every third time it
/// cancels the consumer it has just notified.
shoal::Coro<void> produce(Stock* s, Line* line, int n) {
  for (int i = 0; i < n; ++i) {
    {
      auto held = co_await s->cond.scoped();
      ++s->items;
      s->cond.notify(1);
      if (i % 3 == 0) line->cancel_front();
    }
    co_await tick();
  }
}

}  // namespace

TEST_CASE("a condition loses no notification when consumers are cancelled as they wake", "[aio][condition][stress][cancel]") {
  auto seed = GENERATE(1u, 2u, 3u);
  auto body = [](unsigned seed) -> shoal::Coro<void> {
    std::mt19937 rng(seed);
    Stock s;
    Line line;
    std::vector<shoal::Task<void>> consumers;
    for (std::size_t i = 0; i < std::size_t(kCoroutines); ++i)
      consumers.push_back(shoal::create_task(take_one(&s, &line, i)));
    line.tasks = &consumers;
    co_await tick();  // all waiting
    auto producer = shoal::create_task(produce(&s, &line, kCoroutines));
    auto canceller = shoal::create_task(cancel_randomly(&consumers, &rng, 300, 3));
    // Every consumer still alive must get an item: one item per consumer is produced and
    // one notification per item is sent, so a notification lost with a cancelled consumer
    // would leave a consumer waiting forever beside an item.
    auto outcomes = co_await shoal::gather_settled(consumers);
    co_await producer.wait();
    co_await canceller.wait();
    std::size_t cancelled = count_cancelled(outcomes);
    CHECK(cancelled > 0);
    CHECK(count_failed(outcomes) == 0);
    CHECK(std::size_t(s.consumed) == kCoroutines - cancelled);
    CHECK(s.items + s.consumed == kCoroutines);
    CHECK(s.cond.repr() == "<shoal::aio::Condition [unlocked]>");
  };
  shoal::test::run(body(seed), 30s);
}

// --- Barrier -----------------------------------------------------------------------------

namespace {

shoal::Coro<void> barrier_rounds(shoal::aio::Barrier* b, std::vector<std::vector<std::size_t>>* seen,
                                 int rounds) {
  for (int r = 0; r < rounds; ++r) (*seen)[std::size_t(r)].push_back(co_await b->wait());
}

shoal::Coro<std::size_t> barrier_once(shoal::aio::Barrier* b) { co_return co_await b->wait(); }

}  // namespace

TEST_CASE("a thousand coroutines pass a barrier round after round with distinct indices", "[aio][barrier][stress]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::aio::Barrier barrier(kCoroutines);
    const int rounds = 4;
    std::vector<std::vector<std::size_t>> seen(rounds);
    std::vector<shoal::Task<void>> tasks;
    for (int i = 0; i < kCoroutines; ++i)
      tasks.push_back(shoal::create_task(barrier_rounds(&barrier, &seen, rounds)));
    (void)co_await shoal::gather(std::move(tasks));
    std::vector<std::size_t> all(kCoroutines);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    for (auto& round : seen) {
      std::sort(round.begin(), round.end());
      CHECK(round == all);
    }
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
  };
  shoal::test::run(body(), 30s);
}

TEST_CASE("cancelled barrier waiters leave and replacements fill the barrier", "[aio][barrier][stress][cancel]") {
  auto seed = GENERATE(1u, 2u);
  auto body = [](unsigned seed) -> shoal::Coro<void> {
    std::mt19937 rng(seed);
    shoal::aio::Barrier barrier(kCoroutines + 1);
    std::vector<shoal::Task<std::size_t>> tasks;
    for (int i = 0; i < kCoroutines; ++i) tasks.push_back(shoal::create_task(barrier_once(&barrier)));
    co_await tick();
    CHECK(barrier.n_waiting() == std::size_t(kCoroutines));
    auto canceller = shoal::create_task(cancel_randomly(&tasks, &rng, 300, 1));
    co_await canceller.wait();
    std::size_t cancelled = 0;
    for (auto& t : tasks) {
      if (t.cancelling() > 0) {  // asked to cancel (some twice): let it finish cancelling
        bool c = co_await ended_cancelled(t);
        CHECK(c);
        ++cancelled;
      }
    }
    CHECK(cancelled > 0);
    CHECK(barrier.n_waiting() == kCoroutines - cancelled);
    std::vector<shoal::Task<std::size_t>> more;
    for (std::size_t i = 0; i < cancelled; ++i)
      more.push_back(shoal::create_task(barrier_once(&barrier)));
    std::size_t mine = co_await barrier.wait();
    std::vector<std::size_t> indices{mine};
    for (auto& t : tasks)
      if (!t.cancelled()) indices.push_back(co_await t.wait());
    for (auto& t : more) indices.push_back(co_await t.wait());
    // Everyone passed. Indices are arrival counts, as in Python: a waiter that leaves gives
    // its number back, so after cancellations they need not be distinct; only the last
    // arrival, which releases the others, is sure to hold parties-1.
    CHECK(indices.size() == std::size_t(kCoroutines + 1));
    CHECK(std::count(indices.begin(), indices.end(), std::size_t(kCoroutines)) == 1);
    CHECK(*std::max_element(indices.begin(), indices.end()) == std::size_t(kCoroutines));
    CHECK(barrier.n_waiting() == 0);
    CHECK_FALSE(barrier.broken());
  };
  shoal::test::run(body(seed), 30s);
}

// --- Queues ------------------------------------------------------------------------------

namespace {

template <typename Q>
struct Traffic {
  Traffic(std::size_t maxsize, int n_items)
      : q(maxsize), put_ok(std::size_t(n_items)), got(std::size_t(n_items)) {}
  Q q;
  std::vector<int> put_ok;  // per item: 1 once a put() returned
  std::vector<int> got;     // per item: how many times a get() returned it
  Line putters;
  Line getters;
};

template <typename Q>
shoal::Coro<void> put_in_line(Traffic<Q>* t, std::size_t id, int item) {
  InLine in_line(&t->putters, id);
  co_await t->q.put(item);
}

template <typename Q>
shoal::Coro<int> get_in_line(Traffic<Q>* t, std::size_t id) {
  InLine in_line(&t->getters, id);
  co_return co_await t->q.get();
}

/// Puts its items; after every other put it cancels the getter that the put just woke.
template <typename Q>
shoal::Coro<void> producer(Traffic<Q>* t, std::size_t id, int first, int n) {
  for (int item = first; item < first + n; ++item) {
    co_await put_in_line(t, id, item);
    ++t->put_ok[std::size_t(item)];
    if (item % 2 == 0) {
      t->getters.cancel_front();
      co_await tick();  // let the queue run empty at times, so that getters wait too
    }
  }
}

/// Takes items until the queue is shut down; after every third one it cancels the putter
/// that the get just woke.
template <typename Q>
shoal::Coro<void> consumer(Traffic<Q>* t, std::size_t id) {
  for (;;) {
    int item = 0;
    try {
      item = co_await get_in_line(t, id);
    } catch (const shoal::aio::QueueShutDown&) {
      co_return;
    }
    ++t->got[std::size_t(item)];
    t->q.task_done();
    if (item % 3 == 0) {
      t->putters.cancel_front();
      co_await tick();  // vary the pace
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("queue traffic under random cancellation loses and doubles no item", "[aio][queue][stress][cancel]",
                   shoal::aio::Queue<int>, shoal::aio::LifoQueue<int>, shoal::aio::PriorityQueue<int>) {
  auto seed = GENERATE(1u, 2u);
  auto body = [](unsigned seed) -> shoal::Coro<void> {
    std::mt19937 rng(seed);
    const int producers = kCoroutines / 2;
    const int per_producer = 4;
    const int n_items = producers * per_producer;
    Traffic<TestType> t(8, n_items);
    std::vector<shoal::Task<void>> tasks;
    for (int p = 0; p < producers; ++p)
      tasks.push_back(shoal::create_task(producer(&t, tasks.size(), p * per_producer, per_producer)));
    for (int c = 0; c < kCoroutines - producers; ++c)
      tasks.push_back(shoal::create_task(consumer(&t, tasks.size())));
    t.putters.tasks = &tasks;
    t.getters.tasks = &tasks;
    auto canceller = shoal::create_task(cancel_randomly(&tasks, &rng, 300, 2));

    // Wait for the producers, then shut the queue down: the consumers drain it and stop.
    std::vector<shoal::Task<void>> producer_tasks(tasks.begin(), tasks.begin() + producers);
    auto produced = co_await shoal::gather_settled(producer_tasks);
    co_await canceller.wait();
    t.q.shutdown();
    auto outcomes = co_await shoal::gather_settled(tasks);
    CHECK(count_failed(outcomes) == 0);
    CHECK(count_cancelled(produced) > 0);
    // Whatever no consumer was left to take.
    while (!t.q.empty()) {
      ++t.got[std::size_t(t.q.get_nowait())];
      t.q.task_done();
    }
    std::size_t delivered = 0;
    for (int item = 0; item < n_items; ++item) {
      // Each item put is received exactly once; an item whose put was cancelled, never.
      REQUIRE(t.got[std::size_t(item)] == t.put_ok[std::size_t(item)]);
      delivered += std::size_t(t.got[std::size_t(item)]);
    }
    CHECK(delivered > 0);
    CHECK_FALSE(contains(t.q.repr(), "_getters"));
    CHECK_FALSE(contains(t.q.repr(), "_putters"));
    CHECK_FALSE(contains(t.q.repr(), "tasks="));
    co_await t.q.join();  // every item taken was marked done
  };
  shoal::test::run(body(seed), 30s);
}

namespace {

shoal::Coro<int> get_one(shoal::aio::Queue<int>* q, Line* line, std::size_t id) {
  InLine in_line(line, id);
  co_return co_await q->get();
}

shoal::Coro<void> put_item(shoal::aio::Queue<int>* q, Line* line, std::size_t id, int v) {
  InLine in_line(line, id);
  co_await q->put(v);
}

}  // namespace

TEST_CASE("getters cancelled as their item arrives pass it on a thousand times", "[aio][queue][stress][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::aio::Queue<int> q;
    Line line;
    std::vector<shoal::Task<int>> getters;
    std::vector<shoal::Task<void>> none;
    for (std::size_t i = 0; i < std::size_t(kCoroutines); ++i)
      getters.push_back(shoal::create_task(get_one(&q, &line, i)));
    co_await tick();  // all waiting
    CHECK(contains(q.repr(), "_getters[1000]"));
    for (int item = 0; item < kCoroutines; ++item) {
      q.put_nowait(item);  // wakes the first getter ...
      // ... cancelled before it runs
      if (item % 2 == 0 && !line.ids.empty()) getters[line.ids.front()].cancel();
      co_await tick(3);  // the cancelled getter passes the item on, and the next one takes it
    }
    std::vector<int> got(kCoroutines);
    std::size_t cancelled = 0;
    for (auto& t : getters) {
      if (t.cancelling() > 0) {
        bool c = co_await ended_cancelled(t);
        CHECK(c);
        ++cancelled;
      } else {
        ++got[std::size_t(co_await t.wait())];
      }
    }
    // Each cancelled getter handed its item on: the getters that were not cancelled took one
    // item each, and exactly as many items as getters were cancelled are left.
    CHECK(cancelled > std::size_t(kCoroutines / 4));
    CHECK(q.qsize() == cancelled);
    while (!q.empty()) ++got[std::size_t(q.get_nowait())];
    CHECK(std::all_of(got.begin(), got.end(), [](int n) { return n == 1; }));  // each item once
    CHECK(q.repr() == "<Queue maxsize=0 tasks=1000>");
  };
  shoal::test::run(body(), 30s);
}

TEST_CASE("putters cancelled as room appears pass it on a thousand times", "[aio][queue][stress][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::aio::Queue<int> q(1);
    q.put_nowait(-1);
    Line line;
    std::vector<shoal::Task<void>> putters;
    for (std::size_t i = 0; i < std::size_t(kCoroutines); ++i)
      putters.push_back(shoal::create_task(put_item(&q, &line, i, int(i))));
    co_await tick();  // all waiting
    std::vector<int> got(kCoroutines);
    auto finished = [&putters, &q] {
      auto done = [](const auto& t) { return t.done(); };
      return q.empty() && std::all_of(putters.begin(), putters.end(), done);
    };
    // Bounded: a lost wake-up leaves a putter waiting beside an empty queue.
    for (int round = 0; !finished(); ++round) {
      REQUIRE(round < 4 * kCoroutines);
      if (q.empty()) {
        co_await tick();
        continue;
      }
      int item = q.get_nowait();  // wakes the first putter ...
      if (item >= 0) ++got[std::size_t(item)];
      // ... cancelled before it runs
      if (round % 2 == 0 && !line.ids.empty()) putters[line.ids.front()].cancel();
      co_await tick();
    }
    std::size_t cancelled = 0;
    for (std::size_t i = 0; i < putters.size(); ++i) {
      bool c = co_await ended_cancelled(putters[i]);
      cancelled += c ? 1 : 0;
      CHECK(got[i] == (c ? 0 : 1));  // put exactly when not cancelled
    }
    CHECK(cancelled > 0);
    CHECK_FALSE(contains(q.repr(), "_putters"));
  };
  shoal::test::run(body(), 30s);
}

namespace {

shoal::Coro<void> put_one(shoal::aio::Queue<int>* q, int v) { co_await q->put(v); }

shoal::Coro<void> worker(shoal::aio::Queue<int>* q, long* sum) {
  for (;;) {
    int v = co_await q->get();
    if (v < 0) co_return;
    co_await tick();
    *sum += v;
    q->task_done();
  }
}

}  // namespace

TEST_CASE("join returns only after every item of a thousand producers was processed", "[aio][queue][join][stress]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::aio::Queue<int> q(16);
    long sum = 0;
    std::vector<shoal::Task<void>> producers;
    for (int i = 1; i <= kCoroutines; ++i) producers.push_back(shoal::create_task(put_one(&q, i)));
    std::vector<shoal::Task<void>> workers;
    for (int i = 0; i < 10; ++i) workers.push_back(shoal::create_task(worker(&q, &sum)));
    co_await tick();
    co_await q.join();
    CHECK(sum == long(kCoroutines) * (kCoroutines + 1) / 2);
    (void)co_await shoal::gather(std::move(producers));
    for (std::size_t i = 0; i < workers.size(); ++i) q.put_nowait(-1);
    (void)co_await shoal::gather(std::move(workers));
    CHECK(q.empty());
  };
  shoal::test::run(body(), 30s);
}
