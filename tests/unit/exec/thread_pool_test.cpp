// ThreadPoolExecutor: submit, map, the worker threads. Ports of CPython's
// test_concurrent_futures/executor.py and test_thread_pool.py, plus what a C++ pool adds
// (move-only arguments, references dropped once a call has run).

#include <catch2/catch.hpp>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exec_helpers.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
using shoal::ThreadPoolExecutor;
using shoal::test::Boom;
using shoal::test::Gate;
using shoal::test::Watchdog;

namespace {

int mul(int x, int y) { return x * y; }

long ipow(long base, int exp) {
  long r = 1;
  for (int i = 0; i < exp; ++i) r *= base;
  return r;
}

std::pair<int, int> checked_divmod(int a, int b) {
  if (b == 0) throw Boom("integer division or modulo by zero");
  return {a / b, a % b};
}

std::string thread_name() {
  char buf[16] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

}  // namespace

// --- submit -------------------------------------------------------------------------------

TEST_CASE("submit returns a future with the result of the call", "[exec][pool]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  auto f = pool.submit(ipow, 2L, 8);
  CHECK(f.result() == 256);
  CHECK(f.done());
  CHECK_FALSE(f.cancelled());
  CHECK_FALSE(f.running());
  CHECK(f.exception() == nullptr);
}

TEST_CASE("submit passes the arguments to the call and copies them in", "[exec][pool]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  std::string s = "abc";
  auto f = pool.submit([](const std::string& a, int n) { return a + std::to_string(n); }, s, 7);
  s = "changed";  // the call owns its own copy
  CHECK(f.result() == "abc7");
}

TEST_CASE("submit moves a move-only argument into the call", "[exec][pool]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  auto p = std::make_unique<int>(41);
  auto f = pool.submit([](std::unique_ptr<int>& q) { return *q + 1; }, std::move(p));
  CHECK(f.result() == 42);
}

TEST_CASE("submit calls a member function pointer on the object given", "[exec][pool]") {
  Watchdog dog(5s);
  struct Counter {
    int base = 10;
    int add(int x) const { return base + x; }
  };
  ThreadPoolExecutor pool(2);
  auto f = pool.submit(&Counter::add, Counter{}, 5);
  CHECK(f.result() == 15);
}

TEST_CASE("submit of a void call gives a future that completes without a value", "[exec][pool]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  std::atomic<int> calls{0};
  shoal::Future<void> f = pool.submit([&calls] { ++calls; });
  f.result();
  CHECK(f.done());
  CHECK(calls == 1);
}

TEST_CASE("an exception thrown by a call comes out of result with its type and message", "[exec][pool]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  auto f = pool.submit(checked_divmod, 21, 0);
  std::string what;
  try {
    (void)f.result();
  } catch (const Boom& e) {
    what = e.what();
  }
  CHECK(what == "integer division or modulo by zero");
  CHECK(f.done());
  CHECK_FALSE(f.cancelled());
}

TEST_CASE("exception returns the exception of a failed call without throwing it", "[exec][pool]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  auto f = pool.submit(checked_divmod, 1, 0);
  auto e = f.exception(1s);
  REQUIRE(e);
  CHECK_THROWS_AS(std::rethrow_exception(e), Boom);
}

TEST_CASE("a call can submit more work to its own pool", "[exec][pool]") {
  // CPython test_hang_global_shutdown_lock, without the fork: a call submitting from a
  // worker neither deadlocks nor is lost.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(1);
  auto outer = pool.submit([&pool] { return pool.submit(mul, 6, 7); });
  shoal::Future<int> inner = outer.result();
  CHECK(inner.result() == 42);
}

// --- map ----------------------------------------------------------------------------------

TEST_CASE("map returns the results in input order", "[exec][pool][map]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  std::vector<long> bases;
  std::vector<int> exps;
  for (int i = 0; i < 10; ++i) {
    bases.push_back(i);
    exps.push_back(i);
  }
  std::vector<long> got;
  for (long v : pool.map(ipow, bases, exps)) got.push_back(v);
  std::vector<long> want;
  for (int i = 0; i < 10; ++i) want.push_back(ipow(i, i));
  CHECK(got == want);
}

TEST_CASE("map keeps input order when later items finish first", "[exec][pool][map]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(3);
  Gate first;
  // Item 0 waits until item 2 has finished: completion order differs from input order.
  shoal::Future<void> two_done;
  auto fn = [h = first.handle(), two_done](int i) mutable {
    if (i == 0) h.result();
    if (i == 2) two_done.set_result();
    return i * 10;
  };
  auto results = pool.map(fn, std::vector<int>{0, 1, 2});
  two_done.result();
  first.open();
  CHECK(results.to_vector() == std::vector<int>{0, 10, 20});
}

TEST_CASE("map zips several ranges and stops at the shortest", "[exec][pool][map]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  auto r = pool.map(mul, std::vector<int>{1, 2, 3, 4}, std::vector<int>{10, 20});
  CHECK(r.size() == 2);
  CHECK(r.to_vector() == std::vector<int>{10, 40});
}

TEST_CASE("map over an empty range yields nothing", "[exec][pool][map]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  auto r = pool.map(mul, std::vector<int>{}, std::vector<int>{});
  CHECK(r.size() == 0);
  CHECK(r.begin() == r.end());
}

TEST_CASE("map raises an item's exception when that item is reached", "[exec][pool][map]") {
  // CPython test_map_exception: divmod over [1,1,1,1] and [2,3,0,5].
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  auto r = pool.map(checked_divmod, std::vector<int>{1, 1, 1, 1}, std::vector<int>{2, 3, 0, 5});
  auto it = r.begin();
  CHECK(*it == std::pair<int, int>{0, 1});
  ++it;
  CHECK(*it == std::pair<int, int>{0, 1});
  ++it;
  CHECK_THROWS_AS(*it, Boom);
}

TEST_CASE("map with a timeout raises TimeoutError at the first item not ready in time", "[exec][pool][map][timeout]") {
  // CPython test_map_timeout: [0, 0, 6] seconds of sleep with timeout=5; here the third
  // call blocks on a gate until the test is over.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  Gate gate;
  auto fn = [h = gate.handle()](int blocks) {
    if (blocks) h.result();
  };
  std::vector<std::monostate> results;
  bool timed_out = false;
  try {
    for (auto v : pool.map(fn, std::vector<int>{0, 0, 1}, 50ms)) results.push_back(v);
  } catch (const shoal::TimeoutError&) {
    timed_out = true;
  }
  CHECK(timed_out);
  CHECK(results.size() == 2);
}

TEST_CASE("map submits every call even when its result is never iterated", "[exec][pool][map]") {
  // CPython test_map_submits_without_iteration (bpo-11777).
  Watchdog dog(5s);
  ThreadPoolExecutor pool(5);
  std::mutex mu;
  std::vector<int> finished;
  auto record = [&](int n) {
    std::lock_guard lock(mu);
    finished.push_back(n);
  };
  std::vector<int> in{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  (void)pool.map(record, in);
  pool.shutdown(true);
  std::sort(finished.begin(), finished.end());
  CHECK(finished == in);
}

TEST_CASE("dropping a map result after a timeout cancels the calls that have not started", "[exec][pool][map][cancel]") {
  // CPython test_executor_map_current_future_cancel.
  Watchdog dog(5s);
  std::mutex mu;
  std::vector<std::string> log;
  auto append = [&](std::string s) {
    std::lock_guard lock(mu);
    log.push_back(std::move(s));
  };
  {
    ThreadPoolExecutor pool(1);
    Gate stop;
    auto log_n_wait = [&append, h = stop.handle()](const std::string& ident) {
      append(ident + " started");
      h.result();
      append(ident + " stopped");
    };
    auto fut = pool.submit(log_n_wait, std::string("first"));  // saturates the pool
    {
      auto gen = pool.map(log_n_wait, std::vector<std::string>{"second", "third"}, 0ms);
      CHECK_THROWS_AS(*gen.begin(), shoal::TimeoutError);
    }  // closing the results cancels "second" and "third"
    stop.open();
    fut.result();
  }
  CHECK(log == std::vector<std::string>{"first started", "first stopped"});
}

// --- the worker threads -------------------------------------------------------------------

TEST_CASE("max_workers of zero raises ValueError", "[exec][pool]") {
  // CPython test_max_workers_negative (a size_t cannot be negative).
  CHECK_THROWS_AS(ThreadPoolExecutor(0), shoal::ValueError);
  try {
    ThreadPoolExecutor pool(0);
  } catch (const shoal::ValueError& e) {
    CHECK(std::string(e.what()).find("max_workers must be greater than 0") != std::string::npos);
  }
}

TEST_CASE("the default max_workers is min of 32 and cpu count plus 4", "[exec][pool]") {
  // CPython test_default_workers.
  std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  std::size_t want = std::min<std::size_t>(32, cpus + 4);
  CHECK(ThreadPoolExecutor::default_max_workers() == want);
  ThreadPoolExecutor pool;
  CHECK(pool.max_workers() == want);
}

TEST_CASE("threads start on demand and never exceed max_workers", "[exec][pool]") {
  // CPython test_saturation: 15 * max_workers calls blocked on a semaphore.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(4);
  CHECK(pool.thread_count() == 0);
  Gate gate;
  std::vector<shoal::Future<void>> fs;
  fs.push_back(pool.submit([h = gate.handle()] { h.result(); }));
  CHECK(pool.thread_count() == 1);
  for (int i = 1; i < 15 * 4; ++i) fs.push_back(pool.submit([h = gate.handle()] { h.result(); }));
  CHECK(pool.thread_count() == 4);
  gate.open();
  pool.shutdown(true);
  for (auto& f : fs) CHECK(f.done());
}

TEST_CASE("never more than max_workers calls run at the same time", "[exec][pool]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(3);
  Gate gate;
  std::latch three_running(3);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  auto fn = [&, h = gate.handle()] {
    int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    {
      std::lock_guard lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    three_running.count_down();
    h.result();
    --running;
  };
  std::vector<shoal::Future<void>> fs;
  for (int i = 0; i < 30; ++i) fs.push_back(pool.submit(fn));
  three_running.wait();  // the pool is saturated: the other 27 are queued
  int queued = 0;
  for (auto& f : fs) queued += !f.running() && !f.done();
  CHECK(queued == 27);
  CHECK(running == 3);
  gate.open();
  for (auto& f : fs) f.result();
  CHECK(peak == 3);
  CHECK(ids.size() == 3);
  CHECK(pool.thread_count() == 3);
}

TEST_CASE("running is true only while a thread runs the call", "[exec][pool][future]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(1);
  Gate gate;
  std::latch started(1);
  auto f1 = pool.submit([&started, h = gate.handle()] {
    started.count_down();
    h.result();
  });
  auto f2 = pool.submit(mul, 2, 3);
  started.wait();
  CHECK(f1.running());
  CHECK_FALSE(f1.done());
  CHECK_FALSE(f2.running());  // queued behind f1
  CHECK_FALSE(f2.done());
  gate.open();
  CHECK(f2.result() == 6);
  f1.result();
  CHECK_FALSE(f1.running());
}

TEST_CASE("worker threads are named with the prefix and their index", "[exec][pool]") {
  // CPython test_thread_names_assigned: names match ^SpecialPool_[0-4]$.
  Watchdog dog(5s);
  std::set<std::string> names;
  {
    ThreadPoolExecutor pool(5, {.thread_name_prefix = "SpecialPool"});
    Gate gate;
    std::latch all_running(5);
    std::vector<shoal::Future<std::string>> fs;
    for (int i = 0; i < 5; ++i)
      fs.push_back(pool.submit([&all_running, h = gate.handle()] {
        all_running.count_down();
        h.result();  // one call per thread: all five threads start
        return thread_name();
      }));
    all_running.wait();
    gate.open();
    for (auto& f : fs) names.insert(f.result());
  }
  CHECK(names == std::set<std::string>{"SpecialPool_0", "SpecialPool_1", "SpecialPool_2",
                                       "SpecialPool_3", "SpecialPool_4"});
}

TEST_CASE("worker threads have a default name when no prefix is given", "[exec][pool]") {
  // CPython test_thread_names_default.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(1);
  CHECK(pool.submit(thread_name).result() == "shoal-pool_0");
}

TEST_CASE("the pool keeps no reference to a call and its arguments once it has run", "[exec][pool]") {
  // CPython test_no_stale_references (bpo-16284), made stricter: the future is kept, and
  // the arguments are gone as soon as the result is visible.
  Watchdog dog(5s);
  ThreadPoolExecutor pool(2);
  auto obj = std::make_shared<int>(7);
  std::weak_ptr<int> watch = obj;
  auto f = pool.submit([](const std::shared_ptr<int>& p) { return *p; }, std::move(obj));
  CHECK(f.result() == 7);
  CHECK(watch.expired());
}

TEST_CASE("a cancelled call releases its arguments", "[exec][pool][cancel]") {
  Watchdog dog(5s);
  ThreadPoolExecutor pool(1);
  Gate gate;
  auto blocker = pool.submit([h = gate.handle()] { h.result(); });
  auto obj = std::make_shared<int>(7);
  std::weak_ptr<int> watch = obj;
  auto f = pool.submit([](const std::shared_ptr<int>& p) { return *p; }, std::move(obj));
  CHECK(f.cancel());
  gate.open();
  pool.shutdown(true);  // the worker reaches the cancelled call and skips it
  CHECK(f.cancelled());
  CHECK(watch.expired());
}

// --- pool futures in coroutines -----------------------------------------------------------

namespace {

shoal::Coro<int> await_int(shoal::Future<int> f) { co_return co_await f.wait(); }

}  // namespace

TEST_CASE("a coroutine awaits a pool future with co_await f.wait()", "[exec][pool][coro]") {
  auto body = []() -> shoal::Coro<void> {
    ThreadPoolExecutor pool(2);
    Gate gate;
    auto f = pool.submit([h = gate.handle()] {
      h.result();
      return 5;
    });
    auto t = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    CHECK_FALSE(t.done());  // suspended on the pool future: the loop is not blocked
    gate.open();
    int v = co_await t.wait();  // not inside CHECK: see tests/lint_co_await_in_checks.sh
    CHECK(v == 5);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a pool call's exception reaches the awaiting coroutine", "[exec][pool][coro]") {
  auto body = []() -> shoal::Coro<void> {
    ThreadPoolExecutor pool(2);
    auto f = pool.submit(checked_divmod, 1, 0);
    std::string what;
    try {
      co_await f.wait();
    } catch (const Boom& e) {
      what = e.what();
    }
    CHECK(what == "integer division or modulo by zero");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("pool futures gathered with shoal::gather give their results in argument order", "[exec][pool][coro][gather]") {
  auto body = []() -> shoal::Coro<void> {
    ThreadPoolExecutor pool(4);
    Gate gate;
    auto slow = pool.submit([h = gate.handle()] {
      h.result();
      return 1;
    });
    auto fast = pool.submit(mul, 2, 3);
    auto text = pool.submit([] { return std::string("x"); });
    auto opener = pool.submit([fast, &gate] {
      fast.result();  // the first argument finishes last
      gate.open();
    });
    auto [a, b, c] = co_await shoal::gather(slow, fast, text);
    CHECK(a == 1);
    CHECK(b == 6);
    CHECK(c == "x");
    co_await opener.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a vector of pool futures gathered gives a vector of results in input order", "[exec][pool][coro][gather]") {
  auto body = []() -> shoal::Coro<void> {
    ThreadPoolExecutor pool(4);
    std::vector<shoal::Future<int>> fs;
    for (int i = 0; i < 50; ++i) fs.push_back(pool.submit(mul, i, 2));
    auto got = co_await shoal::gather(fs);
    std::vector<int> want;
    for (int i = 0; i < 50; ++i) want.push_back(i * 2);
    CHECK(got == want);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("gather of pool futures raises the first call's exception", "[exec][pool][coro][gather]") {
  auto body = []() -> shoal::Coro<void> {
    ThreadPoolExecutor pool(2);
    std::vector<shoal::Future<std::pair<int, int>>> fs;
    fs.push_back(pool.submit(checked_divmod, 4, 2));
    fs.push_back(pool.submit(checked_divmod, 4, 0));
    bool raised = false;
    try {
      co_await shoal::gather(fs);
    } catch (const Boom&) {
      raised = true;
    }
    CHECK(raised);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("cancelling a task awaiting a queued pool call cancels the call so it never runs", "[exec][pool][coro][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    ThreadPoolExecutor pool(1);
    Gate gate;
    auto blocker = pool.submit([h = gate.handle()] { h.result(); });
    auto ran = std::make_shared<std::atomic<bool>>(false);
    auto queued = pool.submit([ran] {
      *ran = true;
      return 1;
    });
    auto t = shoal::create_task(await_int(queued));
    co_await shoal::sleep(0ms);
    REQUIRE_FALSE(t.done());
    t.cancel();
    bool cancelled = false;
    try {
      co_await t.wait();
    } catch (const shoal::CancelledError&) {
      cancelled = true;
    }
    CHECK(cancelled);
    CHECK(queued.cancelled());
    gate.open();
    co_await blocker.wait();
    pool.shutdown(true);
    CHECK_FALSE(*ran);
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("cancelling a task awaiting a running pool call stops the wait and the call finishes", "[exec][pool][coro][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    ThreadPoolExecutor pool(1);
    Gate gate;
    std::latch started(1);
    auto f = pool.submit([&started, h = gate.handle()] {
      started.count_down();
      h.result();
      return 9;
    });
    started.wait();  // brief: the call is about to block on the gate
    auto t = shoal::create_task(await_int(f));
    co_await shoal::sleep(0ms);
    t.cancel();
    bool cancelled = false;
    try {
      co_await t.wait();
    } catch (const shoal::CancelledError&) {
      cancelled = true;
    }
    CHECK(cancelled);
    CHECK_FALSE(f.cancelled());  // a running call cannot be cancelled
    gate.open();
    int v = co_await f.wait();
    CHECK(v == 9);
  };
  shoal::test::run(body(), 5s);
}

// --- stress -------------------------------------------------------------------------------

TEST_CASE("many threads submitting at once lose and duplicate no result", "[exec][pool][stress]") {
  Watchdog dog(20s);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1000;
  ThreadPoolExecutor pool(4);
  std::atomic<int> calls{0};
  std::vector<std::vector<shoal::Future<int>>> per(kThreads);
  std::latch go(kThreads);
  std::vector<std::thread> submitters;
  for (int t = 0; t < kThreads; ++t)
    submitters.emplace_back([&, t] {
      go.arrive_and_wait();  // start together
      for (int i = 0; i < kPerThread; ++i)
        per[t].push_back(pool.submit([&calls](int v) {
          ++calls;
          return v;
        }, t * kPerThread + i));
    });
  for (auto& th : submitters) th.join();
  std::vector<int> got;
  for (auto& fs : per)
    for (auto& f : fs) got.push_back(f.result());
  std::sort(got.begin(), got.end());
  std::vector<int> want(kThreads * kPerThread);
  for (int i = 0; i < kThreads * kPerThread; ++i) want[i] = i;
  CHECK(got == want);
  CHECK(calls == kThreads * kPerThread);
  CHECK(pool.thread_count() <= 4);
}

TEST_CASE("many threads blocking on results of one pool all wake with their own values", "[exec][pool][stress]") {
  Watchdog dog(10s);
  ThreadPoolExecutor pool(2);
  Gate gate;
  std::vector<shoal::Future<int>> fs;
  for (int i = 0; i < 16; ++i)
    fs.push_back(pool.submit([h = gate.handle()](int v) {
      h.result();
      return v;
    }, i));
  std::vector<int> seen(16, -1);
  std::vector<std::thread> waiters;
  for (int i = 0; i < 16; ++i) waiters.emplace_back([&, i] { seen[i] = fs[i].result(); });
  gate.open();
  for (auto& w : waiters) w.join();
  for (int i = 0; i < 16; ++i) CHECK(seen[i] == i);
}

TEST_CASE("map yields move-only results", "[exec][pool][map]") {
  shoal::ThreadPoolExecutor pool(2);
  std::vector<int> xs{1, 2, 3};
  auto boxed = pool.map([](int x) { return std::make_unique<int>(x * 10); }, xs);
  std::vector<int> got;
  for (auto p : boxed) got.push_back(*p);
  CHECK(got == std::vector<int>{10, 20, 30});
}
