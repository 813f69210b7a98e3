// Many producers and consumers through each bounded queue: no item lost or delivered
// twice, never more than maxsize items inside, task_done()/join() consistent; all under a
// watchdog so that a lost wake-up fails instead of hanging.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "unit/thread/helpers.hpp"

#include <shoal/queue/queue.hpp>

using namespace std::chrono_literals;

TEMPLATE_TEST_CASE("many producers and consumers through a small bounded queue lose and duplicate no item",
                   "[queue][stress]", shoal::Queue<int>, shoal::LifoQueue<int>, shoal::PriorityQueue<int>) {
  shoal::test::Watchdog dog(20s);
  constexpr int producers = 8, consumers = 8, per_producer = 2500, maxsize = 16;
  constexpr int total = producers * per_producer;
  TestType q(maxsize);
  std::vector<std::atomic<int>> seen(total);
  std::atomic<int> oversize{0}, timeouts{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  auto gate = [&] {
    ready.fetch_add(1);
    while (ready.load() < producers + consumers) std::this_thread::yield();
  };
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      gate();
      for (int i = 0; i < per_producer; ++i) {
        const int v = p * per_producer + i;
        switch (i % 3) {  // blocking, timed, and polling puts
          case 0:
            q.put(v);
            break;
          case 1:
            try {
              q.put(v, 5s);
            } catch (const shoal::Full&) {
              timeouts.fetch_add(1);
            }
            break;
          default:
            while (!q.try_put(int(v))) std::this_thread::yield();
        }
        if (q.qsize() > maxsize) oversize.fetch_add(1);
      }
    });
  for (int c = 0; c < consumers; ++c)
    threads.emplace_back([&, c] {
      gate();
      for (int k = 0;; ++k) {
        int v;
        if ((k + c) % 2) {
          v = q.get();
        } else {
          auto got = q.try_get(5ms);
          if (!got) continue;
          v = *got;
        }
        if (v < 0) {
          q.task_done();
          return;
        }
        seen[v].fetch_add(1);
        q.task_done();
      }
    });
  // Wait until every item was processed, then stop the consumers.
  std::thread stopper([&] {
    while (true) {
      int done = 0;
      for (auto& s : seen) done += s.load() > 0;
      if (done == total) break;
      std::this_thread::sleep_for(1ms);  // polling a condition, not a guess
    }
    q.join();
    for (int c = 0; c < consumers; ++c) q.put(-1);
  });
  for (auto& t : threads) t.join();
  stopper.join();
  int missing = 0, duplicated = 0;
  for (auto& s : seen) {
    missing += s == 0;
    duplicated += s > 1;
  }
  CHECK(missing == 0);
  CHECK(duplicated == 0);
  CHECK(oversize == 0);
  CHECK(timeouts == 0);
  CHECK(q.empty());
  CHECK(q.unfinished_tasks() == 0);
}

TEST_CASE("a FIFO Queue keeps each producer's items in order for every consumer", "[queue][stress]") {
  shoal::test::Watchdog dog(20s);
  constexpr int producers = 4, consumers = 4, per_producer = 5000;
  shoal::Queue<std::pair<int, int>> q(8);
  std::atomic<int> out_of_order{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) q.put({p, i});
    });
  for (int c = 0; c < consumers; ++c)
    threads.emplace_back([&] {
      std::vector<int> last(producers, -1);
      for (;;) {
        auto [p, i] = q.get();
        if (p < 0) return;
        if (i <= last[p]) out_of_order.fetch_add(1);
        last[p] = i;
      }
    });
  for (int p = 0; p < producers; ++p) threads[p].join();
  for (int c = 0; c < consumers; ++c) q.put({-1, 0});
  for (int c = 0; c < consumers; ++c) threads[producers + c].join();
  CHECK(out_of_order == 0);
}
