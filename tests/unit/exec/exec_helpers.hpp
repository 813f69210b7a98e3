#pragma once
// Helpers for the exec tests (ports of CPython's test_concurrent_futures). Pool calls
// block on Gates the test opens, never on sleeps. Catch2 assertions are not thread-safe:
// pool calls only record what they saw; the test thread checks.

#include <stdexcept>
#include <string>

#include <shoal/shoal.hpp>

namespace shoal::test {

/// A one-shot event for pool threads (Python's threading.Event in these tests). Pool calls
/// capture handle() by value and block on it; the test opens the gate. The destructor
/// opens it too, so a failing REQUIRE never leaves a pool joining a blocked thread:
/// declare the Gate after the pool.
class Gate {
 public:
  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  ~Gate() { open(); }

  /// What a pool call waits on: `[h = gate.handle()] { h.result(); }`.
  [[nodiscard]] Future<void> handle() const { return f_; }
  /// Releases every call blocked on the gate, now and later. Idempotent.
  void open() {
    try {
      f_.set_result();
    } catch (const InvalidStateError&) {
    }
  }
  [[nodiscard]] bool is_open() const noexcept { return f_.done(); }

 private:
  Future<void> f_;
};

/// The error the tests' failing calls throw (Python's ZeroDivisionError / OSError there).
struct Boom : std::runtime_error {
  explicit Boom(const std::string& what = "boom") : std::runtime_error(what) {}
};

/// Futures in each state CPython's util.py builds by hand (PENDING_FUTURE, ...). shoal has
/// no separate CANCELLED state (cancelled but waiters not yet notified): a cancelled future
/// is done and notified at once, Python's CANCELLED_AND_NOTIFIED.
inline Future<int> pending_future() { return Future<int>(); }
inline Future<int> running_future() {
  Future<int> f;
  f.set_running_or_notify_cancel();
  return f;
}
inline Future<int> cancelled_future() {
  Future<int> f;
  f.cancel();
  return f;
}
inline Future<int> exception_future() {
  Future<int> f;
  f.set_exception(std::make_exception_ptr(Boom("OSError")));
  (void)f.exception();  // retrieved: no "exception never retrieved" report when it goes
  return f;
}
inline Future<int> successful_future() {
  Future<int> f;
  f.set_result(42);
  return f;
}

}  // namespace shoal::test
