#include <catch2/catch.hpp>

#include <shoal/remote/registry.hpp>
#include <shoal/shoal.hpp>

#include "support/run.hpp"

namespace codec = shoal::codec;
namespace remote = shoal::remote;
using shoal::Bytes;
using Catch::Matchers::Contains;

namespace reg {

std::int64_t add(std::int64_t a, std::int64_t b) { return a + b; }
SHOAL_REMOTE(add)

std::string greet(const std::string& name, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hi " + name + ";";
  return out;
}
SHOAL_REMOTE(greet)

struct Vec2 {
  double x = 0;
  double y = 0;
};
SHOAL_FIELDS(Vec2, x, y)

Vec2 scale(Vec2 v, double k) noexcept { return {v.x * k, v.y * k}; }
SHOAL_REMOTE(scale)

int calls = 0;
void touch() { ++calls; }
SHOAL_REMOTE(touch)

std::vector<std::string> split(std::string s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep)
      out.emplace_back();
    else
      out.back().push_back(c);
  }
  return out;
}
SHOAL_REMOTE(split)

int fail(int code) { throw std::runtime_error("failed with " + std::to_string(code)); }
SHOAL_REMOTE(fail)

shoal::Coro<std::int64_t> slow_double(std::int64_t x) {
  co_await shoal::sleep(std::chrono::milliseconds(1));
  co_return 2 * x;
}
SHOAL_REMOTE(slow_double)

shoal::Coro<void> nap() { co_await shoal::sleep(std::chrono::milliseconds(1)); }
SHOAL_REMOTE(nap)

// Moved-from by-value parameters and mutated reference parameters both work.
std::size_t consume(std::vector<int> v, std::string& scratch) {
  scratch += "x";
  return v.size() + scratch.size();
}
SHOAL_REMOTE_AS(consume, "reg.consume")

int other_add(int a, int b) { return a + b; }

}  // namespace reg

namespace {

Bytes args(auto... a) { return codec::encode(std::make_tuple(a...)); }

}  // namespace

TEST_CASE("SHOAL_REMOTE registers a function under its name with its signature and hash", "[registry]") {
  auto e = remote::Registry::global().get("add");
  CHECK(e->name == "add");
  CHECK(e->signature == "int64(int64,int64)");
  CHECK(e->signature_hash == codec::fnv1a64("int64(int64,int64)"));
  // Pinned: the hash must not change across builds, compilers or releases.
  CHECK(e->signature_hash == 0x52a002e67213999bull);
  CHECK(e->arity() == 2);
  CHECK_FALSE(e->is_coroutine);
  CHECK(remote::Registry::global().get("greet")->signature == "string(string,int32)");
  CHECK(remote::Registry::global().get("scale")->signature == "Vec2{x:float64,y:float64}(Vec2{x:float64,y:float64},float64)");
  CHECK(remote::Registry::global().get("touch")->signature == "none()");
  CHECK(remote::Registry::global().get("slow_double")->is_coroutine);
  CHECK(remote::Registry::global().get("nap")->signature == "none()");
  CHECK(remote::Registry::global().get("reg.consume")->signature == "uint64(list<int32>,string)");
  CHECK_NOTHROW(remote::Registry::global().verify());
}

TEST_CASE("a registered function is found from a pointer to it", "[registry]") {
  CHECK(remote::Registry::global().find(&reg::add)->name == "add");
  CHECK(remote::Registry::global().find(&reg::scale)->name == "scale");
  CHECK(remote::Registry::global().find(&reg::other_add) == nullptr);
}

TEST_CASE("invoke decodes the arguments, calls and encodes the result", "[registry]") {
  auto& r = remote::Registry::global();
  CHECK(codec::decode<std::int64_t>(r.get("add")->invoke(args(std::int64_t{2}, std::int64_t{40}))) == 42);
  CHECK(codec::decode<std::string>(r.get("greet")->invoke(args(std::string("bo"), 2))) == "hi bo;hi bo;");
  auto v = codec::decode<reg::Vec2>(r.get("scale")->invoke(args(reg::Vec2{1, 2}, 3.0)));
  CHECK(v.x == 3);
  CHECK(v.y == 6);
  int before = reg::calls;
  CHECK(codec::decode<std::monostate>(r.get("touch")->invoke(args())) == std::monostate{});
  CHECK(reg::calls == before + 1);
  CHECK(codec::decode<std::size_t>(r.get("reg.consume")->invoke(args(std::vector<int>{1, 2}, std::string("ab")))) == 5);
  // Arguments of narrower types decode into the parameters when their values fit.
  CHECK(codec::decode<std::int64_t>(r.get("add")->invoke(args(1, 2))) == 3);
}

