#include <catch2/catch.hpp>

#include <shoal/remote/registry.hpp>
#include <shoal/shoal.hpp>

#include "support/run.hpp"

namespace codec = shoal::codec;
namespace remote = shoal::remote;
using shoal::Bytes;
using Catch::Matchers::Contains;

namespace act {

class Counter {
 public:
  Counter(std::int64_t start, std::string label) : n_(start), label_(std::move(label)) {}
  std::int64_t add(std::int64_t k) { return n_ += k; }
  std::int64_t get() const { return n_; }
  std::string label() const noexcept { return label_; }
  void reset() { n_ = 0; }
  shoal::Coro<std::int64_t> add_later(std::int64_t k) {
    co_await shoal::sleep(std::chrono::milliseconds(1));
    co_return n_ += k;
  }

 private:
  std::int64_t n_;
  std::string label_;
};
SHOAL_ACTOR(Counter, shoal::init<std::int64_t, std::string>, &Counter::add, &Counter::get, &Counter::label,
            &Counter::reset, &Counter::add_later)

struct Log {
  std::vector<std::string> lines;
  void write(std::string line) { lines.push_back(std::move(line)); }
  std::size_t size() const { return lines.size(); }
};
SHOAL_ACTOR(Log, &Log::write, &Log::size)

struct Unregistered {
  int f() { return 1; }
};

}  // namespace act

namespace {

Bytes args(auto... a) { return codec::encode(std::make_tuple(a...)); }

}  // namespace

TEST_CASE("SHOAL_ACTOR registers the constructor and the methods by name with signatures", "[registry][actor]") {
  auto e = remote::Registry::global().get_actor("Counter");
  CHECK(e->name == "Counter");
  CHECK(e->constructor_signature == "Counter(int64,string)");
  CHECK(e->constructor_hash == codec::fnv1a64("Counter(int64,string)"));
  REQUIRE(e->methods.size() == 5);
  CHECK(e->method("add").signature == "int64(int64)");
  CHECK(e->method("get").signature == "int64()");
  CHECK(e->method("label").signature == "string()");
  CHECK(e->method("reset").signature == "none()");
  CHECK(e->method("add_later").is_coroutine);
  CHECK(remote::Registry::global().get_actor("Log")->constructor_signature == "Log()");
  CHECK(remote::Registry::global().find_actor<act::Counter>() == e);
  CHECK(remote::Registry::global().find_actor<act::Unregistered>() == nullptr);
}

TEST_CASE("a method is found from a member function pointer", "[registry][actor]") {
  auto e = remote::Registry::global().get_actor("Counter");
  CHECK(e->find_method(&act::Counter::add)->name == "add");
  CHECK(e->find_method(&act::Counter::label)->name == "label");
  CHECK(e->find_method(&act::Unregistered::f) == nullptr);
}

TEST_CASE("an actor is constructed from encoded arguments and keeps its state across calls", "[registry][actor]") {
  auto type = remote::Registry::global().get_actor("Counter");
  auto counter = remote::ActorInstance::create(type, args(std::int64_t{10}, std::string("c1")));
  CHECK(codec::decode<std::int64_t>(counter.invoke("add", args(std::int64_t{5}))) == 15);
  CHECK(codec::decode<std::int64_t>(counter.invoke("add", args(std::int64_t{1}))) == 16);
  CHECK(codec::decode<std::int64_t>(counter.invoke("get", args())) == 16);
  CHECK(codec::decode<std::string>(counter.invoke("label", args())) == "c1");
  CHECK(counter.get<act::Counter>()->get() == 16);
  CHECK(counter.get<act::Log>() == nullptr);
  (void)counter.invoke("reset", args());
  CHECK(counter.get<act::Counter>()->get() == 0);
  CHECK(codec::decode<std::int64_t>(counter.invoke("add_later", args(std::int64_t{4}))) == 4);
}

