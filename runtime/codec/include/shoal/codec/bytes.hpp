#pragma once
/// \file
/// Bytes: an immutable, refcounted byte buffer. Copying a Bytes shares the buffer; a Bytes
/// can alias a region of a bigger owner (a received frame, a shared-memory segment) without
/// copying. Decoding a Bytes from a codec::Reader that carries an owner aliases the input.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shoal/core/error.hpp"

namespace shoal {

class Bytes {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  /// An empty buffer (no allocation).
  Bytes() noexcept = default;

  /// Takes `s` without copying its characters.
  explicit Bytes(std::string s) {
    if (s.empty()) return;
    auto owner = std::make_shared<const std::string>(std::move(s));
    data_ = reinterpret_cast<const std::byte*>(owner->data());
    size_ = owner->size();
    owner_ = std::move(owner);
  }

  /// Takes `v` without copying its bytes.
  explicit Bytes(std::vector<std::byte> v) {
    if (v.empty()) return;
    auto owner = std::make_shared<const std::vector<std::byte>>(std::move(v));
    data_ = owner->data();
    size_ = owner->size();
    owner_ = std::move(owner);
  }

  /// A copy of `size` bytes at `data`, in a new 8-byte-aligned buffer.
  static Bytes copy(const void* data, std::size_t size) {
    return build(size, [&](std::span<std::byte> out) {
      if (size) std::memcpy(out.data(), data, size);
    });
  }
  /// A copy of `s`.
  static Bytes copy(std::string_view s) { return copy(s.data(), s.size()); }
  /// A copy of `s`.
  static Bytes copy(std::span<const std::byte> s) { return copy(s.data(), s.size()); }

  /// `size` bytes at `data`, owned by `owner` (kept alive as long as any Bytes refers to
  /// them). No copy: the caller promises the bytes never change while `owner` lives.
  static Bytes alias(std::shared_ptr<const void> owner, const void* data, std::size_t size) noexcept {
    Bytes b;
    if (size == 0) return b;
    b.owner_ = std::move(owner);
    b.data_ = static_cast<const std::byte*>(data);
    b.size_ = size;
    return b;
  }

  /// A new 8-byte-aligned buffer of `size` bytes that `fill(std::span<std::byte>)` writes
  /// once before it becomes immutable.
  ///     auto b = Bytes::build(4, [](std::span<std::byte> out) { std::memset(out.data(), 0, 4); });
  template <typename F>
  static Bytes build(std::size_t size, F&& fill) {
    Bytes b;
    if (size == 0) return b;
    auto words = std::make_shared_for_overwrite<std::uint64_t[]>((size + 7) / 8);
    auto* p = reinterpret_cast<std::byte*>(words.get());
    std::forward<F>(fill)(std::span<std::byte>(p, size));
    b.data_ = p;
    b.size_ = size;
    b.owner_ = std::move(words);
    return b;
  }

  [[nodiscard]] const std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::span<const std::byte> span() const noexcept { return {data_, size_}; }
  [[nodiscard]] const std::byte* begin() const noexcept { return data_; }
  [[nodiscard]] const std::byte* end() const noexcept { return data_ + size_; }
  /// The byte at `i` (unchecked, like std::span).
  [[nodiscard]] std::byte operator[](std::size_t i) const noexcept { return data_[i]; }
  /// The bytes as characters (no copy).
  [[nodiscard]] std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(data_), size_};
  }
  /// The bytes as a new string (a copy).
  [[nodiscard]] std::string to_string() const { return std::string(view()); }

  /// The `length` bytes from `offset` (to the end by default), sharing this buffer.
  /// Throws ValueError when the range is outside the buffer.
  [[nodiscard]] Bytes slice(std::size_t offset, std::size_t length = npos) const {
    if (offset > size_) throw ValueError("Bytes::slice: offset " + std::to_string(offset) + " beyond size " +
                                         std::to_string(size_));
    if (length == npos) length = size_ - offset;
    if (length > size_ - offset)
      throw ValueError("Bytes::slice: " + std::to_string(length) + " bytes at offset " + std::to_string(offset) +
                       " exceed size " + std::to_string(size_));
    return alias(owner_, data_ + offset, length);
  }

  /// Whatever keeps the bytes alive (null for an empty buffer).
  [[nodiscard]] const std::shared_ptr<const void>& owner() const noexcept { return owner_; }

  /// Equal contents (not identity).
  friend bool operator==(const Bytes& a, const Bytes& b) noexcept {
    return a.size_ == b.size_ && (a.data_ == b.data_ || std::memcmp(a.data_, b.data_, a.size_) == 0);
  }

 private:
  std::shared_ptr<const void> owner_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace shoal
