// aio queues: the join and shutdown cases of CPython's Lib/test/test_asyncio/test_queues.py
// (_QueueJoinTestMixin, _QueueShutdownTestMixin), run for Queue, LifoQueue and PriorityQueue.

#include <string>
#include <utility>
#include <vector>

#include "aio_support.hpp"

using namespace aio_test;
using shoal::aio::LifoQueue;
using shoal::aio::PriorityQueue;
using shoal::aio::Queue;
using shoal::aio::QueueShutDown;

namespace {

shoal::Coro<int> get_int(Queue<int>* q) { co_return co_await q->get(); }
shoal::Coro<void> put_int(Queue<int>* q, int v) { co_await q->put(v); }

}  // namespace

// --- _QueueJoinTestMixin and _QueueShutdownTestMixin, for each queue type --------------

namespace {

template <typename Q>
shoal::Coro<void> join_worker(Q* q, const bool* running, int* accumulator) {
  while (*running) {
    int item = co_await q->get();
    *accumulator += item;
    q->task_done();
  }
}

template <typename Q>
shoal::Coro<void> get_one_str(Q* q) {
  (void)co_await q->get();
}

template <typename Q>
shoal::Coro<void> put_one_str(Q* q, std::string s) {
  co_await q->put(std::move(s));
}

template <typename Q>
shoal::Coro<void> join_it(Q* q) {
  co_await q->join();
}

}  // namespace

TEMPLATE_TEST_CASE("task_done without a matching put throws ValueError", "[aio][queue][join]",
                   Queue<int>, LifoQueue<int>, PriorityQueue<int>) {
  // test_task_done_underflow
  TestType q;
  CHECK_THROWS_AS(q.task_done(), shoal::ValueError);
}

TEMPLATE_TEST_CASE("join returns once every item was marked done by the workers", "[aio][queue][join]",
                   Queue<int>, LifoQueue<int>, PriorityQueue<int>) {
  // test_task_done
  auto body = []() -> shoal::Coro<void> {
    TestType q;
    for (int i = 0; i < 100; ++i) q.put_nowait(i);
    int accumulator = 0;
    bool running = true;
    // Two workers get items from the queue and call task_done after each.
    shoal::TaskGroup tg;
    std::vector<shoal::Task<void>> tasks;
    for (int i = 0; i < 2; ++i)
      tasks.push_back(tg.create_task(join_worker(&q, &running, &accumulator)));
    co_await q.join();
    CHECK(accumulator == 99 * 100 / 2);
    // Stop the workers.
    running = false;
    for (std::size_t i = 0; i < tasks.size(); ++i) q.put_nowait(0);
    co_await tg.join();
  };
  shoal::test::run(body(), 5s);
}

TEMPLATE_TEST_CASE("join on an empty queue returns at once", "[aio][queue][join]",
                   Queue<int>, LifoQueue<int>, PriorityQueue<int>) {
  // test_join_empty_queue
  auto body = []() -> shoal::Coro<void> {
    TestType q;
    co_await q.join();
    co_await q.join();
  };
  shoal::test::run(body(), 5s);
}

TEMPLATE_TEST_CASE("repr counts the unfinished tasks", "[aio][queue][join]",
                   Queue<std::string>, LifoQueue<std::string>, PriorityQueue<std::string>) {
  // _QueueJoinTestMixin.test_format (Python sets _unfinished_tasks; two items taken here)
  TestType q;
  CHECK(contains(q.repr(), " maxsize=0>"));
  q.put_nowait("a");
  q.put_nowait("b");
  (void)q.get_nowait();
  (void)q.get_nowait();
  CHECK(contains(q.repr(), " maxsize=0 tasks=2>"));
}

TEMPLATE_TEST_CASE("repr says when the queue is shut down", "[aio][queue][shutdown]",
                   Queue<std::string>, LifoQueue<std::string>, PriorityQueue<std::string>) {
  // _QueueShutdownTestMixin.test_format
  TestType q;
  q.shutdown();
  CHECK(contains(q.repr(), " maxsize=0 shutdown>"));
}

TEMPLATE_TEST_CASE("shutting down an empty queue wakes its getters with QueueShutDown", "[aio][queue][shutdown]",
                   Queue<std::string>, LifoQueue<std::string>, PriorityQueue<std::string>) {
  // test_shutdown_empty
  auto body = []() -> shoal::Coro<void> {
    TestType q;
    auto get_task = shoal::create_task(get_one_str(&q));
    co_await tick();  // the get is pending before the shutdown
    q.shutdown(false);
    CHECK(q.qsize() == 0);
    co_await q.join();  // nothing unfinished
    co_await tick();
    CHECK(get_task.done());
    CHECK_THROWS_AS(co_await get_task.wait(), QueueShutDown);

    CHECK_THROWS_AS(co_await q.put("data"), QueueShutDown);
    CHECK_THROWS_AS(q.put_nowait("data"), QueueShutDown);
    CHECK_THROWS_AS(co_await q.get(), QueueShutDown);
    CHECK_THROWS_AS(q.get_nowait(), shoal::ShutDown);
  };
  shoal::test::run(body(), 5s);
}

