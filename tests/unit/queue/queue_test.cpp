// Queue, LifoQueue and PriorityQueue, ported from CPython's Lib/test/test_queue.py
// (BaseQueueTestMixin with its 3.13 shutdown cases, FailingQueueTest). Python's trigger
// thread sleeps 0.1 s so that the call under test "has a chance at actually blocking";
// here it waits until the kernel shows the test thread asleep in the call.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "unit/thread/helpers.hpp"

#include <shoal/queue/queue.hpp>
#include <shoal/sync/barrier.hpp>
#include <shoal/sync/event.hpp>
#include <shoal/sync/lock.hpp>
#include <shoal/thread/thread.hpp>

using namespace std::chrono_literals;
using shoal::test::Record;

namespace {

constexpr int QUEUE_SIZE = 5;

template <typename Q>
bool qfull(const Q& q) {
  return q.maxsize() > 0 && static_cast<std::ptrdiff_t>(q.qsize()) == q.maxsize();
}

/// Runs `block` in this thread; another thread runs `trigger` once this one sleeps in
/// `block`. Fails when `block` returned before the trigger ran (it did not block).
/// Exceptions from `block` propagate (do_exceptional_blocking_test) after the trigger
/// thread is joined.
template <typename Block, typename Trigger>
void do_blocking_test(Block block, Trigger trigger) {
  const std::uint64_t me = shoal::get_native_id();
  std::atomic<bool> started{false};
  std::thread t([&] {
    shoal::test::wait_until_blocked(me);
    started = true;
    trigger();
  });
  struct Join {
    std::thread& t;
    ~Join() { t.join(); }
  } join{t};
  block();
  CHECK(started);  // "blocking function appeared not to block"
}

template <typename Q>
std::vector<int> target_order();
template <>
std::vector<int> target_order<shoal::Queue<int>>() { return {111, 333, 222}; }
template <>
std::vector<int> target_order<shoal::LifoQueue<int>>() { return {222, 333, 111}; }
template <>
std::vector<int> target_order<shoal::PriorityQueue<int>>() { return {111, 222, 333}; }

template <typename Q>
void basic_queue_test(Q& q) {
  REQUIRE(q.qsize() == 0);
  CHECK(q.empty());
  CHECK_FALSE(q.full());
  q.put(111);
  q.put(333);
  q.put(222);
  std::vector<int> actual{q.get(), q.get(), q.get()};
  CHECK(actual == target_order<Q>());
  for (int i = 0; i < QUEUE_SIZE - 1; ++i) {
    q.put(i);
    CHECK(q.qsize() > 0);
  }
  CHECK_FALSE(qfull(q));
  const int last = 2 * QUEUE_SIZE, full = 3 * 2 * QUEUE_SIZE;
  q.put(last);
  CHECK(qfull(q));
  CHECK_FALSE(q.empty());
  CHECK(q.full());
  CHECK_THROWS_AS(q.put(full, false), shoal::Full);
  CHECK_THROWS_AS(q.put(full, 10ms), shoal::Full);
  do_blocking_test([&] { q.put(full); }, [&] { q.get(); });
  do_blocking_test([&] { q.put(full, 10s); }, [&] { q.get(); });
  for (int i = 0; i < QUEUE_SIZE; ++i) q.get();
  CHECK(q.qsize() == 0);
  CHECK_THROWS_AS(q.get(false), shoal::Empty);
  CHECK_THROWS_AS(q.get(10ms), shoal::Empty);
  do_blocking_test([&] { q.get(); }, [&] { q.put(0); });
  do_blocking_test([&] { q.get(10s); }, [&] { q.put(0); });
}

template <typename Q>
void queue_join_test(Q& q) {
  shoal::Lock cumlock;
  int cum = 0;
  auto worker = [&] {
    for (;;) {
      const int x = q.get();
      if (x < 0) {
        q.task_done();
        return;
      }
      {
        std::lock_guard hold(cumlock);
        cum += x;
      }
      q.task_done();
    }
  };
  std::vector<shoal::Thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back(worker);
    threads.back().start();
  }
  for (int i = 0; i < 100; ++i) q.put(i);
  q.join();
  {
    std::lock_guard hold(cumlock);
    CHECK(cum == 99 * 100 / 2);  // join() did not return before every task was done
  }
  for (int i = 0; i < 2; ++i) q.put(-1);  // tell the workers to stop
  q.join();                               // a queue can be joined twice
  for (auto& t : threads) t.join();
}

}  // namespace

