#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>
#include <capnp/message.h>

#include <string>
#include <vector>

#include "shoal/link/connection.hpp"
#include "shoal/link/messages.hpp"
#include "support/socketpair.hpp"

namespace schema = shoal::proto::schema;
using shoal::link::Connection;

namespace {

// Records what a connection hands it.
struct Recorder : shoal::link::ConnectionHandler {
  std::vector<std::uint64_t> cancels;
  std::vector<std::size_t> frames_per_read;
  std::vector<shoal::Bytes> values;
  std::string closed, protocol_error;
  int closed_calls = 0;
  void on_frames() override { frames_per_read.push_back(0); }
  void on_message(schema::Envelope::Reader env, const shoal::proto::FrameOwner& frame) override {
    if (!frames_per_read.empty()) ++frames_per_read.back();
    if (env.which() == schema::Envelope::CANCEL) cancels.push_back(env.getCancel().getTaskId());
    if (env.which() == schema::Envelope::RESULT) values.push_back(shoal::link::bytes(env.getResult().getValue(), frame));
    if (env.which() == schema::Envelope::SHUTDOWN) throw shoal::ProtocolError("shutdown is not for me");
  }
  void on_protocol_error(const std::string& why) override { protocol_error = why; }
  void on_closed(const std::string& why) override {
    closed = why;
    ++closed_calls;
  }
};

void send_cancel(Connection& c, std::uint64_t id) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Envelope>().initCancel().setTaskId(id);
  c.send(msg);
}

}  // namespace

TEST_CASE("an in-process pair delivers what is sent in one turn together, in order", "[link][connection]") {
  asio::io_context io;
  auto [a, b] = Connection::local_pair(io.get_executor());
  Recorder ra, rb;
  a->start(ra);
  b->start(rb);
  for (std::uint64_t i = 1; i <= 3; ++i) send_cancel(*a, i);
  io.run_for(std::chrono::milliseconds(100));
  CHECK(rb.cancels == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(rb.frames_per_read == std::vector<std::size_t>{3});  // one delivery for the turn
  a->close("done");
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  CHECK(ra.closed == "done");
  CHECK(rb.closed == "the peer closed the connection");
  CHECK(ra.closed_calls == 1);
  CHECK(rb.closed_calls == 1);
  send_cancel(*a, 9);  // after close: nothing, no throw
}

TEST_CASE("a socket connection reads frames, aliases large payloads and closes once", "[link][connection]") {
  asio::io_context io;
  auto [s1, s2] = shoal::test::socket_pair(io.get_executor());
  auto a = Connection::over_socket(std::move(s1));
  auto b = Connection::over_socket(std::move(s2));
  Recorder ra, rb;
  a->start(ra);
  b->start(rb);
  std::string big(100 * 1024, 'x'), small = "tiny";
  for (auto* payload : {&big, &small}) {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::Envelope>().initResult();
    r.setValue(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(payload->data()), payload->size()));
    a->send(msg);
  }
  io.run_for(std::chrono::milliseconds(200));
  REQUIRE(rb.values.size() == 2);
  CHECK(rb.values[0].size() == big.size());
  CHECK(rb.values[0].owner() != nullptr);  // the frame's buffer, not a copy
  CHECK(std::string(reinterpret_cast<const char*>(rb.values[1].data()), rb.values[1].size()) == "tiny");
  CHECK_FALSE(a->is_tcp());
  CHECK(a->native_handle() >= 0);
  b->close("bye");
  io.restart();
  io.run_for(std::chrono::milliseconds(200));
  CHECK(rb.closed == "bye");
  CHECK(ra.closed == "the peer closed the connection");
  CHECK(ra.closed_calls == 1);
  CHECK(rb.closed_calls == 1);
}

TEST_CASE("a handler that throws ProtocolError closes the connection after on_protocol_error",
          "[link][connection]") {
  asio::io_context io;
  auto [s1, s2] = shoal::test::socket_pair(io.get_executor());
  auto a = Connection::over_socket(std::move(s1));
  auto b = Connection::over_socket(std::move(s2));
  Recorder ra, rb;
  a->start(ra);
  b->start(rb);
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Envelope>().initShutdown();
  a->send(msg);
  send_cancel(*a, 5);  // never handled: the connection closed on the frame before
  io.run_for(std::chrono::milliseconds(200));
  CHECK(rb.protocol_error == "protocol error: shutdown is not for me");
  CHECK(rb.closed == rb.protocol_error);
  CHECK(rb.cancels.empty());
  CHECK(ra.closed_calls == 1);
}

TEST_CASE("garbage on a socket is a protocol error, not a crash", "[link][connection]") {
  asio::io_context io;
  auto [s1, s2] = shoal::test::socket_pair(io.get_executor());
  auto b = Connection::over_socket(std::move(s2), shoal::proto::FrameLimits{.max_frame_bytes = 1024});
  Recorder rb;
  b->start(rb);
  std::uint64_t words[2] = {0xFFFFFFFF00000000ull, 0};  // one segment of 4 billion words
  asio::write(s1, asio::buffer(words, sizeof words));
  io.run_for(std::chrono::milliseconds(200));
  CHECK_THAT(rb.protocol_error, Catch::Matchers::Contains("exceeds the limit"));
  CHECK(rb.closed_calls == 1);
}

TEST_CASE("send_batched cuts entries at the count and byte limits", "[link][connection]") {
  asio::io_context io;
  auto [a, b] = Connection::local_pair(io.get_executor());
  Recorder rb;
  b->start(rb);
  std::vector<std::pair<std::size_t, std::size_t>> batches;
  auto fill = [&](schema::Envelope::Builder env, std::size_t begin, std::size_t end) {
    batches.emplace_back(begin, end);
    env.initCancel().setTaskId(end - begin);
  };
  a->send_batched(1200, 4, [](std::size_t) { return 8; }, fill);
  CHECK(batches == std::vector<std::pair<std::size_t, std::size_t>>{{0, 512}, {512, 1024}, {1024, 1200}});
  batches.clear();
  a->send_batched(3, 4, [](std::size_t) { return shoal::link::kBatchBytes; }, fill);
  CHECK(batches.size() == 3);  // each entry alone passes the byte cut
  io.run_for(std::chrono::milliseconds(100));
  CHECK(rb.cancels.size() == 6);
  CHECK(shoal::link::batch_segment_words(1, 0, 4) >= 8);
  CHECK(shoal::link::batch_segment_words(100000, 1u << 30, 4) == 1u << 20);  // capped
}

TEST_CASE("a peer that stops reading is disconnected once its queue passes the bound", "[link][connection]") {
  // Found broken: per-peer write queues were unbounded; a client that stopped reading
  // grew the coordinator without limit.
  asio::io_context io;
  auto [s1, s2] = shoal::test::socket_pair(io.get_executor());
  auto a = Connection::over_socket(std::move(s1));
  a->set_max_queued_bytes(4u << 20);
  Recorder ra;
  a->start(ra);
  std::string mib(1u << 20, 'x');  // s2 is never read: the socket buffer fills, then the queue
  int sent = 0;
  for (; sent < 64 && !a->closed(); ++sent) {
    capnp::MallocMessageBuilder msg;
    msg.initRoot<schema::Envelope>().initResult().setValue(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(mib.data()), mib.size()));
    a->send(msg);
    io.poll();
  }
  CHECK(a->closed());
  CHECK(sent < 20);
  CHECK_THAT(a->closed_why(), Catch::Matchers::Contains("the peer does not read"));
  io.run_for(std::chrono::milliseconds(50));
  CHECK(ra.closed_calls == 1);
}