TEMPLATE_TEST_CASE("a queue shut down with items still hands them out then refuses", "[aio][queue][shutdown]",
                   Queue<std::string>, LifoQueue<std::string>, PriorityQueue<std::string>) {
  // test_shutdown_nonempty
  auto body = []() -> shoal::Coro<void> {
    TestType q(1);
    q.put_nowait("data");
    auto join_task = shoal::create_task(join_it(&q));
    auto put_task = shoal::create_task(put_one_str(&q, "data2"));
    co_await tick();
    CHECK_FALSE(put_task.done());

    q.shutdown(false);  // unfinished tasks: 1 -> 1
    CHECK(q.qsize() == 1);
    co_await tick();
    CHECK(put_task.done());
    CHECK_THROWS_AS(co_await put_task.wait(), QueueShutDown);

    {
      auto got = co_await q.get();
      CHECK(got == "data");  // the queued item is still handed out
    }
    co_await tick();
    CHECK_FALSE(join_task.done());

    CHECK_THROWS_AS(co_await q.put("data"), QueueShutDown);
    CHECK_THROWS_AS(q.put_nowait("data"), QueueShutDown);
    CHECK_THROWS_AS(co_await q.get(), QueueShutDown);
    CHECK_THROWS_AS(q.get_nowait(), QueueShutDown);

    q.task_done();  // the one unfinished task
    co_await tick();
    CHECK(join_task.done());
    co_await join_task.wait();
    CHECK_THROWS_AS(q.task_done(), shoal::ValueError);
  };
  shoal::test::run(body(), 5s);
}

TEMPLATE_TEST_CASE("an immediate shutdown drops the items and releases join", "[aio][queue][shutdown]",
                   Queue<std::string>, LifoQueue<std::string>, PriorityQueue<std::string>) {
  // test_shutdown_immediate
  auto body = []() -> shoal::Coro<void> {
    TestType q;
    q.put_nowait("data");
    auto join_task = shoal::create_task(join_it(&q));
    q.shutdown(true);  // unfinished tasks: 1 -> 0
    CHECK(q.qsize() == 0);
    co_await tick();
    CHECK(join_task.done());
    co_await join_task.wait();

    CHECK_THROWS_AS(co_await q.put("data"), QueueShutDown);
    CHECK_THROWS_AS(q.put_nowait("data"), QueueShutDown);
    CHECK_THROWS_AS(co_await q.get(), QueueShutDown);
    CHECK_THROWS_AS(q.get_nowait(), QueueShutDown);
    CHECK_THROWS_AS(q.task_done(), shoal::ValueError);  // no unfinished task left
  };
  shoal::test::run(body(), 5s);
}

TEMPLATE_TEST_CASE("an immediate shutdown leaves the items already taken unfinished", "[aio][queue][shutdown]",
                   Queue<std::string>, LifoQueue<std::string>, PriorityQueue<std::string>) {
  // test_shutdown_immediate_with_unfinished
  auto body = []() -> shoal::Coro<void> {
    TestType q;
    q.put_nowait("data");
    q.put_nowait("data");
    auto join_task = shoal::create_task(join_it(&q));
    {
      auto got = co_await q.get();
      CHECK(got == "data");
    }
    q.shutdown(true);  // unfinished tasks: 2 -> 1
    CHECK(q.qsize() == 0);
    co_await tick();
    CHECK_FALSE(join_task.done());

    CHECK_THROWS_AS(co_await q.put("data"), QueueShutDown);
    CHECK_THROWS_AS(q.put_nowait("data"), QueueShutDown);
    CHECK_THROWS_AS(co_await q.get(), QueueShutDown);
    CHECK_THROWS_AS(q.get_nowait(), QueueShutDown);

    q.task_done();  // the one taken
    CHECK_THROWS_AS(q.task_done(), shoal::ValueError);
    co_await tick();
    CHECK(join_task.done());
    co_await join_task.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("shutdown wakes blocked putters and getters of every kind", "[aio][queue][shutdown]") {
  auto body = []() -> shoal::Coro<void> {
    Queue<int> full(1);
    full.put_nowait(0);
    auto p1 = shoal::create_task(put_int(&full, 1));
    auto p2 = shoal::create_task(put_int(&full, 2));
    Queue<int> empty;
    auto g1 = shoal::create_task(get_int(&empty));
    auto g2 = shoal::create_task(get_int(&empty));
    co_await tick();
    full.shutdown();
    empty.shutdown(true);
    CHECK_THROWS_AS(co_await p1.wait(), QueueShutDown);
    CHECK_THROWS_AS(co_await p2.wait(), QueueShutDown);
    CHECK_THROWS_AS(co_await g1.wait(), QueueShutDown);
    CHECK_THROWS_AS(co_await g2.wait(), QueueShutDown);
    CHECK(full.get_nowait() == 0);  // a plain shutdown keeps the items
    CHECK_FALSE(contains(full.repr(), "_putters"));
    CHECK_FALSE(contains(empty.repr(), "_getters"));
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a queue bound to one loop refuses waiters from another", "[aio][queue]") {
  Queue<int> q;
  auto first = [](Queue<int>* q) -> shoal::Coro<void> {
    CHECK_THROWS_AS(co_await shoal::wait_for(q->get(), 10ms), shoal::TimeoutError);  // binds
  };
  shoal::test::run(first(&q), 5s);
  auto second = [](Queue<int>* q) -> shoal::Coro<void> {
    q->put_nowait(1);
    {
      auto got = co_await q->get();
      CHECK(got == 1);  // no wait, no loop involved
    }
    CHECK_THROWS_AS(co_await q->get(), shoal::InvalidStateError);
  };
  shoal::test::run(second(&q), 5s);
}
