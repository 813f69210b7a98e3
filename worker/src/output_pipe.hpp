#pragma once
// OutputPipe: the output of running plain tasks (this_task::write_output), from pool
// threads to the worker's loop, which sends it to the coordinator (send_output()). A
// writer waits while what it and the others wrote is over kWindow and not yet handed to
// the connection (flow control: a command that writes fast is slowed to what the link
// takes); a stop request ends the wait.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "shoal/link/connection.hpp"
#include "shoal/remote/this_task.hpp"

namespace shoal::worker {

class OutputPipe final : public this_task::OutputSink {
 public:
  static constexpr std::size_t kWindow = 1u << 20;
  struct Chunk {
    std::uint64_t task;
    int stream;
    std::string data;
  };
  /// `loop` is the thread that drains it; `wake` runs (on a writer's thread) when the
  /// pipe goes from empty to not.
  OutputPipe(std::thread::id loop, std::function<void()> wake) : loop_(loop), wake_(std::move(wake)) {}

  /// Any thread: queues `data` (in pieces of at most kWindow), waiting for room first
  /// unless on the loop thread, which is what drains.
  void write(std::uint64_t task, int stream, std::string_view data) override;
  /// Queues `data` only if the window has room for it now; never waits.
  bool try_write(std::uint64_t task, int stream, std::string_view data) noexcept override;
  /// The loop: everything queued, in order; writers waiting for room go on.
  [[nodiscard]] std::vector<Chunk> take();
  /// Writers return at once from now on (the worker is ending).
  void close();

 private:
  // Appends under `lock` (held), then releases it and wakes the loop if it was empty.
  void queue(std::unique_lock<std::mutex>& lock, std::uint64_t task, int stream, std::string_view data);

  const std::thread::id loop_;
  std::function<void()> wake_;
  std::mutex mu_;
  std::condition_variable room_;
  std::vector<Chunk> chunks_;
  std::size_t bytes_ = 0;
  std::atomic<bool> queued_{false};  // chunks_ is not empty: take() on the flush path skips the lock
  bool closed_ = false;
};

/// Sends `chunks` on `conn` as Envelope.output messages, in order; false (nothing sent)
/// when `conn` already holds 64 windows of unsent bytes (a peer that does not read).
bool send_chunks(link::Connection& conn, const std::vector<OutputPipe::Chunk>& chunks);

}  // namespace shoal::worker