#define QUEUE_TYPES shoal::Queue<int>, shoal::LifoQueue<int>, shoal::PriorityQueue<int>

TEMPLATE_TEST_CASE("a queue puts and gets in its order, blocks when full or empty, and times out",
                   "[queue]", QUEUE_TYPES) {
  shoal::test::Watchdog dog(10s);
  TestType q(QUEUE_SIZE);
  basic_queue_test(q);
  basic_queue_test(q);  // the same instance, reused
}

TEMPLATE_TEST_CASE("task_done called more times than items were put throws ValueError", "[queue]", QUEUE_TYPES) {
  TestType q;
  CHECK_THROWS_AS(q.task_done(), shoal::ValueError);
  q.put(1);
  q.get();
  q.task_done();
  CHECK_THROWS_AS(q.task_done(), shoal::ValueError);
}

TEMPLATE_TEST_CASE("a queue's join waits until every item put has been marked done", "[queue]", QUEUE_TYPES) {
  shoal::test::Watchdog dog(10s);
  TestType q;
  queue_join_test(q);
  queue_join_test(q);
  CHECK_THROWS_AS(q.task_done(), shoal::ValueError);
}

TEMPLATE_TEST_CASE("a queue refuses a negative timeout", "[queue]", QUEUE_TYPES) {
  TestType q(QUEUE_SIZE);
  CHECK_THROWS_AS(q.put(1, -1s), shoal::ValueError);
  CHECK_THROWS_AS(q.get(-1s), shoal::ValueError);
  CHECK(q.qsize() == 0);
}

TEMPLATE_TEST_CASE("put_nowait and get_nowait throw Full and Empty", "[queue]", QUEUE_TYPES) {
  TestType q(QUEUE_SIZE);
  for (int i = 0; i < QUEUE_SIZE; ++i) q.put_nowait(1);
  CHECK_THROWS_AS(q.put_nowait(1), shoal::Full);
  for (int i = 0; i < QUEUE_SIZE; ++i) q.get_nowait();
  CHECK_THROWS_AS(q.get_nowait(), shoal::Empty);
}

TEMPLATE_TEST_CASE("try_put and try_get report a full or empty queue without throwing", "[queue]", QUEUE_TYPES) {
  TestType q(1);
  CHECK_FALSE(q.try_get());
  CHECK_FALSE(q.try_get(5ms));
  int v = 7;
  CHECK(q.try_put(v));
  CHECK_FALSE(q.try_put(8));
  CHECK(q.try_get() == 7);
  CHECK(q.try_put(9));
  CHECK(q.try_get(5ms) == 9);
}

TEMPLATE_TEST_CASE("a queue whose maxsize shrinks counts as full at the new size", "[queue]", QUEUE_TYPES) {
  TestType q(3);
  q.put(1);
  q.put(2);
  q.put(3);
  CHECK_THROWS_AS(q.put_nowait(4), shoal::Full);
  CHECK(q.qsize() == 3);
  q.set_maxsize(2);  // shrink the queue
  CHECK_THROWS_AS(q.put_nowait(4), shoal::Full);
  CHECK(q.maxsize() == 2);
}

TEMPLATE_TEST_CASE("a queue with maxsize zero or below is unbounded", "[queue]", QUEUE_TYPES) {
  TestType q(-1);
  for (int i = 0; i < 1000; ++i) q.put_nowait(i);
  CHECK_FALSE(q.full());
  CHECK(q.qsize() == 1000);
}

// --- shutdown (Python 3.13) -----------------------------------------------------------------

TEMPLATE_TEST_CASE("after shutdown an empty queue refuses put and get", "[queue][shutdown]", QUEUE_TYPES) {
  TestType q;
  q.shutdown();
  CHECK_THROWS_AS(q.put(1), shoal::ShutDown);
  CHECK_THROWS_AS(q.get(), shoal::ShutDown);
  CHECK_THROWS_AS(q.try_put(1), shoal::ShutDown);
  CHECK_THROWS_AS(q.try_get(), shoal::ShutDown);
}

