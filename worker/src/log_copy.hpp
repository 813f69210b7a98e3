#pragma once
// LogCopy: a worker's log while someone follows it (`shoal logs --worker NAME -f`): a copy
// of every line and of its tasks' output as written (link::log::add_tap), gathered on the
// writing threads without waiting (1 MiB at most between takes; past it dropped, and
// said), taken by the loop and sent as LogLines (send_log_lines()).

#include <asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "shoal/link/connection.hpp"

namespace shoal::worker {

class LogCopy {
 public:
  LogCopy() = default;
  ~LogCopy() { stop(); }
  LogCopy(const LogCopy&) = delete;
  LogCopy& operator=(const LogCopy&) = delete;

  /// Starts copying; `ready` is posted to `ex` when something waits to be taken (once
  /// until take()). Does nothing while already copying.
  void start(asio::any_io_executor ex, std::function<void()> ready);
  /// Stops: a tap call under way posts nothing after this returns (call it before the
  /// executor's loop ends).
  void stop();
  [[nodiscard]] bool active() const noexcept { return shared_ != nullptr; }
  /// What gathered since the last take, with a line for what was dropped.
  [[nodiscard]] std::string take();

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
  std::uint64_t tap_ = 0;
};

/// `data` as LogLines frames (at most 60,000 bytes each).
void send_log_lines(link::Connection& conn, const std::string& data);

}  // namespace shoal::worker
