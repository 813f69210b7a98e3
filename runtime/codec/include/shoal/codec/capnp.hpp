#pragma once
/// \file
/// Cap'n Proto structs as codec values, as they are (no conversion): Message<S> owns one
/// flat Cap'n Proto message whose root is an S.
///
///     auto m = codec::Message<Point>::build([](Point::Builder p) { p.setX(1); });
///     Bytes b = codec::encode(m);                         // also encode(reader) works
///     auto back = codec::decode<codec::Message<Point>>(b);
///     int x = back.get().getX();
///
/// On the wire: the capnp tag, S's 64-bit type id, the length, and the flat message padded
/// to an 8-byte boundary. Decoding from a Reader with an owner whose bytes are 8-byte
/// aligned aliases them (no copy); otherwise the message is copied into aligned memory.
/// A message of another struct type is a TypeMismatch; a malformed one a DecodeError
/// (its segment table and root pointer are checked at decode; deeper pointers are checked
/// by Cap'n Proto when read, which throws kj::Exception: see proto::guarded()).

#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "shoal/codec/codec.hpp"

namespace shoal::codec {

namespace detail {
/// The short name of a Cap'n Proto struct type ("Hello").
template <typename S>
std::string capnp_name() {
  return std::string(capnp::Schema::from<S>().getShortDisplayName().cStr());
}
/// Appends a flat message (whole words) under the capnp tag.
void write_capnp(Writer& w, std::uint64_t type_id, std::span<const std::byte> flat);
/// Reads a capnp value of type `type_id` and returns its flat words: aliased when the
/// Reader has an owner and they are aligned, else copied into aligned memory.
Bytes read_capnp(Reader& r, std::uint64_t type_id, std::string_view expected);
/// Flat words of `message`, in an 8-byte-aligned Bytes (owns the kj array, no copy).
Bytes flatten(capnp::MessageBuilder& message);
/// The options every Message reader uses: traversal limit max(8 Mi words, 8 x the size).
capnp::ReaderOptions reader_options(std::size_t words);
/// `flat` itself when it is whole words at an 8-byte-aligned address, else an aligned copy.
/// DecodeError when its size is not a multiple of 8.
Bytes aligned_words(Bytes flat);
}  // namespace detail

/// An owned Cap'n Proto message with an S root. Copies share the message and its reader,
/// and a Cap'n Proto reader counts what it reads (its traversal limit) without locking:
/// read one Message (and its copies) from one thread at a time, as any Cap'n Proto reader.
/// Message::from_flat(m.flat()) gives another thread its own reader without copying.
template <typename S>
class Message {
 public:
  /// A message holding a default (all-zero) S.
  Message() {
    capnp::MallocMessageBuilder builder(16);
    builder.initRoot<S>();
    adopt(detail::flatten(builder));
  }
  /// A copy of the struct `root` points to.
  explicit Message(typename S::Reader root) {
    auto words = root.totalSize().wordCount + 8;
    capnp::MallocMessageBuilder builder(static_cast<unsigned>(std::min<std::uint64_t>(words, 1u << 20)));
    builder.setRoot(root);
    adopt(detail::flatten(builder));
  }
  /// The message built by `builder` (whose root must be an S), flattened.
  static Message from_builder(capnp::MessageBuilder& builder) {
    Message m(nullptr);
    m.adopt(detail::flatten(builder));
    return m;
  }
  /// A message whose root `fill(S::Builder)` sets.
  template <typename F>
  static Message build(F&& fill) {
    capnp::MallocMessageBuilder builder;
    std::forward<F>(fill)(builder.initRoot<S>());
    return from_builder(builder);
  }
  /// A message over `flat` (Cap'n Proto's flat-array format, 8-byte aligned), no copy.
  /// DecodeError when its segment table or root pointer is malformed.
  static Message from_flat(Bytes flat) {
    Message m(nullptr);
    m.adopt(std::move(flat));
    return m;
  }

  /// The root. Valid while this Message (or a copy) lives.
  [[nodiscard]] typename S::Reader get() const { return state_->reader.template getRoot<S>(); }
  /// The flat message (segment table and segments).
  [[nodiscard]] const Bytes& flat() const noexcept { return state_->flat; }

 private:
  explicit Message(std::nullptr_t) {}
  struct State {
    explicit State(Bytes b)
        : flat(std::move(b)),
          reader(kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(flat.data()), flat.size() / 8),
                 detail::reader_options(flat.size() / 8)) {}
    Bytes flat;
    mutable capnp::FlatArrayMessageReader reader;
  };
  void adopt(Bytes flat) {
    flat = detail::aligned_words(std::move(flat));
    try {
      state_ = std::make_shared<const State>(std::move(flat));
      (void)get();  // checks the root pointer now rather than at first use
    } catch (const kj::Exception& e) {
      throw DecodeError("a malformed Cap'n Proto message: " + std::string(e.getDescription().cStr()));
    }
  }
  std::shared_ptr<const State> state_;
};

template <typename S>
struct Codec<Message<S>> {
  static std::string describe(Naming) { return "capnp<" + detail::capnp_name<S>() + ">"; }
  static void encode(Writer& w, const Message<S>& m) { detail::write_capnp(w, capnp::typeId<S>(), m.flat().span()); }
  static Message<S> decode(Reader& r) {
    return Message<S>::from_flat(detail::read_capnp(r, capnp::typeId<S>(), type_name<Message<S>>()));
  }
};

/// A Cap'n Proto Reader encodes as a Message of its struct (decode into Message<S>).
template <typename T>
  requires requires { typename T::Reads; } && (capnp::kind<typename T::Reads>() == capnp::Kind::STRUCT)
struct Codec<T> {
  using S = typename T::Reads;
  static std::string describe(Naming n) { return Codec<Message<S>>::describe(n); }
  static void encode(Writer& w, const T& v) { Codec<Message<S>>::encode(w, Message<S>(v)); }
};

}  // namespace shoal::codec
