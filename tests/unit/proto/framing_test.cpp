#include <catch2/catch.hpp>

#include <asio/write.hpp>
#include <capnp/message.h>
#include <shoal/proto/stream.hpp>

#include <random>
#include <string>
#include <vector>

#include "support/run.hpp"
#include "support/socketpair.hpp"

using shoal::proto::FrameLimits;
using shoal::proto::FrameReader;
using shoal::proto::FrameWriter;

namespace {

/// A frame holding a Cancel for `id` (small) or a Submit with `payload` bytes of args.
std::vector<std::uint64_t> frame_of(std::uint64_t id, std::size_t payload = 0) {
  capnp::MallocMessageBuilder msg;
  auto env = msg.initRoot<shoal::proto::Envelope>();
  if (payload == 0) {
    env.initCancel().setTaskId(id);
  } else {
    auto s = env.initSubmit();
    s.setTaskId(id);
    s.setFunction("f");
    auto data = s.initArgs(payload);
    for (std::size_t i = 0; i < payload; ++i) data[i] = static_cast<kj::byte>(i * 7 + id);
  }
  std::vector<std::uint64_t> out;
  shoal::proto::append_frame(msg, out);
  return out;
}

std::uint64_t id_of(shoal::proto::Frame& f) {
  return shoal::proto::guarded([&] {
    auto env = f.envelope();
    return env.isCancel() ? env.getCancel().getTaskId() : env.getSubmit().getTaskId();
  });
}

shoal::Coro<void> write_bytes(shoal::test::GenericSocket& s, const void* p, std::size_t n) {
  co_await asio::async_write(s, asio::buffer(p, n), shoal::use_coro);
}

}  // namespace

TEST_CASE("frames sent by a FrameWriter arrive whole and in order", "[proto][framing]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    auto writer = FrameWriter::create(a);
    FrameReader reader(b);
    for (std::uint64_t i = 1; i <= 100; ++i) {
      capnp::MallocMessageBuilder msg;
      msg.initRoot<shoal::proto::Envelope>().initCancel().setTaskId(i);
      writer->send(msg);
    }
    for (std::uint64_t i = 1; i <= 100; ++i) {
      auto f = co_await reader.next();
      REQUIRE(f);
      CHECK(id_of(*f) == i);
    }
    co_await writer->drain();
  };
  shoal::test::run(body());
}

TEST_CASE("a burst of frames leaves in far fewer writes than frames", "[proto][framing][coalesce]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    auto writer = FrameWriter::create(a);
    FrameReader reader(b);
    for (std::uint64_t i = 0; i < 1000; ++i) {
      capnp::MallocMessageBuilder msg;
      msg.initRoot<shoal::proto::Envelope>().initCancel().setTaskId(i);
      writer->send(msg);
    }
    CHECK(writer->frames_queued() == 1000);
    CHECK(writer->writes() <= 2);  // the first goes at once, the rest together
    for (std::uint64_t i = 0; i < 1000; ++i) {
      auto f = co_await reader.next();
      REQUIRE(f);
      CHECK(id_of(*f) == i);
    }
    CHECK(reader.reads() < 100);  // many frames parsed from each read
  };
  shoal::test::run(body());
}

TEST_CASE("frames split at every byte boundary are reassembled", "[proto][framing]") {
  auto body = []() -> shoal::Coro<void> {
    std::vector<std::uint64_t> stream;
    for (std::uint64_t id : {1u, 2u, 3u}) {
      auto f = frame_of(id, id == 2 ? 300 : 0);
      stream.insert(stream.end(), f.begin(), f.end());
    }
    const auto* bytes = reinterpret_cast<const char*>(stream.data());
    std::size_t total = stream.size() * 8;
    for (std::size_t cut = 1; cut < total; ++cut) {
      auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
      FrameReader reader(b, FrameLimits{}, 64);  // tiny chunks: exercise growth and sliding
      co_await write_bytes(a, bytes, cut);
      std::vector<std::uint64_t> got;
      while (auto f = reader.try_next()) got.push_back(id_of(*f));
      co_await write_bytes(a, bytes + cut, total - cut);
      a.shutdown(asio::socket_base::shutdown_send);
      while (auto f = co_await reader.next()) got.push_back(id_of(*f));
      REQUIRE(got == std::vector<std::uint64_t>{1, 2, 3});
    }
  };
  shoal::test::run(body());
}

TEST_CASE("a frame with a large payload survives tiny chunks", "[proto][framing]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    auto big = frame_of(9, 1 << 20);
    FrameReader reader(b, FrameLimits{}, 128);
    auto writer = FrameWriter::create(a);
    writer->send_words(big);
    auto f = co_await reader.next();
    REQUIRE(f);
    auto args = shoal::proto::guarded([&] { return f->envelope().getSubmit().getArgs(); });
    REQUIRE(args.size() == (1u << 20));
    CHECK(args[12345] == static_cast<kj::byte>(12345 * 7 + 9));
  };
  shoal::test::run(body());
}

