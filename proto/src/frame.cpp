#include "shoal/proto/frame.hpp"

#include <algorithm>
#include <cstring>

namespace shoal::proto {

Frame::Frame(FrameOwner owner, std::span<const std::uint64_t> words, const FrameLimits& limits)
    : owner_(std::move(owner)), words_(words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits.traversal_limit_words;
  options.nestingLimit = limits.nesting_limit;
  reader_ = guarded([&] {
    return std::make_unique<capnp::FlatArrayMessageReader>(
        kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(words_.data()), words_.size()),
        options);
  });
}

Envelope::Reader Frame::envelope() {
  return guarded([&] { return reader_->getRoot<Envelope>(); });
}

void append_frame(capnp::MessageBuilder& message, std::vector<std::uint64_t>& out) {
  auto segments = message.getSegmentsForOutput();
  // Segment table: count-1, then each size, as 32-bit words, padded to a whole word.
  std::size_t table_words = (segments.size() + 2) / 2;
  std::size_t total = table_words;
  for (auto& seg : segments) total += seg.size();
  // Room first (growing as a vector does), so that nothing below can fail halfway and
  // leave part of a frame; then the segments are appended by insert, not resize-then-
  // copy: a frame's words are written once, not zeroed first (a batch is tens of KiB).
  if (out.capacity() - out.size() < total) out.reserve(std::max(2 * out.capacity(), out.size() + total));
  std::size_t at = out.size();
  out.resize(at + table_words);
  auto* table = reinterpret_cast<std::uint32_t*>(out.data() + at);
  table[0] = static_cast<std::uint32_t>(segments.size() - 1);
  for (std::size_t i = 0; i < segments.size(); ++i) table[i + 1] = static_cast<std::uint32_t>(segments[i].size());
  if (segments.size() % 2 == 0) table[segments.size() + 1] = 0;
  for (auto& seg : segments) {
    const auto* words = reinterpret_cast<const std::uint64_t*>(seg.begin());
    out.insert(out.end(), words, words + seg.size());
  }
}

std::optional<std::size_t> frame_size_words(std::span<const std::uint64_t> prefix, const FrameLimits& limits) {
  if (prefix.empty()) return std::nullopt;
  auto* table = reinterpret_cast<const std::uint32_t*>(prefix.data());
  std::uint64_t segments = std::uint64_t(table[0]) + 1;
  if (segments > limits.max_segments)
    throw ProtocolError("a frame announces " + std::to_string(segments) + " segments (limit " +
                        std::to_string(limits.max_segments) + ")");
  std::size_t table_words = static_cast<std::size_t>((segments + 2) / 2);
  if (prefix.size() < table_words) return std::nullopt;
  std::uint64_t total = table_words;
  for (std::uint64_t i = 0; i < segments; ++i) total += table[i + 1];
  if (total * 8 > limits.max_frame_bytes)
    throw ProtocolError("a frame of " + std::to_string(total * 8) + " bytes exceeds the limit of " +
                        std::to_string(limits.max_frame_bytes));
  return static_cast<std::size_t>(total);
}

}  // namespace shoal::proto
