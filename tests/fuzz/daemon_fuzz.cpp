// libFuzzer target: what the coordinator and the worker decode after the handshake.
// The first byte picks who is fuzzed and as whom; the rest is a stream of frames:
//
//   0: the coordinator, from a client that said hello and was welcomed (in-process link);
//   1: the coordinator, from a worker that said hello and was welcomed (in-process link);
//   2: a worker, from its "coordinator" (the harness, on a socketpair: the bytes go through
//      the worker's own frame reader), after a Welcome.
//
// The coordinator lives across inputs (recreated every 256), as a daemon does; a worker
// is made per input with a registry of its own: a few plain and coroutine functions and
// an actor, and no shoal.exec. Any crash, sanitizer report, or a worker that does not
// finish once its coordinator hangs up (libFuzzer's -timeout) is a finding; a typed
// error back to the peer, or a closed connection, is not.

#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <capnp/message.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <memory>
#include <string>
#include <vector>

#include "shoal/coordinator/coordinator.hpp"
#include "shoal/codec/codec.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/core/sleep.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/proto/frame.hpp"
#include "shoal/remote/registry.hpp"
#include "shoal/worker/worker.hpp"

namespace schema = shoal::proto::schema;

namespace fuzz_tasks {
std::int64_t add(std::int64_t a, std::int64_t b) { return a + b; }
std::string echo(std::string s) { return s; }
std::vector<std::int64_t> twice(std::vector<std::int64_t> v) {
  for (auto& x : v) x *= 2;
  return v;
}
shoal::Coro<std::int64_t> nap(std::int64_t) {
  co_await shoal::sleep(std::chrono::microseconds(1));  // whatever it is asked: never long
  co_return 1;
}
std::int64_t boom(std::int64_t) { throw shoal::ValueError("boom"); }
struct Counter {
  std::int64_t n = 0;
  std::int64_t add(std::int64_t k) { return n += k; }
};
}  // namespace fuzz_tasks

namespace {

shoal::remote::Registry& registry() {
  static auto* r = [] {
    auto* reg = new shoal::remote::Registry;
    using namespace shoal::remote::detail;
    reg->add(make_function<&fuzz_tasks::add>("add"));
    reg->add(make_function<&fuzz_tasks::echo>("echo"));
    reg->add(make_function<&fuzz_tasks::twice>("twice"));
    reg->add(make_function<&fuzz_tasks::nap>("nap"));
    reg->add(make_function<&fuzz_tasks::boom>("boom"));
    reg->add(make_actor<fuzz_tasks::Counter, &fuzz_tasks::Counter::add>("Counter", "&Counter::add"));
    return reg;
  }();
  return *r;
}

// The frames in `data`, each as its own word-aligned copy (malformed ones end the list).
std::vector<std::vector<std::uint64_t>> frames_of(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint64_t> words((size + 7) / 8);
  if (size) std::memcpy(words.data(), data, size);
  std::vector<std::vector<std::uint64_t>> out;
  shoal::proto::FrameLimits limits;
  std::span<const std::uint64_t> rest(words);
  while (!rest.empty()) {
    std::optional<std::size_t> n;
    try {
      n = shoal::proto::frame_size_words(rest, limits);
    } catch (const shoal::ProtocolError&) {
      break;
    }
    if (!n || *n > rest.size()) break;
    out.emplace_back(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(*n));
    rest = rest.subspan(*n);
  }
  return out;
}

struct Peer : shoal::link::ConnectionHandler {
  bool welcomed = false, closed = false;
  void on_message(schema::Envelope::Reader env, const shoal::proto::FrameOwner&) override {
    if (env.which() == schema::Envelope::WELCOME) welcomed = true;
  }
  void on_closed(const std::string&) override { closed = true; }
};

// Runs `io` until nothing is ready, at most `turns` handlers.
void settle(asio::io_context& io, int turns = 20000) {
  io.restart();
  for (int i = 0; i < turns && io.poll_one() > 0; ++i) {
  }
}

struct CoordinatorHarness {
  asio::io_context io;
  std::unique_ptr<shoal::coordinator::Coordinator> coordinator;
  unsigned inputs = 0;

  void renew() {
    if (coordinator) {
      coordinator->stop_now();
      settle(io);
      coordinator.reset();
      settle(io);
    }
    shoal::coordinator::CoordinatorOptions o;
    o.log = false;
    o.grace = std::chrono::milliseconds(0);
    o.unregistered_wait = std::chrono::milliseconds(0);
    coordinator = std::make_unique<shoal::coordinator::Coordinator>(io.get_executor(), o);
    coordinator->start();
    asio::co_spawn(io, coordinator->run(), [](std::exception_ptr) {});
  }

