// Where done-callbacks run, and remove_done_callback (issue 15): a future that belongs to
// a loop runs its callbacks through that loop (asyncio's call_soon, never inside
// set_result or add_done_callback); other futures keep concurrent.futures' behaviour.
// The cases of CPython's test_asyncio/test_futures.py BaseFutureDoneCallbackTests.

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>
#include <vector>

#include "support/run.hpp"

using namespace std::chrono_literals;

namespace {

using Bag = std::vector<int>;

template <typename T>
auto push(Bag& bag, int v) {
  return [&bag, v](const shoal::Future<T>&) { bag.push_back(v); };
}

}  // namespace

TEST_CASE("test_callbacks_invoked_on_set_result: a loop's future runs its callbacks on the loop, after set_result",
          "[core][future][callback]") {
  auto body = []() -> shoal::Coro<void> {
    Bag bag;
    shoal::Future<int> f;  // made on the loop's thread: it belongs to the loop
    f.add_done_callback(push<int>(bag, 42));
    f.add_done_callback(push<int>(bag, 17));
    f.set_result(1);
    CHECK(bag.empty());  // not inside set_result
    co_await shoal::sleep(0ms);
    CHECK(bag == Bag{42, 17});
    f.add_done_callback(push<int>(bag, 5));
    CHECK(bag.size() == 2);  // already done: scheduled, not run inside the call
    co_await shoal::sleep(0ms);
    CHECK(bag == Bag{42, 17, 5});
  };
  shoal::test::run(body());
}

TEST_CASE("test_callbacks_invoked_on_set_exception: the same when it fails", "[core][future][callback]") {
  auto body = []() -> shoal::Coro<void> {
    Bag bag;
    shoal::Future<int> f;
    f.add_done_callback([&bag](const shoal::Future<int>& done) { bag.push_back(done.exception() ? 1 : 0); });
    f.set_exception(std::make_exception_ptr(shoal::ValueError("x")));
    CHECK(bag.empty());
    co_await shoal::sleep(0ms);
    CHECK(bag == Bag{1});
  };
  shoal::test::run(body());
}

TEST_CASE("a loop's future completed by another thread runs its callback on the loop's thread",
          "[core][future][callback]") {
  auto body = []() -> shoal::Coro<void> {
    shoal::Future<int> f;
    std::thread::id ran_on;
    f.add_done_callback([&ran_on](const shoal::Future<int>&) { ran_on = std::this_thread::get_id(); });
    std::thread t([f]() mutable { f.set_result(3); });
    co_await f.wait();
    t.join();
    co_await shoal::sleep(0ms);
    CHECK(ran_on == std::this_thread::get_id());
  };
  shoal::test::run(body());
}

TEST_CASE("an executor's future runs its callback in the thread that completes it (concurrent.futures)",
          "[core][future][callback]") {
  shoal::ThreadPoolExecutor pool(1);
  auto worker_id = pool.submit([] { return std::this_thread::get_id(); }).result(10s);
  shoal::Promise<void> gate;
  auto f = pool.submit([g = gate.get_future()] { g.result(10s); return 1; });
  std::thread::id ran_on;
  shoal::Promise<void> ran;
  f.add_done_callback([&](const shoal::Future<int>&) {
    ran_on = std::this_thread::get_id();
    ran.set_result();
  });
  gate.set_result();
  ran.get_future().result(10s);
  CHECK(ran_on == worker_id);
  // Already done: at once, on this thread.
  bool now = false;
  f.add_done_callback([&now](const shoal::Future<int>&) { now = true; });
  CHECK(now);
}

TEST_CASE("a Promise's future and a future made off any loop run callbacks inline", "[core][future][callback]") {
  Bag bag;
  shoal::Promise<int> p;
  auto f = p.get_future();
  f.add_done_callback(push<int>(bag, 1));
  p.set_result(0);
  CHECK(bag == Bag{1});
  shoal::Future<int> g;  // no loop runs on this thread
  g.add_done_callback(push<int>(bag, 2));
  g.set_result(0);
  CHECK(bag == Bag{1, 2});
}

TEST_CASE("test_callbacks_remove_first_callback and _third_callback: remove_done_callback",
          "[core][future][callback]") {
  Bag bag;
  shoal::Future<int> f(shoal::detail::Unbound{});
  auto a = f.add_done_callback(push<int>(bag, 1));
  auto b = f.add_done_callback(push<int>(bag, 2));
  auto c = f.add_done_callback(push<int>(bag, 3));
  CHECK(f.remove_done_callback(std::move(a)) == 1);
  CHECK(f.remove_done_callback(std::move(c)) == 1);
  f.set_result(0);
  CHECK(bag == Bag{2});
  CHECK(f.remove_done_callback(std::move(b)) == 0);  // it has run
  // An id of another future's callback removes nothing here.
  shoal::Future<int> other(shoal::detail::Unbound{});
  auto d = other.add_done_callback(push<int>(bag, 4));
  CHECK(f.remove_done_callback(std::move(d)) == 0);
  other.set_result(0);
  CHECK(bag == Bag{2, 4});
  CHECK(f.remove_done_callback(shoal::CallbackId{}) == 0);
}

TEST_CASE("remove_done_callback on a loop's future before the posted callback runs", "[core][future][callback]") {
  auto body = []() -> shoal::Coro<void> {
    Bag bag;
    shoal::Future<int> f;
    auto a = f.add_done_callback(push<int>(bag, 1));
    f.add_done_callback(push<int>(bag, 2));
    CHECK(f.remove_done_callback(std::move(a)) == 1);
    f.set_result(0);
    co_await shoal::sleep(0ms);
    CHECK(bag == Bag{2});
  };
  shoal::test::run(body());
}
