#pragma once
/// \file
/// The limits every frame reader enforces. Input beyond them is a ProtocolError that
/// closes that one connection.

#include <cstddef>
#include <cstdint>

namespace shoal::proto {

struct FrameLimits {
  /// The largest frame accepted, in bytes. Values of 1 MiB or more travel beside the frames
  /// (link::Connection::attach), so frames stay small whatever the tasks carry.
  std::size_t max_frame_bytes = 16u << 20;
  /// The largest value that may travel beside the frames (a BlobHeader's size); 0: none
  /// may, the default until the peer has authenticated (authenticated_limits()).
  std::uint64_t max_blob_bytes = 0;
  /// Cap'n Proto traversal limit per message, in words; set on every reader.
  std::uint64_t traversal_limit_words = 16u << 20;
  /// Cap'n Proto nesting limit per message.
  int nesting_limit = 64;
  /// Segments per message (Cap'n Proto itself refuses more than 512).
  std::uint32_t max_segments = 64;
};

/// The limits for a peer that has proved who it is: values of any size may travel beside
/// the frames (memory is the real bound).
[[nodiscard]] constexpr FrameLimits authenticated_limits() noexcept {
  FrameLimits l;
  l.max_blob_bytes = std::uint64_t{1} << 40;
  return l;
}

}  // namespace shoal::proto
