#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>

#include <shoal/codec/codec.hpp>

namespace codec = shoal::codec;
using shoal::Bytes;
using namespace std::chrono_literals;

namespace {

template <typename T>
T roundtrip(const T& v) {
  Bytes b = codec::encode(v);
  return codec::decode<T>(b);
}

enum class Color : std::int16_t { red = -1, green = 2, blue = 300 };
enum Plain : unsigned { plain_a = 0, plain_b = 4000000000u };

std::vector<std::uint8_t> bytes_of(const Bytes& b) {
  std::vector<std::uint8_t> out;
  for (std::byte x : b) out.push_back(std::to_integer<std::uint8_t>(x));
  return out;
}

}  // namespace

TEST_CASE("integers of every width round-trip at their limits", "[codec][roundtrip]") {
  CHECK(roundtrip<std::int8_t>(-128) == -128);
  CHECK(roundtrip<std::int8_t>(127) == 127);
  CHECK(roundtrip<std::uint8_t>(255) == 255);
  CHECK(roundtrip<std::int16_t>(-32768) == -32768);
  CHECK(roundtrip<std::uint16_t>(65535) == 65535);
  CHECK(roundtrip(std::numeric_limits<std::int32_t>::min()) == std::numeric_limits<std::int32_t>::min());
  CHECK(roundtrip(std::numeric_limits<std::uint32_t>::max()) == std::numeric_limits<std::uint32_t>::max());
  CHECK(roundtrip(std::numeric_limits<std::int64_t>::min()) == std::numeric_limits<std::int64_t>::min());
  CHECK(roundtrip(std::numeric_limits<std::int64_t>::max()) == std::numeric_limits<std::int64_t>::max());
  CHECK(roundtrip(std::numeric_limits<std::uint64_t>::max()) == std::numeric_limits<std::uint64_t>::max());
  CHECK(roundtrip(0) == 0);
  CHECK(roundtrip('x') == 'x');
}

TEST_CASE("small integers take two bytes: a tag and a zigzag varint", "[codec][roundtrip][wire]") {
  CHECK(bytes_of(codec::encode(std::int64_t{0})) == std::vector<std::uint8_t>{0x03, 0x00});
  CHECK(bytes_of(codec::encode(std::int64_t{-1})) == std::vector<std::uint8_t>{0x03, 0x01});
  CHECK(bytes_of(codec::encode(std::int64_t{1})) == std::vector<std::uint8_t>{0x03, 0x02});
  CHECK(bytes_of(codec::encode(std::uint32_t{300})) == std::vector<std::uint8_t>{0x04, 0xac, 0x02});
  CHECK(codec::encode(std::numeric_limits<std::uint64_t>::max()).size() == 11);
  CHECK(bytes_of(codec::encode(true)) == std::vector<std::uint8_t>{0x02});
  CHECK(bytes_of(codec::encode(std::string("hi"))) == std::vector<std::uint8_t>{0x07, 0x02, 'h', 'i'});
}

TEST_CASE("an integer decodes into any type whose range holds it, whatever its signedness", "[codec][roundtrip]") {
  CHECK(codec::decode<std::uint8_t>(codec::encode(std::int64_t{200})) == 200);
  CHECK(codec::decode<std::int64_t>(codec::encode(std::uint64_t{5})) == 5);
  CHECK(codec::decode<std::int8_t>(codec::encode(-5)) == -5);
}

TEST_CASE("bools, floats and doubles round-trip, including NaN, infinities and negative zero",
          "[codec][roundtrip]") {
  CHECK(roundtrip(true));
  CHECK_FALSE(roundtrip(false));
  CHECK(roundtrip(3.25) == 3.25);
  CHECK(roundtrip(1.5f) == 1.5f);
  CHECK(std::isnan(roundtrip(std::nan(""))));
  CHECK(std::isnan(roundtrip(std::numeric_limits<float>::quiet_NaN())));
  CHECK(roundtrip(-std::numeric_limits<double>::infinity()) == -std::numeric_limits<double>::infinity());
  CHECK(std::signbit(roundtrip(-0.0)));
  CHECK(roundtrip(std::numeric_limits<double>::denorm_min()) == std::numeric_limits<double>::denorm_min());
  // A float32 widens exactly; a float64 that a float holds exactly narrows.
  CHECK(codec::decode<double>(codec::encode(0.1f)) == static_cast<double>(0.1f));
  CHECK(codec::decode<float>(codec::encode(0.5)) == 0.5f);
}

TEST_CASE("enums round-trip as their underlying integer", "[codec][roundtrip]") {
  CHECK(roundtrip(Color::red) == Color::red);
  CHECK(roundtrip(Color::blue) == Color::blue);
  CHECK(roundtrip(plain_b) == plain_b);
  CHECK(codec::type_name<Color>() == "enum<int16>");
  CHECK(codec::type_name<Plain>() == "enum<uint32>");
}

