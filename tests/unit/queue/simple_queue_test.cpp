// SimpleQueue, ported from CPython's Lib/test/test_queue.py (BaseSimpleQueueTest).

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "unit/thread/helpers.hpp"

#include <shoal/queue/simple_queue.hpp>
#include <shoal/thread/thread.hpp>

using namespace std::chrono_literals;
using shoal::test::Record;

TEST_CASE("a SimpleQueue gives items back in order and reports Empty", "[queue][simple_queue]") {
  shoal::SimpleQueue<int> q;
  CHECK(q.empty());
  CHECK(q.qsize() == 0);
  q.put(1);
  CHECK_FALSE(q.empty());
  CHECK(q.qsize() == 1);
  const int v = q.get();
  CHECK(v == 1);
  CHECK(q.empty());
  q.put(2);
  q.put_nowait(3);
  CHECK(q.get(false) == 2);
  CHECK(q.get_nowait() == 3);
  CHECK_THROWS_AS(q.get(false), shoal::Empty);
  CHECK_THROWS_AS(q.get_nowait(), shoal::Empty);
  auto took = shoal::test::elapsed([&] { CHECK_THROWS_AS(q.get(20ms), shoal::Empty); });
  CHECK(took >= 20ms);
  CHECK_FALSE(q.try_get());
  CHECK_FALSE(q.try_get(1ms));
}

TEST_CASE("a SimpleQueue refuses a negative timeout", "[queue][simple_queue]") {
  shoal::SimpleQueue<int> q;
  q.put(1);
  CHECK_THROWS_AS(q.get(-1s), shoal::ValueError);
  CHECK(q.qsize() == 1);
}

TEST_CASE("a SimpleQueue keeps FIFO order across interleaved puts and gets", "[queue][simple_queue]") {
  shoal::SimpleQueue<int> q;
  std::vector<int> results;
  for (int i = 0; i < 100; ++i) {
    q.put(i);
    if (i % 3 == 0) results.push_back(q.get());
  }
  while (auto v = q.try_get()) results.push_back(*v);
  std::vector<int> expected(100);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(results == expected);
}

TEST_CASE("a blocked SimpleQueue get returns the item another thread puts", "[queue][simple_queue]") {
  shoal::test::Watchdog dog(10s);
  shoal::SimpleQueue<std::unique_ptr<int>> q;
  const auto me = shoal::get_native_id();
  std::thread t([&] {
    shoal::test::wait_until_blocked(me);
    q.put(std::make_unique<int>(5));
  });
  auto p = q.get();
  t.join();
  REQUIRE(p);
  CHECK(*p == 5);
}

namespace {

/// BaseSimpleQueueTest.run_threads: producers feed `inputs` plus a sentinel each; every
/// consumer collects until it gets a sentinel.
template <typename Consume>
std::vector<int> run_threads(int n_threads, std::vector<int> inputs, Consume consume) {
  shoal::SimpleQueue<int> q;
  Record<int> results;
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n_threads; ++i)
    threads.emplace_back([&] {  // producer
      for (std::size_t k; (k = next.fetch_add(1)) < inputs.size();) q.put(inputs[k]);
      q.put(-1);  // sentinel
    });
  for (int i = 0; i < n_threads; ++i)
    threads.emplace_back([&] {  // consumer
      for (;;) {
        const int v = consume(q);
        if (v < 0) return;
        results.add(v);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(q.empty());
  auto r = results.items();
  std::sort(r.begin(), r.end());
  return r;
}

std::vector<int> inputs(int n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

TEST_CASE("many threads through a SimpleQueue lose and duplicate no item", "[queue][simple_queue][stress]") {
  shoal::test::Watchdog dog(20s);
  const int n = 20000;
  SECTION("blocking gets") {  // test_many_threads
    CHECK(run_threads(8, inputs(n), [](auto& q) { return q.get(); }) == inputs(n));
  }
  SECTION("non-blocking gets") {  // test_many_threads_nonblock
    CHECK(run_threads(8, inputs(n),
                      [](auto& q) {
                        for (;;)
                          if (auto v = q.try_get()) return *v;
                          else std::this_thread::yield();
                      }) == inputs(n));
  }
  SECTION("gets with a timeout") {  // test_many_threads_timeout
    CHECK(run_threads(8, inputs(n),
                      [](auto& q) {
                        for (;;) {
                          try {
                            return q.get(1ms);
                          } catch (const shoal::Empty&) {
                          }
                        }
                      }) == inputs(n));
  }
}
