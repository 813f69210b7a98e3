#include "shoal/codec/codec.hpp"

#include <algorithm>
#include <cstdio>

namespace shoal::codec {

std::string_view tag_name(Tag t) noexcept {
  switch (t) {
    case Tag::false_:
    case Tag::true_: return "bool";
    case Tag::sint: return "int";
    case Tag::uint: return "uint";
    case Tag::f32: return "float32";
    case Tag::f64: return "float64";
    case Tag::string: return "string";
    case Tag::bytes: return "bytes";
    case Tag::list: return "list";
    case Tag::map: return "map";
    case Tag::tuple: return "tuple";
    case Tag::none: return "none";
    case Tag::some: return "optional";
    case Tag::variant: return "variant";
    case Tag::duration: return "duration";
    case Tag::capnp: return "capnp";
    case Tag::future_ref: return "future_ref";
  }
  return "invalid";
}

// ---- Writer ----

namespace {
constexpr std::size_t kSpillWindow = 256u << 10;
}

Writer::~Writer() = default;

void Writer::grow(std::size_t need) {
  if (!alias_.empty()) {
    // More after an aliased run: the value is no longer that run. Copy it and go on.
    spill(need);
    return;
  }
  if (spill_ || flushed_ + size_ + need >= shm::kSharedAtBytes) return spill(need);
  std::size_t cap = std::max({cap_ * 2, size_ + need, std::size_t{64}});
  cap = (cap + 7) / 8 * 8;
  auto next = std::make_shared_for_overwrite<std::uint64_t[]>(cap / 8);
  auto* data = reinterpret_cast<std::byte*>(next.get());
  if (size_) std::memcpy(data, data_, size_);
  buf_ = std::move(next);
  data_ = data;
  cap_ = cap;
}

void Writer::spill(std::size_t need) {
  if (!spill_) spill_ = std::make_unique<shm::SegmentWriter>();
  if (!alias_.empty()) spill_->write(std::exchange(alias_, {}).span());  // flushed_ counts it already
  spill_->write(data_, size_);
  flushed_ += size_;
  size_ = 0;
  // The window: what inline writes need (a run this big goes straight to the segment,
  // and a reserve() asks for room the segment has anyway).
  std::size_t want = std::max(std::min(need, kSpillWindow), std::size_t{64});
  if (cap_ >= want) return;
  std::size_t cap = (std::max(want, kSpillWindow) + 7) / 8 * 8;
  buf_ = std::make_shared_for_overwrite<std::uint64_t[]>(cap / 8);
  data_ = reinterpret_cast<std::byte*>(buf_.get());
  cap_ = cap;
}

// A run that lies in a segment right after the bytes this writer holds (a Bytes value
// being encoded again with the same header: echo, a result passed on) becomes the value
// itself, with no copy.
bool Writer::try_alias(const void* data, std::size_t n) {
  constexpr std::size_t kMaxHeader = 16;
  if (spill_ || !alias_.empty() || size_ > kMaxHeader) return false;
  auto at = shm::locate(static_cast<const std::byte*>(data), n);
  if (!at.segment || at.offset < size_) return false;
  if (size_ && std::memcmp(at.segment->data() + at.offset - size_, data_, size_) != 0) return false;
  alias_ = at.segment->bytes(at.offset - size_, size_ + n);
  flushed_ = alias_.size();
  buf_.reset();
  data_ = nullptr;
  size_ = cap_ = 0;
  return true;
}

bool Writer::raw_large(const void* data, std::size_t n) {
  if (n >= shm::kSharedAtBytes && try_alias(data, n)) return true;
  if (!alias_.empty()) spill(0);
  if (!spill_ && flushed_ + size_ + n < shm::kSharedAtBytes) {
    grow(n);
    return false;
  }
  spill(n < kSpillWindow ? n : 0);
  if (n < kSpillWindow) return false;  // the window has room now
  spill_->write(data, n);  // a big run goes straight into the segment
  flushed_ += n;
  return true;
}

void Writer::drop_spill() noexcept {
  spill_.reset();
  alias_ = {};
  flushed_ = 0;
}

Bytes Writer::finish() {
  if (!alias_.empty()) {
    flushed_ = 0;
    return std::exchange(alias_, {});
  }
  // Reserved for more than was written: what was written stays on the heap.
  if (spill_ && flushed_ == 0 && size_ < shm::kSharedAtBytes) drop_spill();
  if (spill_) {
    spill_->write(data_, size_);
    auto seg = spill_->finish();
    spill_.reset();
    flushed_ = size_ = 0;
    return seg->bytes();
  }
  if (size_ == 0) {
    clear();
    return {};
  }
  Bytes b = Bytes::alias(std::move(buf_), data_, size_);
  buf_.reset();
  data_ = nullptr;
  size_ = cap_ = 0;
  return b;
}

// ---- Reader ----

std::optional<Reader> Reader::take_ref() {
  if (refs_.empty() || pos_ == end_ || static_cast<Tag>(*pos_) != Tag::future_ref) return std::nullopt;
  ++pos_;
  std::uint64_t index = varint();
  if (index >= refs_.size())
    malformed("future_ref " + std::to_string(index) + " but the task has " + std::to_string(refs_.size()) +
              " dependencies");
  return Reader(refs_[static_cast<std::size_t>(index)], limits_);
}

std::uint64_t Reader::varint_slow() {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ == end_) truncated("a varint");
    auto b = static_cast<std::uint8_t>(*pos_++);
    // The tenth byte may carry only the top bit of a 64-bit value.
    if (shift == 63 && b > 1) malformed("a varint that overflows 64 bits");
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  malformed("a varint longer than 10 bytes");
}

