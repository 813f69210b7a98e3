#pragma once
// Test helper: a Loop run by its own std::thread until the helper is destroyed, for tests
// that reach a loop from other threads (run_coroutine_threadsafe, call_soon_threadsafe).

#include <thread>

#include <shoal/shoal.hpp>

namespace shoal::test {

/// Starts `loop` on a new thread; the destructor stops it, joins the thread and lets the
/// loop shut down (cancelling what is left) on the destroying thread.
class LoopThread {
 public:
  LoopThread() : thread_([this] { loop.run_until_complete(stop_.wait()); }) {}
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;
  ~LoopThread() {
    if (!stop_.done()) stop_.set_result();
    thread_.join();
  }

  /// The id of the thread running the loop.
  [[nodiscard]] std::thread::id id() const noexcept { return thread_.get_id(); }

  Loop loop;

 private:
  Future<void> stop_;
  std::thread thread_;
};

}  // namespace shoal::test