TEST_CASE("strings round-trip, empty, with NULs and with non-ASCII bytes", "[codec][roundtrip]") {
  CHECK(roundtrip(std::string()).empty());
  CHECK(roundtrip(std::string("a\0b", 3)) == std::string("a\0b", 3));
  CHECK(roundtrip(std::string("héllo wörld")) == "héllo wörld");
  std::string big(100000, 'z');
  CHECK(roundtrip(big) == big);
  CHECK(codec::decode<std::string>(codec::encode(std::string_view("view"))) == "view");
}

TEST_CASE("a decoded Bytes aliases the encoding it came from", "[codec][roundtrip][bytes]") {
  Bytes payload = Bytes::copy(std::string_view("0123456789abcdef"));
  Bytes encoded = codec::encode(payload);
  Bytes decoded = codec::decode<Bytes>(encoded);
  CHECK(decoded == payload);
  CHECK(decoded.data() >= encoded.data());
  CHECK(decoded.data() + decoded.size() <= encoded.data() + encoded.size());
  CHECK(decoded.owner() == encoded.owner());
  // Without an owner, the decoded Bytes is a copy.
  codec::Reader r(encoded.span());
  Bytes copied = codec::decode<Bytes>(r);
  CHECK(copied == payload);
  CHECK(copied.owner() != encoded.owner());
  CHECK(roundtrip(Bytes()).empty());
}

TEST_CASE("vectors, arrays and sets round-trip, empty or not", "[codec][roundtrip]") {
  CHECK(roundtrip(std::vector<int>{}).empty());
  CHECK(roundtrip(std::vector<int>{1, -2, 3}) == std::vector<int>{1, -2, 3});
  CHECK(roundtrip(std::vector<bool>{true, false, true}) == std::vector<bool>{true, false, true});
  CHECK(roundtrip(std::array<double, 3>{1, 2, 3}) == std::array<double, 3>{1, 2, 3});
  CHECK(roundtrip(std::array<int, 0>{}) == std::array<int, 0>{});
  CHECK(roundtrip(std::set<std::string>{"b", "a"}) == std::set<std::string>{"a", "b"});
  CHECK(roundtrip(std::unordered_set<int>{5, 6}) == std::unordered_set<int>{5, 6});
  CHECK(roundtrip(std::set<int>{}).empty());
}

TEST_CASE("maps and unordered maps round-trip, empty or not", "[codec][roundtrip]") {
  std::map<std::string, double> m{{"pi", 3.14}, {"e", 2.72}};
  CHECK(roundtrip(m) == m);
  std::unordered_map<int, std::vector<std::string>> u{{1, {"a"}}, {2, {}}};
  CHECK(roundtrip(u) == u);
  CHECK(roundtrip(std::map<int, int>{}).empty());
  // map and unordered_map share a wire form and a name.
  CHECK(codec::decode<std::unordered_map<std::string, double>>(codec::encode(m)).at("pi") == 3.14);
  CHECK(codec::type_name<std::unordered_map<std::string, double>>() == codec::type_name<decltype(m)>());
}

TEST_CASE("optionals, variants, monostate, pairs and tuples round-trip", "[codec][roundtrip]") {
  CHECK(roundtrip(std::optional<int>{}) == std::nullopt);
  CHECK(roundtrip(std::optional<int>{7}) == 7);
  auto nested = roundtrip(std::optional<std::optional<int>>{std::optional<int>{}});
  CHECK(nested.has_value());
  CHECK_FALSE(nested->has_value());
  using V = std::variant<std::monostate, int, std::string>;
  CHECK(roundtrip(V{}) == V{});
  CHECK(roundtrip(V{5}) == V{5});
  CHECK(roundtrip(V{std::string("s")}) == V{std::string("s")});
  CHECK(roundtrip(std::pair<std::string, int>{"k", 1}) == std::pair<std::string, int>{"k", 1});
  CHECK(roundtrip(std::tuple<>{}) == std::tuple<>{});
  auto t = std::make_tuple(1, std::string("two"), 3.0, std::vector<int>{4});
  CHECK(roundtrip(t) == t);
  // A pair is a 2-tuple on the wire.
  CHECK(codec::decode<std::tuple<std::string, int>>(codec::encode(std::pair<std::string, int>{"k", 1})) ==
        std::tuple<std::string, int>{"k", 1});
}

