// Property tests over random values (fixed seeds, so a failure reproduces): every value
// round-trips; every truncation of a valid encoding and every random or mutated input
// ends in a typed error or a value, never in anything else (ASan/UBSan watch for UB).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <random>

#include <shoal/codec/codec.hpp>

namespace codec = shoal::codec;
using shoal::Bytes;

namespace {

using Rng = std::mt19937_64;

template <typename T>
struct Gen;

template <typename T>
T gen(Rng& rng) {
  return Gen<T>::make(rng);
}

std::size_t small_size(Rng& rng, std::size_t max = 6) { return std::uniform_int_distribution<std::size_t>(0, max)(rng); }

template <typename T>
  requires std::is_integral_v<T> && (!std::is_same_v<T, bool>)
struct Gen<T> {
  static T make(Rng& rng) {
    // Mostly edge values and small numbers, sometimes anything.
    switch (rng() % 4) {
      case 0: return std::numeric_limits<T>::min();
      case 1: return std::numeric_limits<T>::max();
      case 2: return static_cast<T>(static_cast<std::int64_t>(rng() % 256) - 128);
      default: return static_cast<T>(rng());
    }
  }
};
template <>
struct Gen<bool> {
  static bool make(Rng& rng) { return rng() & 1; }
};
template <>
struct Gen<double> {
  static double make(Rng& rng) {
    double d = std::bit_cast<double>(rng());
    return std::isnan(d) ? 0.5 : d;
  }
};
template <>
struct Gen<float> {
  static float make(Rng& rng) {
    float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    return std::isnan(f) ? 0.25f : f;
  }
};
template <>
struct Gen<std::string> {
  static std::string make(Rng& rng) {
    std::string s(small_size(rng, 20), ' ');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }
};
template <>
struct Gen<Bytes> {
  static Bytes make(Rng& rng) { return Bytes(gen<std::string>(rng)); }
};
template <>
struct Gen<std::chrono::nanoseconds> {
  static std::chrono::nanoseconds make(Rng& rng) { return std::chrono::nanoseconds(gen<std::int64_t>(rng)); }
};
template <>
struct Gen<std::monostate> {
  static std::monostate make(Rng&) { return {}; }
};
template <typename T>
struct Gen<std::vector<T>> {
  static std::vector<T> make(Rng& rng) {
    std::vector<T> v;
    for (std::size_t i = 0, n = small_size(rng); i < n; ++i) v.push_back(gen<T>(rng));
    return v;
  }
};
template <typename T>
struct Gen<std::set<T>> {
  static std::set<T> make(Rng& rng) {
    std::set<T> v;
    for (std::size_t i = 0, n = small_size(rng); i < n; ++i) v.insert(gen<T>(rng));
    return v;
  }
};
template <typename K, typename V>
struct Gen<std::map<K, V>> {
  static std::map<K, V> make(Rng& rng) {
    std::map<K, V> m;
    for (std::size_t i = 0, n = small_size(rng); i < n; ++i) m.emplace(gen<K>(rng), gen<V>(rng));
    return m;
  }
};
template <typename T>
struct Gen<std::optional<T>> {
  static std::optional<T> make(Rng& rng) {
    if (rng() % 3 == 0) return std::nullopt;
    return gen<T>(rng);
  }
};
template <typename... Ts>
struct Gen<std::variant<Ts...>> {
  template <std::size_t... I>
  static std::variant<Ts...> pick(Rng& rng, std::size_t i, std::index_sequence<I...>) {
    std::variant<Ts...> out;
    ((i == I ? (out.template emplace<I>(gen<Ts>(rng)), 0) : 0), ...);
    return out;
  }
  static std::variant<Ts...> make(Rng& rng) { return pick(rng, rng() % sizeof...(Ts), std::index_sequence_for<Ts...>{}); }
};
template <typename... Ts>
struct Gen<std::tuple<Ts...>> {
  static std::tuple<Ts...> make(Rng& rng) { return std::tuple<Ts...>{gen<Ts>(rng)...}; }
};

using Value = std::tuple<std::int64_t, std::uint32_t, std::int8_t, bool, double, float, std::string,
                         std::vector<std::int16_t>, std::map<std::string, std::optional<float>>,
                         std::variant<std::monostate, bool, std::string, std::vector<double>>, Bytes,
                         std::chrono::nanoseconds, std::set<std::uint8_t>,
                         std::vector<std::tuple<std::string, std::optional<std::vector<std::uint64_t>>>>>;

/// Decodes `b` as T: returns true on success, false on a typed error; fails on anything else.
template <typename T>
bool decodes_or_typed_error(const Bytes& b) {
  try {
    (void)codec::decode<T>(b);
    return true;
  } catch (const shoal::DecodeError&) {
    return false;
  } catch (const shoal::TypeMismatch&) {
    return false;
  } catch (const std::exception& e) {
    FAIL("unexpected exception: " << e.what());
    return false;
  }
}

void decode_as_everything(const Bytes& b) {
  decodes_or_typed_error<Value>(b);
  decodes_or_typed_error<std::int8_t>(b);
  decodes_or_typed_error<std::uint64_t>(b);
  decodes_or_typed_error<float>(b);
  decodes_or_typed_error<std::string>(b);
  decodes_or_typed_error<Bytes>(b);
  decodes_or_typed_error<std::chrono::seconds>(b);
  decodes_or_typed_error<std::vector<std::map<std::string, std::set<int>>>>(b);
  decodes_or_typed_error<std::variant<int, std::string, std::optional<double>>>(b);
  decodes_or_typed_error<codec::FutureRef>(b);
  codec::Reader r(b);
  try {
    r.skip();
  } catch (const shoal::DecodeError&) {
  }
  (void)codec::describe_encoded(codec::Reader(b));
}

}  // namespace

