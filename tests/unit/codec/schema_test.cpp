#include <catch2/catch.hpp>

#include <shoal/codec/codec.hpp>
#include <shoal/codec/schema.hpp>

namespace codec = shoal::codec;
using Kind = codec::TypeDesc::Kind;

namespace sch {
struct Point {
  double x = 0, y = 0;
};
SHOAL_FIELDS(Point, x, y)
struct Tree {
  int v = 0;
  std::vector<Tree> kids;
};
SHOAL_FIELDS(Tree, v, kids)
}  // namespace sch

namespace {

template <typename T>
void check_round_trip() {
  const std::string& text = codec::type_schema<T>();
  INFO(text);
  CHECK(codec::parse_type(text).text() == text);
}

}  // namespace

TEST_CASE("every type's schema parses back to the same text", "[codec][schema]") {
  check_round_trip<bool>();
  check_round_trip<std::int8_t>();
  check_round_trip<std::uint64_t>();
  check_round_trip<float>();
  check_round_trip<double>();
  check_round_trip<std::string>();
  check_round_trip<shoal::Bytes>();
  check_round_trip<std::chrono::seconds>();
  check_round_trip<std::monostate>();
  check_round_trip<codec::FutureRef>();
  check_round_trip<std::vector<std::map<std::string, std::set<int>>>>();
  check_round_trip<std::array<std::optional<double>, 3>>();
  check_round_trip<std::variant<int, std::string, std::tuple<>>>();
  check_round_trip<std::tuple<sch::Point, std::pair<int, bool>>>();
  check_round_trip<std::vector<sch::Tree>>();
  enum class E : std::uint16_t {};
  check_round_trip<E>();
}

TEST_CASE("a parsed type tells its kind, element types and struct fields", "[codec][schema]") {
  auto t = codec::parse_type("map<string, list<Point{x:float64,y:float64}>>");
  CHECK(t.kind == Kind::map);
  CHECK(t.args.at(0).kind == Kind::string);
  const auto& point = t.args.at(1).args.at(0);
  CHECK(point.kind == Kind::struct_);
  CHECK(point.name == "Point");
  CHECK(point.fields == std::vector<std::string>{"x", "y"});
  CHECK(codec::parse_type("array<int16,7>").size == 7);
  CHECK(codec::parse_type("uint32").bits == 32);
  CHECK(codec::parse_type("ns::Custom").kind == Kind::named);
  CHECK(codec::parse_type("capnp<Hello>").name == "Hello");
}

TEST_CASE("a signature parses into its result and argument types and hashes stably", "[codec][schema]") {
  auto s = codec::parse_signature("int64(int64,string)");
  CHECK(s.result.kind == Kind::int_);
  CHECK(s.args.size() == 2);
  CHECK(s.args[1].kind == Kind::string);
  CHECK(s.hash == codec::fnv1a64("int64(int64,string)"));
  CHECK(codec::parse_signature("none()").args.empty());
  // FNV-1a 64 reference values: the empty string and "a".
  CHECK(codec::fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(codec::fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  static_assert(codec::fnv1a64("int64(int64)") != codec::fnv1a64("int64(int32)"));
}

TEST_CASE("malformed type text is a ValueError naming the position", "[codec][schema][errors]") {
  CHECK_THROWS_AS(codec::parse_type(""), shoal::ValueError);
  CHECK_THROWS_AS(codec::parse_type("list<int64"), shoal::ValueError);
  CHECK_THROWS_AS(codec::parse_type("list<int64,int64>"), shoal::ValueError);
  CHECK_THROWS_AS(codec::parse_type("map<string>"), shoal::ValueError);
  CHECK_THROWS_AS(codec::parse_type("int64 junk"), shoal::ValueError);
  CHECK_THROWS_AS(codec::parse_type("enum<string>"), shoal::ValueError);
  CHECK_THROWS_AS(codec::parse_type("variant<>"), shoal::ValueError);
  CHECK_THROWS_AS(codec::parse_signature("int64(int64"), shoal::ValueError);
  CHECK_THROWS_WITH(codec::parse_type("list<>"), Catch::Matchers::Contains("position"));
  CHECK_THROWS_AS(codec::parse_type(std::string(1000, '<')), shoal::ValueError);
  CHECK_THROWS_AS(codec::parse_type(std::string(500, 'l') + "ist<"), shoal::ValueError);
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "list<";
  CHECK_THROWS_WITH(codec::parse_type(deep + "int8"), Catch::Matchers::Contains("deeper than 100"));
}
