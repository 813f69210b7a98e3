#include <catch2/catch.hpp>

#include <chrono>
#include <limits>

#include <shoal/codec/codec.hpp>

namespace codec = shoal::codec;
using shoal::Bytes;
using shoal::DecodeError;
using shoal::TypeMismatch;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

Bytes raw(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return Bytes::copy(std::string_view(s));
}

}  // namespace

TEST_CASE("a decode of the wrong type names the expected and the received type", "[codec][errors]") {
  CHECK_THROWS_WITH(codec::decode<std::int32_t>(codec::encode(std::string("x"))), "expected int32, received string");
  CHECK_THROWS_WITH(codec::decode<std::string>(codec::encode(5)), "expected string, received int 5");
  CHECK_THROWS_WITH(codec::decode<bool>(codec::encode(1)), "expected bool, received int 1");
  CHECK_THROWS_WITH(codec::decode<double>(codec::encode(1)), "expected float64, received int 1");
  CHECK_THROWS_WITH((codec::decode<std::vector<int>>(codec::encode(std::map<int, int>{{1, 2}}))),
                    "expected list<int32>, received map of 1 entries");
  CHECK_THROWS_WITH(codec::decode<std::optional<int>>(codec::encode(3)), "expected optional<int32>, received int 3");
  CHECK_THROWS_WITH(codec::decode<Bytes>(codec::encode(std::string("s"))), "expected bytes, received string");
  CHECK_THROWS_AS(codec::decode<std::chrono::seconds>(codec::encode(1)), TypeMismatch);
}

TEST_CASE("an integer out of the target's range is a TypeMismatch, never a truncation", "[codec][errors]") {
  CHECK_THROWS_WITH(codec::decode<std::int8_t>(codec::encode(std::int64_t{300})),
                    "expected int8, received integer 300 (out of range)");
  CHECK_THROWS_AS(codec::decode<std::uint8_t>(codec::encode(-1)), TypeMismatch);
  CHECK_THROWS_AS(codec::decode<std::int64_t>(codec::encode(std::numeric_limits<std::uint64_t>::max())), TypeMismatch);
  CHECK_THROWS_AS(codec::decode<std::uint32_t>(codec::encode(std::uint64_t{1} << 32)), TypeMismatch);
  enum class Small : std::uint8_t {};
  CHECK_THROWS_WITH(codec::decode<Small>(codec::encode(256)), Contains("expected enum<uint8>"));
}

TEST_CASE("a float64 that a float32 cannot hold exactly is refused", "[codec][errors]") {
  CHECK_THROWS_WITH(codec::decode<float>(codec::encode(0.1)), Contains("not exactly representable"));
  CHECK_THROWS_AS(codec::decode<float>(codec::encode(1e300)), TypeMismatch);
}

TEST_CASE("a duration that is not a whole number of the receiver's unit is refused", "[codec][errors]") {
  CHECK_THROWS_WITH(codec::decode<std::chrono::seconds>(codec::encode(1500ms)), Contains("not a whole number"));
  CHECK_THROWS_AS(codec::decode<std::chrono::duration<std::int8_t>>(codec::encode(1000s)), TypeMismatch);
}

TEST_CASE("errors inside containers say where the bad element is", "[codec][errors]") {
  using V = std::vector<std::variant<int, std::string>>;
  codec::Writer w;
  w.tag(codec::Tag::list);
  w.varint(2);
  codec::encode(w, std::variant<int, std::string>{1});
  w.tag(codec::Tag::variant);
  w.varint(1);
  codec::encode(w, 2.5);
  CHECK_THROWS_WITH(codec::decode<V>(w.finish()),
                    "element 1 of list<variant<int32,string>>: alternative 1 of variant<int32,string>: "
                    "expected string, received float64");
  CHECK_THROWS_WITH((codec::decode<std::map<std::string, int>>(codec::encode(std::map<std::string, std::string>{{"k", "v"}}))),
                    "value 0 of map<string,int32>: expected int32, received string");
  CHECK_THROWS_WITH((codec::decode<std::tuple<int, int>>(codec::encode(std::make_tuple(1, 2, 3)))),
                    "expected tuple<int32,int32> (2 fields), received a tuple of 3 fields");
  CHECK_THROWS_WITH((codec::decode<std::array<int, 2>>(codec::encode(std::vector<int>{1}))),
                    "expected array<int32,2>, received a list of 1 elements");
}

TEST_CASE("a variant index beyond the alternatives is refused", "[codec][errors]") {
  CHECK_THROWS_WITH((codec::decode<std::variant<int, bool>>(raw({0x0e, 0x05, 0x02}))),
                    "expected variant<int32,bool>, received a variant with alternative 5");
}