TEST_CASE("random values of a rich type round-trip exactly", "[codec][property]") {
  Rng rng(0x5eed);
  for (int i = 0; i < 2000; ++i) {
    Value v = gen<Value>(rng);
    Bytes b = codec::encode(v);
    INFO("iteration " << i);
    Value back = codec::decode<Value>(b);
    CHECK(back == v);
    // Encoding is deterministic: the same value gives the same bytes.
    CHECK(codec::encode(back) == b);
  }
}

TEST_CASE("random integers decode into a narrower type exactly when they fit", "[codec][property]") {
  Rng rng(42);
  for (int i = 0; i < 5000; ++i) {
    auto v = gen<std::int64_t>(rng) >> (rng() % 64);
    Bytes b = codec::encode(v);
    bool fits8 = v >= -128 && v <= 127;
    bool fits_u16 = v >= 0 && v <= 65535;
    CHECK(decodes_or_typed_error<std::int8_t>(b) == fits8);
    CHECK(decodes_or_typed_error<std::uint16_t>(b) == fits_u16);
    if (fits8) CHECK(codec::decode<std::int8_t>(b) == v);
    CHECK(codec::decode<std::int64_t>(b) == v);
  }
}

TEST_CASE("every truncation of a valid encoding is a DecodeError", "[codec][property][hostile]") {
  Rng rng(7);
  for (int i = 0; i < 150; ++i) {
    Bytes b = codec::encode(gen<Value>(rng));
    for (std::size_t n = 0; n < b.size(); ++n) {
      INFO("iteration " << i << ", prefix of " << n << " bytes of " << b.size());
      CHECK_THROWS_AS(codec::decode<Value>(b.slice(0, n)), shoal::DecodeError);
    }
  }
}

TEST_CASE("random bytes decode to a value or a typed error, never to anything else", "[codec][property][hostile]") {
  Rng rng(99);
  for (int i = 0; i < 20000; ++i) {
    std::string s(small_size(rng, 48), '\0');
    for (char& c : s) c = static_cast<char>(rng() % 3 == 0 ? rng() % 0x12 : rng());
    decode_as_everything(Bytes(std::move(s)));
  }
}

TEST_CASE("valid encodings with random bytes changed decode to a value or a typed error",
          "[codec][property][hostile]") {
  Rng rng(1234);
  for (int i = 0; i < 3000; ++i) {
    Bytes b = codec::encode(gen<Value>(rng));
    std::string s = b.to_string();
    for (std::size_t k = 0, n = 1 + rng() % 4; k < n; ++k) s[rng() % s.size()] = static_cast<char>(rng());
    decode_as_everything(Bytes(std::move(s)));
  }
}
