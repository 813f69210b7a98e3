#pragma once
// Watchdog: a thread that sends the worker's heartbeats itself (beside the writer, on a
// plain socket: crash::send_beside) when the loop is held up, by a task running on it
// that was measured tiny and is not, or a coroutine that blocks. The loop stamps tick()
// at each beat; past a beat without one, the watchdog sends a heartbeat every half beat
// and says so in the log once per stall.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "runner.hpp"

namespace shoal::worker {

class Watchdog {
 public:
  Watchdog() = default;
  ~Watchdog() { stop(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Starts the thread; `log` is called from it (once per stall).
  void start(std::shared_ptr<Runner> runner, std::function<void(const std::string&)> log);
  void stop();
  /// The loop is alive now (steady ns; 0: not yet in a session).
  void tick(std::uint64_t now) noexcept { tick_.store(now, std::memory_order_relaxed); }
  /// The heartbeat period the coordinator asked for.
  void set_beat(std::uint64_t ns) noexcept { beat_ns_.store(ns, std::memory_order_relaxed); }

 private:
  void watch(const std::shared_ptr<Runner>& r, const std::function<void(const std::string&)>& log);
  std::atomic<std::uint64_t> tick_{0};
  std::atomic<std::uint64_t> beat_ns_{1'000'000'000};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace shoal::worker
