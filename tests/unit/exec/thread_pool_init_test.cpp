// ThreadPoolOptions::initializer: runs first in every worker; when it throws, the pool is
// broken (BrokenExecutor). Ports of CPython's test_concurrent_futures/test_init.py.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <string>
#include <vector>

#include "exec_helpers.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using shoal::ThreadPoolExecutor;
using shoal::test::Gate;
using shoal::test::Watchdog;

namespace {

thread_local std::string init_status = "uninitialized";

std::string get_init_status() { return init_status; }

/// Fails `f` unless it fails with BrokenExecutor; returns the message.
std::string broken_message(const shoal::Future<std::string>& f) {
  try {
    (void)f.result(5s);
  } catch (const shoal::BrokenExecutor& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the initializer runs in every worker thread before its calls", "[exec][pool][init]") {
  // CPython InitializerMixin.test_initializer: two workers, both report 'initialized'.
  Watchdog dog(5s);
  std::atomic<int> inits{0};
  ThreadPoolExecutor pool(2, {.initializer = [&inits] {
                                init_status = "initialized";
                                ++inits;
                              }});
  std::latch both(2);
  std::vector<shoal::Future<std::string>> fs;
  for (int i = 0; i < 2; ++i)
    fs.push_back(pool.submit([&both] {
      both.arrive_and_wait();  // one call per worker: both threads run
      return get_init_status();
    }));
  for (auto& f : fs) CHECK(f.result() == "initialized");
  CHECK(init_status == "uninitialized");  // not the test's thread
  pool.shutdown();
  CHECK(inits == 2);
}

TEST_CASE("a failing initializer breaks the pool and fails the queued calls with BrokenExecutor", "[exec][pool][init]") {
  // CPython FailingInitializerMixin.test_initializer. Its init_fail sleeps "to let some
  // futures be scheduled"; here the initializer waits on a gate instead.
  Watchdog dog(5s);
  Gate gate;
  ThreadPoolExecutor pool(2, {.initializer = [h = gate.handle()] {
                                h.result();
                                throw std::invalid_argument("error in initializer");
                              }});
  std::vector<shoal::Future<std::string>> fs;
  for (int i = 0; i < 5; ++i) fs.push_back(pool.submit(get_init_status));
  gate.open();
  for (auto& f : fs) {
    std::string msg = broken_message(f);
    CHECK(msg.find("error in initializer") != std::string::npos);
    CHECK(msg.find("invalid_argument") != std::string::npos);
  }
  // Once a future has failed that way the pool is broken, and submit says so.
  CHECK_THROWS_AS(pool.submit(get_init_status), shoal::BrokenExecutor);
  CHECK_THROWS_AS(pool.map([](int v) { return v; }, std::vector<int>{1}), shoal::BrokenExecutor);
}

TEST_CASE("one worker's failing initializer breaks the pool even when another worker initialized", "[exec][pool][init]") {
  Watchdog dog(5s);
  std::atomic<int> inits{0};
  Gate gate;
  ThreadPoolExecutor pool(2, {.initializer = [&inits, h = gate.handle()] {
                                if (++inits == 2) {
                                  h.result();
                                  throw std::runtime_error("second worker cannot start");
                                }
                              }});
  // The first call holds worker 0 so that the second starts worker 1.
  Gate hold;
  std::latch first_running(1);
  auto first = pool.submit([&first_running, h = hold.handle()] {
    first_running.count_down();
    h.result();
    return std::string("first");
  });
  first_running.wait();
  auto second = pool.submit(get_init_status);
  auto third = pool.submit(get_init_status);
  gate.open();  // worker 1's initializer fails
  CHECK(broken_message(second).find("second worker cannot start") != std::string::npos);
  CHECK(broken_message(third).find("second worker cannot start") != std::string::npos);
  CHECK_THROWS_AS(pool.submit(get_init_status), shoal::BrokenExecutor);
  hold.open();
  CHECK(first.result() == "first");  // a call already running finishes normally
}

TEST_CASE("a broken pool shuts down and is destroyed without hanging", "[exec][pool][init][shutdown]") {
  Watchdog dog(5s);
  shoal::Future<int> f;
  {
    ThreadPoolExecutor pool(3, {.initializer = [] { throw std::runtime_error("no"); }});
    f = pool.submit([] { return 1; });
    CHECK_THROWS_AS(f.result(5s), shoal::BrokenExecutor);
    pool.shutdown(true, true);
    CHECK_THROWS_AS(pool.submit([] { return 2; }), shoal::InvalidStateError);
  }
  CHECK(f.done());
}

TEST_CASE("BrokenExecutor is a shoal Error of kind failed", "[exec][pool][init]") {
  shoal::BrokenExecutor e("broken");
  const shoal::Error& base = e;
  CHECK(base.kind() == shoal::ErrorKind::failed);
}
