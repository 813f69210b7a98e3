// Event, ported from CPython's Lib/test/lock_tests.py (EventTests).

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "unit/thread/helpers.hpp"

#include <shoal/sync/event.hpp>

using namespace std::chrono_literals;
using shoal::test::Bunch;
using shoal::test::elapsed;
using shoal::test::Record;

TEST_CASE("an Event is set by set and cleared by clear, any number of times", "[sync][event]") {
  shoal::Event evt;
  CHECK_FALSE(evt.is_set());
  evt.set();
  CHECK(evt.is_set());
  evt.set();
  CHECK(evt.is_set());
  evt.clear();
  CHECK_FALSE(evt.is_set());
  evt.clear();
  CHECK_FALSE(evt.is_set());
}

namespace {

void check_notify(shoal::Event& evt) {
  constexpr int n = 5;
  Record<bool> results1, results2;
  Bunch b(
      [&] {
        results1.add(evt.wait());
        results2.add(evt.wait());
      },
      n);
  REQUIRE(b.wait_for_blocked());
  CHECK(results1.size() == 0);
  evt.set();
  REQUIRE(b.wait_for_finished());
  CHECK(results1.items() == std::vector<bool>(n, true));
  CHECK(results2.items() == std::vector<bool>(n, true));
}

}  // namespace

TEST_CASE("setting an Event wakes every thread waiting on it", "[sync][event]") {
  shoal::test::Watchdog dog(10s);
  shoal::Event evt;
  check_notify(evt);
  evt.set();  // again, after an explicit clear()
  evt.clear();
  check_notify(evt);
}

TEST_CASE("an Event wait with a timeout returns false after it, and true once the Event is set",
          "[sync][event]") {
  shoal::test::Watchdog dog(10s);
  shoal::Event evt;
  Record<bool> results1;
  Record<std::pair<bool, std::chrono::steady_clock::duration>> results2;
  auto f = [&] {
    results1.add(evt.wait(0ms));
    bool r = false;
    auto took = elapsed([&] { r = evt.wait(30ms); });
    results2.add({r, took});
  };
  {
    Bunch b(f, 5);
    REQUIRE(b.wait_for_finished());
  }
  CHECK(results1.items() == std::vector<bool>(5, false));
  for (auto& [r, took] : results2.items()) {
    CHECK_FALSE(r);
    CHECK(took >= 30ms);
    CHECK(took < 2s);
  }
  Record<bool> set1;
  Record<std::pair<bool, std::chrono::steady_clock::duration>> set2;
  evt.set();
  {
    Bunch b(
        [&] {
          set1.add(evt.wait(0ms));
          set2.add({evt.wait(30ms), {}});
        },
        5);
    REQUIRE(b.wait_for_finished());
  }
  CHECK(set1.items() == std::vector<bool>(5, true));
  for (auto& [r, took] : set2.items()) CHECK(r);
  CHECK(evt.wait(-1ms));  // a negative timeout polls
}

TEST_CASE("an Event wait returns true when the Event was set and cleared again before the waiter ran",
          "[sync][event]") {
  shoal::test::Watchdog dog(10s);
  shoal::Event evt;
  Record<bool> results;
  Bunch b([&] { results.add(evt.wait(5s)); }, 5);
  REQUIRE(b.wait_for_blocked());
  evt.set();
  evt.clear();
  REQUIRE(b.wait_for_finished());
  CHECK(results.items() == std::vector<bool>(5, true));
}

TEST_CASE("an Event set by one thread releases a waiter in another", "[sync][event]") {
  shoal::test::Watchdog dog(10s);
  shoal::Event evt;
  int payload = 0;
  std::thread t([&] {
    payload = 42;  // visible to the waiter once it sees the Event set
    evt.set();
  });
  CHECK(evt.wait());
  CHECK(payload == 42);
  t.join();
}
