// aio::Queue, LifoQueue, PriorityQueue: CPython's Lib/test/test_asyncio/test_queues.py
// (QueueBasicTests, QueueGetTests, QueuePutTests, LifoQueueTests, PriorityQueueTests);
// the join and shutdown cases are in queue_shutdown_test.cpp.

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "aio_support.hpp"

using namespace aio_test;
using shoal::aio::LifoQueue;
using shoal::aio::PriorityQueue;
using shoal::aio::Queue;
using shoal::aio::QueueEmpty;
using shoal::aio::QueueFull;

namespace {

shoal::Coro<int> get_int(Queue<int>* q) { co_return co_await q->get(); }
shoal::Coro<std::string> get_str(Queue<std::string>* q) { co_return co_await q->get(); }
shoal::Coro<void> put_int(Queue<int>* q, int v) { co_await q->put(v); }
shoal::Coro<void> put_str(Queue<std::string>* q, std::string v) { co_await q->put(std::move(v)); }

}  // namespace

// --- QueueBasicTests -------------------------------------------------------------------

TEST_CASE("queue repr shows the items the waiting getters and putters", "[aio][queue]") {
  // test_repr, test_str
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    CHECK(q.repr() == "<Queue maxsize=0>");

    auto getter = shoal::create_task(get_int(&q));
    co_await tick();  // let it start waiting
    CHECK(contains(q.repr(), "_getters[1]"));
    q.put_nowait(0);
    {
      auto got = co_await getter.wait();
      CHECK(got == 0);
    }

    Queue<int> bounded(1);
    bounded.put_nowait(1);
    auto putter = shoal::create_task(put_int(&bounded, 2));
    co_await tick();
    CHECK(contains(bounded.repr(), "_putters[1]"));
    CHECK(bounded.get_nowait() == 1);
    co_await putter.wait();

    Queue<int> one;
    one.put_nowait(1);
    CHECK(contains(one.repr(), "_queue=[1]"));
    CHECK(one.repr() == "<Queue maxsize=0 _queue=[1] tasks=1>");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("empty tells whether the queue holds items", "[aio][queue]") {
  // test_empty
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    CHECK(q.empty());
    co_await q.put(1);
    CHECK_FALSE(q.empty());
    {
      auto got = co_await q.get();
      CHECK(got == 1);
    }
    CHECK(q.empty());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("full is never true without a maxsize and true at maxsize", "[aio][queue]") {
  // test_full
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    CHECK_FALSE(q.full());
    Queue<int> bounded(1);
    co_await bounded.put(1);
    CHECK(bounded.full());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a queue returns items in FIFO order", "[aio][queue]") {
  // test_order
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    const int values[] = {1, 3, 2};
    for (int i : values) co_await q.put(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.get());
    CHECK(items == (std::vector<int>{1, 3, 2}));
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<void> put_three(Queue<int>* q, std::vector<int>* have_been_put) {
  for (int i = 0; i < 3; ++i) {
    co_await q->put(i);
    have_been_put->push_back(i);
  }
}
}  // namespace

TEST_CASE("a putter blocks at maxsize until a get makes room", "[aio][queue]") {
  // test_maxsize
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q(2);
    CHECK(q.maxsize() == 2);
    std::vector<int> have_been_put;
    auto t = shoal::create_task(put_three(&q, &have_been_put));
    co_await tick(2);
    // The putter is blocked after putting two items.
    CHECK(have_been_put == (std::vector<int>{0, 1}));
    {
      auto got = co_await q.get();
      CHECK(got == 0);
    }
    // Let the putter resume and put the last item.
    co_await tick();
    CHECK(have_been_put == (std::vector<int>{0, 1, 2}));
    {
      auto got = co_await q.get();
      CHECK(got == 1);
    }
    {
      auto got = co_await q.get();
      CHECK(got == 2);
    }
    CHECK(t.done());
    co_await t.wait();
  };
  shoal::test::run(body(), 5s);
}

// --- QueueGetTests ---------------------------------------------------------------------

TEST_CASE("get returns an item already queued", "[aio][queue]") {
  // test_blocking_get
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    q.put_nowait(1);
    {
      auto got = co_await q.get();
      CHECK(got == 1);
    }
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("get wakes a waiting putter", "[aio][queue]") {
  // test_get_with_putters (Python appends a bare future to _putters; a real putter here)
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q(1);
    co_await q.put(1);
    auto putter = shoal::create_task(put_int(&q, 2));
    co_await tick();
    CHECK(contains(q.repr(), "_putters[1]"));
    {
      auto got = co_await q.get();
      CHECK(got == 1);
    }
    CHECK_FALSE(contains(q.repr(), "_putters"));  // popped and woken
    co_await putter.wait();
    CHECK(q.get_nowait() == 2);
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<int> started_then_get(Queue<int>* q, shoal::aio::Event* started, bool* finished) {
  started->set();
  int res = co_await q->get();
  *finished = true;
  co_return res;
}
}  // namespace

TEST_CASE("a blocked get returns the item put later", "[aio][queue]") {
  // test_blocking_get_wait (call_later(0.01, put_nowait) replaced by call_soon)
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    shoal::aio::Event started;
    bool finished = false;
    auto t = shoal::create_task(started_then_get(&q, &started, &finished));
    co_await started.wait();
    CHECK_FALSE(finished);
    Queue<int>* qp = &q;
    call_soon([qp] { qp->put_nowait(1); });
    int res = co_await t.wait();
    CHECK(finished);
    CHECK(res == 1);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("get_nowait returns an item or throws QueueEmpty", "[aio][queue]") {
  // test_nonblocking_get, test_nonblocking_get_exception
  Queue<int> q;
  q.put_nowait(1);
  CHECK(q.get_nowait() == 1);
  CHECK_THROWS_AS(q.get_nowait(), QueueEmpty);
  CHECK_THROWS_AS(q.get_nowait(), shoal::Empty);  // the thread queue's type too
}

TEST_CASE("an item put after a getter was cancelled goes to the next getter", "[aio][queue][cancel]") {
  // test_get_cancelled_race
  auto body = []() -> shoal::Coro<void> {
    Queue<std::string> q;
    auto t1 = shoal::create_task(get_str(&q));
    auto t2 = shoal::create_task(get_str(&q));
    co_await tick();
    t1.cancel();
    co_await tick();
    CHECK(t1.done());
    co_await q.put("a");
    co_await tick();
    {
      auto got = co_await t2.wait();
      CHECK(got == "a");
    }
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("getting from a full queue lets the waiting putters in in order", "[aio][queue]") {
  // test_get_with_waiting_putters
  auto body = []() -> shoal::Coro<void> {
    Queue<std::string> q(1);
    auto a = shoal::create_task(put_str(&q, "a"));
    auto b = shoal::create_task(put_str(&q, "b"));
    {
      auto got = co_await q.get();
      CHECK(got == "a");
    }
    {
      auto got = co_await q.get();
      CHECK(got == "b");
    }
    co_await a.wait();
    co_await b.wait();
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<void> consume_n(Queue<int>* q, int n) {
  for (int i = 0; i < n; ++i) (void)co_await q->get();
}
shoal::Coro<void> produce_n(Queue<int>* q, int n) {
  for (int i = 0; i < n; ++i) co_await q->put(i);
}
}  // namespace

TEST_CASE("a producer and a consumer through a queue of one never deadlock", "[aio][queue]") {
  // test_why_are_getters_waiting
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q(1);
    shoal::TaskGroup tg;
    auto p = tg.create_task(produce_n(&q, 5));
    auto c = tg.create_task(consume_n(&q, 5));
    co_await tg.join();
    CHECK(q.empty());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a get that times out leaves no getter behind", "[aio][queue][cancel]") {
  // test_cancelled_getters_not_being_held_in_self_getters
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q(5);
    CHECK_THROWS_AS(co_await shoal::wait_for(q.get(), 20ms), shoal::TimeoutError);
    CHECK_FALSE(contains(q.repr(), "_getters"));
  };
  shoal::test::run(body(), 5s);
}

// --- QueuePutTests ---------------------------------------------------------------------

TEST_CASE("put without a maxsize never waits", "[aio][queue]") {
  // test_blocking_put
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    co_await q.put(1);
    {
      auto got = co_await q.get();
      CHECK(got == 1);
    }
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<void> started_then_put_two(Queue<int>* q, shoal::aio::Event* started, bool* finished) {
  started->set();
  co_await q->put(1);
  co_await q->put(2);
  *finished = true;
}
}  // namespace

TEST_CASE("a blocked put completes once a get makes room", "[aio][queue]") {
  // test_blocking_put_wait (call_later(0.01, get_nowait) replaced by call_soon)
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q(1);
    shoal::aio::Event started;
    bool finished = false;
    auto t = shoal::create_task(started_then_put_two(&q, &started, &finished));
    co_await started.wait();  // by now it put 1 and waits to put 2
    CHECK_FALSE(finished);
    Queue<int>* qp = &q;
    call_soon([qp] { qp->get_nowait(); });
    co_await t.wait();
    CHECK(finished);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("put_nowait then get_nowait round-trips an item", "[aio][queue]") {
  // test_nonblocking_put
  Queue<int> q;
  q.put_nowait(1);
  CHECK(q.get_nowait() == 1);
}

namespace {
shoal::Coro<int> get_retrying_once(Queue<int>* q, shoal::Task<int> first) {
  try {
    co_return co_await first.wait();
  } catch (const shoal::CancelledError&) {
  }
  auto again = shoal::create_task(get_int(q));  // try again
  co_return co_await again.wait();
}
}  // namespace

TEST_CASE("a getter cancelled after an item arrived does not drop it", "[aio][queue][cancel]") {
  // test_get_cancel_drop_one_pending_reader
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    auto reader = shoal::create_task(get_int(&q));
    co_await tick();
    q.put_nowait(1);
    q.put_nowait(2);
    reader.cancel();
    int result = co_await get_retrying_once(&q, reader);
    CHECK(result == 1);  // 2 would mean 1 was dropped
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a cancelled getter among several lets the others take every item", "[aio][queue][cancel]") {
  // test_get_cancel_drop_many_pending_readers
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    shoal::TaskGroup tg;
    auto reader1 = tg.create_task(get_int(&q));
    auto reader2 = tg.create_task(get_int(&q));
    auto reader3 = tg.create_task(get_int(&q));
    co_await tick();
    q.put_nowait(1);
    q.put_nowait(2);
    reader1.cancel();
    bool cancelled = co_await ended_cancelled(reader1);
    CHECK(cancelled);
    (void)co_await reader3.wait();
    co_await tg.join();
    // The order in which concurrent readers receive the items is not defined.
    std::set<int> got{reader2.result(), reader3.result()};
    CHECK(got == (std::set<int>{1, 2}));
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<void> put_retrying_once(Queue<int>* q, shoal::Task<void> first, int v) {
  try {
    co_await first.wait();
    co_return;
  } catch (const shoal::CancelledError&) {
  }
  auto again = shoal::create_task(put_int(q, v));  // try again
  co_await again.wait();
}
}  // namespace

TEST_CASE("a putter cancelled after room appeared can put again", "[aio][queue][cancel]") {
  // test_put_cancel_drop
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    // Putting a second item has to wait (qsize=1).
    auto writer = shoal::create_task(put_int(&q, 2));
    co_await tick();
    CHECK(q.get_nowait() == 1);
    writer.cancel();
    co_await put_retrying_once(&q, writer, 2);
    CHECK(q.get_nowait() == 2);
    CHECK(q.qsize() == 0);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("put_nowait on a full queue throws QueueFull and keeps the item", "[aio][queue]") {
  // test_nonblocking_put_exception
  Queue<std::unique_ptr<int>> q(1);
  q.put_nowait(std::make_unique<int>(1));
  auto item = std::make_unique<int>(2);
  CHECK_THROWS_AS(q.put_nowait(std::move(item)), QueueFull);
  REQUIRE(item);  // not moved from: the caller still has it
  CHECK(*item == 2);
  CHECK_THROWS_AS(q.put_nowait(std::make_unique<int>(3)), shoal::Full);
}

TEST_CASE("a put into a queue with room completes at once", "[aio][queue]") {
  // test_put_cancelled (despite its name: a put and a get)
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q;
    auto t = shoal::create_task(put_int(&q, 1));
    {
      auto got = co_await q.get();
      CHECK(got == 1);
    }
    CHECK(t.done());
    co_await t.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a cancelled putter does not take the room of the next one", "[aio][queue][cancel]") {
  // test_put_cancelled_race
  auto body = []() -> shoal::Coro<void> {
    Queue<std::string> q(1);
    auto put_a = shoal::create_task(put_str(&q, "a"));
    auto put_b = shoal::create_task(put_str(&q, "b"));
    auto put_c = shoal::create_task(put_str(&q, "X"));
    co_await tick();
    CHECK(put_a.done());
    CHECK_FALSE(put_b.done());

    put_c.cancel();
    co_await tick();
    CHECK(put_c.done());
    CHECK(q.get_nowait() == "a");
    co_await tick();
    CHECK(q.get_nowait() == "b");
    co_await put_b.wait();
    CHECK(q.empty());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("put hands its item to a waiting getter", "[aio][queue]") {
  // test_put_with_waiting_getters
  auto body = []() -> shoal::Coro<void> {
    Queue<std::string> q;
    auto t = shoal::create_task(get_str(&q));
    co_await tick();
    co_await q.put("a");
    {
      auto got = co_await t.wait();
      CHECK(got == "a");
    }
  };
  shoal::test::run(body(), 5s);
}

namespace {
shoal::Coro<void> drain_after_a_step(Queue<int>* q) {
  co_await tick();
  for (std::size_t i = 0, n = q->qsize(); i < n; ++i) q->get_nowait();
}
}  // namespace

TEST_CASE("putters woken by get_nowait all get their turn", "[aio][queue]") {
  // test_why_are_putters_waiting
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q(2);
    shoal::TaskGroup tg;
    auto g = tg.create_task(drain_after_a_step(&q));
    auto p0 = tg.create_task(put_int(&q, 0));
    auto p1 = tg.create_task(put_int(&q, 1));
    auto p2 = tg.create_task(put_int(&q, 2));
    auto p3 = tg.create_task(put_int(&q, 3));
    co_await tg.join();
    CHECK(q.qsize() == 2);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a cancelled put leaves no putter behind", "[aio][queue][cancel]") {
  // test_cancelled_puts_not_being_held_in_self_putters
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    auto put_task = shoal::create_task(put_int(&q, 1));
    co_await tick();
    CHECK(contains(q.repr(), "_putters[1]"));
    put_task.cancel();
    bool cancelled = co_await ended_cancelled(put_task);
    CHECK(cancelled);
    CHECK_FALSE(contains(q.repr(), "_putters"));
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a putter woken by get_nowait then cancelled ends cancelled and passes the room on", "[aio][queue][cancel]") {
  // test_cancelled_put_silence_value_error_exception: get_nowait() pops the putter, so
  // the cancelled put finds nothing to remove.
  auto body = []() -> shoal::Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    auto put_task = shoal::create_task(put_int(&q, 1));
    auto next = shoal::create_task(put_int(&q, 7));
    co_await tick();
    q.get_nowait();     // pops put_task's waiter and wakes it
    put_task.cancel();  // before it runs
    bool cancelled = co_await ended_cancelled(put_task);
    CHECK(cancelled);
    co_await next.wait();  // the room went to the next putter
    CHECK(q.get_nowait() == 7);
  };
  shoal::test::run(body(), 5s);
}

// --- LifoQueueTests, PriorityQueueTests ------------------------------------------------

TEST_CASE("a lifo queue returns the newest item first", "[aio][queue][lifo]") {
  // LifoQueueTests.test_order
  auto body = []() -> shoal::Coro<void> {
    LifoQueue<int> q;
    const int values[] = {1, 3, 2};
    for (int i : values) co_await q.put(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.get());
    CHECK(items == (std::vector<int>{2, 3, 1}));
    CHECK(q.repr() == "<LifoQueue maxsize=0 tasks=3>");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a priority queue returns the lowest item first", "[aio][queue][priority]") {
  // PriorityQueueTests.test_order
  auto body = []() -> shoal::Coro<void> {
    PriorityQueue<int> q;
    const int values[] = {1, 3, 2};
    for (int i : values) co_await q.put(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.get());
    CHECK(items == (std::vector<int>{1, 2, 3}));
    CHECK(q.repr() == "<PriorityQueue maxsize=0 tasks=3>");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a priority queue orders pairs and honours a custom comparison", "[aio][queue][priority]") {
  auto body = []() -> shoal::Coro<void> {
    PriorityQueue<std::pair<int, std::string>> jobs;
    jobs.put_nowait({3, "low"});
    jobs.put_nowait({1, "urgent"});
    jobs.put_nowait({2, "normal"});
    {
      auto got = co_await jobs.get();
      CHECK(got.second == "urgent");
    }
    {
      auto got = co_await jobs.get();
      CHECK(got.second == "normal");
    }
    {
      auto got = co_await jobs.get();
      CHECK(got.second == "low");
    }

    PriorityQueue<int, std::greater<int>> highest_first;
    const int values[] = {5, 9, 1, 7};
    for (int i : values) highest_first.put_nowait(i);
    std::vector<int> items;
    while (!highest_first.empty()) items.push_back(highest_first.get_nowait());
    CHECK(items == (std::vector<int>{9, 7, 5, 1}));
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("queues carry move-only items", "[aio][queue]") {
  auto body = []() -> shoal::Coro<void> {
    Queue<std::unique_ptr<int>> q(1);
    co_await q.put(std::make_unique<int>(42));
    std::unique_ptr<int> p = co_await q.get();
    REQUIRE(p);
    CHECK(*p == 42);
    LifoQueue<std::unique_ptr<int>> lifo;
    lifo.put_nowait(std::make_unique<int>(1));
    lifo.put_nowait(std::make_unique<int>(2));
    CHECK(*lifo.get_nowait() == 2);
  };
  shoal::test::run(body(), 5s);
}