TEMPLATE_TEST_CASE("after shutdown a queue still gives out its items, then refuses get", "[queue][shutdown]",
                   QUEUE_TYPES) {
  TestType q;
  q.put(1);
  q.shutdown();
  CHECK(q.get() == 1);
  CHECK_THROWS_AS(q.get(), shoal::ShutDown);
}

TEMPLATE_TEST_CASE("after an immediate shutdown get refuses at once", "[queue][shutdown]", QUEUE_TYPES) {
  TestType q;
  q.put(1);
  q.shutdown(true);
  CHECK_THROWS_AS(q.get(), shoal::ShutDown);
  CHECK(q.qsize() == 0);
}

TEMPLATE_TEST_CASE("a queue goes from alive to shut down, and shutdown may be repeated", "[queue][shutdown]",
                   QUEUE_TYPES) {
  TestType q;
  CHECK_FALSE(q.is_shutdown());
  q.shutdown();
  CHECK(q.is_shutdown());
  q.shutdown(true);
  CHECK(q.is_shutdown());
  q.shutdown(false);
  CHECK(q.is_shutdown());
}

TEMPLATE_TEST_CASE("every queue method behaves as Python's after shutdown, in one thread", "[queue][shutdown]",
                   QUEUE_TYPES) {
  const bool immediate = GENERATE(false, true);
  CAPTURE(immediate);
  TestType q(2);
  q.put(1);
  q.put_nowait(2);
  q.shutdown(immediate);
  CHECK_THROWS_AS(q.put(3), shoal::ShutDown);
  CHECK_THROWS_AS(q.put_nowait(4), shoal::ShutDown);
  if (immediate) {
    CHECK_THROWS_AS(q.get(), shoal::ShutDown);
    CHECK_THROWS_AS(q.get_nowait(), shoal::ShutDown);
    CHECK_THROWS_AS(q.task_done(), shoal::ValueError);  // the dropped items counted as done
    q.join();
  } else {
    const int a = q.get();
    q.task_done();
    const int b = q.get();
    q.task_done();
    CHECK(std::min(a, b) == 1);
    CHECK(std::max(a, b) == 2);
    q.join();
    CHECK_THROWS_AS(q.get(), shoal::ShutDown);
    CHECK_THROWS_AS(q.get_nowait(), shoal::ShutDown);
    CHECK_THROWS_AS(q.get(1s), shoal::ShutDown);
  }
}

TEMPLATE_TEST_CASE("producers, consumers and joiners all finish when a queue is shut down under load",
                   "[queue][shutdown]", QUEUE_TYPES) {
  shoal::test::Watchdog dog(20s);
  const bool immediate = GENERATE(false, true);
  CAPTURE(immediate);
  using Item = int;
  TestType q;
  constexpr int write_threads = 4, read_threads = 6, join_threads = 2;
  constexpr int nb_msgs = 1024 * 4, nb_msgs_w = nb_msgs / write_threads, when_exec_shutdown = nb_msgs_w / 2;
  const int nparties = write_threads + read_threads + (immediate ? join_threads : 0);
  shoal::Barrier barrier_start(nparties);
  shoal::Event ev_exec_shutdown;
  Record<bool> res_puts, res_gets, res_shutdown;
  std::vector<shoal::Thread> ps;
  for (int w = 0; w < write_threads; ++w)
    ps.emplace_back([&] {
      for (int i = 0; i < when_exec_shutdown / 2; ++i) q.put(Item(i));
      barrier_start.wait();
      for (int i = when_exec_shutdown / 2; i < nb_msgs_w; ++i) {
        try {
          q.put(Item(i));
        } catch (const shoal::ShutDown&) {
          res_puts.add(false);
          break;
        }
        if (i == when_exec_shutdown && !ev_exec_shutdown.is_set()) {  // only one thread triggers it
          ev_exec_shutdown.set();
          res_puts.add(true);
        }
      }
    });
  for (int r = 0; r < read_threads; ++r)
    ps.emplace_back([&] {
      q.get();
      q.task_done();
      barrier_start.wait();
      for (;;) {
        try {
          if (q.try_get(1ms)) q.task_done();  // Python polls get(False) and catches Empty
        } catch (const shoal::ShutDown&) {
          res_gets.add(true);
          break;
        }
      }
    });
  ps.emplace_back([&] {
    ev_exec_shutdown.wait();
    q.shutdown(immediate);
    res_shutdown.add(q.qsize() == 0);
  });
  if (immediate)
    for (int j = 0; j < join_threads; ++j)
      ps.emplace_back([&] {
        barrier_start.wait();
        q.join();
      });
  for (auto& t : ps) t.start();
  for (auto& t : ps) t.join();
  const auto puts = res_puts.items();
  CHECK(std::count(puts.begin(), puts.end(), true) >= 1);
  const auto gets = res_gets.items();
  CHECK(std::count(gets.begin(), gets.end(), true) == read_threads);
  if (immediate) {
    CHECK(res_shutdown.items() == std::vector<bool>{true});
    CHECK(q.empty());
  }
}

