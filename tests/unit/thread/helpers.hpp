#pragma once
// Helpers for the tests of threads, sync primitives and queues (test_threads).
// Catch2's assertions are not thread-safe: helper threads only record what they saw and
// the test thread checks. Nothing here sleeps to "wait and hope": a test that needs a
// thread to be blocked waits until the kernel says it sleeps in a futex (every shoal wait,
// std::mutex and std::condition_variable ends in one), and otherwise polls a condition.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/syscall.h>

#include "support/run.hpp"

namespace shoal::test {

using namespace std::chrono_literals;

/// Polls `pred` until it is true or `limit` passed; returns its last value.
template <typename P>
bool eventually(P pred, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (int i = 0;; ++i) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (i < 100)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(100us);  // a poll interval, not a guess
  }
}

/// True when kernel thread `tid` of this process is asleep in a futex system call.
inline bool in_futex_wait(std::uint64_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long nr = -1;
  if (!(in >> nr)) return false;  // "running", or the thread is gone
  return nr == SYS_futex;
}

/// Waits until thread `tid` sleeps in a futex: inside a lock, condition, event or queue wait.
inline bool wait_until_blocked(std::uint64_t tid, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  return eventually([tid] { return in_futex_wait(tid); }, limit);
}

/// The time `fn` took.
template <typename F>
std::chrono::steady_clock::duration elapsed(F&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::steady_clock::now() - t0;
}

/// Python lock_tests' Bunch: n std::threads (threads shoal did not start) running `f`.
/// With wait_before_exit, they finish `f` but do not exit until do_finish().
class Bunch {
 public:
  Bunch(std::function<void()> f, int n, bool wait_before_exit = false)
      : f_(std::move(f)), n_(n), can_exit_(!wait_before_exit) {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this] {
        const auto tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
        {
          std::lock_guard hold(mu_);
          tids_.push_back(tid);
        }
        started_.fetch_add(1);
        f_();
        {
          std::lock_guard hold(mu_);
          done_tids_.push_back(tid);
        }
        finished_.fetch_add(1);
        while (!can_exit_.load()) std::this_thread::yield();
      });
  }
  Bunch(const Bunch&) = delete;
  Bunch& operator=(const Bunch&) = delete;
  ~Bunch() {
    do_finish();
    for (auto& t : threads_) t.join();
  }

  bool wait_for_started() { return eventually([this] { return started_.load() == n_; }); }
  bool wait_for_finished() { return eventually([this] { return finished_.load() == n_; }); }
  /// Waits until every thread has started and either finished `f` or sleeps in a futex
  /// (blocked in `f`).
  bool wait_for_blocked() {
    if (!wait_for_started()) return false;
    std::vector<std::uint64_t> tids;
    {
      std::lock_guard hold(mu_);
      tids = tids_;
    }
    for (auto tid : tids)
      if (!eventually([&] { return finished_tid(tid) || in_futex_wait(tid); })) return false;
    return true;
  }
  void do_finish() { can_exit_.store(true); }
  bool finished_tid(std::uint64_t tid) {
    std::lock_guard hold(mu_);
    for (auto t : done_tids_)
      if (t == tid) return true;
    return false;
  }
  [[nodiscard]] int started() const { return started_.load(); }
  [[nodiscard]] int finished() const { return finished_.load(); }
  /// Joins every thread (after do_finish()).
  void join() {
    do_finish();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  std::function<void()> f_;
  int n_;
  std::atomic<int> started_{0};
  std::atomic<int> finished_{0};
  std::atomic<bool> can_exit_;
  std::mutex mu_;
  std::vector<std::uint64_t> tids_;
  std::vector<std::uint64_t> done_tids_;
  std::vector<std::thread> threads_;
};

/// A list that helper threads append to and the test thread reads (Python's list.append
/// is atomic; std::vector is not).
template <typename T>
class Record {
 public:
  void add(T v) {
    std::lock_guard hold(mu_);
    items_.push_back(std::move(v));
  }
  [[nodiscard]] std::vector<T> items() const {
    std::lock_guard hold(mu_);
    return items_;
  }
  [[nodiscard]] std::size_t size() const {
    std::lock_guard hold(mu_);
    return items_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<T> items_;
};

}  // namespace shoal::test
