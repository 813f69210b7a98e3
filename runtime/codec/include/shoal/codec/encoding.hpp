#pragma once
/// \file
/// The codec's core: the Codec<T> customisation point, encode/decode and the helpers
/// the standard types' codecs share. Include shoal/codec/codec.hpp, which adds those.
///
/// shoal::codec: Python's pickling for C++ values that cross a process boundary.
///
///     shoal::Bytes b = shoal::codec::encode(std::map<std::string, double>{{"pi", 3.14}});
///     auto m = shoal::codec::decode<std::map<std::string, double>>(b);
///
/// Out of the box: arithmetic types, bool, enums, std::string, Bytes, std::vector, std::array,
/// std::map, std::unordered_map, std::set, std::unordered_set, std::optional, std::variant,
/// std::monostate, std::pair, std::tuple, std::chrono durations, FutureRef; user structs with
/// SHOAL_FIELDS (fields.hpp); Cap'n Proto structs with codec::Message<S> (capnp.hpp).
/// Another type T is made encodable by specialising Codec<T> with
///     static std::string name();                  // stable, e.g. "Color"
///     static void encode(Writer&, const T&);
///     static T decode(Reader&);                   // TypeMismatch/DecodeError, never garbage
///
/// The format is described in wire.hpp. Decoding checks each tag and range: a value of
/// another type is a TypeMismatch naming both ("expected int32, received string"), malformed
/// bytes a DecodeError.

#include <array>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <ratio>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "shoal/codec/bytes.hpp"
#include "shoal/codec/fields.hpp"
#include "shoal/codec/wire.hpp"
#include "shoal/core/error.hpp"