namespace {

/// Python's _get / _put / _join helpers: record whether the call ended as expected.
template <typename Q>
void get_(Q& q, shoal::Event& go, Record<bool>& results, bool shutdown = false) {
  go.wait();
  try {
    q.get();
    results.add(!shutdown);
  } catch (const shoal::ShutDown&) {
    results.add(shutdown);
  }
}

template <typename Q>
void get_task_done(Q& q, shoal::Event& go, Record<bool>& results) {
  go.wait();
  try {
    q.get();
    q.task_done();
    results.add(true);
  } catch (const shoal::ShutDown&) {
    results.add(false);
  }
}

template <typename Q>
void put_(Q& q, int msg, shoal::Event& go, Record<bool>& results, bool shutdown = false) {
  go.wait();
  try {
    q.put(msg);
    results.add(!shutdown);
  } catch (const shoal::ShutDown&) {
    results.add(shutdown);
  }
}

template <typename Q>
void join_(Q& q, Record<bool>& results) {
  q.join();
  results.add(true);
}

void run_all(std::vector<shoal::Thread>& threads) {
  for (auto& t : threads) t.start();
}

void join_all(std::vector<shoal::Thread>& threads) {
  for (auto& t : threads) t.join();
}

}  // namespace

TEMPLATE_TEST_CASE("getters blocked on a full queue finish after shutdown as Python's do", "[queue][shutdown]",
                   QUEUE_TYPES) {
  shoal::test::Watchdog dog(10s);
  const bool immediate = GENERATE(false, true);
  CAPTURE(immediate);
  TestType q(2);
  Record<bool> results;
  shoal::Event go;
  q.put(1);
  q.put(2);  // full
  std::vector<shoal::Thread> threads;
  const int n = immediate ? 2 : 3;  // without immediate, the third getter gets ShutDown
  for (int i = 0; i < n; ++i) threads.emplace_back([&] { get_(q, go, results, immediate); });
  run_all(threads);
  q.shutdown(immediate);
  go.set();
  join_all(threads);
  auto r = results.items();
  std::sort(r.begin(), r.end());
  if (immediate)
    CHECK(r == std::vector<bool>{true, true});
  else
    CHECK(r == std::vector<bool>{false, true, true});
}

TEMPLATE_TEST_CASE("putters on a full queue get ShutDown after shutdown", "[queue][shutdown]", QUEUE_TYPES) {
  shoal::test::Watchdog dog(10s);
  const bool immediate = GENERATE(false, true);
  CAPTURE(immediate);
  TestType q(2);
  Record<bool> results;
  shoal::Event go;
  q.put(1);
  q.put(2);
  std::vector<shoal::Thread> threads;
  threads.emplace_back([&] { put_(q, 3, go, results, true); });
  threads.emplace_back([&] { put_(q, 4, go, results, true); });
  run_all(threads);
  q.shutdown(immediate);
  go.set();
  join_all(threads);
  CHECK(results.items() == std::vector<bool>{true, true});
}

TEST_CASE("putters blocked on a full queue are woken by shutdown with ShutDown", "[queue][shutdown]") {
  shoal::test::Watchdog dog(10s);
  shoal::Queue<int> q(1);
  q.put(1);
  std::atomic<int> shut{0};
  shoal::test::Bunch b(
      [&] {
        try {
          q.put(2);
        } catch (const shoal::ShutDown&) {
          shut.fetch_add(1);
        }
      },
      3);
  REQUIRE(b.wait_for_blocked());
  q.shutdown();
  REQUIRE(b.wait_for_finished());
  CHECK(shut == 3);
  CHECK(q.get() == 1);
}

