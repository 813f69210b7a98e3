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

}  // namespace shoal::link
