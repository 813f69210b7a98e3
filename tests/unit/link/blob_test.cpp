// Values beside the frames (Connection::attach / take_blob): shared memory over Unix
// sockets, chunks over TCP, hand-over in process; and what a hostile peer may not do.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <capnp/message.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "shoal/codec/shm.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/link/messages.hpp"
#include "support/socketpair.hpp"

namespace schema = shoal::proto::schema;
namespace shm = shoal::codec::shm;
using Catch::Matchers::Contains;
using shoal::link::Connection;

namespace {

// Takes the value of each Result (inline or beside it) and the ids of each Cancel, in order.
struct Taker : shoal::link::ConnectionHandler {
  Connection* conn = nullptr;
  std::vector<shoal::Bytes> values;
  std::vector<std::string> order;  // "result", "cancel"
  std::string closed, protocol_error;
  std::size_t max_frame_seen = 0;
  void on_message(schema::Envelope::Reader env, const shoal::proto::FrameOwner& frame) override {
    if (env.which() == schema::Envelope::RESULT) {
      auto r = env.getResult();
      values.push_back(conn->value(r.getValue(), r.getValueBlob(), frame));
      order.push_back("result");
    }
    if (env.which() == schema::Envelope::CANCEL) order.push_back("cancel");
  }
  void on_protocol_error(const std::string& why) override { protocol_error = why; }
  void on_closed(const std::string& why) override { closed = why; }
};

shoal::Bytes pattern(std::size_t n, unsigned seed = 7) {
  return shoal::Bytes::build(n, [&](std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>((i * seed) ^ (i >> 9));
  });
}

void send_value(Connection& c, const shoal::Bytes& v) {
  capnp::MallocMessageBuilder msg;
  auto r = msg.initRoot<schema::Envelope>().initResult();
  if (auto id = c.attach(v))
    r.setValueBlob(id);
  else
    r.setValue(shoal::link::data(v));
  c.send(msg);
}

void send_cancel(Connection& c) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Envelope>().initCancel().setTaskId(1);
  c.send(msg);
}

// Frames written straight to a socket, with `fd` passed beside the first (or none).
void send_raw(int sock, std::vector<capnp::MallocMessageBuilder*> msgs, int fd = -1) {
  std::vector<std::uint64_t> words;
  for (auto* m : msgs) shoal::proto::append_frame(*m, words);
  iovec iov{words.data(), words.size() * 8};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    auto* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  REQUIRE(::sendmsg(sock, &h, MSG_NOSIGNAL) == static_cast<ssize_t>(words.size() * 8));
}

void header(capnp::MallocMessageBuilder& m, std::uint64_t id, std::uint64_t size, schema::BlobVia via) {
  auto h = m.initRoot<schema::Envelope>().initBlob();
  h.setId(id);
  h.setSize(size);
  h.setVia(via);
}

// Two authenticated connections over a Unix socket pair, each with its Taker.
struct UnixPair {
  asio::io_context io;
  std::shared_ptr<Connection> a, b;
  Taker ta, tb;
  UnixPair() {
    auto [s1, s2] = shoal::test::socket_pair(io.get_executor());
    a = Connection::over_socket(std::move(s1), shoal::proto::authenticated_limits());
    b = Connection::over_socket(std::move(s2), shoal::proto::authenticated_limits());
    ta.conn = a.get();
    tb.conn = b.get();
    a->start(ta);
    b->start(tb);
  }
  void run(std::chrono::milliseconds ms) { io.run_for(ms); }
};

// A receiving connection over a Unix socket pair, authenticated; the other end raw.
struct RawPeer {
  asio::io_context io;
  shoal::test::GenericSocket raw{io};
  std::shared_ptr<Connection> conn;
  Taker taker;
  RawPeer() {
    auto [s1, s2] = shoal::test::socket_pair(io.get_executor());
    raw = std::move(s1);
    conn = Connection::over_socket(std::move(s2), shoal::proto::authenticated_limits());
    taker.conn = conn.get();
    conn->start(taker);
  }
  void run() { io.run_for(std::chrono::milliseconds(300)); }
};

}  // namespace

TEST_CASE("over a Unix socket a large value passes as a sealed memfd: no copy of a segment, byte for byte",
          "[link][blob]") {
  UnixPair p;
  auto& a = p.a;
  auto& tb = p.tb;
  auto heap = pattern(3u << 20);                                  // copied into a segment once
  auto seg = shm::Segment::copy_of(pattern(5u << 20, 11).span());  // passed as it is
  auto small = pattern(1000);                                     // inline
  auto created = shm::segments_created();
  send_value(*a, heap);
  send_value(*a, seg->bytes());
  send_value(*a, small);
  send_cancel(*a);
  CHECK(shm::segments_created() == created + 1);  // the heap value's; the segment went as it was
  p.run(std::chrono::milliseconds(500));
  REQUIRE(tb.values.size() == 3);
  CHECK(tb.values[0] == heap);
  CHECK(tb.values[1] == seg->bytes());
  CHECK(tb.values[2] == small);
  CHECK(shm::segment_of(tb.values[1]) != nullptr);  // mapped in place
  CHECK(tb.values[1].data() != seg->data());        // (its own mapping of the same pages)
  CHECK(tb.order == std::vector<std::string>{"result", "result", "result", "cancel"});
  CHECK(tb.closed.empty());
}