TEMPLATE_TEST_CASE("joiners return after shutdown once the items are done or dropped", "[queue][shutdown]",
                   QUEUE_TYPES) {
  shoal::test::Watchdog dog(10s);
  const bool immediate = GENERATE(false, true);
  CAPTURE(immediate);
  TestType q;
  Record<bool> results, res;
  q.put(1);
  shoal::Event go;
  const auto nb = q.qsize();
  std::vector<shoal::Thread> threads;
  threads.emplace_back([&] { join_(q, results); });
  threads.emplace_back([&] { join_(q, results); });
  if (!immediate)
    for (std::size_t i = 0; i < nb; ++i) threads.emplace_back([&] { get_task_done(q, go, res); });
  run_all(threads);
  q.shutdown(immediate);
  go.set();
  join_all(threads);
  CHECK(results.items() == std::vector<bool>{true, true});
}

TEMPLATE_TEST_CASE("a put refused by shutdown and a join both finish", "[queue][shutdown]", QUEUE_TYPES) {
  shoal::test::Watchdog dog(10s);
  const bool immediate = GENERATE(false, true);
  CAPTURE(immediate);
  TestType q(2);
  Record<bool> results;
  shoal::Event go;
  q.put(1);  // not full
  std::vector<shoal::Thread> threads;
  threads.emplace_back([&] { put_(q, 5, go, results, true); });
  threads.emplace_back([&] { join_(q, results); });
  run_all(threads);
  CHECK(q.unfinished_tasks() == 1);
  q.shutdown(immediate);
  go.set();
  if (immediate) {
    CHECK_THROWS_AS(q.get_nowait(), shoal::ShutDown);
  } else {
    CHECK(q.get() == 1);
    q.task_done();
  }
  join_all(threads);
  CHECK(results.items() == std::vector<bool>{true, true});
}

TEMPLATE_TEST_CASE("getters, task_done and joiners all finish after a shutdown", "[queue][shutdown]", QUEUE_TYPES) {
  shoal::test::Watchdog dog(10s);
  TestType q(2);
  Record<bool> results;
  shoal::Event go;
  q.put(1);
  q.put(2);
  CHECK(q.unfinished_tasks() == q.qsize());
  std::vector<shoal::Thread> threads;
  threads.emplace_back([&] { get_task_done(q, go, results); });
  threads.emplace_back([&] { get_task_done(q, go, results); });
  threads.emplace_back([&] { join_(q, results); });
  threads.emplace_back([&] { join_(q, results); });
  run_all(threads);
  go.set();
  q.shutdown(false);
  join_all(threads);
  CHECK(results.items() == std::vector<bool>(4, true));
}

TEMPLATE_TEST_CASE("a get pending on an empty queue gets ShutDown when the queue is shut down",
                   "[queue][shutdown]", QUEUE_TYPES) {
  shoal::test::Watchdog dog(10s);
  TestType q;
  std::atomic<int> outcome{0};  // 1: ShutDown, 2: an item, 3: another error
  shoal::Thread get_thread([&] {
    try {
      q.get();
      outcome = 2;
    } catch (const shoal::ShutDown&) {
      outcome = 1;
    } catch (...) {
      outcome = 3;
    }
  });
  get_thread.start();
  REQUIRE(shoal::test::wait_until_blocked(*get_thread.native_id()));
  q.shutdown(false);
  CHECK(get_thread.join(5s));
  CHECK(outcome == 1);
}

// --- PriorityQueue ordering -------------------------------------------------------------------

TEST_CASE("a PriorityQueue gives the smallest item first, or the first by its Compare", "[queue]") {
  shoal::PriorityQueue<std::tuple<int, std::string>> q;
  q.put({3, "c"});
  q.put({1, "a"});
  q.put({2, "b"});
  q.put({1, "0"});
  CHECK(std::get<1>(q.get()) == "0");
  CHECK(std::get<1>(q.get()) == "a");
  CHECK(std::get<1>(q.get()) == "b");
  CHECK(std::get<1>(q.get()) == "c");
  shoal::PriorityQueue<int, std::greater<int>> largest;
  for (int v : {5, 9, 1, 7}) largest.put(v);
  CHECK(largest.get() == 9);
  CHECK(largest.get() == 7);
  CHECK(largest.get() == 5);
  CHECK(largest.get() == 1);
}

