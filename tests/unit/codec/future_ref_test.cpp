#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <shoal/codec/capnp.hpp>
#include <shoal/codec/codec.hpp>
#include <shoal/codec/future_ref.hpp>
#include <shoal/proto/shoal.capnp.h>

namespace codec = shoal::codec;
using shoal::Bytes;
using codec::FutureRef;

TEST_CASE("resolve_refs splices dependency values where the future_refs stood", "[codec][future_ref]") {
  // What the caller encodes: f(dep0, [dep1, dep2], "x"): a future and a list of futures.
  auto args = codec::encode(std::tuple<FutureRef, std::vector<FutureRef>, std::string>{
      FutureRef{0}, {FutureRef{1}, FutureRef{2}}, "x"});
  CHECK(codec::future_refs(args) == std::vector<std::uint32_t>{0, 1, 2});
  // What the worker receives as the deps' results.
  std::vector<Bytes> values{codec::encode(std::int64_t{40}), codec::encode(2), codec::encode(3)};
  auto resolved = codec::resolve_refs(args, values);
  CHECK(codec::future_refs(resolved).empty());
  // The callee's real signature decodes it as if the values had been there all along.
  auto [a, list, s] = codec::decode<std::tuple<std::int64_t, std::vector<int>, std::string>>(resolved);
  CHECK(a == 40);
  CHECK(list == std::vector<int>{2, 3});
  CHECK(s == "x");
}

TEST_CASE("resolve_refs without dependencies returns the arguments without a copy", "[codec][future_ref]") {
  auto args = codec::encode(std::tuple<int, std::string>{1, "a"});
  auto same = codec::resolve_refs(args, {});
  CHECK(same.data() == args.data());
}

TEST_CASE("a future_ref past the dependency list is a DecodeError naming both counts", "[codec][future_ref]") {
  auto args = codec::encode(std::tuple<FutureRef>{FutureRef{2}});
  std::vector<Bytes> values{codec::encode(1)};
  CHECK_THROWS_AS(codec::resolve_refs(args, values), shoal::DecodeError);
  CHECK_THROWS_WITH(codec::resolve_refs(args, values), Catch::Matchers::Contains("1 dependencies"));
}

TEST_CASE("a dependency value holding a future_ref or two values is refused", "[codec][future_ref]") {
  auto args = codec::encode(std::tuple<FutureRef>{FutureRef{0}});
  std::vector<Bytes> nested{codec::encode(FutureRef{0})};
  CHECK_THROWS_AS(codec::resolve_refs(args, nested), shoal::DecodeError);
  codec::Writer two;
  codec::encode(two, 1);
  codec::encode(two, 2);
  std::vector<Bytes> doubled{two.finish()};
  CHECK_THROWS_AS(codec::resolve_refs(args, doubled), shoal::DecodeError);
}

TEST_CASE("a Cap'n Proto message after a splice is re-padded and still read in place", "[codec][future_ref][capnp]") {
  using Hello = shoal::proto::schema::Hello;
  auto msg = codec::Message<Hello>::build([](Hello::Builder h) { h.setName("after-splice"); });
  auto args = codec::encode(std::tuple<FutureRef, codec::Message<Hello>>{FutureRef{0}, msg});
  for (std::string dep : {"", "a", "abcdefg", "abcdefgh", "a much longer dependency value"}) {
    std::vector<Bytes> values{codec::encode(dep)};
    auto resolved = codec::resolve_refs(args, values);
    auto [s, back] = codec::decode<std::tuple<std::string, codec::Message<Hello>>>(resolved);
    CHECK(s == dep);
    CHECK(back.get().getName() == "after-splice");
    CHECK(reinterpret_cast<std::uintptr_t>(back.flat().data()) % 8 == 0);
  }
}

TEST_CASE("resolve_refs refuses truncated and garbage arguments with a DecodeError", "[codec][future_ref]") {
  auto args = codec::encode(std::tuple<FutureRef, std::string>{FutureRef{0}, "hello"});
  std::vector<Bytes> values{codec::encode(1)};
  for (std::size_t cut = 0; cut + 1 < args.size(); ++cut) {
    Bytes truncated = Bytes::copy(args.span().first(cut + 1));
    CHECK_THROWS_AS(codec::resolve_refs(truncated, values), shoal::DecodeError);
  }
  std::vector<std::byte> junk(64, std::byte{0x09});  // lists nested past the depth limit
  CHECK_THROWS_AS(codec::resolve_refs(Bytes::copy(junk), values), shoal::DecodeError);
}
