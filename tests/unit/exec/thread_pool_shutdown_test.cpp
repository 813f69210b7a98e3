// ThreadPoolExecutor::shutdown and the destructor (Python's `with` exit). Ports of
// CPython's test_concurrent_futures/test_shutdown.py.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "exec_helpers.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using shoal::ThreadPoolExecutor;
using shoal::test::Gate;
using shoal::test::Watchdog;

namespace {
int absolute(int v) { return v < 0 ? -v : v; }
}  // namespace

TEST_CASE("submit after shutdown raises InvalidStateError", "[exec][pool][shutdown]") {
  // CPython test_run_after_shutdown (RuntimeError there).
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  pool.shutdown();
  CHECK_THROWS_AS(pool.submit(absolute, -2), shoal::InvalidStateError);
}

TEST_CASE("submit after shutdown without waiting raises InvalidStateError", "[exec][pool][shutdown]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  Gate gate;
  auto f = pool.submit([h = gate.handle()] { h.result(); });
  pool.shutdown(false);
  CHECK_THROWS_AS(pool.submit(absolute, -2), shoal::InvalidStateError);
  gate.open();
  f.result();
}

TEST_CASE("map after shutdown raises InvalidStateError", "[exec][pool][shutdown][map]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  pool.shutdown();
  CHECK_THROWS_AS(pool.map(absolute, std::vector<int>{1, 2}), shoal::InvalidStateError);
}

TEST_CASE("shutdown waits until every queued call has finished", "[exec][pool][shutdown]") {
  // CPython test_hang_issue12364: 50 calls, then shutdown(); every future is done.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  std::atomic<int> calls{0};
  std::vector<shoal::Future<int>> fs;
  for (int i = 0; i < 50; ++i)
    fs.push_back(pool.submit([&calls](int v) {
      ++calls;
      return v;
    }, i));
  pool.shutdown();
  CHECK(calls == 50);
  for (int i = 0; i < 50; ++i) {
    REQUIRE(fs[i].done());
    CHECK(fs[i].result() == i);
  }
}

TEST_CASE("shutdown with cancel_futures cancels queued work and lets running work finish", "[exec][pool][shutdown][cancel]") {
  // CPython test_cancel_futures, made exact: two workers blocked, 48 calls queued. The
  // first queued future's cancellation (it runs on the shutting-down thread) opens the gate.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  Gate gate;
  std::latch both_running(2);
  std::atomic<int> calls{0};
  std::vector<shoal::Future<void>> fs;
  for (int i = 0; i < 50; ++i)
    fs.push_back(pool.submit([&calls, &both_running, h = gate.handle()] {
      both_running.count_down();
      h.result();
      ++calls;
    }));
  both_running.wait();
  fs[2].add_done_callback([&gate](const shoal::Future<void>&) { gate.open(); });
  pool.shutdown(true, true);
  int cancelled = 0;
  for (auto& f : fs) cancelled += f.cancelled();
  CHECK(cancelled == 48);
  CHECK(calls == 2);
  for (auto& f : fs) {
    CHECK(f.done());
    if (!f.cancelled()) CHECK(f.exception() == nullptr);
  }
}

TEST_CASE("shutdown with cancel_futures and no wait cancels queued work at once", "[exec][pool][shutdown][cancel]") {
  // CPython test_cancel_futures_wait_false.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(1);
  Gate gate;
  std::latch running(1);
  auto first = pool.submit([&running, h = gate.handle()] {
    running.count_down();
    h.result();
    return 1;
  });
  auto second = pool.submit(absolute, -2);
  running.wait();
  pool.shutdown(false, true);
  CHECK(second.cancelled());
  CHECK_THROWS_AS(second.result(), shoal::CancelledError);
  CHECK_FALSE(first.done());
  gate.open();
  CHECK(first.result() == 1);
}

TEST_CASE("a future cancelled just before shutdown does not hang it", "[exec][pool][shutdown][cancel]") {
  // CPython test_hang_gh94440.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(1);
  CHECK(pool.submit(absolute, -1).result() == 1);
  auto f = pool.submit(absolute, -3);
  f.cancel();  // may lose to the worker: either way shutdown returns
  pool.shutdown(true);
  CHECK(f.done());
}

TEST_CASE("shutdown without waiting returns while calls run and they still complete", "[exec][pool][shutdown]") {
  // CPython test_shutdown_no_wait.
  Watchdog dog(5s);
  std::optional<shoal::MapResults<int>> res;
  ThreadPoolExecutor pool(5);
  Gate gate;
  auto blocked = pool.submit([h = gate.handle()] {
    h.result();
    return 3;
  });
  std::vector<int> in{-5, -4, -3, -2, -1, 0, 1, 2, 3, 4};
  res.emplace(pool.map(absolute, in));
  pool.shutdown(false);  // returns although `blocked` cannot finish yet
  CHECK_FALSE(blocked.done());
  gate.open();
  CHECK(blocked.result() == 3);
  CHECK(res->to_vector() == std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4});
}

