// proto::Builder: messages built on pooled first segments. A segment comes back zeroed
// where the last message wrote, so the next message on it reads as if built fresh.

#include <catch2/catch.hpp>

#include <capnp/serialize.h>

#include <string>
#include <thread>
#include <vector>

#include "shoal/proto/builder.hpp"
#include "shoal/proto/frame.hpp"

namespace schema = shoal::proto::schema;

namespace {

// The message `b` built, read back from its frame.
std::vector<std::uint64_t> frame_of(capnp::MessageBuilder& b) {
  std::vector<std::uint64_t> words;
  shoal::proto::append_frame(b, words);
  return words;
}

}  // namespace

TEST_CASE("a builder on a segment another message used reads as if fresh", "[proto][builder]") {
  for (std::size_t first : {std::size_t{0}, std::size_t{1024}, std::size_t{5000}, std::size_t{40000}}) {
    {
      // Fill a segment: a submit with every field set and a large function name.
      shoal::proto::Builder b(first);
      auto s = b.initRoot<schema::Envelope>().initSubmit();
      s.setTaskId(~0ull);
      s.setFunction(std::string(first > 1024 ? first * 4 : 6000, 'x'));
      s.setSignatureHash(0xdeadbeef);
      s.initDeps(100);
      s.setMethod("m");
      (void)frame_of(b);
    }
    // The next one on this thread (the same segment): only what it sets is set.
    shoal::proto::Builder b(first);
    auto s = b.initRoot<schema::Envelope>().initSubmit();
    s.setTaskId(7);
    auto words = frame_of(b);
    capnp::FlatArrayMessageReader r(kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(words.data()),
                                                                       words.size()));
    auto got = r.getRoot<schema::Envelope>();
    REQUIRE(got.which() == schema::Envelope::SUBMIT);
    CHECK(got.getSubmit().getTaskId() == 7);
    CHECK(got.getSubmit().getFunction().size() == 0);
    CHECK(got.getSubmit().getSignatureHash() == 0);
    CHECK(got.getSubmit().getDeps().size() == 0);
    CHECK_FALSE(got.getSubmit().hasMethod());
  }
}

TEST_CASE("builders nest, grow past their first segment, and end on other threads", "[proto][builder]") {
  shoal::proto::Builder outer;
  {
    shoal::proto::Builder inner;  // a second lease while the first is held
    inner.initRoot<schema::Envelope>().initSubmit().setTaskId(2);
    CHECK(frame_of(inner).size() > 1);
  }
  // More than its first segment: capnp adds segments of its own.
  auto s = outer.initRoot<schema::Envelope>().initSubmit();
  s.setArgs(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(std::string(100'000, 'a').data()), 100'000));
  CHECK(outer.getSegmentsForOutput().size() > 1);
  CHECK(frame_of(outer).size() > 100'000 / 8);
  // Made here, ended on another thread: its segment goes to that thread's pool.
  auto moved = std::make_unique<shoal::proto::Builder>();
  moved->initRoot<schema::Envelope>().initSubmit().setTaskId(3);
  std::thread([m = std::move(moved)]() mutable { m.reset(); }).join();
}
