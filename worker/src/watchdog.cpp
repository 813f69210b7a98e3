// Watchdog (watchdog.hpp).

#include "watchdog.hpp"

#include <capnp/message.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <vector>

#include "crash_report.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/proto/frame.hpp"

namespace shoal::worker {

namespace schema = proto::schema;
using link::steady_ns;

void Watchdog::start(std::shared_ptr<Runner> runner, std::function<void(const std::string&)> log) {
  stop_.store(false);
  thread_ = std::thread([this, r = std::move(runner), log = std::move(log)] { watch(r, log); });
}

void Watchdog::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void Watchdog::watch(const std::shared_ptr<Runner>& r, const std::function<void(const std::string&)>& log) {
  bool stalled = false;
  std::uint64_t last_sent = 0;
  while (!stop_.load()) {
    auto beat_ns = beat_ns_.load(std::memory_order_relaxed);
    // Look a few times a beat (10 times a second at the default beat of 1 s).
    auto step = std::clamp<std::uint64_t>(beat_ns / 4, 5'000'000, 100'000'000);
    std::this_thread::sleep_for(std::chrono::nanoseconds(step));
    auto tick = tick_.load(std::memory_order_relaxed);
    auto now = steady_ns();
    if (!tick || now - tick <= beat_ns) {
      stalled = false;
      continue;
    }
    if (now - last_sent < beat_ns / 2) continue;
    capnp::MallocMessageBuilder msg(16);
    auto h = msg.initRoot<schema::Envelope>().initHeartbeat();
    h.setSentNs(link::wall_ns());
    h.setRunning(r->running());
    h.setStarted(r->started());
    std::vector<std::uint64_t> words;
    proto::append_frame(msg, words);
    bool sent;
    {
      std::lock_guard lock(crash::channel_mutex());
      sent = crash::send_beside(words.data(), words.size(), 0, false);
    }
    if (!sent) continue;
    last_sent = now;
    if (!stalled)
      log("the loop has been busy for " + std::to_string((now - tick) / 1'000'000) +
          " ms (a task running on it?): the watchdog sends the heartbeats");
    stalled = true;
  }
}

}  // namespace shoal::worker