namespace shoal::codec {

/// How to encode and decode a T; specialised below for the standard types.
template <typename T>
struct Codec;

/// A reference to the `index`-th dependency of the task whose arguments hold it: a Future
/// passed as an argument becomes one (the coordinator substitutes the result).
struct FutureRef {
  std::uint32_t index = 0;
  friend bool operator==(const FutureRef&, const FutureRef&) = default;
};

/// Short names ("Point") or schemas, which spell out the fields of SHOAL_FIELDS structs
/// ("Point{x:int64,y:int64}") and are what signatures are made of.
enum class Naming { name, schema };

template <typename T>
concept Encodable = requires(Writer& w, const T& v) { Codec<T>::encode(w, v); };
template <typename T>
concept Decodable = requires(Reader& r) {
  { Codec<T>::decode(r) } -> std::convertible_to<T>;
};

namespace detail {

template <typename T>
std::string describe(Naming n) {
  using C = Codec<std::remove_cvref_t<T>>;
  if constexpr (requires { C::describe(n); })
    return C::describe(n);
  else
    return std::string(C::name());
}

template <typename... Ts>
std::string describe_all([[maybe_unused]] Naming n) {
  std::string out;
  ((out += (out.empty() ? "" : ","), out += describe<Ts>(n)), ...);
  return out;
}

}  // namespace detail

/// The stable, readable name of T: "int64", "string", "list<int64>",
/// "map<string,float64>", "tuple<int64,string>", "Point".
template <typename T>
const std::string& type_name() {
  static const std::string name = detail::describe<T>(Naming::name);
  return name;
}

/// T's schema: its name with SHOAL_FIELDS structs spelled out ("list<Point{x:int64,y:int64}>").
template <typename T>
const std::string& type_schema() {
  static const std::string schema = detail::describe<T>(Naming::schema);
  return schema;
}

/// Appends `v` to `w`.
template <typename T>
void encode(Writer& w, const T& v) {
  Codec<std::remove_cvref_t<T>>::encode(w, v);
}

/// `v` encoded into new Bytes.
template <typename T>
[[nodiscard]] Bytes encode(const T& v) {
  Writer w;
  encode(w, v);
  return w.finish();
}

/// The next value of `r`, as a T.
template <typename T>
[[nodiscard]] T decode(Reader& r) {
  return Codec<T>::decode(r);
}

/// The one value in `b`, as a T (decoded Bytes alias `b`). DecodeError on trailing bytes.
template <typename T>
[[nodiscard]] T decode(const Bytes& b, ReaderLimits limits = {}) {
  Reader r(b, limits);
  T v = Codec<T>::decode(r);
  r.expect_end();
  return v;
}

/// The one value in `data`, as a T; decoded Bytes alias `data` when an `owner` is given.
template <typename T>
[[nodiscard]] T decode(std::span<const std::byte> data, std::shared_ptr<const void> owner = {},
                       ReaderLimits limits = {}) {
  Reader r(data, std::move(owner), limits);
  T v = Codec<T>::decode(r);
  r.expect_end();
  return v;
}

namespace detail {

/// Decodes a T, prefixing a TypeMismatch with `where()` ("field 'x' of Point").
template <typename T, typename Where>
T decode_in(Reader& r, Where&& where) {
  try {
    return Codec<T>::decode(r);
  } catch (const TypeMismatch& e) {
    throw TypeMismatch(where() + ": " + e.what());
  }
}

template <typename T>
concept Integer = std::integral<T> && !std::same_as<T, bool>;

template <Integer T>
constexpr bool fits(std::int64_t v) noexcept {
  if constexpr (std::is_signed_v<T>)
    return v >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
           v <= static_cast<std::int64_t>(std::numeric_limits<T>::max());
  else
    return v >= 0 && static_cast<std::uint64_t>(v) <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
}

template <Integer T>
constexpr bool fits(std::uint64_t v) noexcept {
  return v <= static_cast<std::uint64_t>(std::numeric_limits<T>::max());
}

/// An integer of either signedness on the wire, range-checked into T (errors name `Named`).
template <Integer T, typename Named = T>
T read_integer(Reader& r) {
  Tag t = r.peek();
  if (t == Tag::sint) {
    r.tag();
    std::int64_t v = r.svarint();
    if (!fits<T>(v)) Reader::out_of_range(type_name<Named>(), v);
    return static_cast<T>(v);
  }
  if (t == Tag::uint) {
    r.tag();
    std::uint64_t v = r.varint();
    if (!fits<T>(v)) Reader::out_of_range(type_name<Named>(), v);
    return static_cast<T>(v);
  }
  r.mismatch(type_name<Named>());
}

/// Decodes `n` elements with `each(i)`, prefixing a TypeMismatch with "element i of ..."
/// (one exception region around the loop, so that the element decode inlines).
template <typename Each>
void decode_elements(std::size_t n, std::string_view container, Each&& each) {
  std::size_t i = 0;
  try {
    for (; i < n; ++i) each(i);
  } catch (const TypeMismatch& e) {
    throw TypeMismatch("element " + std::to_string(i) + " of " + std::string(container) + ": " + e.what());
  }
}

/// Reads a container's tag and element count (each element at least `min_bytes` on the
/// wire) and charges `each` bytes per element to the allocation limit.
inline std::size_t open(Reader& r, Tag t, std::string_view expected, std::size_t min_bytes, std::size_t each) {
  r.expect(t, expected);
  std::size_t n = r.count(min_bytes);
  if (each && n > std::numeric_limits<std::uint64_t>::max() / each) r.charge(std::numeric_limits<std::uint64_t>::max());
  r.charge(static_cast<std::uint64_t>(n) * each);
  return n;
}

template <typename C>
void encode_range(Writer& w, Tag t, const C& c) {
  w.tag(t);
  w.varint(c.size());
  for (const auto& e : c) encode(w, e);
}

template <typename C>
void encode_pairs(Writer& w, const C& c) {
  w.tag(Tag::map);
  w.varint(c.size());
  for (const auto& [k, v] : c) {
    encode(w, k);
    encode(w, v);
  }
}

template <typename Set>
Set decode_set(Reader& r) {
  using T = typename Set::value_type;
  const std::string& name = type_name<Set>();
  auto guard = r.nest();
  std::size_t n = open(r, Tag::list, name, 1, sizeof(T) + 2 * sizeof(void*));
  Set out;
  decode_elements(n, name, [&](std::size_t i) {
    if (!out.insert(Codec<T>::decode(r)).second) r.malformed("duplicate element " + std::to_string(i) + " in " + name);
  });
  return out;
}

template <typename Map>
Map decode_map(Reader& r) {
  using K = typename Map::key_type;
  using V = typename Map::mapped_type;
  const std::string& name = type_name<Map>();
  auto guard = r.nest();
  std::size_t n = open(r, Tag::map, name, 2, sizeof(K) + sizeof(V) + 2 * sizeof(void*));
  Map out;
  std::size_t i = 0;
  bool in_key = true;
  try {
    for (; i < n; ++i) {
      in_key = true;
      K k = Codec<K>::decode(r);
      in_key = false;
      V v = Codec<V>::decode(r);
      if (!out.emplace(std::move(k), std::move(v)).second)
        r.malformed("duplicate key " + std::to_string(i) + " in " + name);
    }
  } catch (const TypeMismatch& e) {
    throw TypeMismatch((in_key ? "key " : "value ") + std::to_string(i) + " of " + name + ": " + e.what());
  }
  return out;
}

/// Reads a tuple header and checks its field count against `n`.
void open_tuple(Reader& r, std::string_view expected, std::size_t n);

/// Nanoseconds of `d`; ValueError when it does not fit an int64 (or is not finite).
template <typename Rep, typename Period>
std::int64_t to_ns(std::chrono::duration<Rep, Period> d) {
  using R = std::ratio_divide<Period, std::nano>;  // ns per unit of d
  if constexpr (std::is_floating_point_v<Rep>) {
    long double ns = static_cast<long double>(d.count()) * R::num / R::den;
    if (!std::isfinite(ns) || ns >= 9.2233720368547758e18L || ns < -9.2233720368547758e18L)
      throw ValueError("a duration of " + std::to_string(static_cast<double>(ns)) + " ns cannot be encoded");
    return static_cast<std::int64_t>(std::llround(ns));
  } else {
    static_assert(std::is_integral_v<Rep>, "durations with integer or floating-point counts only");
    std::int64_t count = 0;
    if (!std::in_range<std::int64_t>(d.count()))
      throw ValueError("a duration of " + std::to_string(d.count()) + " units does not fit in int64 nanoseconds");
    count = static_cast<std::int64_t>(d.count());
    std::int64_t ns = 0;
    if (__builtin_mul_overflow(count, static_cast<std::int64_t>(R::num), &ns))
      throw ValueError("a duration of " + std::to_string(count) + " units does not fit in int64 nanoseconds");
    return ns / static_cast<std::int64_t>(R::den);
  }
}

[[noreturn]] void duration_mismatch(std::int64_t ns, std::string_view why);

template <typename D>
D from_ns(std::int64_t ns) {
  using Rep = typename D::rep;
  using Q = std::ratio_divide<std::nano, typename D::period>;  // units of D per ns
  if constexpr (std::is_floating_point_v<Rep>) {
    return D(static_cast<Rep>(static_cast<long double>(ns) * Q::num / Q::den));
  } else {
    std::int64_t count = 0;
    if (ns % static_cast<std::int64_t>(Q::den) != 0)
      duration_mismatch(ns, "not a whole number of the receiver's units (" + std::to_string(Q::den) + " ns)");
    if (__builtin_mul_overflow(ns / static_cast<std::int64_t>(Q::den), static_cast<std::int64_t>(Q::num), &count) ||
        !std::in_range<Rep>(count))
      duration_mismatch(ns, "out of the receiver's range");
    return D(static_cast<Rep>(count));
  }
}

}  // namespace detail

}  // namespace shoal::codec
