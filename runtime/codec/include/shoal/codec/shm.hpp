#pragma once
/// \file
/// Shared-memory segments: where a large value lives so that it crosses a process
/// boundary on the same host without a copy. A segment is a sealed memfd (its size and
/// contents can no longer change: F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE), mapped
/// read-only. Its descriptor passes over a Unix socket (SCM_RIGHTS); the receiver maps
/// the same pages and reads them in place. Memory is freed when the last descriptor and
/// the last mapping are gone, in any process: nothing is ever left in /dev/shm.
///
///     shm::SegmentWriter w(size);       // a new memfd
///     w.write(bytes);                   // pwrite: the kernel copies, no page faults here
///     Bytes b = w.finish().bytes();     // sealed, mapped read-only
///     auto seg = shm::segment_of(b);    // the segment behind b (to pass its fd on)
///
/// Thread-safe: segments are immutable; the registry behind segment_of() is locked.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "shoal/codec/bytes.hpp"

namespace shoal::codec::shm {

/// Values of this size or more are encoded into a segment (codec::Writer) and travel as
/// one (link::Connection::attach): measured, below it a copy through the socket is cheaper
/// than a memfd's set-up (docs/large-data.md).
inline constexpr std::size_t kSharedAtBytes = 1u << 20;

class Segment : public std::enable_shared_from_this<Segment> {
 public:
  /// Adopts `fd` (closed in any case) received from a peer and maps all of it. Throws
  /// ValueError unless it is a sealed memfd (a peer could otherwise shrink it under our
  /// mapping, SIGBUS, or change it) that is not empty.
  static std::shared_ptr<const Segment> adopt(int fd);
  /// A new segment holding a copy of `data`.
  static std::shared_ptr<const Segment> copy_of(std::span<const std::byte> data);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] const std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The whole segment as Bytes (which keep it alive).
  [[nodiscard]] Bytes bytes() const { return Bytes::alias(shared_from_this(), data_, size_); }
  /// `size` bytes at `offset`, as Bytes; ValueError when outside the segment.
  [[nodiscard]] Bytes bytes(std::uint64_t offset, std::uint64_t size) const;

  /// Private: use adopt(), copy_of() or SegmentWriter.
  Segment(int fd, const std::byte* data, std::size_t size) noexcept : fd_(fd), data_(data), size_(size) {}

 private:
  int fd_;
  const std::byte* data_;
  std::size_t size_;
};

/// The segment `b` is the whole of, or null (a heap value, or a slice of a segment).
[[nodiscard]] std::shared_ptr<const Segment> segment_of(const Bytes& b);

/// Where `b` lies in a segment: the segment and the offset of b's first byte; a null
/// segment when `b` is not in one (or is under kSharedAtBytes).
struct Location {
  std::shared_ptr<const Segment> segment;
  std::size_t offset = 0;
};
[[nodiscard]] Location locate(const Bytes& b);
/// As locate(), for any range of memory (the codec's writer, finding a run of bytes it is
/// asked to copy inside a segment it may alias instead).
[[nodiscard]] Location locate(const std::byte* data, std::size_t size);

/// Bytes in segments this process holds (mapped), and how many segments it made or
/// adopted so far: for --object-store-memory and for tests that count copies.
[[nodiscard]] std::uint64_t live_bytes() noexcept;
[[nodiscard]] std::uint64_t segments_created() noexcept;
[[nodiscard]] std::uint64_t segments_adopted() noexcept;

/// Builds a segment with pwrite (the kernel copies; writing through a fresh mapping
/// would take a page fault per page, which costs more than the copy on a VM).
class SegmentWriter {
 public:
  /// A new memfd with room reserved for `size_hint` bytes (it grows past it if needed).
  explicit SegmentWriter(std::size_t size_hint = 0);
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  /// Appends `data`. Throws Error (ErrorKind::overloaded) when memory is short (ENOSPC,
  /// ENOMEM from the memfd).
  void write(std::span<const std::byte> data);
  void write(const void* data, std::size_t n) { write({static_cast<const std::byte*>(data), n}); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Seals and maps what was written; the writer is spent.
  [[nodiscard]] std::shared_ptr<const Segment> finish();

 private:
  int fd_ = -1;
  std::size_t size_ = 0;
};

}  // namespace shoal::codec::shm