TEST_CASE("shutdown is idempotent", "[exec][pool][shutdown]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  auto f = pool.submit(absolute, -4);
  pool.shutdown(false);
  pool.shutdown(true);
  pool.shutdown(true, true);
  CHECK(f.result() == 4);
}

TEST_CASE("shutdown joins the worker threads", "[exec][pool][shutdown]") {
  // CPython test_threads_terminate: three calls blocked on a semaphore, three threads.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  Gate gate;
  std::atomic<int> alive{0};
  struct Alive {
    std::atomic<int>& n;
    explicit Alive(std::atomic<int>& c) : n(c) { ++n; }
    ~Alive() { --n; }
  };
  for (int i = 0; i < 3; ++i)
    (void)pool.submit([&alive, h = gate.handle()] {
      // thread_local: destroyed when the worker thread exits.
      thread_local Alive mark(alive);
      h.result();
    });
  CHECK(pool.thread_count() == 3);
  gate.open();
  pool.shutdown();
  CHECK(alive == 0);
}

TEST_CASE("the destructor waits for every call like Python's with exit", "[exec][pool][shutdown]") {
  // CPython test_context_manager_shutdown and test_del_shutdown.
  Watchdog dog(5s);
  std::atomic<int> calls{0};
  std::optional<shoal::MapResults<int>> res;
  {
    ThreadPoolExecutor pool(5);
    std::vector<int> in{-5, -4, -3, -2, -1, 0, 1, 2, 3, 4};
    CHECK(pool.map(absolute, in).to_vector() == std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4});
    res.emplace(pool.map([&calls](int v) {
      ++calls;
      return absolute(v);
    }, in));
  }
  CHECK(calls == 10);
  CHECK(res->to_vector() == std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4});
}

TEST_CASE("shutdown called from inside a pool call returns and the pool still joins that thread", "[exec][pool][shutdown]") {
  // Python raises "cannot join current thread" here; shoal's shutdown skips the calling
  // thread, and the pool's destructor must still join it before freeing the pool.
  Watchdog dog(5s);
  auto pool = std::make_unique<ThreadPoolExecutor>(2);
  ThreadPoolExecutor* p = pool.get();
  std::atomic<bool> finished{false};
  std::latch shut(1);
  Gate after;
  auto f = p->submit([p, &finished, &shut, h = after.handle()] {
    p->shutdown(true);
    shut.count_down();
    h.result();
    // Widens the window in which a pool that forgot this thread would be freed under it.
    std::this_thread::sleep_for(20ms);
    finished = true;
    return 1;
  });
  shut.wait();
  CHECK_THROWS_AS(p->submit(absolute, 1), shoal::InvalidStateError);
  after.open();
  pool.reset();  // must wait for the call above, which runs on a thread shutdown skipped
  CHECK(finished);
  CHECK(f.result() == 1);
}

TEST_CASE("a later shutdown with wait also joins a thread whose call shut the pool down", "[exec][pool][shutdown]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(1);
  std::atomic<bool> finished{false};
  std::latch shut(1);
  Gate after;
  auto f = pool.submit([&pool, &finished, &shut, h = after.handle()] {
    pool.shutdown(true);
    shut.count_down();
    h.result();
    std::this_thread::sleep_for(20ms);  // as above: widens the window for a missed join
    finished = true;
  });
  shut.wait();
  after.open();
  pool.shutdown(true);  // Python's shutdown(wait=True): every thread has exited
  CHECK(finished);
  CHECK(f.done());
}

TEST_CASE("submits racing a shutdown from another thread either raise or complete", "[exec][pool][shutdown][stress]") {
  Watchdog dog(10s);
  for (int round = 0; round < 20; ++round) {
    ThreadPoolExecutor pool(3);
    std::atomic<int> rejected{0};
    std::vector<std::vector<shoal::Future<int>>> per(4);
    std::latch go(5);
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&, t] {
        go.arrive_and_wait();
        for (int i = 0; i < 100; ++i) {
          try {
            per[t].push_back(pool.submit(absolute, -i));
          } catch (const shoal::InvalidStateError&) {
            ++rejected;
          }
        }
      });
    go.arrive_and_wait();
    pool.shutdown(true);
    for (auto& th : ts) th.join();
    std::size_t accepted = 0;
    for (auto& fs : per)
      for (auto& f : fs) {
        ++accepted;
        REQUIRE(f.done());  // shutdown(wait=true) ran everything it accepted
        CHECK(f.result() >= 0);
      }
    CHECK(accepted + static_cast<std::size_t>(rejected) == 400);
  }
}
