#include "output_pipe.hpp"

#include <capnp/message.h>

#include "shoal/proto/builder.hpp"

#include <chrono>

namespace shoal::worker {

namespace schema = proto::schema;

void OutputPipe::write(std::uint64_t task, int stream, std::string_view data) {
  // In pieces of at most kWindow: one frame each, far under the frame limit.
  while (data.size() > kWindow) {
    write(task, stream, data.substr(0, kWindow));
    data.remove_prefix(kWindow);
  }
  std::unique_lock lock(mu_);
  // The loop thread itself (a task run inline) never waits: it is what drains.
  if (std::this_thread::get_id() != loop_)
    while (bytes_ >= kWindow && !closed_) {
      room_.wait_for(lock, std::chrono::milliseconds(50));
      if (this_task::stop_requested()) return;  // stopping: the rest is not wanted
    }
  if (closed_) return;
  queue(lock, task, stream, data);
}

bool OutputPipe::try_write(std::uint64_t task, int stream, std::string_view data) noexcept {
  try {
    std::unique_lock lock(mu_);
    if (closed_ || bytes_ + data.size() > kWindow) return false;
    queue(lock, task, stream, data);
    return true;
  } catch (...) {
    return false;  // out of memory: the output is what goes
  }
}

void OutputPipe::queue(std::unique_lock<std::mutex>& lock, std::uint64_t task, int stream, std::string_view data) {
  bool first = chunks_.empty();
  chunks_.push_back({task, stream, std::string(data)});
  bytes_ += data.size();
  queued_.store(true, std::memory_order_release);
  lock.unlock();
  if (first) wake_();  // outside the lock: it posts to the loop
}

std::vector<OutputPipe::Chunk> OutputPipe::take() {
  std::vector<Chunk> out;
  // Most flushes carry results and no output. A chunk written before its task's outcome
  // was reported is seen here: the outcome's hand-over orders the two.
  if (!queued_.load(std::memory_order_acquire)) return out;
  std::lock_guard lock(mu_);
  out.swap(chunks_);
  bytes_ = 0;
  queued_.store(false, std::memory_order_relaxed);
  room_.notify_all();
  return out;
}

void OutputPipe::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  room_.notify_all();
}

bool send_chunks(link::Connection& conn, const std::vector<OutputPipe::Chunk>& chunks) {
  if (chunks.empty()) return true;
  if (conn.backlog_bytes() > 64 * OutputPipe::kWindow) return false;
  for (const auto& c : chunks) {
    proto::Builder msg;
    auto o = msg.initRoot<schema::Envelope>().initOutput();
    o.setTaskId(c.task);
    o.setStream(static_cast<std::uint8_t>(c.stream));
    o.setData(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(c.data.data()), c.data.size()));
    conn.send(msg);
  }
  return true;
}

}  // namespace shoal::worker
