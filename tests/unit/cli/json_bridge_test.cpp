#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <shoal/codec/future_ref.hpp>
#include "json_bridge.hpp"
#include <shoal/remote/registry.hpp>
#include <shoal/shoal.hpp>

namespace codec = shoal::codec;
namespace remote = shoal::remote;
using json = nlohmann::json;
using shoal::Bytes;
using Catch::Matchers::Contains;

// Registered as "add" here too (in test_codec, registry_test.cpp registers its own).
std::int64_t add(std::int64_t a, std::int64_t b) { return a + b; }
SHOAL_REMOTE(add)

namespace jb {

struct Item {
  std::string name;
  std::uint32_t count = 0;
  std::optional<double> price;
};
SHOAL_FIELDS(Item, name, count, price)

double total(std::vector<Item> items, std::map<std::string, double> discounts) {
  double sum = 0;
  for (const auto& i : items) {
    double p = i.price.value_or(1.0) * i.count;
    if (auto it = discounts.find(i.name); it != discounts.end()) p *= 1 - it->second;
    sum += p;
  }
  return sum;
}
SHOAL_REMOTE_AS(total, "jb.total")

Item restock(Item item, std::int8_t more) {
  item.count += static_cast<std::uint32_t>(more);
  return item;
}
SHOAL_REMOTE_AS(restock, "jb.restock")

std::tuple<bool, std::set<std::string>, std::array<int, 2>> misc(std::vector<std::string> words) {
  return {words.empty(), std::set<std::string>(words.begin(), words.end()), {1, 2}};
}
SHOAL_REMOTE_AS(misc, "jb.misc")

Bytes checksum(Bytes b) { return b; }
SHOAL_REMOTE_AS(checksum, "jb.bytes")

std::chrono::milliseconds later(int x) { return std::chrono::milliseconds(x); }
SHOAL_REMOTE_AS(later, "jb.later")

shoal::Coro<std::string> shout(std::string s) {
  co_await shoal::sleep(std::chrono::milliseconds(1));
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  co_return s;
}
SHOAL_REMOTE_AS(shout, "jb.shout")

void nothing() {}
SHOAL_REMOTE_AS(nothing, "jb.nothing")

}  // namespace jb

TEST_CASE("call_json decodes arguments from JSON and encodes the result to JSON", "[registry][json]") {
  auto& r = remote::Registry::global();
  json items = json::parse(R"([{"name": "apple", "count": 4, "price": 0.5}, {"name": "pear", "count": 2, "price": null}])");
  CHECK(shoal::remote::call_json(r, "jb.total", json::array({items, {{"apple", 0.5}}})).get<double>() == 3.0);
  json restocked = shoal::remote::call_json(r, "jb.restock", json::parse(R"([{"name": "fig", "count": 1, "price": 2.5}, 3])"));
  CHECK(restocked == json::parse(R"({"name": "fig", "count": 4, "price": 2.5})"));
  CHECK(shoal::remote::call_json(r, "jb.misc", json::parse(R"([["b", "a", "b"]])")) == json::parse(R"([false, ["a", "b"], [1, 2]])"));
  CHECK(shoal::remote::call_json(r, "jb.shout", json::parse(R"(["hey"])")) == "HEY");
  CHECK(shoal::remote::call_json(r, "jb.nothing", json::array()).is_null());
  CHECK(shoal::remote::call_json(r, "add", json::parse("[2, 3.0]")) == 5);
}

TEST_CASE("call_json names the function, the argument and both types when an argument does not fit",
          "[registry][json][errors]") {
  auto& r = remote::Registry::global();
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "add", json::parse(R"([1, "two"])")),
                    "argument 1 of add (registered as int64(int64,int64)): expected int64, received string \"two\"");
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "add", json::parse("[1, 2.5]")), Contains("expected int64, received number 2.5"));
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "jb.restock", json::parse(R"([{"name": "f", "count": 1, "price": 1}, 300])")),
                    Contains("argument 1 of jb.restock") && Contains("expected int8, received number 300 (out of range)"));
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "jb.restock", json::parse(R"([{"name": "f", "count": -1, "price": 1}, 1])")),
                    Contains("field 'count' of Item: expected uint32, received number -1 (out of range)"));
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "jb.restock", json::parse(R"([{"name": "f", "count": 1}, 1])")),
                    Contains("an object without the field 'price'"));
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "jb.restock", json::parse(R"([{"name": "f", "count": 1, "price": 1, "x": 0}, 1])")),
                    Contains("unknown field 'x'"));
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "jb.total", json::parse(R"([[], {"a": "b"}])")),
                    Contains("argument 1 of jb.total") && Contains("value 'a' of map<string,float64>: expected float64"));
}

TEST_CASE("call_json refuses the wrong arity and names both", "[registry][json][errors]") {
  auto& r = remote::Registry::global();
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "add", json::parse("[1]")),
                    "add takes 2 arguments, received 1 (called with array [1]; registered as int64(int64,int64))");
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "add", json::parse(R"({"a": 1})")), Contains("takes its arguments as a JSON array"));
  CHECK_THROWS_AS(shoal::remote::call_json(r, "nope", json::array()), shoal::NotRegistered);
}

TEST_CASE("call_json refuses functions whose types do not map to JSON before calling them", "[registry][json][errors]") {
  auto& r = remote::Registry::global();
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "jb.later", json::parse("[1]")), Contains("duration does not map to JSON"));
}

