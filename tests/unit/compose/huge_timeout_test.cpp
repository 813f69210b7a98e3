// A huge timeout means no timeout (issue 15): Python waits for ever given
// asyncio.wait_for(fut, 1e300) or concurrent.futures' result(timeout=1e300); shoal used to
// compute now() + timeout, which overflowed, and every API below threw TimeoutError (or
// returned) at once. Each one is given a timeout past what the clock counts and a future
// that completes ~50 ms later: it must wait for it.

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>
#include <vector>

#include "support/run.hpp"

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kHuge = std::chrono::hours::max();
constexpr auto kHugeNs = std::chrono::nanoseconds::max();

// A future that a thread completes with `v` after `after`.
struct Later {
  shoal::Promise<int> p;
  std::thread t;
  explicit Later(int v, std::chrono::milliseconds after = 50ms) {
    t = std::thread([this, v, after] {
      std::this_thread::sleep_for(after);
      p.set_result(v);
    });
  }
  ~Later() { t.join(); }
  shoal::Future<int> future() { return p.get_future(); }
};

shoal::Coro<int> await_huge_wait_for(shoal::Future<int> f) { co_return co_await shoal::wait_for(f, kHuge); }

shoal::Coro<std::size_t> await_huge_wait(shoal::Future<int> f) {
  std::vector<shoal::Future<int>> fs{f};
  auto r = co_await shoal::wait(fs, {.timeout = kHugeNs});
  co_return r.done.size();
}

shoal::Coro<int> await_huge_as_completed(shoal::Future<int> f) {
  std::vector<shoal::Future<int>> fs{f};
  auto it = shoal::as_completed(fs, kHuge);
  auto first = co_await it.next();
  co_return first.result();
}

}  // namespace

TEST_CASE("wait_for with hours::max() waits for the result instead of timing out at once", "[compose][timeout]") {
  Later later(7);
  auto t0 = Clock::now();
  CHECK(shoal::test::run(await_huge_wait_for(later.future())) == 7);
  CHECK(Clock::now() - t0 >= 40ms);
}

TEST_CASE("wait with a timeout of nanoseconds::max(), awaited and blocking, waits", "[compose][timeout]") {
  {
    Later later(1);
    CHECK(shoal::test::run(await_huge_wait(later.future())) == 1);
  }
  Later later(2);
  shoal::test::Watchdog dog(10s);
  std::vector<shoal::Future<int>> fs{later.future()};
  shoal::WaitResult<shoal::Future<int>> r = shoal::wait(fs, {.timeout = kHugeNs});
  CHECK(r.done.size() == 1);
  CHECK(r.pending.empty());
}

TEST_CASE("as_completed with hours::max(), awaited and iterated, yields the result", "[compose][timeout]") {
  {
    Later later(3);
    CHECK(shoal::test::run(await_huge_as_completed(later.future())) == 3);
  }
  Later later(4);
  shoal::test::Watchdog dog(10s);
  std::vector<shoal::Future<int>> fs{later.future()};
  int seen = 0;
  for (auto f : shoal::as_completed(fs, kHuge)) seen = f.result();
  CHECK(seen == 4);
}

TEST_CASE("Future::result and exception with hours::max() off the loop wait for the result", "[compose][timeout]") {
  shoal::test::Watchdog dog(10s);
  {
    Later later(5);
    CHECK(later.future().result(kHuge) == 5);
  }
  {
    Later later(6);
    CHECK(later.future().exception(kHugeNs) == nullptr);
  }
  {
    Later later(8);
    CHECK(later.future().result(std::chrono::duration<double>::max()) == 8);  // any representation
  }
}

TEST_CASE("ThreadPoolExecutor::map with a huge timeout waits for every result", "[compose][timeout]") {
  shoal::test::Watchdog dog(10s);
  shoal::ThreadPoolExecutor pool(2);
  std::vector<int> in{1, 2, 3};
  std::vector<int> out;
  for (int v : pool.map(
           [](int x) {
             std::this_thread::sleep_for(30ms);
             return x * 10;
           },
           in, kHuge))
    out.push_back(v);
  CHECK(out == std::vector<int>{10, 20, 30});
}

TEST_CASE("a timeout that fits still times out", "[compose][timeout]") {
  shoal::test::Watchdog dog(10s);
  Later later(9, 300ms);
  CHECK_THROWS_AS(later.future().result(20ms), shoal::TimeoutError);
  std::vector<shoal::Future<int>> fs{later.future()};
  shoal::WaitResult<shoal::Future<int>> r = shoal::wait(fs, {.timeout = 20ms});
  CHECK(r.done.empty());
}