TEST_CASE("an oversized frame is a ProtocolError before it is buffered", "[proto][limits]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    FrameLimits limits;
    limits.max_frame_bytes = 4096;
    FrameReader reader(b, limits);
    auto big = frame_of(1, 10000);
    co_await write_bytes(a, big.data(), 16);  // only the segment table
    CHECK_THROWS_AS(co_await reader.next(), shoal::ProtocolError);
  };
  shoal::test::run(body());
}

TEST_CASE("a frame announcing too many segments is a ProtocolError", "[proto][limits]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    FrameReader reader(b);
    std::uint32_t table[2] = {100000, 1};
    co_await write_bytes(a, table, sizeof table);
    CHECK_THROWS_AS(co_await reader.next(), shoal::ProtocolError);
  };
  shoal::test::run(body());
}

TEST_CASE("a connection closed inside a frame is a ProtocolError", "[proto][limits]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    FrameReader reader(b);
    auto f = frame_of(5, 100);
    co_await write_bytes(a, f.data(), f.size() * 8 - 8);
    a.close();
    CHECK_THROWS_AS(co_await reader.next(), shoal::ProtocolError);
  };
  shoal::test::run(body());
}

TEST_CASE("a clean end of stream between frames ends the reader without error", "[proto][framing]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    FrameReader reader(b);
    auto f = frame_of(5);
    co_await write_bytes(a, f.data(), f.size() * 8);
    a.close();
    auto first = co_await reader.next();
    REQUIRE(first);
    CHECK(id_of(*first) == 5);
    auto second = co_await reader.next();  // not inside CHECK: see tests/README.md
    CHECK_FALSE(second);
  };
  shoal::test::run(body());
}

TEST_CASE("a message past the traversal limit fails as a ProtocolError when read", "[proto][limits]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    FrameLimits limits;
    limits.traversal_limit_words = 64;
    FrameReader reader(b, limits);
    auto f = frame_of(1, 4096);
    co_await write_bytes(a, f.data(), f.size() * 8);
    auto frame = co_await reader.next();
    REQUIRE(frame);
    CHECK_THROWS_AS(shoal::proto::guarded([&] { return frame->envelope().getSubmit().getArgs().size(); }),
                    shoal::ProtocolError);
  };
  shoal::test::run(body());
}

TEST_CASE("random garbage never crashes the reader and the next connection still works", "[proto][limits]") {
  auto body = []() -> shoal::Coro<void> {
    std::mt19937_64 rng(42);
    for (int round = 0; round < 200; ++round) {
      auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
      FrameLimits limits;
      limits.max_frame_bytes = 1 << 16;
      FrameReader reader(b, limits);
      std::vector<std::uint64_t> junk(1 + rng() % 64);
      for (auto& w : junk) w = rng();
      if (round % 2) reinterpret_cast<std::uint32_t*>(junk.data())[0] = rng() % 4;  // plausible table
      co_await write_bytes(a, junk.data(), junk.size() * 8);
      a.close();
      try {
        while (auto f = co_await reader.next()) {
          shoal::proto::guarded([&] {
            auto env = f->envelope();
            if (env.isSubmit()) (void)env.getSubmit().getFunction().size();
            return 0;
          });
        }
      } catch (const shoal::ProtocolError&) {
      }
    }
    // A healthy connection afterwards.
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    FrameReader reader(b);
    auto writer = FrameWriter::create(a);
    capnp::MallocMessageBuilder msg;
    msg.initRoot<shoal::proto::Envelope>().initCancel().setTaskId(77);
    writer->send(msg);
    auto f = co_await reader.next();
    REQUIRE(f);
    CHECK(id_of(*f) == 77);
  };
  shoal::test::run(body());
}

TEST_CASE("a write to a closed peer fails the writer with ConnectionError", "[proto][framing]") {
  auto body = []() -> shoal::Coro<void> {
    auto [a, b] = shoal::test::socket_pair(co_await asio::this_coro::executor);
    auto writer = FrameWriter::create(a);
    bool reported = false;
    writer->on_error([&](const std::error_code&) { reported = true; });
    b.close();
    auto big = frame_of(1, 1 << 20);
    writer->send_words(big);
    CHECK_THROWS_AS(co_await writer->drain(), shoal::ConnectionError);
    CHECK(reported);
    CHECK(writer->failed());
    CHECK_THROWS_AS(writer->send_words(big), shoal::ConnectionError);
  };
  shoal::test::run(body());
}