namespace {

std::string offset_text(std::size_t at) { return " at offset " + std::to_string(at); }

}  // namespace

void Reader::malformed(std::string_view what) const { throw DecodeError(std::string(what) + offset_text(position())); }

void Reader::truncated(const std::string& wanted) const {
  throw DecodeError("the input ends" + offset_text(position()) + " where " + wanted + " should follow (" +
                    std::to_string(remaining()) + " bytes left): truncated input");
}

void Reader::invalid_tag(std::uint8_t b) const {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", b);
  throw DecodeError(std::string("invalid tag byte ") + hex + offset_text(position()) +
                    ": not a shoal::codec encoding");
}

void Reader::too_many(std::uint64_t n) const {
  throw DecodeError("a length of " + std::to_string(n) + offset_text(position()) + " exceeds the " +
                    std::to_string(remaining()) + " bytes left in the input");
}

void Reader::over_alloc(std::uint64_t bytes) const {
  throw DecodeError("decoding would allocate " + std::to_string(bytes) + " more bytes" + offset_text(position()) +
                    ", beyond the reader's allocation limit (ReaderLimits::max_alloc_bytes)");
}

void Reader::too_deep() const {
  throw DecodeError("values nested deeper than " + std::to_string(limits_.max_depth) + offset_text(position()) +
                    " (ReaderLimits::max_depth)");
}

void Reader::trailing() const {
  throw DecodeError(std::to_string(remaining()) + " unexpected bytes after the value" + offset_text(position()));
}

void Reader::mismatch(std::string_view expected) const {
  std::string got;
  if (pos_ == end_) {
    got = "the end of the input";
  } else {
    auto b = static_cast<std::uint8_t>(*pos_);
    if (b == 0 || b > static_cast<std::uint8_t>(Tag::future_ref)) invalid_tag(b);
    auto t = static_cast<Tag>(b);
    got = std::string(tag_name(t));
    // A few details, read from a copy so that this stays const; errors reading them are
    // ignored (the message is about the type).
    Reader peek(*this);
    peek.pos_++;
    try {
      switch (t) {
        case Tag::sint: got += " " + std::to_string(peek.svarint()); break;
        case Tag::uint: got += " " + std::to_string(peek.varint()); break;
        case Tag::list: got += " of " + std::to_string(peek.varint()) + " elements"; break;
        case Tag::map: got += " of " + std::to_string(peek.varint()) + " entries"; break;
        case Tag::tuple: got += " of " + std::to_string(peek.varint()) + " fields"; break;
        default: break;
      }
    } catch (const DecodeError&) {
    }
  }
  throw TypeMismatch("expected " + std::string(expected) + ", received " + got);
}

void Reader::out_of_range(std::string_view expected, std::int64_t v) {
  throw TypeMismatch("expected " + std::string(expected) + ", received integer " + std::to_string(v) +
                     " (out of range)");
}

void Reader::out_of_range(std::string_view expected, std::uint64_t v) {
  throw TypeMismatch("expected " + std::string(expected) + ", received integer " + std::to_string(v) +
                     " (out of range)");
}