  void one(schema::Role role, const std::uint8_t* data, std::size_t size) {
    if (!coordinator || ++inputs % 256 == 0) renew();
    auto [ours, theirs] = shoal::link::Connection::local_pair(io.get_executor());
    coordinator->adopt(theirs);
    Peer peer;
    ours->start(peer);
    shoal::link::PeerHandshake hs("", false);
    hs.hello(*ours, role, "fuzz");
    settle(io);
    if (peer.welcomed) {
      for (auto& words : frames_of(data, size)) {
        // Re-encoded through a builder: the content is what is fuzzed here (frame_fuzz and
        // the worker's mode cover the framing).
        try {
          shoal::proto::Frame frame(nullptr, words, shoal::proto::FrameLimits{});
          capnp::MallocMessageBuilder msg;
          msg.setRoot(frame.envelope());
          ours->send(msg);
        } catch (...) {
          continue;
        }
        settle(io, 2000);
        if (peer.closed) break;
      }
      settle(io);
    }
    ours->close("the fuzz input ended");
    settle(io);
    ours->abandon();
  }
};

void fuzz_worker(const std::uint8_t* data, std::size_t size) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
  // The coordinator's side, written up front: a Welcome, then the input as it is.
  std::vector<std::uint64_t> out;
  capnp::MallocMessageBuilder welcome;
  welcome.initRoot<schema::Envelope>().initWelcome().setProtocolVersion(schema::PROTOCOL_VERSION);
  shoal::proto::append_frame(welcome, out);
  std::string bytes(reinterpret_cast<const char*>(out.data()), out.size() * 8);
  bytes.append(reinterpret_cast<const char*>(data), size);
  for (std::size_t done = 0; done < bytes.size();) {
    auto n = ::write(fds[0], bytes.data() + done, bytes.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::shutdown(fds[0], SHUT_WR);
  {
    shoal::worker::WorkerOptions o;
    o.adopted_fd = fds[1];
    o.threads = 1;
    o.coroutines = 8;
    o.log = std::getenv("SHOAL_FUZZ_LOG") != nullptr;  // to see what a finding did
    o.grace = std::chrono::milliseconds(0);
    o.reconnect_timeout = std::chrono::milliseconds(-1);
    shoal::Loop loop;
    shoal::worker::Worker worker(o, registry());
    (void)loop.run_until_complete([&]() -> shoal::Coro<int> { co_return co_await worker.run(); }());
    loop.shutdown();
  }
  ::close(fds[0]);
}

}  // namespace

// SHOAL_FUZZ_WRITE_SEEDS=DIR ./daemon_fuzz writes the seed corpus (tests/fuzz/corpus-daemon)
// and exits: well-formed conversations in each mode, for the fuzzer to start from.
namespace seeds {

void frame(std::string& out, capnp::MessageBuilder& msg) {
  std::vector<std::uint64_t> words;
  shoal::proto::append_frame(msg, words);
  out.append(reinterpret_cast<const char*>(words.data()), words.size() * 8);
}

void write(const std::string& dir, const std::string& name, char mode, const std::string& frames) {
  std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fputc(mode, f);
  std::fwrite(frames.data(), 1, frames.size(), f);
  std::fclose(f);
}

template <typename B>
capnp::Data::Reader data(const B& b) {
  return {reinterpret_cast<const capnp::byte*>(b.data()), b.size()};
}

void all(const std::string& dir) {
  auto& reg = registry();
  auto add = reg.find("add");
  auto echo = reg.find("echo");
  auto nap = reg.find("nap");
  auto boom = reg.find("boom");
  auto args2 = shoal::codec::encode(std::tuple<std::int64_t, std::int64_t>{40, 2});
  auto args_s = shoal::codec::encode(std::tuple<std::string>{"hello"});
  auto args1 = shoal::codec::encode(std::tuple<std::int64_t>{5});

  // 0: a client submits, asks, cancels, releases, subscribes.
  {
    std::string out;
    capnp::MallocMessageBuilder m1;
    auto sb = m1.initRoot<schema::Envelope>().initSubmit();
    sb.setTaskId(1);
    sb.setFunction("add");
    sb.setSignatureHash(add->signature_hash);
    sb.setArgs(data(args2));
    sb.initOptions().setRetries(-1);
    frame(out, m1);
    capnp::MallocMessageBuilder m2;
    auto batch = m2.initRoot<schema::Envelope>().initSubmitBatch(2);
    batch[0].setTaskId(2);
    batch[0].setFunction("echo");
    batch[0].setSignatureHash(echo->signature_hash);
    batch[0].setArgs(data(args_s));
    batch[1].setTaskId(3);
    batch[1].setFunction("add");
    batch[1].setSignatureHash(add->signature_hash);
    batch[1].setArgs(data(args2));
    batch[1].initDeps(1).set(0, 1);
    frame(out, m2);
    capnp::MallocMessageBuilder m3;
    m3.initRoot<schema::Envelope>().initStatusRequest();
    frame(out, m3);
    capnp::MallocMessageBuilder m4;
    m4.initRoot<schema::Envelope>().initCancel().setTaskId(1);
    frame(out, m4);
    capnp::MallocMessageBuilder m5;
    m5.initRoot<schema::Envelope>().initSubscribe().initTaskIds(1).set(0, 2);
    frame(out, m5);
    capnp::MallocMessageBuilder m6;
    auto ac = m6.initRoot<schema::Envelope>().initActorCreate();
    ac.setActorId(9);
    ac.setClassName("Counter");
    ac.setTaskId(4);
    frame(out, m6);
    capnp::MallocMessageBuilder m7;
    m7.initRoot<schema::Envelope>().initRelease().initTasks(1).set(0, 2);
    frame(out, m7);
    write(dir, "client-submits", 0, out);
  }
  // 1: a worker registers, beats, returns results, errors, hands back.
  {
    std::string out;
    capnp::MallocMessageBuilder m1;
    auto r = m1.initRoot<schema::Envelope>().initRegisterWorker();
    r.setCapacity(2);
    r.setCoroutineCapacity(8);
    auto fns = r.initFunctions(2);
    fns[0].setName("add");
    fns[0].setSignatureHash(add->signature_hash);
    fns[1].setName("nap");
    fns[1].setSignatureHash(nap->signature_hash);
    fns[1].setIsCoroutine(true);
    r.initActors(1)[0].setName("Counter");
    frame(out, m1);
    capnp::MallocMessageBuilder m2;
    m2.initRoot<schema::Envelope>().initHeartbeat().setRunning(1);
    frame(out, m2);
    capnp::MallocMessageBuilder m3;
    auto res = m3.initRoot<schema::Envelope>().initResultBatch(3);
    res[0].setTaskId(1);
    res[0].setValue(data(shoal::codec::encode(std::int64_t{42})));
    res[1].setTaskId(2);
    res[1].initError().setMessage("boom");
    res[2].setTaskId(3);
    res[2].setHandedBack();
    frame(out, m3);
    capnp::MallocMessageBuilder m4;
    m4.initRoot<schema::Envelope>().initBlocked().setTaskId(1);
    frame(out, m4);
    write(dir, "worker-results", 1, out);
  }
  // 2: the worker is assigned plain, coroutine, failing and actor work, then cancels.
  {
    std::string out;
    capnp::MallocMessageBuilder m1;
    auto as = m1.initRoot<schema::Envelope>().initAssignBatch(4);
    as[0].setTaskId(1);
    as[0].setFunction("add");
    as[0].setSignatureHash(add->signature_hash);
    as[0].setArgs(data(args2));
    as[1].setTaskId(2);
    as[1].setFunction("echo");
    as[1].setSignatureHash(echo->signature_hash);
    as[1].setArgs(data(args_s));
    as[2].setTaskId(3);
    as[2].setFunction("nap");
    as[2].setSignatureHash(nap->signature_hash);
    as[2].setArgs(data(args1));
    as[3].setTaskId(4);
    as[3].setFunction("boom");
    as[3].setSignatureHash(boom->signature_hash);
    as[3].setArgs(data(args1));
    frame(out, m1);
    capnp::MallocMessageBuilder m2;
    auto ac = m2.initRoot<schema::Envelope>().initActorCreate();
    ac.setActorId(7);
    ac.setClassName("Counter");
    ac.setTaskId(5);
    ac.setArgs(data(shoal::codec::encode(std::tuple<>{})));
    frame(out, m2);
    capnp::MallocMessageBuilder m3;
    auto call = m3.initRoot<schema::Envelope>().initAssign();
    call.setTaskId(6);
    call.setActorId(7);
    call.setMethod("add");
    call.setArgs(data(args1));
    frame(out, m3);
    capnp::MallocMessageBuilder m4;
    m4.initRoot<schema::Envelope>().initCancel().setTaskId(3);
    frame(out, m4);
    capnp::MallocMessageBuilder m5;
    m5.initRoot<schema::Envelope>().initHeartbeat();
    frame(out, m5);
    capnp::MallocMessageBuilder m6;
    m6.initRoot<schema::Envelope>().initShutdown();
    frame(out, m6);
    write(dir, "worker-assigns", 2, out);
  }
}

}  // namespace seeds

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SHOAL_FUZZ_WRITE_SEEDS")) {
    seeds::all(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static CoordinatorHarness coordinator;
  if (size < 1) return 0;
  switch (data[0] % 3) {
    case 0:
      coordinator.one(schema::Role::CLIENT, data + 1, size - 1);
      break;
    case 1:
      coordinator.one(schema::Role::WORKER, data + 1, size - 1);
      break;
    default:
      fuzz_worker(data + 1, size - 1);
      break;
  }
  return 0;
}
