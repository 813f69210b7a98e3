#pragma once
// Test helpers: run a coroutine on a fresh loop with a hard time bound.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <shoal/shoal.hpp>

namespace shoal::test {

/// Aborts the process (naming the bound) if not disarmed within `limit`: a hung test
/// fails loudly and at once instead of waiting for CTest's timeout.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::milliseconds limit) : thread_([this, limit] {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
      std::fprintf(stderr, "watchdog: test exceeded its %lld ms bound\n",
                   static_cast<long long>(limit.count()));
      std::abort();
    }
  }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

/// shoal::run(main) under a watchdog (default 10 s).
template <typename T>
T run(Coro<T> main, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  Watchdog dog(limit);
  return shoal::run(std::move(main));
}

}  // namespace shoal::test
