#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <numeric>
#include <semaphore>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/run.hpp"

using namespace std::chrono_literals;

namespace {

shoal::Coro<void> settle(int rounds = 5) {
  for (int i = 0; i < rounds; ++i) co_await shoal::sleep(0ms);
}

int sum(std::vector<int> v) { return std::accumulate(v.begin(), v.end(), 0); }

void raise_runtime() { throw std::runtime_error("test"); }

void bump(std::atomic<int>* calls) { calls->fetch_add(1); }

std::string repeat(std::string s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::thread::id this_thread_id() { return std::this_thread::get_id(); }

}  // namespace

// CPython ToThreadTests.test_to_thread.
TEST_CASE("to_thread returns the result of the call", "[compose][to_thread]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<int> v{40, 2};
    auto got = co_await shoal::to_thread(sum, v);
    CHECK(got == 42);
  };
  shoal::test::run(body());
}

// CPython ToThreadTests.test_to_thread_exception.
TEST_CASE("to_thread raises the exception of the call", "[compose][to_thread]") {
  auto body = []() -> shoal::Coro<void> {
    CHECK_THROWS_WITH(co_await shoal::to_thread(raise_runtime), "test");
  };
  shoal::test::run(body());
}

// CPython ToThreadTests.test_to_thread_once.
TEST_CASE("to_thread calls the function once", "[compose][to_thread]") {
  auto body = []() -> shoal::Coro<void> {
    std::atomic<int> calls{0};
    co_await shoal::to_thread(bump, &calls);
    CHECK(calls.load() == 1);
  };
  shoal::test::run(body());
}

// CPython ToThreadTests.test_to_thread_concurrent.
TEST_CASE("to_thread calls gathered together all run", "[compose][to_thread][gather]") {
  auto body = []() -> shoal::Coro<void> {
    std::atomic<int> calls{0};
    std::vector<shoal::Coro<void>> futs;
    for (int i = 0; i < 10; ++i) futs.push_back(shoal::to_thread(bump, &calls));
    (void)co_await shoal::gather(std::move(futs));
    CHECK(calls.load() == 10);
  };
  shoal::test::run(body());
}

// CPython ToThreadTests.test_to_thread_args_kwargs (C++ has no keyword arguments).
TEST_CASE("to_thread passes the arguments to the call", "[compose][to_thread]") {
  auto body = []() -> shoal::Coro<void> {
    std::string s = "ab";
    auto got = co_await shoal::to_thread(repeat, s, 3);
    CHECK(got == "ababab");
    CHECK(s == "ab");  // copied, not moved from
  };
  shoal::test::run(body());
}

TEST_CASE("to_thread moves a move-only argument into the call", "[compose][to_thread]") {
  auto body = []() -> shoal::Coro<void> {
    auto p = std::make_unique<int>(7);
    auto unbox = [](std::unique_ptr<int> q) { return *q * 6; };  // by value: std::thread's rules
    auto got = co_await shoal::to_thread(unbox, std::move(p));
    CHECK(got == 42);
  };
  shoal::test::run(body());
}

TEST_CASE("to_thread runs the call off the loop thread", "[compose][to_thread][thread]") {
  auto body = []() -> shoal::Coro<void> {
    auto id = co_await shoal::to_thread(this_thread_id);
    CHECK(id != std::this_thread::get_id());
  };
  shoal::test::run(body());
}

namespace {
std::thread::id meet(std::latch* all_running) {
  all_running->arrive_and_wait();  // returns only once three calls run at the same time
  return std::this_thread::get_id();
}
}  // namespace

TEST_CASE("to_thread runs several calls at the same time", "[compose][to_thread][thread]") {
  auto body = []() -> shoal::Coro<void> {
    std::latch all_running{3};
    auto [a, b, c] = co_await shoal::gather(shoal::to_thread(meet, &all_running), shoal::to_thread(meet, &all_running),
                                            shoal::to_thread(meet, &all_running));
    CHECK(std::set<std::thread::id>{a, b, c}.size() == 3);
  };
  shoal::test::run(body());
}

namespace {
struct Gate {
  std::binary_semaphore started{0};
  std::binary_semaphore release{0};
  std::atomic<bool> finished{false};
};
int block_on(std::shared_ptr<Gate> g) {
  g->started.release();
  g->release.acquire();
  g->finished = true;
  return 1;
}
}  // namespace

TEST_CASE("cancelling to_thread while the call runs raises CancelledError at once", "[compose][to_thread][cancel]") {
  auto gate = std::make_shared<Gate>();
  auto body = [](std::shared_ptr<Gate> g) -> shoal::Coro<void> {
    auto t = shoal::create_task(shoal::to_thread(block_on, g));
    co_await settle();
    g->started.acquire();  // the call is running on a pool thread (it signals at once)
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    CHECK(t.cancelled());
    CHECK_FALSE(g->finished.load());  // it keeps running; its result will be dropped
    g->release.release();
  };
  shoal::test::run(body(gate));
  // run() shut the loop down, which joins the pool: the call has finished.
  CHECK(gate->finished.load());
}

namespace {
void mark(std::shared_ptr<std::atomic<bool>> ran) { *ran = true; }
}  // namespace

TEST_CASE("cancelling to_thread before the call starts means it never runs", "[compose][to_thread][cancel]") {
  auto ran = std::make_shared<std::atomic<bool>>(false);
  auto body = [](std::shared_ptr<std::atomic<bool>> ran) -> shoal::Coro<void> {
    // Occupy every pool thread (there are at most 32) and queue more behind them: the
    // call posted next waits in the pool's FIFO queue until they are released.
    std::promise<void> open;
    std::shared_future<void> gate = open.get_future().share();
    auto& pool = shoal::get_running_loop().default_executor();
    for (int i = 0; i < 64; ++i) asio::post(pool, [gate] { gate.wait(); });
    auto t = shoal::create_task(shoal::to_thread(mark, ran));
    co_await settle();
    t.cancel();
    CHECK_THROWS_AS(co_await t.wait(), shoal::CancelledError);
    open.set_value();
  };
  shoal::test::run(body(ran));
  // run() joined the pool: the dropped call has been dequeued by now.
  CHECK_FALSE(ran->load());
}
