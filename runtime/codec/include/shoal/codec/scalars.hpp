#pragma once
/// \file
/// Codecs of the scalar types: bool, integers, enums, floats, monostate, strings, Bytes,
/// FutureRef, durations. Part of shoal/codec/codec.hpp.

#include "shoal/codec/encoding.hpp"

namespace shoal::codec {

template <>
struct Codec<bool> {
  static std::string describe(Naming) { return "bool"; }
  static void encode(Writer& w, bool v) { w.tag(v ? Tag::true_ : Tag::false_); }
  static bool decode(Reader& r) {
    Tag t = r.peek();
    if (t != Tag::true_ && t != Tag::false_) r.mismatch("bool");
    r.tag();
    return t == Tag::true_;
  }
};

template <detail::Integer T>
struct Codec<T> {
  static std::string describe(Naming) {
    return (std::is_signed_v<T> ? "int" : "uint") + std::to_string(sizeof(T) * 8);
  }
  static void encode(Writer& w, T v) {
    if constexpr (std::is_signed_v<T>) {
      w.tag(Tag::sint);
      w.svarint(v);
    } else {
      w.tag(Tag::uint);
      w.varint(v);
    }
  }
  static T decode(Reader& r) { return detail::read_integer<T>(r); }
};

/// Enums travel as their underlying integer; their name is "enum<int32>" (the codec cannot
/// see enumerator names: specialise Codec for a better one).
template <typename T>
  requires std::is_enum_v<T>
struct Codec<T> {
  using U = std::underlying_type_t<T>;
  static std::string describe(Naming n) { return "enum<" + detail::describe<U>(n) + ">"; }
  static void encode(Writer& w, T v) { Codec<U>::encode(w, static_cast<U>(v)); }
  static T decode(Reader& r) { return static_cast<T>(detail::read_integer<U, T>(r)); }
};

template <>
struct Codec<double> {
  static std::string describe(Naming) { return "float64"; }
  static void encode(Writer& w, double v) {
    w.tag(Tag::f64);
    w.f64(v);
  }
  static double decode(Reader& r) {
    Tag t = r.peek();
    if (t == Tag::f64) return r.tag(), r.f64();
    if (t == Tag::f32) return r.tag(), static_cast<double>(r.f32());
    r.mismatch("float64");
  }
};

template <>
struct Codec<float> {
  static std::string describe(Naming) { return "float32"; }
  static void encode(Writer& w, float v) {
    w.tag(Tag::f32);
    w.f32(v);
  }
  /// Accepts a float64 that a float32 holds exactly (or a NaN); TypeMismatch otherwise.
  static float decode(Reader& r);
};

template <>
struct Codec<std::monostate> {
  static std::string describe(Naming) { return "none"; }
  static void encode(Writer& w, std::monostate) { w.tag(Tag::none); }
  static std::monostate decode(Reader& r) {
    r.expect(Tag::none, "none");
    return {};
  }
};

template <>
struct Codec<std::string> {
  static std::string describe(Naming) { return "string"; }
  static void encode(Writer& w, const std::string& v) {
    w.tag(Tag::string);
    w.varint(v.size());
    w.raw(v.data(), v.size());
  }
  static std::string decode(Reader& r) {
    std::size_t n = detail::open(r, Tag::string, "string", 1, 1);
    auto s = r.take(n);
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
  }
};

/// Encode only (decode into std::string).
template <>
struct Codec<std::string_view> {
  static std::string describe(Naming) { return "string"; }
  static void encode(Writer& w, std::string_view v) {
    w.tag(Tag::string);
    w.varint(v.size());
    w.raw(v.data(), v.size());
  }
};

/// Bytes are copied once into the encoding and never on decode when the Reader has an
/// owner: the decoded Bytes alias the input.
template <>
struct Codec<Bytes> {
  static std::string describe(Naming) { return "bytes"; }
  static void encode(Writer& w, const Bytes& v) {
    w.tag(Tag::bytes);
    w.varint(v.size());
    w.raw(v.data(), v.size());
  }
  static Bytes decode(Reader& r) {
    r.expect(Tag::bytes, "bytes");
    std::size_t n = r.count(1);
    auto s = r.take(n);
    if (r.owner()) return Bytes::alias(r.owner(), s.data(), s.size());
    r.charge(n);
    return Bytes::copy(s);
  }
};

template <>
struct Codec<FutureRef> {
  static std::string describe(Naming) { return "future_ref"; }
  static void encode(Writer& w, FutureRef v) {
    w.tag(Tag::future_ref);
    w.varint(v.index);
  }
  static FutureRef decode(Reader& r) {
    r.expect(Tag::future_ref, "future_ref");
    std::uint64_t i = r.varint();
    if (i > std::numeric_limits<std::uint32_t>::max()) r.malformed("a future_ref index beyond uint32");
    return FutureRef{static_cast<std::uint32_t>(i)};
  }
};

/// Any duration, as int64 nanoseconds. Decoding into a coarser unit requires a whole
/// number of that unit (1500 ms into seconds is a TypeMismatch, never a silent 1 s).
template <typename Rep, typename Period>
struct Codec<std::chrono::duration<Rep, Period>> {
  using D = std::chrono::duration<Rep, Period>;
  static std::string describe(Naming) { return "duration"; }
  static void encode(Writer& w, D v) {
    std::int64_t ns = detail::to_ns(v);
    w.tag(Tag::duration);
    w.svarint(ns);
  }
  static D decode(Reader& r) {
    r.expect(Tag::duration, "duration");
    return detail::from_ns<D>(r.svarint());
  }
};

}  // namespace shoal::codec