TEST_CASE("bytes to and from JSON: a string's bytes, {\"$bytes\": base64}, {\"$path\": file}", "[registry][json]") {
  auto& r = remote::Registry::global();
  CHECK(shoal::remote::call_json(r, "jb.bytes", json::parse(R"(["hi"])")) == json::parse(R"({"$bytes": "aGk="})"));
  CHECK(shoal::remote::call_json(r, "jb.bytes", json::parse(R"([{"$bytes": "AAEC/w=="}])")) ==
        json::parse(R"({"$bytes": "AAEC/w=="})"));
  auto file = std::filesystem::temp_directory_path() / ("shoal-jb-" + std::to_string(::getpid()));
  std::ofstream(file) << "abc";
  CHECK(shoal::remote::call_json(r, "jb.bytes", json{json{{"$path", file.string()}}}) ==
        json::parse(R"({"$bytes": "YWJj"})"));
  std::filesystem::remove(file);
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "jb.bytes", json{json{{"$path", file.string()}}}),
                    Contains("cannot read " + file.string()));
  CHECK_THROWS_WITH(shoal::remote::call_json(r, "jb.bytes", json::parse(R"([{"$bytes": "a*b"}])")),
                    Contains("not a base64 digit"));
  CHECK_THROWS_AS(shoal::remote::call_json(r, "jb.bytes", json::parse("[5]")), shoal::TypeMismatch);
}

TEST_CASE("json_to_args and result_to_json work from the signature text alone", "[registry][json]") {
  auto sig = codec::parse_signature("map<string,list<int16>>(Pt{x:float32,y:optional<uint8>},tuple<bool,string>)");
  Bytes args = remote::json_to_args(sig, json::parse(R"([{"x": 1.5, "y": null}, [true, "s"]])"), "f");
  using Pt = std::tuple<float, std::optional<std::uint8_t>>;
  auto decoded = codec::decode<std::tuple<Pt, std::tuple<bool, std::string>>>(args);
  CHECK(std::get<0>(std::get<0>(decoded)) == 1.5f);
  CHECK_FALSE(std::get<1>(std::get<0>(decoded)).has_value());
  CHECK(std::get<1>(decoded) == std::make_tuple(true, std::string("s")));
  Bytes result = codec::encode(std::map<std::string, std::vector<std::int16_t>>{{"a", {1, -2}}, {"b", {}}});
  CHECK(remote::result_to_json(sig, result) == json::parse(R"({"a": [1, -2], "b": []})"));
  // A result of another type is a TypeMismatch, not garbage.
  CHECK_THROWS_AS(remote::result_to_json(sig, codec::encode(std::vector<int>{1})), shoal::TypeMismatch);
}

TEST_CASE("wire_to_json without a type shows any encoding", "[registry][json]") {
  codec::Writer w;
  codec::encode(w, std::make_tuple(1, std::string("s"), Bytes::copy(std::string_view("hi!")), std::chrono::seconds(2),
                                   std::variant<int, bool>{true}, std::map<int, int>{{1, 2}},
                                   std::map<std::string, int>{{"k", 3}}, std::optional<int>{}, codec::FutureRef{4}));
  Bytes b = w.finish();
  codec::Reader r(b);
  CHECK(remote::wire_to_json(r) == json::parse(R"([1, "s", {"$bytes": "aGkh"}, {"$duration_ns": 2000000000},
      {"$variant": 1, "value": true}, [[1, 2]], {"k": 3}, null, {"$future": 4}])"));
}

TEST_CASE("json_unsupported names the type that has no JSON form", "[registry][json]") {
  CHECK_FALSE(remote::json_unsupported(codec::parse_type("map<string,list<optional<P{a:int8}>>>")));
  CHECK(remote::json_unsupported(codec::parse_type("list<map<int32,string>>")) == "map<int32,string>");
  CHECK(remote::json_unsupported(codec::parse_type("tuple<int8,variant<int8,bool>>")) == "variant<int8,bool>");
}

TEST_CASE("a {\"$future\": i} argument encodes a dependency that resolve_refs fills in", "[registry][json][future_ref]") {
  auto sig = codec::parse_signature("int64(int64,list<int64>)");
  Bytes args = remote::json_to_args(sig, json::parse(R"([{"$future": 0}, [1, {"$future": 1}]])"), "add");
  CHECK(codec::future_refs(args) == std::vector<std::uint32_t>{0, 1});
  std::vector<Bytes> deps{codec::encode(std::int64_t{40}), codec::encode(std::int64_t{2})};
  auto [a, list] = codec::decode<std::tuple<std::int64_t, std::vector<std::int64_t>>>(codec::resolve_refs(args, deps));
  CHECK(a == 40);
  CHECK(list == std::vector<std::int64_t>{1, 2});
  codec::Reader r(args);
  CHECK(remote::wire_to_json(r) == json::parse(R"([{"$future": 0}, [1, {"$future": 1}]])"));
}

TEST_CASE("a {\"$future\": i} with a negative or non-integer index is a TypeMismatch", "[registry][json][future_ref]") {
  auto sig = codec::parse_signature("int64(int64)");
  CHECK_THROWS_AS(remote::json_to_args(sig, json::parse(R"([{"$future": -1}])"), "f"), shoal::TypeMismatch);
  CHECK_THROWS_AS(remote::json_to_args(sig, json::parse(R"([{"$future": "a"}])"), "f"), shoal::TypeMismatch);
}
