#pragma once
/// \file
/// The codec's wire format and its two cursors: Writer appends tagged values, Reader takes
/// them apart with every length checked against the input before anything is allocated.
///
/// Every value starts with one tag byte (Tag). Integers are LEB128 varints (signed ones
/// zigzagged first), floats little-endian IEEE, lengths and counts varints:
///
///     false | true                      bool (the value is the tag)
///     sint  zigzag-varint               signed integers, enums of a signed type
///     uint  varint                      unsigned integers, enums of an unsigned type
///     f32   4 bytes  | f64  8 bytes     float, double
///     string len bytes | bytes len bytes
///     list  count value*                vector, set, array
///     map   count (key value)*          map, unordered_map
///     tuple count value*                tuple, pair, SHOAL_FIELDS structs (fields in order), none = 0
///     none | some value                 optional (none is also void / monostate)
///     variant index value               variant
///     duration zigzag-varint            any std::chrono::duration, in nanoseconds
///     capnp type-id len pad zero* word* a Cap'n Proto message (flat, 8-byte aligned in the buffer)
///     future_ref index                  a reference to the task's index-th dependency

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "shoal/codec/bytes.hpp"
#include "shoal/codec/shm.hpp"
#include "shoal/core/error.hpp"

namespace shoal::codec {

/// The kind of the value that follows. 0 and values past future_ref are invalid, so that
/// zeroed or random memory is rejected at the first byte.
enum class Tag : std::uint8_t {
  false_ = 0x01,
  true_ = 0x02,
  sint = 0x03,
  uint = 0x04,
  f32 = 0x05,
  f64 = 0x06,
  string = 0x07,
  bytes = 0x08,
  list = 0x09,
  map = 0x0a,
  tuple = 0x0b,
  none = 0x0c,
  some = 0x0d,
  variant = 0x0e,
  duration = 0x0f,
  capnp = 0x10,
  future_ref = 0x11,
};

/// A readable name of a tag's kind ("bool", "int", "string", "list", ...).
[[nodiscard]] std::string_view tag_name(Tag t) noexcept;

/// What a Reader refuses, so that hostile input cannot exhaust the stack or the heap.
struct ReaderLimits {
  /// Containers nested deeper than this are a DecodeError.
  std::size_t max_depth = 64;
  /// Bytes that decoding may allocate for containers and strings, in total, beyond 16x the
  /// input's size (element counts are first checked against the input, but an element
  /// can be much bigger in memory than on the wire).
  std::size_t max_alloc_bytes = 64u << 20;
};

/// Appends encoded values to a growing buffer. A value that grows past
/// shm::kSharedAtBytes moves into a shared-memory segment as it is written (big byte runs
/// are copied there once, by the kernel), so that finish() hands back Bytes that can
/// cross to another process on this host without another copy.
class Writer {
 public:
  Writer() = default;
  ~Writer();
  /// Reserves `capacity` bytes up front.
  explicit Writer(std::size_t capacity) { reserve(capacity); }
  /// Moving leaves `other` empty.
  Writer(Writer&& other) noexcept
      : buf_(std::move(other.buf_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        cap_(std::exchange(other.cap_, 0)),
        spill_(std::move(other.spill_)),
        flushed_(std::exchange(other.flushed_, 0)),
        alias_(std::exchange(other.alias_, {})) {}
  Writer& operator=(Writer&& other) noexcept {
    buf_ = std::move(other.buf_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    cap_ = std::exchange(other.cap_, 0);
    spill_ = std::move(other.spill_);
    flushed_ = std::exchange(other.flushed_, 0);
    alias_ = std::exchange(other.alias_, {});
    return *this;
  }

  void tag(Tag t) { byte(static_cast<std::uint8_t>(t)); }
  void byte(std::uint8_t b) {
    if (size_ == cap_) grow(1);
    data_[size_++] = static_cast<std::byte>(b);
  }
  /// An unsigned LEB128 varint (1 to 10 bytes).
  void varint(std::uint64_t v) {
    if (cap_ - size_ < 10) grow(10);
    while (v >= 0x80) {
      data_[size_++] = static_cast<std::byte>(static_cast<std::uint8_t>(v) | 0x80);
      v >>= 7;
    }
    data_[size_++] = static_cast<std::byte>(v);
  }
  /// A signed varint, zigzagged (small magnitudes stay small).
  void svarint(std::int64_t v) {
    varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void f64(double v) { fixed(std::bit_cast<std::uint64_t>(v), 8); }
  void f32(float v) { fixed(std::bit_cast<std::uint32_t>(v), 4); }
  /// `n` bytes as they are.
  void raw(const void* data, std::size_t n) {
    if (n == 0) return;
    if (cap_ - size_ < n && raw_large(data, n)) return;
    std::memcpy(data_ + size_, data, n);
    size_ += n;
  }
  void reserve(std::size_t capacity) {
    if (capacity > cap_) grow(capacity - size_);
  }

  [[nodiscard]] std::size_t size() const noexcept { return flushed_ + size_; }
  /// Whether what was written lives in a shared-memory segment already.
  [[nodiscard]] bool spilled() const noexcept { return static_cast<bool>(spill_); }
  /// Everything written, as Bytes (no copy: the buffer, 8-byte aligned, becomes the
  /// Bytes'); the writer is empty afterwards.
  [[nodiscard]] Bytes finish();
  /// Forgets what was written, keeping the capacity.
  void clear() noexcept {
    size_ = 0;
    if (spill_ || !alias_.empty()) drop_spill();
  }

 private:
  void fixed(std::uint64_t v, int n) {
    if (cap_ - size_ < 8) grow(8);
    for (int i = 0; i < n; ++i) data_[size_++] = static_cast<std::byte>(v >> (8 * i));
  }
  void grow(std::size_t need);
  bool raw_large(const void* data, std::size_t n);  // true: written (into the segment)
  bool try_alias(const void* data, std::size_t n);
  void spill(std::size_t need);
  void drop_spill() noexcept;

  // One allocation with its reference count, so that finish() allocates nothing.
  std::shared_ptr<std::uint64_t[]> buf_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
  // Past shm::kSharedAtBytes: the segment being written, and the bytes in it; the buffer
  // above is then a window flushed into it.
  std::unique_ptr<shm::SegmentWriter> spill_;
  std::size_t flushed_ = 0;
  // A value that is a run of a segment already (a worker returning the bytes it was
  // given): everything written so far is these bytes of it (flushed_ counts them, and
  // the buffer is gone, so that any further write comes through grow() and copies).
  Bytes alias_;
};

/// Takes encoded values apart. Every read is checked: past the end, an invalid tag, a
/// length beyond the input, nesting or allocation beyond the limits throw DecodeError; a
/// value of another type throws TypeMismatch. Nothing is undefined behaviour.
class Reader {
 public:
  /// Reads `data`. With an `owner` (what keeps `data` alive), decoded Bytes and Cap'n Proto
  /// messages alias the input instead of copying it.
  explicit Reader(std::span<const std::byte> data, std::shared_ptr<const void> owner = {},
                  ReaderLimits limits = {}) noexcept
      : begin_(data.data()),
        pos_(data.data()),
        end_(data.data() + data.size()),
        owner_(std::move(owner)),
        limits_(limits),
        alloc_left_(limits.max_alloc_bytes + 16 * data.size()) {}
  /// Reads `b`, aliasing it for decoded Bytes.
  explicit Reader(const Bytes& b, ReaderLimits limits = {}) noexcept
      : Reader(b.span(), b.owner(), limits) {}

  /// The values that `future_ref i` stands for (a task's dependencies, which must outlive
  /// the reader): an argument that is one is read from its value in place (take_ref), not
  /// spliced into a copy of the arguments first (resolve_refs).
  void set_refs(std::span<const Bytes> refs) noexcept { refs_ = refs; }
  /// At a `future_ref i` with refs set: consumes it and returns a reader of value i.
  /// Otherwise nullopt, consuming nothing. DecodeError for an index past the refs.
  [[nodiscard]] std::optional<Reader> take_ref();

  /// The next value's tag, not consumed. DecodeError at the end or on an invalid tag.
  [[nodiscard]] Tag peek() const {
    if (pos_ == end_) truncated("a tag");
    auto b = static_cast<std::uint8_t>(*pos_);
    if (b == 0 || b > static_cast<std::uint8_t>(Tag::future_ref)) invalid_tag(b);
    return static_cast<Tag>(b);
  }
  /// The next value's tag, consumed.
  Tag tag() {
    Tag t = peek();
    ++pos_;
    return t;
  }
  /// Consumes the next tag; TypeMismatch naming `expected` when it is not `t`.
  void expect(Tag t, std::string_view expected) {
    Tag got = peek();
    if (got != t) mismatch(expected);
    ++pos_;
  }
  std::uint64_t varint() {
    // Fast path: one byte.
    if (pos_ != end_ && static_cast<std::uint8_t>(*pos_) < 0x80) return static_cast<std::uint8_t>(*pos_++);
    return varint_slow();
  }
  std::int64_t svarint() {
    std::uint64_t u = varint();
    return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
  }
  double f64() { return std::bit_cast<double>(fixed(8)); }
  float f32() { return std::bit_cast<float>(static_cast<std::uint32_t>(fixed(4))); }
  /// The next `n` bytes; DecodeError when fewer remain.
  std::span<const std::byte> take(std::uint64_t n) {
    if (n > remaining()) truncated(std::to_string(n) + " bytes");
    auto* p = pos_;
    pos_ += n;
    return {p, static_cast<std::size_t>(n)};
  }
  /// A count of elements that take at least `min_bytes_each` bytes each; DecodeError when
  /// the rest of the input cannot hold them (checked before anything is allocated).
  std::size_t count(std::size_t min_bytes_each = 1) {
    std::uint64_t n = varint();
    if (min_bytes_each && n > remaining() / min_bytes_each) too_many(n);
    return static_cast<std::size_t>(n);
  }
  /// Counts `bytes` against the allocation limit; DecodeError past it.
  void charge(std::uint64_t bytes) {
    if (bytes > alloc_left_) over_alloc(bytes);
    alloc_left_ -= bytes;
  }

  /// Entering a container: `auto guard = r.nest();` DecodeError past the depth limit.
  class Nest {
   public:
    explicit Nest(Reader& r) : r_(r) {
      if (++r_.depth_ > r_.limits_.max_depth) r_.too_deep();
    }
    ~Nest() { --r_.depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Reader& r_;
  };
  [[nodiscard]] Nest nest() { return Nest(*this); }

  /// Skips one value of any kind (checked like a decode).
  void skip();
  /// DecodeError when bytes are left after the value(s) read.
  void expect_end() const {
    if (pos_ != end_) trailing();
  }

  [[nodiscard]] std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - pos_); }
  [[nodiscard]] bool at_end() const noexcept { return pos_ == end_; }
  /// Bytes consumed so far.
  [[nodiscard]] std::size_t position() const noexcept { return static_cast<std::size_t>(pos_ - begin_); }
  [[nodiscard]] const std::byte* current() const noexcept { return pos_; }
  [[nodiscard]] const std::shared_ptr<const void>& owner() const noexcept { return owner_; }
  [[nodiscard]] const ReaderLimits& limits() const noexcept { return limits_; }

  /// Throws TypeMismatch "expected <expected>, received <what the next value is>".
  [[noreturn]] void mismatch(std::string_view expected) const;
  /// Throws TypeMismatch "expected <expected>, received integer <v> (out of range)".
  [[noreturn]] static void out_of_range(std::string_view expected, std::int64_t v);
  [[noreturn]] static void out_of_range(std::string_view expected, std::uint64_t v);
  /// Throws DecodeError "<what> at offset N".
  [[noreturn]] void malformed(std::string_view what) const;

 private:
  std::uint64_t varint_slow();
  std::uint64_t fixed(int n) {
    if (remaining() < static_cast<std::size_t>(n)) truncated(std::to_string(n) + " bytes");
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(pos_[i])) << (8 * i);
    pos_ += n;
    return v;
  }
  [[noreturn]] void truncated(const std::string& wanted) const;
  [[noreturn]] void invalid_tag(std::uint8_t b) const;
  [[noreturn]] void too_many(std::uint64_t n) const;
  [[noreturn]] void over_alloc(std::uint64_t bytes) const;
  [[noreturn]] void too_deep() const;
  [[noreturn]] void trailing() const;

  const std::byte* begin_;
  const std::byte* pos_;
  const std::byte* end_;
  std::shared_ptr<const void> owner_;
  ReaderLimits limits_;
  std::uint64_t alloc_left_;
  std::size_t depth_ = 0;
  std::span<const Bytes> refs_;
};

/// What the next value of `r` looks like, read from the wire alone (a copy of `r` is
/// consumed): "int", "string", "tuple<string,int>", "list<uint>" (from the first element),
/// "map<string,float64>", "optional<none>". Used in error messages; malformed input ends
/// the description with "?".
[[nodiscard]] std::string describe_encoded(Reader r);

}  // namespace shoal::codec
