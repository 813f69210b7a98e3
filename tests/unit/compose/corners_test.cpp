// The corners of wait and as_completed that a program ported from Python meets (issue 15):
// a blocking form used on a loop's own thread fails loudly instead of freezing the loop;
// as_completed works on a set and hands out nothing that completed after its deadline;
// whatever wait() returns is an awaitable the other combinators accept.

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>
#include <vector>

#include "support/run.hpp"

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

shoal::Coro<bool> blocking_wait_on_the_loop(shoal::Future<int> f) {
  std::vector<shoal::Future<int>> fs{f};
  auto t0 = Clock::now();
  bool refused = false;
  try {
    shoal::WaitResult<shoal::Future<int>> r = shoal::wait(fs, {.timeout = 10s});
    (void)r;
  } catch (const shoal::InvalidStateError&) {
    refused = true;
  }
  // It refused at once: it did not sit out its 10 s first.
  CHECK(Clock::now() - t0 < 2s);
  co_return refused;
}

shoal::Coro<bool> blocking_as_completed_on_the_loop(shoal::Future<int> f) {
  std::vector<shoal::Future<int>> fs{f};
  try {
    for (auto g : shoal::as_completed(fs)) (void)g;  // without a timeout: for ever
  } catch (const shoal::InvalidStateError&) {
    co_return true;
  }
  co_return false;
}

shoal::Coro<int> blocking_forms_on_done_futures() {
  // Nothing to wait for: the blocking forms answer, on the loop's thread too.
  shoal::Promise<int> p;
  p.set_result(3);
  std::vector<shoal::Future<int>> fs{p.get_future()};
  shoal::WaitResult<shoal::Future<int>> r = shoal::wait(fs);
  int sum = static_cast<int>(r.done.size());
  for (auto f : shoal::as_completed(fs)) sum += f.result();
  co_return sum;
}

shoal::Coro<int> value_after(int v, std::chrono::milliseconds d) {
  co_await shoal::sleep(d);
  co_return v;
}

}  // namespace

TEST_CASE("a blocking wait() on a running loop's thread raises InvalidStateError instead of blocking the loop",
          "[compose][wait][loop-thread]") {
  shoal::Promise<int> p;  // never set: blocking would wait the whole timeout
  CHECK(shoal::test::run(blocking_wait_on_the_loop(p.get_future())));
  p.set_result(0);
}

TEST_CASE("a blocking as_completed iteration on a running loop's thread raises InvalidStateError",
          "[compose][as_completed][loop-thread]") {
  shoal::Promise<int> p;
  CHECK(shoal::test::run(blocking_as_completed_on_the_loop(p.get_future())));
  p.set_result(0);
}

TEST_CASE("the blocking forms still answer on a loop's thread when nothing is pending",
          "[compose][wait][loop-thread]") {
  CHECK(shoal::test::run(blocking_forms_on_done_futures()) == 4);
}

// CPython: test_concurrent_futures AsCompletedTests.test_duplicate_futures (the awaited
// form: test_as_completed_duplicate_coroutines in as_completed_test.cpp).
TEST_CASE("test_duplicate_futures: as_completed hands out a future given twice once", "[compose][as_completed]") {
  shoal::Promise<int> a, b;
  a.set_result(1);
  b.set_result(2);
  std::vector<shoal::Future<int>> fs{a.get_future(), a.get_future(), b.get_future(), a.get_future()};
  int count = 0, sum = 0;
  for (auto f : shoal::as_completed(fs, 5s)) {
    ++count;
    sum += f.result();
  }
  CHECK(count == 2);
  CHECK(sum == 3);
}

TEST_CASE("as_completed on a thread: what completes after the deadline is not handed out",
          "[compose][as_completed][timeout]") {
  shoal::Promise<int> early, late;
  early.set_result(1);
  std::vector<shoal::Future<int>> fs{early.get_future(), late.get_future()};
  auto it = shoal::as_completed(fs, 30ms);
  std::this_thread::sleep_for(60ms);  // the deadline passes while the consumer is busy
  late.set_result(2);                 // ...and only then does `late` complete
  // Completed before the deadline: still handed out, as Python's queue of done futures.
  CHECK(it.next_blocking().result() == 1);
  CHECK_THROWS_AS(it.next_blocking(), shoal::TimeoutError);
}

TEST_CASE("test_as_completed_with_timeout: an awaited as_completed does not hand out a late completion",
          "[compose][as_completed][timeout]") {
  auto body = []() -> shoal::Coro<int> {
    shoal::Promise<int> early, late;
    early.set_result(1);
    std::vector<shoal::Future<int>> fs{early.get_future(), late.get_future()};
    auto it = shoal::as_completed(fs, 30ms);
    co_await shoal::sleep(60ms);
    late.set_result(2);
    int got = (co_await it.next()).result();
    try {
      (void)co_await it.next();
      co_return -1;
    } catch (const shoal::TimeoutError&) {
    }
    co_return got;
  };
  CHECK(shoal::test::run(body()) == 1);
}

TEST_CASE("what wait() returns can be given to wait_for, gather and shield", "[compose][wait]") {
  auto body = []() -> shoal::Coro<std::size_t> {
    auto t = shoal::create_task(value_after(1, 1ms));
    std::vector<shoal::Future<int>> fs{t};
    auto a = co_await shoal::wait_for(shoal::wait(fs), 5s);
    auto [b, c] = co_await shoal::gather(shoal::wait(fs), value_after(2, 1ms));
    auto d = co_await shoal::shield(shoal::wait(fs));
    std::vector<shoal::WaitCall<shoal::Future<int>>> calls;
    calls.push_back(shoal::wait(fs));
    calls.push_back(shoal::wait(fs));
    auto all = co_await shoal::gather(std::move(calls));
    CHECK(c == 2);
    co_return a.done.size() + b.done.size() + d.done.size() + all.size();
  };
  CHECK(shoal::test::run(body()) == 5);
}
