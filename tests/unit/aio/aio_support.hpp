#pragma once
// Helpers for the aio tests (ports of CPython's test_locks.py and test_queues.py).

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "support/run.hpp"

namespace aio_test {

using namespace std::chrono_literals;
using Log = std::vector<int>;

/// Python's `await asyncio.sleep(0)`, `rounds` times: lets every ready task run one step.
inline shoal::Coro<void> tick(int rounds = 1) {
  for (int i = 0; i < rounds; ++i) co_await shoal::sleep(std::chrono::milliseconds(0));
}

/// Python's `loop.call_soon(fn)`: runs `fn` on the running loop after what is ready now.
template <typename F>
void call_soon(F fn) {
  shoal::get_running_loop().call_soon_threadsafe(std::move(fn));
}

/// Awaits `t`; true when it ended cancelled (its CancelledError is swallowed).
template <typename T>
shoal::Coro<bool> ended_cancelled(shoal::Task<T> t) {
  try {
    co_await t.wait();
  } catch (const shoal::CancelledError&) {
    co_return true;
  }
  co_return false;
}

/// True when `s` contains `part`.
inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace aio_test