TEST_CASE("a queue holds move-only items", "[queue]") {
  shoal::Queue<std::unique_ptr<int>> q;
  q.put(std::make_unique<int>(4));
  auto p = q.get();
  REQUIRE(p);
  CHECK(*p == 4);
  shoal::PriorityQueue<std::unique_ptr<int>, std::function<bool(const std::unique_ptr<int>&, const std::unique_ptr<int>&)>> pq(
      0, [](const auto& a, const auto& b) { return *a < *b; });
  pq.put(std::make_unique<int>(2));
  pq.put(std::make_unique<int>(1));
  CHECK(*pq.get() == 1);
}

// --- FailingQueueTest -------------------------------------------------------------------------

namespace {

struct FailingQueueException : std::runtime_error {
  FailingQueueException() : std::runtime_error("You Lose") {}
};

/// An item whose next move in the arming thread throws: the move into the queue's storage
/// on put, out of it on get (Python's FailingQueue overrides _put and _get).
struct FailingItem {
  static inline thread_local bool fail_next_move = false;
  std::string v;
  FailingItem(const char* s) : v(s) {}  // NOLINT: implicit, like Python's str
  FailingItem(int i) : v(std::to_string(i)) {}  // NOLINT
  FailingItem(const FailingItem&) = default;
  FailingItem(FailingItem&& o) : v(std::move(o.v)) {
    if (fail_next_move) {
      fail_next_move = false;
      o.v = std::move(v);
      throw FailingQueueException();
    }
  }
  FailingItem& operator=(const FailingItem&) = default;
  FailingItem& operator=(FailingItem&&) = default;
};

using FQ = shoal::Queue<FailingItem>;

/// put(item) with the item copied into put(): the only move is into the storage.
template <typename... A>
void put_copy(FQ& q, const char* s, A... a) {
  FailingItem item(s);
  q.put(item, a...);
}

void failing_queue_test(FQ& q) {
  REQUIRE(q.qsize() == 0);
  for (int i = 0; i < QUEUE_SIZE - 1; ++i) q.put(i);
  // A failing non-blocking put, and one with a timeout.
  FailingItem::fail_next_move = true;
  CHECK_THROWS_AS(put_copy(q, "oops", false), FailingQueueException);
  FailingItem::fail_next_move = true;
  CHECK_THROWS_AS(put_copy(q, "oops", 100ms), FailingQueueException);
  put_copy(q, "last");
  CHECK(qfull(q));
  // A failing blocking put.
  FailingItem::fail_next_move = true;
  CHECK_THROWS_AS(do_blocking_test([&] { put_copy(q, "full"); }, [&] { q.get(); }), FailingQueueException);
  // The queue is not damaged: the put failed, the get succeeded; re-add.
  put_copy(q, "last");
  // A failing put with a timeout, after blocking.
  FailingItem::fail_next_move = true;
  CHECK_THROWS_AS(do_blocking_test([&] { put_copy(q, "full", 10s); }, [&] { q.get(); }), FailingQueueException);
  put_copy(q, "last");
  CHECK(qfull(q));
  q.get();
  CHECK_FALSE(qfull(q));
  put_copy(q, "last");
  CHECK(qfull(q));
  do_blocking_test([&] { put_copy(q, "full"); }, [&] { q.get(); });
  for (int i = 0; i < QUEUE_SIZE; ++i) q.get();
  CHECK(q.qsize() == 0);
  q.put("first");
  FailingItem::fail_next_move = true;
  CHECK_THROWS_AS(q.get(), FailingQueueException);
  CHECK(q.qsize() == 1);
  FailingItem::fail_next_move = true;
  CHECK_THROWS_AS(q.get(100ms), FailingQueueException);
  CHECK(q.qsize() == 1);
  CHECK(q.get().v == "first");
  CHECK(q.qsize() == 0);
  // A failing get, after blocking: the put succeeded, the get failed.
  FailingItem::fail_next_move = true;
  CHECK_THROWS_AS(do_blocking_test([&] { q.get(); }, [&] { q.put("empty"); }), FailingQueueException);
  CHECK(q.qsize() == 1);
  CHECK(q.get().v == "empty");
  CHECK(q.qsize() == 0);
}

}  // namespace

TEST_CASE("a queue whose items fail to move in or out is left undamaged", "[queue]") {
  shoal::test::Watchdog dog(10s);
  FQ q(QUEUE_SIZE);
  failing_queue_test(q);
  failing_queue_test(q);
  FailingItem::fail_next_move = false;
}
