#pragma once
/// \file
/// The clocks and the host name every peer stamps its messages with.

#include <cstdint>
#include <string>

namespace shoal::link {

/// This host's name.
[[nodiscard]] const std::string& this_host();
/// Nanoseconds on the steady clock.
[[nodiscard]] std::uint64_t steady_ns() noexcept;
/// Nanoseconds since the epoch (wall clock).
[[nodiscard]] std::uint64_t wall_ns() noexcept;

/// A clock that steady_ns() and wall_ns() read instead of the machine's: the
/// deterministic simulation's virtual time (cluster/sim). Engines read time only through
/// these two functions and link::Timer, so that a simulation can run them on its clock.
class ClockSource {
 public:
  virtual ~ClockSource() = default;
  [[nodiscard]] virtual std::uint64_t steady_ns() noexcept = 0;
  [[nodiscard]] virtual std::uint64_t wall_ns() noexcept = 0;
  /// The engines' earliest timer (link::Timer) is due `ns` from now (negative: past due),
  /// as asio computes it whenever that earliest timer changes: a simulation advances its
  /// clock to it rather than in small steps.
  virtual void timer_due_in(std::int64_t ns) noexcept { (void)ns; }
};
/// The source installed (nullptr: the machine's clocks).
[[nodiscard]] ClockSource* clock_source() noexcept;
/// Installs `source` for the whole process (nullptr: the machine's clocks again). Set it
/// before the engines that read it start, and clear it after they are gone.
void set_clock_source(ClockSource* source) noexcept;

}  // namespace shoal::link
