#include <catch2/catch.hpp>

#include <shoal/codec/codec.hpp>

namespace codec = shoal::codec;
using Catch::Matchers::Contains;

namespace geo {

struct Point {
  std::int64_t x = 0;
  std::int64_t y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};
SHOAL_FIELDS(Point, x, y)

struct Shape {
  std::string name;
  std::vector<Point> outline;
  std::optional<Point> centre;
  std::map<std::string, double> tags;
  friend bool operator==(const Shape&, const Shape&) = default;
};
SHOAL_FIELDS(Shape, name, outline, centre, tags)

struct Empty {
  friend bool operator==(const Empty&, const Empty&) = default;
};
SHOAL_FIELDS(Empty)

// A type that contains itself: its schema names it instead of recursing forever.
struct Tree {
  int value = 0;
  std::vector<Tree> children;
  friend bool operator==(const Tree&, const Tree&) = default;
};
SHOAL_FIELDS(Tree, value, children)

struct Base {
  int base = 0;
};
struct Derived : Base {
  int own = 0;
};
SHOAL_FIELDS(Derived, base, own)

}  // namespace geo

TEST_CASE("a SHOAL_FIELDS struct round-trips and is encoded as the tuple of its fields", "[codec][fields]") {
  geo::Point p{3, -4};
  shoal::Bytes b = codec::encode(p);
  CHECK(codec::decode<geo::Point>(b) == p);
  CHECK(codec::encode(std::make_tuple(std::int64_t{3}, std::int64_t{-4})) == b);
  CHECK(codec::decode<std::tuple<std::int64_t, std::int64_t>>(b) == std::make_tuple(3, -4));
}

TEST_CASE("structs nest in structs and containers, empty or not", "[codec][fields]") {
  geo::Shape s{"tri", {{0, 0}, {1, 0}, {0, 1}}, geo::Point{1, 1}, {{"area", 0.5}}};
  CHECK(codec::decode<geo::Shape>(codec::encode(s)) == s);
  CHECK(codec::decode<geo::Shape>(codec::encode(geo::Shape{})) == geo::Shape{});
  CHECK(codec::decode<geo::Empty>(codec::encode(geo::Empty{})) == geo::Empty{});
  std::map<std::string, std::vector<geo::Shape>> m{{"a", {s, s}}, {"b", {}}};
  CHECK(codec::decode<decltype(m)>(codec::encode(m)) == m);
}

TEST_CASE("a struct's name is as written and its schema spells out its fields", "[codec][fields][names]") {
  CHECK(codec::type_name<geo::Point>() == "Point");
  CHECK(codec::type_schema<geo::Point>() == "Point{x:int64,y:int64}");
  CHECK(codec::type_name<std::vector<geo::Point>>() == "list<Point>");
  CHECK(codec::type_schema<geo::Shape>() ==
        "Shape{name:string,outline:list<Point{x:int64,y:int64}>,centre:optional<Point{x:int64,y:int64}>,"
        "tags:map<string,float64>}");
  CHECK(codec::type_schema<geo::Empty>() == "Empty{}");
  CHECK(codec::type_schema<geo::Tree>() == "Tree{value:int32,children:list<Tree>}");
}

TEST_CASE("a recursive struct round-trips", "[codec][fields]") {
  geo::Tree t{1, {{2, {}}, {3, {{4, {}}}}}};
  CHECK(codec::decode<geo::Tree>(codec::encode(t)) == t);
}

TEST_CASE("fields inherited from a base are listed like the struct's own", "[codec][fields]") {
  geo::Derived d;
  d.base = 5;
  d.own = 6;
  auto back = codec::decode<geo::Derived>(codec::encode(d));
  CHECK(back.base == 5);
  CHECK(back.own == 6);
}

TEST_CASE("a struct decode names the field that does not match", "[codec][fields][errors]") {
  CHECK_THROWS_WITH(codec::decode<geo::Point>(codec::encode(std::make_tuple(std::int64_t{1}, std::string("y")))),
                    "field 'y' of Point: expected int64, received string");
  CHECK_THROWS_WITH(codec::decode<geo::Point>(codec::encode(std::make_tuple(1, 2, 3))),
                    "expected Point (2 fields), received a tuple of 3 fields");
  CHECK_THROWS_WITH(codec::decode<geo::Shape>(codec::encode(std::make_tuple(
                        std::string("s"), std::vector<std::tuple<int, double>>{{1, 2.0}}, std::optional<int>{},
                        std::map<std::string, double>{}))),
                    Contains("field 'outline' of Shape: element 0 of list<Point>: field 'y' of Point: expected int64, "
                             "received float64"));
}
