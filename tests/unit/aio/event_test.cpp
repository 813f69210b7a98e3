// aio::Event: the EventTests of CPython's Lib/test/test_asyncio/test_locks.py.

#include "aio_support.hpp"

using namespace aio_test;
using shoal::aio::Event;

namespace {

shoal::Coro<void> wait_then_log(Event* ev, Log* log, int tag) {
  co_await ev->wait();
  log->push_back(tag);
}

shoal::Coro<void> wait_only(Event* ev) { co_await ev->wait(); }

}  // namespace

TEST_CASE("event repr shows whether it is set and how many wait", "[aio][event]") {
  // test_repr
  auto body = []() -> shoal::Coro<void> {
    Event ev;
    CHECK(ev.repr() == "<shoal::aio::Event [unset]>");
    auto t = shoal::create_task(wait_only(&ev));
    co_await tick();
    CHECK(ev.repr() == "<shoal::aio::Event [unset, waiters:1]>");
    ev.set();
    CHECK(ev.repr() == "<shoal::aio::Event [set, waiters:1]>");
    co_await t.wait();
    CHECK(ev.repr() == "<shoal::aio::Event [set]>");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("set wakes every waiter and a later wait returns at once", "[aio][event]") {
  // test_wait
  auto body = []() -> shoal::Coro<void> {
    Event ev;
    CHECK_FALSE(ev.is_set());
    Log result;
    auto t1 = shoal::create_task(wait_then_log(&ev, &result, 1));
    auto t2 = shoal::create_task(wait_then_log(&ev, &result, 2));
    co_await tick();
    CHECK(result.empty());

    auto t3 = shoal::create_task(wait_then_log(&ev, &result, 3));
    ev.set();
    co_await tick();
    // t3 starts after set() and does not wait; t1 and t2 wake in FIFO order.
    CHECK(result == (Log{3, 1, 2}));
    CHECK(t1.done());
    CHECK(t2.done());
    CHECK(t3.done());
    co_await t1.wait();
    co_await t2.wait();
    co_await t3.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("wait on a set event returns at once", "[aio][event]") {
  // test_wait_on_set
  auto body = []() -> shoal::Coro<void> {
    Event ev;
    ev.set();
    co_await ev.wait();
    CHECK(ev.is_set());
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a cancelled event wait leaves no waiter behind", "[aio][event][cancel]") {
  // test_wait_cancel
  auto body = []() -> shoal::Coro<void> {
    Event ev;
    auto wait = shoal::create_task(wait_only(&ev));
    call_soon([wait]() mutable { wait.cancel(); });
    bool cancelled = co_await ended_cancelled(wait);
    CHECK(cancelled);
    CHECK(ev.repr() == "<shoal::aio::Event [unset]>");
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("clear resets the flag", "[aio][event]") {
  // test_clear
  Event ev;
  CHECK_FALSE(ev.is_set());
  ev.set();
  CHECK(ev.is_set());
  ev.clear();
  CHECK_FALSE(ev.is_set());
}

TEST_CASE("a waiter woken by set stays woken when the event is cleared at once", "[aio][event]") {
  // test_clear_with_waiters
  auto body = []() -> shoal::Coro<void> {
    Event ev;
    Log result;
    auto t = shoal::create_task(wait_then_log(&ev, &result, 1));
    co_await tick();
    CHECK(result.empty());

    ev.set();
    ev.clear();
    CHECK_FALSE(ev.is_set());
    ev.set();
    ev.set();
    CHECK(contains(ev.repr(), "waiters:1"));

    co_await tick();
    CHECK(result == Log{1});
    CHECK_FALSE(contains(ev.repr(), "waiters"));
    CHECK(t.done());
    co_await t.wait();
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("a waiter cancelled after set does not keep the others from waking", "[aio][event][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    Event ev;
    Log result;
    auto t1 = shoal::create_task(wait_then_log(&ev, &result, 1));
    auto t2 = shoal::create_task(wait_then_log(&ev, &result, 2));
    auto t3 = shoal::create_task(wait_then_log(&ev, &result, 3));
    co_await tick();
    ev.set();
    t2.cancel();  // woken but not yet run: the cancellation wins for t2 alone
    co_await t1.wait();
    bool cancelled = co_await ended_cancelled(t2);
    CHECK(cancelled);
    co_await t3.wait();
    CHECK(result == (Log{1, 3}));
  };
  shoal::test::run(body(), 5s);
}

TEST_CASE("an event wait times out under wait_for and the event still works", "[aio][event][cancel]") {
  auto body = []() -> shoal::Coro<void> {
    Event ev;
    CHECK_THROWS_AS(co_await shoal::wait_for(ev.wait(), 20ms), shoal::TimeoutError);
    CHECK(ev.repr() == "<shoal::aio::Event [unset]>");
    auto t = shoal::create_task(wait_only(&ev));
    co_await tick();
    ev.set();
    co_await shoal::wait_for(t, 1s);
  };
  shoal::test::run(body(), 5s);
}