TEST_CASE("durations round-trip as nanoseconds and convert between units exactly", "[codec][roundtrip]") {
  CHECK(roundtrip(250ms) == 250ms);
  CHECK(roundtrip(-3s) == -3s);
  CHECK(roundtrip(std::chrono::nanoseconds::max()) == std::chrono::nanoseconds::max());
  CHECK(roundtrip(std::chrono::duration<double>(1.5)) == std::chrono::duration<double>(1.5));
  CHECK(codec::decode<std::chrono::milliseconds>(codec::encode(2s)) == 2000ms);
  CHECK(codec::decode<std::chrono::seconds>(codec::encode(3000ms)) == 3s);
  CHECK(codec::decode<std::chrono::duration<double>>(codec::encode(1500ms)).count() == 1.5);
  CHECK_THROWS_AS(codec::encode(std::chrono::hours(std::numeric_limits<std::int64_t>::max() / 2)), shoal::ValueError);
}

TEST_CASE("a future reference round-trips", "[codec][roundtrip]") {
  CHECK(roundtrip(codec::FutureRef{3}) == codec::FutureRef{3});
  CHECK(codec::type_name<codec::FutureRef>() == "future_ref");
}

TEST_CASE("deeply nested containers round-trip", "[codec][roundtrip]") {
  using Deep = std::map<std::string, std::vector<std::optional<std::tuple<int, std::set<std::string>>>>>;
  Deep d{{"a", {std::nullopt, std::make_tuple(1, std::set<std::string>{"x", "y"})}}, {"b", {}}};
  CHECK(roundtrip(d) == d);
  std::vector<std::vector<std::vector<int>>> v{{{}}, {{1}, {2, 3}}, {}};
  CHECK(roundtrip(v) == v);
}

TEST_CASE("type names are stable and readable", "[codec][names]") {
  CHECK(codec::type_name<std::int64_t>() == "int64");
  CHECK(codec::type_name<long long>() == "int64");
  CHECK(codec::type_name<std::uint8_t>() == "uint8");
  CHECK(codec::type_name<bool>() == "bool");
  CHECK(codec::type_name<float>() == "float32");
  CHECK(codec::type_name<double>() == "float64");
  CHECK(codec::type_name<std::string>() == "string");
  CHECK(codec::type_name<Bytes>() == "bytes");
  CHECK(codec::type_name<std::vector<std::int64_t>>() == "list<int64>");
  CHECK(codec::type_name<std::map<std::string, double>>() == "map<string,float64>");
  CHECK(codec::type_name<std::tuple<std::int64_t, std::string>>() == "tuple<int64,string>");
  CHECK(codec::type_name<std::pair<int, bool>>() == "tuple<int32,bool>");
  CHECK(codec::type_name<std::tuple<>>() == "tuple<>");
  CHECK(codec::type_name<std::optional<std::set<int>>>() == "optional<set<int32>>");
  CHECK(codec::type_name<std::variant<int, std::string>>() == "variant<int32,string>");
  CHECK(codec::type_name<std::array<float, 4>>() == "array<float32,4>");
  CHECK(codec::type_name<std::chrono::milliseconds>() == "duration");
  CHECK(codec::type_name<std::monostate>() == "none");
}

TEST_CASE("a Writer appends values one after another and a Reader takes them back in order",
          "[codec][wire]") {
  codec::Writer w(4);
  codec::encode(w, 1);
  codec::encode(w, std::string("two"));
  codec::encode(w, 3.0);
  Bytes b = w.finish();
  CHECK(w.size() == 0);
  codec::Reader r(b);
  CHECK(codec::decode<int>(r) == 1);
  CHECK(codec::decode<std::string>(r) == "two");
  CHECK(r.peek() == codec::Tag::f64);
  CHECK(codec::decode<double>(r) == 3.0);
  CHECK(r.at_end());
  CHECK_NOTHROW(r.expect_end());
}

TEST_CASE("skip passes over a value of any kind", "[codec][wire]") {
  codec::Writer w;
  codec::encode(w, std::map<std::string, std::vector<std::optional<double>>>{{"k", {1.0, std::nullopt}}});
  codec::encode(w, std::variant<int, std::string>{std::string("v")});
  codec::encode(w, 5ms);
  codec::encode(w, 42);
  Bytes b = w.finish();
  codec::Reader r(b);
  r.skip();
  r.skip();
  r.skip();
  CHECK(codec::decode<int>(r) == 42);
}

TEST_CASE("describe_encoded tells what an encoding holds without its type", "[codec][wire]") {
  auto describe = [](const Bytes& b) { return codec::describe_encoded(codec::Reader(b)); };
  CHECK(describe(codec::encode(std::make_tuple(std::string("a"), 1, std::vector<unsigned>{2}))) ==
        "tuple<string,int,list<uint>>");
  CHECK(describe(codec::encode(std::map<std::string, double>{{"x", 1}})) == "map<string,float64>");
  CHECK(describe(codec::encode(std::optional<int>{})) == "none");
  CHECK(describe(Bytes::copy(std::string_view("\x09\x05", 2))) == "?");
}
