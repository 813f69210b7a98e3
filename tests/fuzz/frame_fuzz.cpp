// libFuzzer target: arbitrary bytes as a stream of frames, through the same code a
// connection runs: frame_size_words (limits), Frame (segment table), and describe()
// (every field of every envelope kind). Anything but a ProtocolError is a finding.
#include <cstdint>
#include <cstring>
#include <vector>

#include "shoal/proto/describe.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint64_t> words((size + 7) / 8);
  if (size) std::memcpy(words.data(), data, size);
  shoal::proto::FrameLimits limits;
  limits.max_frame_bytes = 1 << 20;
  limits.traversal_limit_words = 1 << 16;
  std::span<const std::uint64_t> rest(words);
  try {
    while (!rest.empty()) {
      auto n = shoal::proto::frame_size_words(rest, limits);
      if (!n || *n > rest.size()) break;
      shoal::proto::Frame frame(nullptr, rest.first(*n), limits);
      (void)shoal::proto::guarded([&] { return shoal::proto::describe(frame.envelope()); });
      rest = rest.subspan(*n);
    }
  } catch (const shoal::ProtocolError&) {
  }
  return 0;
}