TEST_CASE("prepare encodes a typed call that invoke runs", "[registry]") {
  auto& r = remote::Registry::global();
  auto call = r.prepare(&reg::greet, "al", 1);
  CHECK(call.function->name == "greet");
  CHECK(codec::decode<std::string>(call.function->invoke(call.args)) == "hi al;");
  auto split = r.prepare(&reg::split, "a,b", ',');
  CHECK(codec::decode<std::vector<std::string>>(split.function->invoke(split.args)) ==
        std::vector<std::string>{"a", "b"});
  auto scaled = r.prepare(&reg::scale, reg::Vec2{1, 2}, 2);  // a noexcept function
  CHECK(codec::decode<reg::Vec2>(scaled.function->invoke(scaled.args)).y == 4);
  CHECK_THROWS_AS(r.prepare(&reg::other_add, 1, 2), shoal::NotRegistered);
}

TEST_CASE("a coroutine runs on a new loop from invoke and on the caller's loop from invoke_async", "[registry]") {
  auto e = remote::Registry::global().get("slow_double");
  CHECK(codec::decode<std::int64_t>(e->invoke(args(std::int64_t{21}))) == 42);
  auto main = [](std::shared_ptr<const remote::FunctionEntry> entry) -> shoal::Coro<std::int64_t> {
    Bytes a = codec::encode(std::make_tuple(std::int64_t{5}));
    codec::Reader r(a);
    Bytes out = co_await entry->invoke_async(r);
    co_return codec::decode<std::int64_t>(out);
  };
  CHECK(shoal::test::run(main(e)) == 10);
  CHECK(codec::decode<std::monostate>(remote::Registry::global().get("nap")->invoke(args())) == std::monostate{});
}

TEST_CASE("invoke_async of a plain function runs it when awaited", "[registry]") {
  auto main = []() -> shoal::Coro<std::int64_t> {
    Bytes a = codec::encode(std::make_tuple(std::int64_t{5}, std::int64_t{6}));
    codec::Reader r(a);
    Bytes out = co_await remote::Registry::global().get("add")->invoke_async(r);
    co_return codec::decode<std::int64_t>(out);
  };
  CHECK(shoal::test::run(main()) == 11);
}

TEST_CASE("invoke from a loop's thread refuses to start a coroutine's own loop", "[registry]") {
  auto main = []() -> shoal::Coro<void> {
    Bytes a = codec::encode(std::make_tuple(std::int64_t{1}));
    CHECK_THROWS_AS(remote::Registry::global().get("slow_double")->invoke(a), shoal::InvalidStateError);
    co_return;
  };
  shoal::test::run(main());
}

TEST_CASE("what the function throws comes out of invoke unchanged", "[registry]") {
  CHECK_THROWS_WITH(remote::Registry::global().get("fail")->invoke(args(3)), "failed with 3");
}

TEST_CASE("an unknown name is NotRegistered, naming the function and who was asked", "[registry][errors]") {
  auto& r = remote::Registry::global();
  CHECK(r.find("nope") == nullptr);
  try {
    (void)r.get("nope");
    FAIL("no exception");
  } catch (const shoal::NotRegistered& e) {
    CHECK(e.function() == "nope");
    CHECK(e.asked() == "this process");
    CHECK_THAT(e.what(), Contains("'nope' is not registered") && Contains("SHOAL_REMOTE"));
  }
}

