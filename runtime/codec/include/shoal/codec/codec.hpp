#pragma once
/// \file
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

// ---- scalars ----

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

// ---- containers ----

template <typename T, typename A>
struct Codec<std::vector<T, A>> {
  using V = std::vector<T, A>;
  static std::string describe(Naming n) { return "list<" + detail::describe<T>(n) + ">"; }
  static void encode(Writer& w, const V& v) { detail::encode_range(w, Tag::list, v); }
  static V decode(Reader& r) {
    auto guard = r.nest();
    std::size_t n = detail::open(r, Tag::list, type_name<V>(), 1, sizeof(T));
    V out;
    out.reserve(n);
    detail::decode_elements(n, type_name<V>(), [&](std::size_t) { out.push_back(Codec<T>::decode(r)); });
    return out;
  }
};

template <typename T, std::size_t N>
struct Codec<std::array<T, N>> {
  using V = std::array<T, N>;
  static std::string describe(Naming n) { return "array<" + detail::describe<T>(n) + "," + std::to_string(N) + ">"; }
  static void encode(Writer& w, const V& v) { detail::encode_range(w, Tag::list, v); }
  static V decode(Reader& r) {
    auto guard = r.nest();
    r.expect(Tag::list, type_name<V>());
    std::size_t n = r.count(1);
    if (n != N)
      throw TypeMismatch("expected " + type_name<V>() + ", received a list of " + std::to_string(n) + " elements");
    V out{};
    detail::decode_elements(N, type_name<V>(), [&](std::size_t i) { out[i] = Codec<T>::decode(r); });
    return out;
  }
};

template <typename T, typename C, typename A>
struct Codec<std::set<T, C, A>> {
  static std::string describe(Naming n) { return "set<" + detail::describe<T>(n) + ">"; }
  static void encode(Writer& w, const std::set<T, C, A>& v) { detail::encode_range(w, Tag::list, v); }
  static std::set<T, C, A> decode(Reader& r) { return detail::decode_set<std::set<T, C, A>>(r); }
};

template <typename T, typename H, typename E, typename A>
struct Codec<std::unordered_set<T, H, E, A>> {
  static std::string describe(Naming n) { return "set<" + detail::describe<T>(n) + ">"; }
  static void encode(Writer& w, const std::unordered_set<T, H, E, A>& v) { detail::encode_range(w, Tag::list, v); }
  static std::unordered_set<T, H, E, A> decode(Reader& r) {
    return detail::decode_set<std::unordered_set<T, H, E, A>>(r);
  }
};

template <typename K, typename V, typename C, typename A>
struct Codec<std::map<K, V, C, A>> {
  static std::string describe(Naming n) { return "map<" + detail::describe_all<K, V>(n) + ">"; }
  static void encode(Writer& w, const std::map<K, V, C, A>& v) { detail::encode_pairs(w, v); }
  static std::map<K, V, C, A> decode(Reader& r) { return detail::decode_map<std::map<K, V, C, A>>(r); }
};

template <typename K, typename V, typename H, typename E, typename A>
struct Codec<std::unordered_map<K, V, H, E, A>> {
  using M = std::unordered_map<K, V, H, E, A>;
  static std::string describe(Naming n) { return "map<" + detail::describe_all<K, V>(n) + ">"; }
  static void encode(Writer& w, const M& v) { detail::encode_pairs(w, v); }
  static M decode(Reader& r) { return detail::decode_map<M>(r); }
};

template <typename T>
struct Codec<std::optional<T>> {
  static std::string describe(Naming n) { return "optional<" + detail::describe<T>(n) + ">"; }
  static void encode(Writer& w, const std::optional<T>& v) {
    if (!v) return w.tag(Tag::none);
    w.tag(Tag::some);
    codec::encode(w, *v);
  }
  static std::optional<T> decode(Reader& r) {
    Tag t = r.peek();
    if (t == Tag::none) return r.tag(), std::nullopt;
    if (t != Tag::some) r.mismatch(type_name<std::optional<T>>());
    r.tag();
    auto guard = r.nest();
    return detail::decode_in<T>(r, [] { return "the value of " + type_name<std::optional<T>>(); });
  }
};

template <typename... Ts>
struct Codec<std::variant<Ts...>> {
  using V = std::variant<Ts...>;
  static std::string describe(Naming n) { return "variant<" + detail::describe_all<Ts...>(n) + ">"; }
  static void encode(Writer& w, const V& v) {
    if (v.valueless_by_exception()) throw ValueError("cannot encode a variant that is valueless by exception");
    w.tag(Tag::variant);
    w.varint(v.index());
    std::visit([&](const auto& x) { codec::encode(w, x); }, v);
  }
  static V decode(Reader& r) {
    r.expect(Tag::variant, type_name<V>());
    auto guard = r.nest();
    std::uint64_t i = r.varint();
    if (i >= sizeof...(Ts))
      throw TypeMismatch("expected " + type_name<V>() + ", received a variant with alternative " + std::to_string(i));
    return alternative(r, static_cast<std::size_t>(i), std::index_sequence_for<Ts...>{});
  }

