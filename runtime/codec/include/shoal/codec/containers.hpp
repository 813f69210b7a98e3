#pragma once
/// \file
/// Codecs of the standard containers and compounds: vector, array, set, map, optional,
/// variant, pair, tuple, and SHOAL_FIELDS structs. Part of shoal/codec/codec.hpp.

#include "shoal/codec/scalars.hpp"

namespace shoal::codec {

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
