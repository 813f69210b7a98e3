#pragma once
/// \file
/// Builder: the Cap'n Proto builder for a message this process sends. Its first segment
/// comes from a small pool of this thread's, zeroed already: capnp zeroes only what the
/// message used when the builder ends. A MallocMessageBuilder callocs (zeroes) its whole
/// first segment for every message, 8 KiB by default and tens of KiB for a batch:
/// callgrind counted a fifth of the coordinator's instructions per remote task in that
/// memset.

#include <capnp/message.h>

#include <cstddef>

namespace shoal::proto {

namespace detail {

/// A zeroed segment of at least the words asked for, lent by this thread's pool (sizes
/// 1024 words to 64 Ki words, in powers of two) for the holder's life; larger ones are
/// allocated and freed each time.
class ScratchLease {
 public:
  static constexpr std::size_t kSmallestWords = 1024;
  explicit ScratchLease(std::size_t words);
  ~ScratchLease();
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;

 protected:
  [[nodiscard]] kj::ArrayPtr<capnp::word> scratch() const noexcept { return {words_, size_}; }

 private:
  capnp::word* words_;
  std::size_t size_;
  int size_class_;  // -1: not pooled
};

}  // namespace detail

/// A capnp::MallocMessageBuilder on a pooled first segment of at least `first_words`
/// words (default: capnp's own first size, 1024): build and send as with
/// MallocMessageBuilder; larger messages grow into segments of their own, as there.
/// (Destroyed on another thread, its segment joins that thread's pool.)
class Builder : private detail::ScratchLease, public capnp::MallocMessageBuilder {
 public:
  explicit Builder(std::size_t first_words = kSmallestWords)
      : ScratchLease(first_words), MallocMessageBuilder(scratch()) {}
};

}  // namespace shoal::proto