 private:
  template <std::size_t... I>
  static V alternative(Reader& r, std::size_t i, std::index_sequence<I...>) {
    using Fn = V (*)(Reader&);
    static constexpr Fn table[] = {+[](Reader& rr) -> V {
      return V(std::in_place_index<I>, detail::decode_in<std::variant_alternative_t<I, V>>(rr, [] {
                 return "alternative " + std::to_string(I) + " of " + type_name<V>();
               }));
    }...};
    return table[i](r);
  }
};

template <typename... Ts>
struct Codec<std::tuple<Ts...>> {
  using V = std::tuple<Ts...>;
  static std::string describe(Naming n) { return "tuple<" + detail::describe_all<Ts...>(n) + ">"; }
  static void encode(Writer& w, const V& v) {
    w.tag(Tag::tuple);
    w.varint(sizeof...(Ts));
    std::apply([&](const auto&... x) { (codec::encode(w, x), ...); }, v);
  }
  static V decode(Reader& r) {
    auto guard = r.nest();
    detail::open_tuple(r, type_name<V>(), sizeof...(Ts));
    return fields(r, std::index_sequence_for<Ts...>{});
  }

 private:
  template <std::size_t... I>
  static V fields(Reader& r, std::index_sequence<I...>) {
    // Braced initialisation evaluates left to right: fields are read in order.
    std::size_t at = 0;
    [[maybe_unused]] auto field = [&]<std::size_t J, typename X>() -> X {
      at = J;
      return Codec<X>::decode(r);
    };
    try {
      return V{field.template operator()<I, Ts>()...};
    } catch (const TypeMismatch& e) {
      throw TypeMismatch("element " + std::to_string(at) + " of " + type_name<V>() + ": " + e.what());
    }
  }
};

/// A pair is a 2-tuple on the wire and by name ("tuple<string,int64>").
template <typename A, typename B>
struct Codec<std::pair<A, B>> {
  using V = std::pair<A, B>;
  static std::string describe(Naming n) { return "tuple<" + detail::describe_all<A, B>(n) + ">"; }
  static void encode(Writer& w, const V& v) {
    w.tag(Tag::tuple);
    w.varint(2);
    codec::encode(w, v.first);
    codec::encode(w, v.second);
  }
  static V decode(Reader& r) {
    auto guard = r.nest();
    detail::open_tuple(r, type_name<V>(), 2);
    return V{detail::decode_in<A>(r, [] { return "element 0 of " + type_name<V>(); }),
             detail::decode_in<B>(r, [] { return "element 1 of " + type_name<V>(); })};
  }
};

// ---- SHOAL_FIELDS structs ----

template <HasFields T>
struct Codec<T> {
  static constexpr std::size_t field_count = shoal_fields_count(detail::fields_tag<T>{});

  static std::string describe(Naming n) {
    std::string name = shoal_fields_name(detail::fields_tag<T>{});
    // A struct that contains itself (through a vector, say) is named, not expanded again.
    thread_local bool expanding = false;
    if (n == Naming::name || expanding) return name;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{expanding};
    expanding = true;
    std::string out = name + "{";
    bool first = true;
    shoal_fields_visit(detail::fields_tag<T>{}, [&](const char* field, auto member) {
      using M = std::remove_cvref_t<decltype(std::declval<T&>().*member)>;
      out += first ? "" : ",";
      out += field;
      out += ":" + detail::describe<M>(n);
      first = false;
    });
    return out + "}";
  }
  static void encode(Writer& w, const T& v) {
    w.tag(Tag::tuple);
    w.varint(field_count);
    shoal_fields_visit(detail::fields_tag<T>{}, [&](const char*, auto member) { codec::encode(w, v.*member); });
  }
  static T decode(Reader& r) {
    auto guard = r.nest();
    detail::open_tuple(r, type_name<T>(), field_count);
    T v{};
    const char* at = "";
    try {
      shoal_fields_visit(detail::fields_tag<T>{}, [&](const char* field, auto member) {
        using M = std::remove_cvref_t<decltype(v.*member)>;
        at = field;
        v.*member = Codec<M>::decode(r);
      });
    } catch (const TypeMismatch& e) {
      throw TypeMismatch("field '" + std::string(at) + "' of " + type_name<T>() + ": " + e.what());
    }
    return v;
  }
};

}  // namespace shoal::codec
