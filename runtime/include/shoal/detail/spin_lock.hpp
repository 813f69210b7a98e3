#pragma once
// A small lock for the shared states' waiter lists: held for a few pointer writes, never
// while user code runs. Uncontended it costs one atomic exchange (pthread_mutex costs
// five times that on B1's path); contended it spins briefly, then yields.

#include <atomic>
#include <thread>

namespace shoal::detail {

class SpinLock {
 public:
  void lock() noexcept {
    // acquire: the holder's writes are visible once we own the lock.
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  void lock_slow() noexcept {
    for (int spins = 0;; ++spins) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
          ++spins;
        } else {
          std::this_thread::yield();
        }
      }
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
    }
  }
  std::atomic<bool> locked_{false};
};

}  // namespace shoal::detail
