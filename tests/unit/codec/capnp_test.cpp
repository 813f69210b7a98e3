#include <catch2/catch.hpp>

#include <capnp/message.h>

#include <shoal/codec/capnp.hpp>
#include <shoal/proto/shoal.capnp.h>

namespace codec = shoal::codec;
namespace schema = shoal::proto::schema;
using shoal::Bytes;
using Catch::Matchers::Contains;

namespace {

codec::Message<schema::Hello> hello() {
  return codec::Message<schema::Hello>::build([](schema::Hello::Builder h) {
    h.setProtocolVersion(1);
    h.setRole(schema::Role::WORKER);
    h.setName("worker-1");
    h.setPid(4242);
  });
}

}  // namespace

TEST_CASE("a Cap'n Proto struct round-trips as it is", "[codec][capnp]") {
  Bytes b = codec::encode(hello());
  auto back = codec::decode<codec::Message<schema::Hello>>(b);
  CHECK(back.get().getName() == "worker-1");
  CHECK(back.get().getPid() == 4242);
  CHECK(back.get().getRole() == schema::Role::WORKER);
  CHECK(codec::type_name<codec::Message<schema::Hello>>() == "capnp<Hello>");
}

TEST_CASE("a decoded Cap'n Proto message aliases the aligned encoding without copying", "[codec][capnp]") {
  Bytes b = codec::encode(hello());
  auto back = codec::decode<codec::Message<schema::Hello>>(b);
  CHECK(back.flat().data() >= b.data());
  CHECK(back.flat().data() < b.data() + b.size());
  CHECK(reinterpret_cast<std::uintptr_t>(back.flat().data()) % 8 == 0);
}

TEST_CASE("a Cap'n Proto message after other values is padded to stay aligned", "[codec][capnp]") {
  for (int k = 0; k < 9; ++k) {
    codec::Writer w;
    codec::encode(w, std::string(static_cast<std::size_t>(k), 'x'));
    codec::encode(w, hello());
    codec::encode(w, 7);
    Bytes b = w.finish();
    codec::Reader r(b);
    CHECK(codec::decode<std::string>(r).size() == static_cast<std::size_t>(k));
    auto m = codec::decode<codec::Message<schema::Hello>>(r);
    CHECK(m.get().getPid() == 4242);
    CHECK(m.flat().owner() == b.owner());
    CHECK(codec::decode<int>(r) == 7);
  }
}

TEST_CASE("a misaligned Cap'n Proto encoding is copied into aligned memory", "[codec][capnp]") {
  Bytes b = codec::encode(hello());
  std::string shifted = " " + b.to_string();
  auto owner = std::make_shared<std::string>(shifted);
  codec::Reader r(std::span(reinterpret_cast<const std::byte*>(owner->data()) + 1, b.size()), owner);
  auto m = codec::decode<codec::Message<schema::Hello>>(r);
  CHECK(m.get().getName() == "worker-1");
}

TEST_CASE("a Cap'n Proto Reader encodes as a message of its struct", "[codec][capnp]") {
  capnp::MallocMessageBuilder builder;
  auto h = builder.initRoot<schema::Hello>();
  h.setName("from-reader");
  Bytes b = codec::encode(h.asReader());
  CHECK(codec::decode<codec::Message<schema::Hello>>(b).get().getName() == "from-reader");
  CHECK(codec::Message<schema::Hello>::from_builder(builder).get().getName() == "from-reader");
  CHECK(codec::Message<schema::Hello>(h.asReader()).get().getName() == "from-reader");
}

TEST_CASE("a message of another struct type is a TypeMismatch", "[codec][capnp][errors]") {
  Bytes b = codec::encode(hello());
  CHECK_THROWS_WITH(codec::decode<codec::Message<schema::Welcome>>(b),
                    Contains("expected capnp<Welcome>, received a Cap'n Proto message of type id"));
  CHECK_THROWS_WITH(codec::decode<codec::Message<schema::Welcome>>(codec::encode(1)),
                    "expected capnp<Welcome>, received int 1");
}

TEST_CASE("a malformed Cap'n Proto message is a DecodeError", "[codec][capnp][errors]") {
  // A segment table announcing a segment far larger than the message.
  codec::Writer w;
  std::uint64_t words[2] = {0, 0};
  words[0] = std::uint64_t{1000} << 32;  // 1 segment of 1000 words
  codec::detail::write_capnp(w, capnp::typeId<schema::Hello>(),
                             std::span(reinterpret_cast<const std::byte*>(words), sizeof words));
  CHECK_THROWS_AS(codec::decode<codec::Message<schema::Hello>>(w.finish()), shoal::DecodeError);
  // A length that is not whole words.
  codec::Writer w2;
  codec::detail::write_capnp(w2, capnp::typeId<schema::Hello>(), std::span(reinterpret_cast<const std::byte*>(words), 12));
  CHECK_THROWS_WITH(codec::decode<codec::Message<schema::Hello>>(w2.finish()), Contains("not whole words"));
  CHECK_THROWS_AS(codec::Message<schema::Hello>::from_flat(Bytes()), shoal::DecodeError);
}