TEST_CASE("empty, truncated and garbage input is a DecodeError", "[codec][errors]") {
  CHECK_THROWS_AS(codec::decode<int>(Bytes()), DecodeError);
  CHECK_THROWS_WITH(codec::decode<int>(raw({0x00})), Contains("invalid tag byte 0x00"));
  CHECK_THROWS_WITH(codec::decode<int>(raw({0xff})), Contains("invalid tag byte 0xff"));
  CHECK_THROWS_WITH(codec::decode<int>(raw({0x03})), Contains("truncated"));
  CHECK_THROWS_WITH(codec::decode<int>(raw({0x03, 0x80, 0x80})), Contains("truncated"));
  CHECK_THROWS_AS(codec::decode<std::string>(raw({0x07, 0x05, 'a'})), DecodeError);
  CHECK_THROWS_AS(codec::decode<double>(raw({0x06, 0, 0, 0})), DecodeError);
  CHECK_THROWS_WITH(codec::decode<std::uint64_t>(raw({0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})),
                    Contains("overflows 64 bits"));
  CHECK_THROWS_WITH(
      codec::decode<std::uint64_t>(raw({0x04, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})),
      Contains("overflows 64 bits"));
}

TEST_CASE("bytes left after the value are a DecodeError", "[codec][errors]") {
  CHECK_THROWS_WITH(codec::decode<int>(raw({0x03, 0x02, 0x01})), Contains("1 unexpected bytes after the value"));
}

TEST_CASE("a hostile length is refused before anything is allocated", "[codec][errors][hostile]") {
  // A string, a list and a map claiming 2^62 elements in a few bytes.
  codec::Writer w;
  w.tag(codec::Tag::list);
  w.varint(std::uint64_t{1} << 62);
  Bytes list = w.finish();
  CHECK_THROWS_WITH(codec::decode<std::vector<std::string>>(list), Contains("exceeds the 0 bytes left"));
  w.tag(codec::Tag::string);
  w.varint(std::uint64_t{1} << 40);
  CHECK_THROWS_AS(codec::decode<std::string>(w.finish()), DecodeError);
  w.tag(codec::Tag::map);
  w.varint(1000);
  for (int i = 0; i < 1000; ++i) w.tag(codec::Tag::none);
  CHECK_THROWS_AS((codec::decode<std::map<int, int>>(w.finish())), DecodeError);
}

TEST_CASE("the allocation limit bounds what small input can make a decoder allocate", "[codec][errors][hostile]") {
  // 100000 empty optionals: 100 KB of input, but 100000 x 4 KiB in memory.
  using Big = std::optional<std::array<char, 4096>>;
  codec::Writer w;
  w.tag(codec::Tag::list);
  w.varint(100000);
  for (int i = 0; i < 100000; ++i) w.tag(codec::Tag::none);
  Bytes b = w.finish();
  CHECK_THROWS_WITH(codec::decode<std::vector<Big>>(b), Contains("allocation limit"));
  codec::ReaderLimits generous;
  generous.max_alloc_bytes = std::size_t{1} << 30;
  CHECK(codec::decode<std::vector<Big>>(b, generous).size() == 100000);
}

TEST_CASE("nesting deeper than the limit is a DecodeError, not a stack overflow", "[codec][errors][hostile]") {
  codec::Writer w;
  for (int i = 0; i < 100000; ++i) w.tag(codec::Tag::some);
  w.tag(codec::Tag::none);
  Bytes b = w.finish();
  CHECK_THROWS_WITH(codec::decode<std::optional<std::optional<int>>>(b), Contains("expected"));
  codec::Reader r(b);
  CHECK_THROWS_WITH(r.skip(), Contains("nested deeper than 64"));
  CHECK(codec::describe_encoded(codec::Reader(b)).back() == '?');
}

TEST_CASE("duplicate set elements and map keys are a DecodeError", "[codec][errors]") {
  CHECK_THROWS_WITH(codec::decode<std::set<int>>(codec::encode(std::vector<int>{1, 1})), Contains("duplicate element"));
  codec::Writer w;
  w.tag(codec::Tag::map);
  w.varint(2);
  for (int i = 0; i < 2; ++i) codec::encode(w, std::string("k")), codec::encode(w, i);
  CHECK_THROWS_WITH((codec::decode<std::unordered_map<std::string, int>>(w.finish())), Contains("duplicate key"));
}

TEST_CASE("a duration that is not finite refuses to encode", "[codec][errors]") {
  CHECK_THROWS_AS(codec::encode(std::chrono::duration<double>(std::numeric_limits<double>::infinity())),
                  shoal::ValueError);
}
