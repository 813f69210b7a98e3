#pragma once
/// \file
/// The limits every frame reader enforces. Input beyond them is a ProtocolError that
/// closes that one connection.

#include <cstddef>
#include <cstdint>

namespace shoal::proto {

struct FrameLimits {
  /// The largest frame accepted, in bytes. A task's arguments and result must fit in one
  /// frame today (link::kMaxPayloadBytes); larger ones fail with a typed error.
  std::size_t max_frame_bytes = 64u << 20;
  /// Cap'n Proto traversal limit per message, in words; set on every reader.
  std::uint64_t traversal_limit_words = 16u << 20;
  /// Cap'n Proto nesting limit per message.
  int nesting_limit = 64;
  /// Segments per message (Cap'n Proto itself refuses more than 512).
  std::uint32_t max_segments = 64;
};

}  // namespace shoal::proto