TEST_CASE("a coroutine method runs on the caller's loop and keeps the actor alive", "[registry][actor]") {
  auto main = []() -> shoal::Coro<std::int64_t> {
    auto type = remote::Registry::global().get_actor("Counter");
    auto counter = remote::ActorInstance::create(type, args(std::int64_t{1}, std::string("c")));
    Bytes a = args(std::int64_t{2});
    codec::Reader r(a);
    auto pending = counter.invoke_async(type->method("add_later"), r);
    counter = remote::ActorInstance::create(type, args(std::int64_t{100}, std::string("other")));
    Bytes out = co_await std::move(pending);
    co_return codec::decode<std::int64_t>(out);
  };
  CHECK(shoal::test::run(main()) == 3);
}

TEST_CASE("a default-constructible actor needs no init", "[registry][actor]") {
  auto log = remote::ActorInstance::create(remote::Registry::global().get_actor("Log"), args());
  (void)log.invoke("write", args(std::string("a")));
  (void)log.invoke("write", args(std::string("b")));
  CHECK(codec::decode<std::uint64_t>(log.invoke("size", args())) == 2);
}

TEST_CASE("wrong actor names, methods, constructor and method arguments are typed errors", "[registry][actor][errors]") {
  auto& r = remote::Registry::global();
  CHECK_THROWS_AS(r.get_actor("Nope"), shoal::NotRegistered);
  auto type = r.get_actor("Counter");
  CHECK_THROWS_WITH(remote::ActorInstance::create(type, args(std::int64_t{1})),
                    "Counter constructor takes 2 arguments, received 1 (called with (int); registered as "
                    "Counter(int64,string))");
  CHECK_THROWS_WITH(remote::ActorInstance::create(type, args(std::string("x"), std::string("y"))),
                    Contains("argument 0 of Counter constructor: expected int64, received string"));
  auto counter = remote::ActorInstance::create(type, args(std::int64_t{1}, std::string("c")));
  try {
    (void)counter.invoke("nope", args());
    FAIL("no exception");
  } catch (const shoal::NotRegistered& e) {
    CHECK(e.function() == "Counter.nope");
  }
  CHECK_THROWS_WITH(counter.invoke("add", args(std::string("x"))),
                    "argument 0 of Counter.add: expected int64, received string (called with (string); registered as "
                    "int64(int64))");
  CHECK_THROWS_WITH(counter.invoke("get", args(1)), Contains("Counter.get takes 0 arguments, received 1"));
  CHECK_THROWS_AS(r.get_actor("Counter", codec::fnv1a64("Counter(int64)"), "Counter(int64)"), shoal::TypeMismatch);
  CHECK(r.get_actor("Counter", type->constructor_hash) == type);
  // A method of another actor type is refused.
  auto log = remote::ActorInstance::create(r.get_actor("Log"), args());
  codec::Reader empty(args());
  CHECK_THROWS_AS(log.invoke(type->method("get"), empty), shoal::ValueError);
}

TEST_CASE("registering an actor name twice for another type is refused", "[registry][actor][errors]") {
  remote::Registry r;
  CHECK(r.add(remote::detail::make_actor<act::Log, &act::Log::size>("Log", "&Log::size")));
  CHECK_FALSE((r.add(remote::detail::make_actor<act::Log, &act::Log::size>("Log", "&Log::size"))));
  CHECK_THROWS_AS((r.add(remote::detail::make_actor<act::Unregistered, &act::Unregistered::f>("Log", "&U::f"))),
                  shoal::ValueError);
  CHECK_THROWS_AS((r.add(remote::detail::make_actor<act::Log, &act::Log::size>("Log2", "&Log::size"))),
                  shoal::ValueError);
}

TEST_CASE("method names are read from the macro text", "[registry][actor]") {
  CHECK(remote::detail::method_names("shoal::init<int, std::map<int, int>>, &A::f, & ns::A::g_2", true) ==
        std::vector<std::string>{"f", "g_2"});
  CHECK(remote::detail::method_names("static_cast<int (A::*)(int)>(&A::h)", false) == std::vector<std::string>{"h"});
}
