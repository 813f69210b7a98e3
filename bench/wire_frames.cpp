// WIRE3: small frames per second through a Unix socketpair, a writer thread and a reader
// thread: shoal's coalescing FrameWriter + FrameReader, against the same frames written
// with one write() each, and against the raw C floor of 64-byte write()/read() calls.
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <capnp/message.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <shoal/proto/stream.hpp>

#include "common.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using shoal::proto::Socket;

Socket adopt(asio::io_context& ctx, int fd) {
  return Socket(ctx, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), fd);
}

std::vector<std::uint64_t> cancel_frame(std::uint64_t id) {
  capnp::MallocMessageBuilder msg(64);
  msg.initRoot<shoal::proto::Envelope>().initCancel().setTaskId(id);
  std::vector<std::uint64_t> out;
  shoal::proto::append_frame(msg, out);
  return out;
}

asio::awaitable<void> read_all(shoal::proto::FrameReader& reader, long n, long* got) {
  while (*got < n) {
    auto f = co_await reader.next();
    if (!f) break;
    ++*got;
  }
}

// Reader thread: its own io_context, counts frames until n.
double run_pair(long n, bool coalesce) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) std::abort();
  asio::io_context rctx;
  Socket rs = adopt(rctx, fds[1]);
  shoal::proto::FrameReader reader(rs);
  long got = 0;
  asio::co_spawn(rctx, read_all(reader, n, &got), asio::detached);
  std::thread rt([&] { rctx.run(); });

  auto start = Clock::now();
  if (coalesce) {
    asio::io_context wctx;
    Socket ws = adopt(wctx, fds[0]);
    auto writer = shoal::proto::FrameWriter::create(ws);
    // Produce in bursts from the loop, as a busy coordinator does: every send while a
    // write is in flight joins the next write.
    long sent = 0;
    std::function<void()> produce = [&] {
      for (int i = 0; i < 256 && sent < n; ++i, ++sent) {
        capnp::MallocMessageBuilder msg(64);
        msg.initRoot<shoal::proto::Envelope>().initCancel().setTaskId(sent);
        writer->send(msg);
      }
      if (sent < n) asio::post(wctx, produce);
    };
    asio::post(wctx, produce);
    wctx.run();
    asio::co_spawn(wctx, writer->drain(), asio::detached);
    wctx.restart();
    wctx.run();
  } else {
    for (long i = 0; i < n; ++i) {
      auto f = cancel_frame(i);
      if (::write(fds[0], f.data(), f.size() * 8) < 0) std::abort();
    }
  }
  rt.join();
  std::chrono::duration<double> took = Clock::now() - start;
  ::close(fds[0]);
  if (got != n) std::abort();
  return n / took.count();
}

double raw_floor(long n) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) std::abort();
  std::thread reader([&] {
    char buf[64];
    long bytes = 0;
    while (bytes < n * 64) {
      ssize_t r = ::read(fds[1], buf, sizeof buf);
      if (r <= 0) break;
      bytes += r;
    }
  });
  auto start = Clock::now();
  char msg[64] = {};
  for (long i = 0; i < n; ++i)
    if (::write(fds[0], msg, sizeof msg) != 64) std::abort();
  reader.join();
  std::chrono::duration<double> took = Clock::now() - start;
  ::close(fds[0]);
  ::close(fds[1]);
  return n / took.count();
}


}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 500000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  std::vector<double> ours, single, raw;
  run_pair(n / 10, true);
  for (int r = 0; r < rounds; ++r) {
    ours.push_back(run_pair(n, true));
    single.push_back(run_pair(n / 5, false));
    raw.push_back(raw_floor(n / 5));
  }
  shoal::bench::print_result("WIRE3", nullptr, "frames/s", ours);
  shoal::bench::print_result("WIRE3", "one write per frame", "frames/s", single);
  shoal::bench::print_result("WIRE3", "raw C 64-byte writes", "frames/s", raw);
}
