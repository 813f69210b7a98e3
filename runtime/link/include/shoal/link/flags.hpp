#pragma once
/// \file
/// Checks of the daemons' and the CLI's numeric flags, before they are converted: "nan",
/// "-1", "1e300" and "5x" are usage errors (exit 2) with one line, never a wrapped or
/// undefined value. Free of any argument parser: each main wraps them in its own.

#include <cmath>
#include <cstdint>
#include <string>

#include "shoal/link/messages.hpp"

namespace shoal::link {

/// The longest timeout or grace a flag takes, in seconds: the longest task timeout.
inline constexpr double kMaxFlagSeconds = static_cast<double>(kMaxTimeoutMs) / 1000;

/// "" when `text` is a number of seconds: finite, above zero (or zero when `zero_ok`), at
/// most kMaxFlagSeconds; else why not.
inline std::string seconds_flag_error(const std::string& text, bool zero_ok) {
  double v = 0;
  try {
    std::size_t used = 0;
    v = std::stod(text, &used);
    if (used != text.size()) return "'" + text + "' is not a number of seconds";
  } catch (const std::exception&) {
    return "'" + text + "' is not a number of seconds";
  }
  if (!std::isfinite(v) || v < 0 || (!zero_ok && v == 0) || v > kMaxFlagSeconds)
    return "seconds must be " + std::string(zero_ok ? "0" : "more than 0") + " to 1e9, not " + text;
  return {};
}

}  // namespace shoal::link
