#include "shoal/codec/capnp.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace shoal::codec::detail {

void write_capnp(Writer& w, std::uint64_t type_id, std::span<const std::byte> flat) {
  w.tag(Tag::capnp);
  w.varint(type_id);
  w.varint(flat.size());
  // Pads so that the words start 8-byte aligned relative to the writer's start (and so in
  // memory once the encoding sits at an aligned address, as a Cap'n Proto Data field does).
  std::size_t after_pad_byte = w.size() + 1;
  std::size_t pad = (8 - after_pad_byte % 8) % 8;
  w.varint(pad);
  static constexpr std::byte zeros[8] = {};
  w.raw(zeros, pad);
  w.raw(flat.data(), flat.size());
}

Bytes read_capnp(Reader& r, std::uint64_t type_id, std::string_view expected) {
  r.expect(Tag::capnp, expected);
  std::uint64_t id = r.varint();
  if (id != type_id) {
    char text[32];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(id));
    throw TypeMismatch("expected " + std::string(expected) + ", received a Cap'n Proto message of type id 0x" + text);
  }
  std::uint64_t len = r.varint();
  std::uint64_t pad = r.varint();
  if (pad > 7) r.malformed("a capnp message padded by more than 7 bytes");
  r.take(pad);
  if (len % 8 != 0) r.malformed("a capnp message of " + std::to_string(len) + " bytes (not whole words)");
  auto words = r.take(len);
  if (r.owner() && reinterpret_cast<std::uintptr_t>(words.data()) % 8 == 0)
    return Bytes::alias(r.owner(), words.data(), words.size());
  r.charge(len);
  return Bytes::copy(words);  // Bytes::copy allocates 8-byte-aligned memory
}

Bytes flatten(capnp::MessageBuilder& message) {
  auto owner = std::make_shared<kj::Array<capnp::word>>(capnp::messageToFlatArray(message));
  auto bytes = owner->asBytes();
  return Bytes::alias(owner, bytes.begin(), bytes.size());
}

capnp::ReaderOptions reader_options(std::size_t words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = std::max<std::uint64_t>(8u << 20, 8 * static_cast<std::uint64_t>(words));
  options.nestingLimit = 64;
  return options;
}

Bytes aligned_words(Bytes flat) {
  if (flat.size() % 8 != 0)
    throw DecodeError("a Cap'n Proto message of " + std::to_string(flat.size()) + " bytes (not whole words)");
  if (reinterpret_cast<std::uintptr_t>(flat.data()) % 8 == 0) return flat;
  return Bytes::copy(flat.span());
}

}  // namespace shoal::codec::detail