TEST_CASE("a call with the wrong arity names the function and both signatures", "[registry][errors]") {
  auto e = remote::Registry::global().get("add");
  CHECK_THROWS_WITH(e->invoke(args(std::int64_t{1})),
                    "add takes 2 arguments, received 1 (called with (int); registered as int64(int64,int64))");
  CHECK_THROWS_WITH(e->invoke(args(1, 2, 3)),
                    "add takes 2 arguments, received 3 (called with (int,int,int); registered as int64(int64,int64))");
  CHECK_THROWS_WITH(e->invoke(codec::encode(5)),
                    "add expects its arguments as a tuple, received int (registered as int64(int64,int64))");
  CHECK_THROWS_AS(e->invoke(Bytes()), shoal::TypeMismatch);
}

TEST_CASE("a call with the wrong argument types names the argument, the function and both signatures",
          "[registry][errors]") {
  auto& r = remote::Registry::global();
  CHECK_THROWS_WITH(r.get("greet")->invoke(args(std::string("x"), std::string("y"))),
                    "argument 1 of greet: expected int32, received string (called with (string,string); "
                    "registered as string(string,int32))");
  CHECK_THROWS_WITH(r.get("greet")->invoke(args(std::string("x"), std::int64_t{1} << 40)),
                    Contains("argument 1 of greet: expected int32, received integer 1099511627776 (out of range)"));
  CHECK_THROWS_WITH(r.get("scale")->invoke(args(std::make_tuple(1.0), 2.0)),
                    Contains("argument 0 of scale: expected Vec2 (2 fields), received a tuple of 1 field"));
}

TEST_CASE("a signature hash that differs is a TypeMismatch naming both signatures", "[registry][errors]") {
  auto& r = remote::Registry::global();
  auto hash = codec::fnv1a64("int64(int64,int64)");
  CHECK(r.get("add", hash)->name == "add");
  CHECK_THROWS_WITH(r.get("add", codec::fnv1a64("int64(int64)"), "int64(int64)"),
                    Contains("the caller's signature int64(int64)") && Contains("registered int64(int64,int64)"));
  CHECK_THROWS_AS(r.get("nope", hash), shoal::NotRegistered);
}

TEST_CASE("garbage arguments are a typed error, never a call", "[registry][errors]") {
  auto e = remote::Registry::global().get("greet");
  std::string garbage = "\x0b\x02\x07\xff\xff\xff\xff\x0f";
  CHECK_THROWS_AS(e->invoke(Bytes::copy(std::string_view(garbage))), shoal::DecodeError);
  // Trailing bytes after the argument tuple.
  Bytes ok = args(std::string("x"), 1);
  std::string extra = ok.to_string() + "\x02";
  CHECK_THROWS_AS(e->invoke(Bytes(std::move(extra))), shoal::DecodeError);
}

TEST_CASE("registering a name twice is refused unless it is the same function", "[registry][errors]") {
  remote::Registry r;
  CHECK(r.add(remote::detail::make_function<&reg::add>("sum")));
  CHECK_FALSE(r.add(remote::detail::make_function<&reg::add>("sum")));
  CHECK_THROWS_WITH(r.add(remote::detail::make_function<&reg::other_add>("sum")),
                    Contains("'sum' is registered twice (int64(int64,int64) and int32(int32,int32))"));
  CHECK(r.functions().size() == 1);
  r.remove_function("sum", reinterpret_cast<void (*)()>(&reg::other_add));
  CHECK(r.find("sum") != nullptr);
  r.remove_function("sum", reinterpret_cast<void (*)()>(&reg::add));
  CHECK(r.find("sum") == nullptr);
  CHECK(r.find(&reg::add) == nullptr);
}

TEST_CASE("problems met at static-initialisation time are reported by verify", "[registry][errors]") {
  remote::Registry r;
  CHECK_NOTHROW(r.verify());
  r.note_problem("the remote function name 'x' is registered twice");
  CHECK(r.problems().size() == 1);
  CHECK_THROWS_WITH(r.verify(), Contains("1 problem") && Contains("'x' is registered twice"));
}

TEST_CASE("a Registration adds its entry to the global registry and removes it when destroyed", "[registry]") {
  {
    remote::detail::Registration registration{remote::detail::make_function<&reg::other_add>("reg.temporary")};
    CHECK(remote::Registry::global().find("reg.temporary") != nullptr);
    CHECK(remote::Registry::global().find(&reg::other_add) != nullptr);
  }
  CHECK(remote::Registry::global().find("reg.temporary") == nullptr);
}
