#pragma once
/// \file
/// Frame: one received Cap'n Proto message, read in place from the receive buffer it
/// arrived in (no copy); the buffer lives as long as any frame that points into it.

#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "shoal/core/error.hpp"
#include "shoal/proto/limits.hpp"
#include "shoal/proto/shoal.capnp.h"

namespace shoal {

/// Malformed, truncated, oversized or unexpected input from a peer. Closes that one
/// connection; retrying the same bytes cannot help.
class ProtocolError : public Error {
 public:
  explicit ProtocolError(const std::string& what) : Error("protocol error: " + what, ErrorKind::failed) {}
};

/// A peer went away or a socket failed. Retrying elsewhere (or after a reconnect) may help.
class ConnectionError : public Error {
 public:
  explicit ConnectionError(const std::string& what) : Error(what, ErrorKind::disconnected) {}
};

}  // namespace shoal

namespace shoal::proto {

using schema::Envelope;

/// A refcounted, 8-byte-aligned receive buffer.
class Chunk {
 public:
  explicit Chunk(std::size_t words) : words_(new std::uint64_t[words]), capacity_(words) {}
  std::uint64_t* data() noexcept { return words_.get(); }
  [[nodiscard]] std::size_t capacity_words() const noexcept { return capacity_; }

 private:
  std::unique_ptr<std::uint64_t[]> words_;
  std::size_t capacity_;
};

/// Whatever keeps a received frame's bytes alive (its receive buffer): values that alias
/// the frame hold it.
using FrameOwner = std::shared_ptr<const void>;

class Frame {
 public:
  /// Parses the segment table of `words` (a whole frame inside the buffer `owner` keeps
  /// alive) under `limits`. Throws ProtocolError when it is malformed.
  Frame(FrameOwner owner, std::span<const std::uint64_t> words, const FrameLimits& limits);
  Frame(Frame&&) noexcept = default;
  Frame& operator=(Frame&&) noexcept = default;

  /// The message's root. Field access checks bounds lazily and throws kj::Exception on
  /// bad pointers: handle frames inside proto::guarded(), which turns that into a
  /// ProtocolError.
  [[nodiscard]] Envelope::Reader envelope();
  [[nodiscard]] std::size_t size_bytes() const noexcept { return words_.size() * 8; }
  /// The frame's bytes (for forwarding without re-encoding).
  [[nodiscard]] std::span<const std::uint64_t> words() const noexcept { return words_; }
  /// The owner of the buffer the frame lies in.
  [[nodiscard]] const FrameOwner& owner() const noexcept { return owner_; }

 private:
  FrameOwner owner_;
  std::span<const std::uint64_t> words_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
};

/// Runs `fn`, turning a Cap'n Proto decoding failure into ProtocolError.
template <typename F>
decltype(auto) guarded(F&& fn) {
  try {
    return std::forward<F>(fn)();
  } catch (const kj::Exception& e) {
    throw ProtocolError(std::string(e.getDescription().cStr()));
  }
}

/// Appends `message` in Cap'n Proto's stream framing to `out` (whole words).
void append_frame(capnp::MessageBuilder& message, std::vector<std::uint64_t>& out);

/// The total size in words of the frame whose first words are `prefix`, or nullopt when
/// more words are needed to tell. Throws ProtocolError for a frame over the limits.
std::optional<std::size_t> frame_size_words(std::span<const std::uint64_t> prefix, const FrameLimits& limits);

}  // namespace shoal::proto