void Reader::skip() {
  switch (tag()) {
    case Tag::false_:
    case Tag::true_:
    case Tag::none: return;
    case Tag::sint:
    case Tag::uint:
    case Tag::duration:
    case Tag::future_ref: varint(); return;
    case Tag::f32: take(4); return;
    case Tag::f64: take(8); return;
    case Tag::string:
    case Tag::bytes: take(count(1)); return;
    case Tag::list:
    case Tag::tuple: {
      auto guard = nest();
      for (std::size_t i = 0, n = count(1); i < n; ++i) skip();
      return;
    }
    case Tag::map: {
      auto guard = nest();
      for (std::size_t i = 0, n = count(2); i < n; ++i) skip(), skip();
      return;
    }
    case Tag::some: {
      auto guard = nest();
      skip();
      return;
    }
    case Tag::variant: {
      auto guard = nest();
      varint();
      skip();
      return;
    }
    case Tag::capnp: {
      varint();  // type id
      std::uint64_t len = varint();
      std::uint64_t pad = varint();
      if (pad > 7) malformed("a capnp message padded by more than 7 bytes");
      take(pad);
      take(len);
      return;
    }
  }
}

namespace {

void describe_into(Reader& r, std::string& out) {
  Tag t = r.tag();
  switch (t) {
    case Tag::sint:
    case Tag::uint:
    case Tag::duration:
    case Tag::future_ref: r.varint(); break;
    case Tag::f32: r.take(4); break;
    case Tag::f64: r.take(8); break;
    case Tag::string:
    case Tag::bytes: r.take(r.count(1)); break;
    default: break;
  }
  switch (t) {
    case Tag::list: {
      auto guard = r.nest();
      std::size_t n = r.count(1);
      out += "list<";
      if (n) describe_into(r, out);
      out += ">";
      for (std::size_t i = 1; i < n; ++i) r.skip();
      return;
    }
    case Tag::map: {
      auto guard = r.nest();
      std::size_t n = r.count(2);
      out += "map<";
      if (n) {
        describe_into(r, out);
        out += ",";
        describe_into(r, out);
      }
      out += ">";
      for (std::size_t i = 1; i < n; ++i) r.skip(), r.skip();
      return;
    }
    case Tag::tuple: {
      auto guard = r.nest();
      std::size_t n = r.count(1);
      out += "tuple<";
      for (std::size_t i = 0; i < n; ++i) {
        if (i) out += ",";
        describe_into(r, out);
      }
      out += ">";
      return;
    }
    case Tag::some: {
      auto guard = r.nest();
      out += "optional<";
      describe_into(r, out);
      out += ">";
      return;
    }
    case Tag::variant: {
      auto guard = r.nest();
      out += "variant#" + std::to_string(r.varint()) + "<";
      describe_into(r, out);
      out += ">";
      return;
    }
    case Tag::capnp: {
      r.varint();
      std::uint64_t len = r.varint();
      std::uint64_t pad = r.varint();
      r.take(pad);
      r.take(len);
      out += "capnp";
      return;
    }
    default: out += tag_name(t); return;
  }
}

}  // namespace

std::string describe_encoded(Reader r) {
  std::string out;
  try {
    describe_into(r, out);
  } catch (const Error&) {
    out += "?";
  }
  return out;
}

// ---- codec details ----

float Codec<float>::decode(Reader& r) {
  Tag t = r.peek();
  if (t == Tag::f32) return r.tag(), r.f32();
  if (t != Tag::f64) r.mismatch("float32");
  r.tag();
  double d = r.f64();
  if (std::isnan(d)) return std::numeric_limits<float>::quiet_NaN();
  if (std::isinf(d)) return static_cast<float>(d);
  if (std::fabs(d) <= static_cast<double>(std::numeric_limits<float>::max())) {
    auto f = static_cast<float>(d);
    if (static_cast<double>(f) == d) return f;
  }
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", d);
  throw TypeMismatch(std::string("expected float32, received float64 ") + text + " (not exactly representable)");
}

namespace detail {

void open_tuple(Reader& r, std::string_view expected, std::size_t n) {
  r.expect(Tag::tuple, expected);
  std::uint64_t got = r.varint();
  if (got != n)
    throw TypeMismatch("expected " + std::string(expected) + " (" + std::to_string(n) +
                       (n == 1 ? " field" : " fields") + "), received a tuple of " + std::to_string(got) +
                       (got == 1 ? " field" : " fields"));
}

void duration_mismatch(std::int64_t ns, std::string_view why) {
  throw TypeMismatch("expected a duration, received " + std::to_string(ns) + " ns: " + std::string(why));
}

}  // namespace detail

}  // namespace shoal::codec