TEST_CASE("more values at once than one sendmsg may pass descriptors for all arrive, in order", "[link][blob]") {
  UnixPair p;
  auto& tb = p.tb;
  std::vector<std::shared_ptr<const shm::Segment>> segs;
  for (unsigned i = 0; i < 300; ++i) segs.push_back(shm::Segment::copy_of(pattern(1u << 20, i + 1).span()));
  for (auto& s : segs) send_value(*p.a, s->bytes());
  p.run(std::chrono::milliseconds(1500));
  REQUIRE(tb.values.size() == segs.size());
  for (std::size_t i = 0; i < segs.size(); ++i)
    if (!(tb.values[i] == segs[i]->bytes())) FAIL("value " << i << " differs");
}

TEST_CASE("over TCP a large value streams in chunks, small frames keep their order behind it", "[link][blob]") {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  asio::ip::tcp::socket client(io), server(io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  auto generic = [&](asio::ip::tcp::socket& s) {
    return shoal::proto::Socket(io, asio::generic::stream_protocol(AF_INET, SOCK_STREAM), s.release());
  };
  // The receiver takes no frame over 1 MiB: a 48 MiB value fits only in chunks.
  auto limits = shoal::proto::authenticated_limits();
  limits.max_frame_bytes = 1u << 20;
  auto a = Connection::over_socket(generic(client), limits);
  auto b = Connection::over_socket(generic(server), limits);
  REQUIRE(a->is_tcp());
  Taker ta, tb;
  ta.conn = a.get();
  tb.conn = b.get();
  a->start(ta);
  b->start(tb);
  auto big = pattern(48u << 20);
  send_value(*a, big);
  send_cancel(*a);  // sent after: arrives after
  CHECK(a->pending_bytes() >= big.size() - shoal::link::kBlobWindowBytes);  // paced, not piled into the writer
  io.run_for(std::chrono::milliseconds(3000));
  REQUIRE(tb.values.size() == 1);
  CHECK(tb.values[0] == big);
  CHECK(tb.order == std::vector<std::string>{"result", "cancel"});
  CHECK(tb.protocol_error.empty());
  CHECK(a->pending_bytes() == 0);
}

TEST_CASE("in process a large value is handed over as it is", "[link][blob]") {
  asio::io_context io;
  auto [a, b] = Connection::local_pair(io.get_executor(), shoal::proto::authenticated_limits());
  Taker ta, tb;
  ta.conn = a.get();
  tb.conn = b.get();
  a->start(ta);
  b->start(tb);
  auto big = pattern(2u << 20);
  send_value(*a, big);
  io.run_for(std::chrono::milliseconds(100));
  REQUIRE(tb.values.size() == 1);
  CHECK(tb.values[0].data() == big.data());  // the same bytes, no copy
}

TEST_CASE("values beside the frames are refused before the peer has authenticated", "[link][blob]") {
  asio::io_context io;
  auto [s1, s2] = shoal::test::socket_pair(io.get_executor());
  auto a = Connection::over_socket(std::move(s1), shoal::proto::authenticated_limits());
  auto b = Connection::over_socket(std::move(s2));  // a stranger's limits: no blobs
  Taker ta, tb;
  ta.conn = a.get();
  tb.conn = b.get();
  a->start(ta);
  b->start(tb);
  send_value(*a, pattern(2u << 20));
  io.run_for(std::chrono::milliseconds(300));
  CHECK_THAT(tb.protocol_error, Contains("before the handshake"));
  CHECK(tb.values.empty());
}

TEST_CASE("a hostile peer's values: unsealed, missing, misnamed, oversized chunks, all protocol errors",
          "[link][blob]") {
  SECTION("an unsealed memfd (its sender could shrink it under our mapping)") {
    RawPeer p;
    int fd = ::memfd_create("evil", MFD_CLOEXEC);
    REQUIRE(::ftruncate(fd, 2 << 20) == 0);
    capnp::MallocMessageBuilder h;
    header(h, 1, 2 << 20, schema::BlobVia::FD);
    send_raw(p.raw.native_handle(), {&h}, fd);
    ::close(fd);
    p.run();
    CHECK_THAT(p.taker.protocol_error, Contains("not sealed"));
  }
  SECTION("a sealed memfd of another size than announced") {
    RawPeer p;
    auto seg = shm::Segment::copy_of(pattern(2u << 20).span());
    capnp::MallocMessageBuilder h;
    header(h, 1, 3 << 20, schema::BlobVia::FD);
    send_raw(p.raw.native_handle(), {&h}, seg->fd());
    p.run();
    CHECK_THAT(p.taker.protocol_error, Contains("outside its segment"));
  }
  SECTION("a value announced in shared memory without its descriptor") {
    RawPeer p;
    capnp::MallocMessageBuilder h;
    header(h, 1, 2 << 20, schema::BlobVia::FD);
    send_raw(p.raw.native_handle(), {&h});
    p.run();
    CHECK_THAT(p.taker.protocol_error, Contains("without its descriptor"));
  }
  SECTION("a message naming a value that never came") {
    RawPeer p;
    capnp::MallocMessageBuilder r;
    r.initRoot<schema::Envelope>().initResult().setValueBlob(9);
    send_raw(p.raw.native_handle(), {&r});
    p.run();
    CHECK_THAT(p.taker.protocol_error, Contains("did not come before it"));
  }
  SECTION("a chunk past the size of its value") {
    RawPeer p;
    capnp::MallocMessageBuilder h, c;
    header(h, 1, 10, schema::BlobVia::STREAM);
    auto chunk = c.initRoot<schema::Envelope>().initBlobChunk();
    chunk.setId(1);
    std::string twenty(20, 'z');
    chunk.setData(shoal::link::data(std::string_view(twenty)));
    send_raw(p.raw.native_handle(), {&h, &c});
    p.run();
    CHECK_THAT(p.taker.protocol_error, Contains("where 10 remain"));
  }
  SECTION("a second value announced with an id that does not follow") {
    RawPeer p;
    capnp::MallocMessageBuilder h;
    header(h, 5, 10, schema::BlobVia::STREAM);
    send_raw(p.raw.native_handle(), {&h});
    p.run();
    CHECK_THAT(p.taker.protocol_error, Contains("came after value 0"));
  }
  SECTION("a value its peer left unclaimed is dropped with the next message") {
    RawPeer p;
    auto seg = shm::Segment::copy_of(pattern(2u << 20).span());
    capnp::MallocMessageBuilder h, cancel, r;
    header(h, 1, 2 << 20, schema::BlobVia::FD);
    cancel.initRoot<schema::Envelope>().initCancel().setTaskId(3);
    r.initRoot<schema::Envelope>().initResult().setValueBlob(1);
    send_raw(p.raw.native_handle(), {&h, &cancel, &r}, seg->fd());
    p.run();
    CHECK_THAT(p.taker.protocol_error, Contains("did not come before it"));
  }
}

// Not a test: how the threshold (shm::kSharedAtBytes) was chosen. Sends values of a size
// inline and beside the frames over a Unix socket pair and prints the time per value.
//   test_link "[.][blob-threshold]"
TEST_CASE("measure: inline against shared memory by size", "[.][blob-threshold]") {
  for (std::size_t size : {64u << 10, 256u << 10, 512u << 10, 1u << 20, 2u << 20, 8u << 20}) {
    for (bool beside : {false, true}) {
      asio::io_context io;
      auto [s1, s2] = shoal::test::socket_pair(io.get_executor());
      auto limits = shoal::proto::authenticated_limits();
      limits.max_frame_bytes = 64u << 20;
      auto a = Connection::over_socket(std::move(s1), limits);
      auto b = Connection::over_socket(std::move(s2), limits);
      Taker ta, tb;
      ta.conn = a.get();
      tb.conn = b.get();
      a->start(ta);
      b->start(tb);
      constexpr int n = 40;
      std::vector<shoal::Bytes> values;  // a fresh value each time, as a task's
      for (int i = 0; i < n; ++i) values.push_back(pattern(size, static_cast<unsigned>(i + 1)));
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i) {
        const auto& v = values[static_cast<std::size_t>(i)];
        capnp::MallocMessageBuilder msg;
        auto r = msg.initRoot<schema::Envelope>().initResult();
        if (auto id = beside ? a->attach(v, 1) : 0)
          r.setValueBlob(id);
        else
          r.setValue(shoal::link::data(v));
        a->send(msg);
        while (tb.values.size() < static_cast<std::size_t>(i + 1)) io.run_one();
        (void)std::to_integer<int>(tb.values.back()[size - 1]);  // the receiver reads it
      }
      double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
      std::printf("%8zu KiB %-7s %9.1f us/value\n", size >> 10, beside ? "beside" : "inline", us);
    }
  }
}
