// The coordinator, workers and clients in one process, each on its own thread(s), joined
// by socketpairs and the in-process link: the daemons' concurrency under TSan (the
// integration tests run the same engines as separate processes).

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>
#include <capnp/message.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "shoal/codec/codec.hpp"
#include "shoal/compose/gather.hpp"
#include "shoal/coordinator/coordinator.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/core/sleep.hpp"
#include "shoal/proto/describe.hpp"
#include "shoal/proto/stream.hpp"
#include "shoal/remote/client.hpp"
#include "shoal/remote/this_task.hpp"
#include "shoal/worker/worker.hpp"
#include "support/daemons.hpp"

using namespace std::chrono_literals;

namespace inproc {

std::int64_t square(std::int64_t x) { return x * x; }
SHOAL_REMOTE(square)

std::int64_t add(std::int64_t a, std::int64_t b) { return a + b; }
SHOAL_REMOTE(add)

shoal::Coro<std::int64_t> nap(std::int64_t ms) {
  co_await shoal::sleep(std::chrono::milliseconds(ms));
  co_return ms;
}
SHOAL_REMOTE(nap)

std::int64_t refuse(std::int64_t) { throw shoal::ValueError("refused"); }
SHOAL_REMOTE(refuse)

/// Streams `chunks` chunks of 64 KiB (each filled with the letter of its index) on stdout
/// and a line on stderr, then returns how many it wrote.
std::int64_t chatter(std::int64_t chunks) {
  for (std::int64_t i = 0; i < chunks; ++i)
    shoal::this_task::write_output(1, std::string(64 * 1024, static_cast<char>('a' + i % 26)));
  shoal::this_task::write_output(2, "done\n");
  return chunks;
}
SHOAL_REMOTE(chatter)

// A plain task that holds its pool thread until the test lets it go (at most 20 s).
std::atomic<int> held_started{0}, held_returned{0};
std::atomic<bool> held_release{false};
std::int64_t held(std::int64_t k) {
  ++held_started;
  for (int i = 0; i < 20000 && !held_release; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ++held_returned;
  return k;
}
SHOAL_REMOTE(held)

struct Acc {
  explicit Acc(std::int64_t start) : n(start) {}
  std::int64_t add(std::int64_t k) { return n += k; }
  std::int64_t n;
};
SHOAL_ACTOR(Acc, shoal::init<std::int64_t>, &Acc::add)

// A coordinator thread, worker threads, all in this process.
struct InProcess {
  shoal::test::TempDir dir;
  asio::io_context io{1};
  std::unique_ptr<shoal::coordinator::Coordinator> coord;
  std::thread coord_thread;
  std::promise<void> coord_done;
  std::vector<std::thread> workers;

  std::string socket;

  explicit InProcess(int n, unsigned threads = 2, std::string journal = {}, std::string socket_path = {})
      : socket(socket_path.empty() ? dir.file("c.sock") : std::move(socket_path)) {
    shoal::coordinator::CoordinatorOptions o;
    o.listen = {"unix://" + socket};
    o.journal = std::move(journal);
    o.log = false;
    o.exit_workers_on_stop = true;
    o.grace = 2s;
    coord = std::make_unique<shoal::coordinator::Coordinator>(io.get_executor(), o);
    coord->start();
    coord_thread = std::thread([this] {
      asio::co_spawn(io, coord->run(), [this](std::exception_ptr) { coord_done.set_value(); });
      io.run();
    });
    for (int i = 0; i < n; ++i) add_worker(threads, "w" + std::to_string(i));
  }

  void add_worker(unsigned threads, std::string name) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    coord->adopt(shoal::remote::adopt_socket(io.get_executor(), sv[0]));
    workers.emplace_back([fd = sv[1], threads, name] {
      shoal::worker::WorkerOptions o;
      o.adopted_fd = fd;
      o.threads = threads;
      o.name = name;
      o.log = false;
      shoal::Loop loop;
      shoal::worker::Worker w(o);
      (void)loop.run_until_complete(w.run());
      loop.shutdown();
    });
  }

  std::string address() const { return "unix://" + socket; }

  std::unique_ptr<shoal::Client> local_client() {
    shoal::remote::detail::LocalLink link;
    link.address = "in-process";
    link.executor = coord->executor();
    link.adopt = [c = coord.get()](std::shared_ptr<shoal::link::Connection> end) { c->adopt(std::move(end)); };
    return std::make_unique<shoal::Client>(std::move(link));
  }

  void wait_workers(shoal::Client& c, std::size_t n) {
    REQUIRE(shoal::test::wait_until([&] { return c.workers().result(5s).size() == n; }));
  }

  // Stops the coordinator (its workers exit) and joins every thread. Idempotent.
  void stop() {
    if (stopped) return;
    stopped = true;
    asio::post(io, [this] { coord->stop(); });
    auto done = coord_done.get_future();
    if (done.wait_for(20s) != std::future_status::ready) io.stop();
    for (auto& t : workers) t.join();
    coord_thread.join();
  }
  bool stopped = false;

  ~InProcess() { stop(); }
};

}  // namespace inproc

using inproc::InProcess;

TEST_CASE("in process: 2,000 tasks from two threads over the local link and a socket", "[daemons]") {
  InProcess cluster(2);
  auto local = cluster.local_client();
  shoal::Client remote(cluster.address());
  cluster.wait_workers(*local, 2);
  auto run = [](shoal::Client& c, std::int64_t base, bool& ok) {
    std::vector<shoal::Future<std::int64_t>> fs;
    for (std::int64_t i = 0; i < 1000; ++i) fs.push_back(c.submit(&inproc::square, base + i));
    ok = true;
    for (std::int64_t i = 0; i < 1000; ++i) ok = ok && fs[static_cast<std::size_t>(i)].result(20s) == (base + i) * (base + i);
  };
  bool ok1 = false, ok2 = false;
  std::thread t1([&] { run(*local, 0, ok1); });
  std::thread t2([&] { run(remote, 5000, ok2); });
  t1.join();
  t2.join();
  CHECK(ok1);
  CHECK(ok2);
}

TEST_CASE("in process: dependencies, failures, cancellation", "[daemons]") {
  InProcess cluster(1);
  auto client = cluster.local_client();
  cluster.wait_workers(*client, 1);
  auto a = client->submit(&inproc::square, 3);
  auto b = client->submit(&inproc::add, a, a);
  CHECK(b.result(10s) == 18);

  auto bad = client->submit(&inproc::refuse, 1);
  auto after = client->submit(&inproc::add, bad, 1);
  CHECK_THROWS_AS(bad.result(10s), shoal::ValueError);
  CHECK_THROWS_AS(after.result(10s), shoal::ValueError);  // the dependency's own error, as Dask and Ray

  auto slow = client->submit(&inproc::nap, 60000);
  REQUIRE(shoal::test::wait_until(
      [&] { return client->status(shoal::Client::task_id(slow)).result(5s).tasks.at(0).state == "running"; }));
  auto t0 = std::chrono::steady_clock::now();
  CHECK(slow.cancel());
  CHECK_THROWS_AS(slow.result(10s), shoal::CancelledError);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("in process: coroutine tasks interleave on the worker's loop", "[daemons]") {
  InProcess cluster(1, 1);
  auto client = cluster.local_client();
  cluster.wait_workers(*client, 1);
  // 50 naps of 100 ms on one worker: concurrent on its loop, far less than 5 s.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<shoal::Future<std::int64_t>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(client->submit(&inproc::nap, 100));
  for (auto& f : fs) CHECK(f.result(10s) == 100);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
}

TEST_CASE("in process: an actor's calls run in order", "[daemons]") {
  InProcess cluster(2);
  auto client = cluster.local_client();
  cluster.wait_workers(*client, 2);
  auto acc = client->spawn<inproc::Acc>(std::int64_t{0});
  std::vector<shoal::Future<std::int64_t>> fs;
  for (int i = 0; i < 500; ++i) fs.push_back(acc.call(&inproc::Acc::add, std::int64_t{1}));
  for (int i = 0; i < 500; ++i) CHECK(fs[static_cast<std::size_t>(i)].result(10s) == i + 1);
  CHECK_NOTHROW(acc.ready().result(1s));
}

TEST_CASE("in process: a worker on a connection its program dials runs tasks, and cancelling the task that runs "
          "it stops it at once", "[daemons]") {
  InProcess cluster(0);
  auto client = cluster.local_client();
  std::promise<std::function<void()>> canceller;
  std::atomic<int> dials{0};
  std::atomic<int> ended{0};  // 1 returned, 2 cancelled
  std::atomic<bool> worker_done{false};
  std::thread worker([&] {
    struct Done {
      std::atomic<bool>& done;
      ~Done() { done = true; }  // after the worker and its loop are gone
    } done{worker_done};
    shoal::Loop loop;
    shoal::worker::WorkerOptions o;
    o.name = "dialled";
    o.threads = 1;
    o.log = false;
    o.reconnect_timeout = -1ms;
    o.dial = [&]() -> std::shared_ptr<shoal::link::Connection> {
      ++dials;
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return nullptr;
      cluster.coord->adopt(shoal::remote::adopt_socket(cluster.io.get_executor(), sv[0]));
      return shoal::link::Connection::over_socket(shoal::remote::adopt_socket(loop.get_executor(), sv[1]));
    };
    shoal::worker::Worker w(o);
    auto main = [&]() -> shoal::Coro<void> {
      auto run = shoal::create_task(w.run());
      canceller.set_value([&loop, run]() mutable { loop.call_soon_threadsafe([run]() mutable { run.cancel(); }); });
      try {
        (void)co_await run.wait();
        ended = 1;
      } catch (const shoal::CancelledError&) {
        ended = 2;
      }
    };
    loop.run_until_complete(main());
    loop.shutdown();
  });
  auto cancel = canceller.get_future().get();
  cluster.wait_workers(*client, 1);
  CHECK(client->submit(&inproc::square, 12).result(10s) == 144);
  CHECK(dials == 1);
  // One plain task holds its only pool thread, another waits for it.
  auto running = client->submit(&inproc::held, 1);
  auto queued = client->submit(&inproc::held, 2);
  REQUIRE(shoal::test::wait_until([&] { return inproc::held_started == 1; }));
  auto t0 = std::chrono::steady_clock::now();
  cancel();
  REQUIRE(shoal::test::wait_until([&] { return ended != 0; }));
  CHECK(ended == 2);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  // The worker is gone without waiting for the held task (its thread is left to finish
  // alone, as at a process's exit); when that ends, what waited behind it never starts,
  // and nothing reaches the loop the worker ran on.
  bool gone = shoal::test::wait_until([&] { return worker_done.load(); });
  inproc::held_release = true;
  worker.join();
  CHECK(gone);
  REQUIRE(shoal::test::wait_until([&] { return inproc::held_returned == inproc::held_started; }));
  CHECK(inproc::held_started == 1);
  // Its connection closed with it: the coordinator takes it for gone.
  cluster.wait_workers(*client, 0);
}

TEST_CASE("in process: stopping with tasks in flight completes every future", "[daemons]") {
  std::vector<shoal::Future<std::int64_t>> fs;
  {
    InProcess cluster(1, 1);
    auto client = cluster.local_client();
    cluster.wait_workers(*client, 1);
    for (int i = 0; i < 200; ++i) fs.push_back(client->submit(&inproc::nap, 5));
    REQUIRE(fs[0].result(10s) == 5);
    client.reset();  // closes: pending futures fail with ConnectionError
  }
  for (auto& f : fs) {
    REQUIRE(f.done());
    if (!f.cancelled() && !f.exception()) CHECK(f.result() == 5);
  }
}

namespace {

// A raw connection speaking the protocol by hand: sends `first` (and a hello first when
// asked), then returns the code of the Error frame the coordinator answers with before
// it closes ("" when it closed without one).
std::string provoke(const std::string& address, bool hello, const std::function<void(capnp::MessageBuilder&)>& build) {
  namespace schema = shoal::proto::schema;
  asio::io_context io;
  auto socket = shoal::remote::connect_socket(io.get_executor(), shoal::remote::parse_address(address));
  std::vector<std::uint64_t> out;
  std::uint64_t peer = 0;
  shoal::proto::FrameReader reader(socket);
  auto next = [&]() -> std::optional<shoal::proto::Frame> {
    std::optional<shoal::proto::Frame> f;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { f = co_await reader.next(); }, asio::detached);
    io.restart();
    io.run_for(std::chrono::seconds(5));
    return f;
  };
  if (hello) {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<schema::Envelope>().initHello();
    h.setProtocolVersion(schema::PROTOCOL_VERSION);
    h.setRole(schema::Role::CLIENT);
    std::string nonce(32, 'n');
    h.setNonce(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(nonce.data()), nonce.size()));
    shoal::proto::append_frame(m, out);
    asio::write(socket, asio::buffer(out.data(), out.size() * 8));
    out.clear();
    auto w = next();
    REQUIRE(w);
    peer = w->envelope().getWelcome().getPeerId();
  }
  capnp::MallocMessageBuilder m;
  build(m);
  if (hello) {
    auto env = m.getRoot<schema::Envelope>();
    if (env.which() == schema::Envelope::SUBMIT && env.getSubmit().getTaskId() == 1)
      env.getSubmit().setTaskId(((peer + 1) << 32) | 1);  // someone else's id space
  }
  shoal::proto::append_frame(m, out);
  asio::write(socket, asio::buffer(out.data(), out.size() * 8));
  for (;;) {
    std::optional<shoal::proto::Frame> f;
    try {
      f = next();
    } catch (const std::exception&) {
      return "";
    }
    if (!f) return "";
    auto env = f->envelope();
    if (env.which() == schema::Envelope::ERROR) return std::string(shoal::proto::error_code_name(env.getError().getCode()));
  }
}

}  // namespace

TEST_CASE("in process: a task's output streams to its client in order, before its result, past the worker's "
          "1 MiB window",
          "[daemons]") {
  InProcess cluster(1);
  struct Got {
    std::mutex mu;
    std::string out, err;
  } got;
  shoal::ClientOptions o;
  o.on_output = [&got](std::uint64_t, int stream, std::string_view data) {
    std::lock_guard lock(got.mu);
    (stream == 2 ? got.err : got.out).append(data);
  };
  shoal::Client client(cluster.address(), o);
  cluster.wait_workers(client, 1);
  // 48 chunks: 3 MiB, three times the window, so that the writer waits for the loop.
  CHECK(client.submit(&inproc::chatter, 48).result(20s) == 48);
  std::lock_guard lock(got.mu);  // the output came before the result, on the same thread
  REQUIRE(got.out.size() == 48u * 64 * 1024);
  for (std::size_t i = 0; i < 48; ++i)
    if (got.out[i * 64 * 1024] != static_cast<char>('a' + i % 26)) FAIL("chunk " << i << " out of order");
  CHECK(got.err == "done\n");
}

TEST_CASE("in process: an on_output callback that throws costs its output, not the connection", "[daemons]") {
  // Found in review: the exception reached the client's message handling, which closed
  // the connection.
  InProcess cluster(1);
  shoal::ClientOptions o;
  o.on_output = [](std::uint64_t, int, std::string_view) { throw std::runtime_error("the caller's bug"); };
  o.reconnect = 0ms;  // a closed connection would fail the futures, not be hidden by a reconnect
  shoal::Client client(cluster.address(), o);
  cluster.wait_workers(client, 1);
  CHECK(client.submit(&inproc::chatter, 2).result(20s) == 2);
  CHECK(client.submit(&inproc::square, 9).result(20s) == 81);
}

TEST_CASE("in process: bad input closes that one connection with a protocol error", "[daemons]") {
  namespace schema = shoal::proto::schema;
  InProcess cluster(1);
  auto good = cluster.local_client();
  cluster.wait_workers(*good, 1);
  auto before = good->submit(&inproc::nap, 200);

  // Anything but a hello first.
  CHECK(provoke(cluster.address(), false, [](capnp::MessageBuilder& m) {
          m.initRoot<schema::Envelope>().initCancel().setTaskId(1);
        }) == "protocol");
  // A wrong protocol version.
  CHECK(provoke(cluster.address(), false, [](capnp::MessageBuilder& m) {
          auto h = m.initRoot<schema::Envelope>().initHello();
          h.setProtocolVersion(99);
        }) == "version");
  // A hello without its nonce (protocol 3).
  CHECK(provoke(cluster.address(), false, [](capnp::MessageBuilder& m) {
          auto h = m.initRoot<schema::Envelope>().initHello();
          h.setProtocolVersion(schema::PROTOCOL_VERSION);
        }) == "protocol");
  // A proof nobody asked for (a Unix-socket peer is not challenged).
  CHECK(provoke(cluster.address(), true, [](capnp::MessageBuilder& m) {
          m.initRoot<schema::Envelope>().initProof();
        }) == "protocol");
  // A submit in another connection's id space.
  CHECK(provoke(cluster.address(), true, [](capnp::MessageBuilder& m) {
          auto s = m.initRoot<schema::Envelope>().initSubmit();
          s.setTaskId(1);
          s.setFunction("square");
        }) == "protocol");
  // A result from a client.
  CHECK(provoke(cluster.address(), true, [](capnp::MessageBuilder& m) {
          m.initRoot<schema::Envelope>().initResult().setTaskId(5);
        }) == "protocol");

  // The other client's work went on throughout.
  CHECK(before.result(10s) == 200);
  CHECK(good->submit(&inproc::square, 12).result(10s) == 144);
}

TEST_CASE("a worker refuses a batch over the batching rule, however little it weighs on the wire", "[daemons]") {
  // Found by daemon_fuzz: a 40-byte frame announcing an assign batch of a million empty
  // entries (an inline-composite list of zero-sized structs costs nothing on the wire)
  // made the worker answer each with an error result, for minutes. Batches beyond the
  // batching rule's 512 entries are malformed: the worker hangs up at once.
  namespace schema = shoal::proto::schema;
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  std::vector<std::uint64_t> out;
  capnp::MallocMessageBuilder welcome;
  welcome.initRoot<schema::Envelope>().initWelcome().setProtocolVersion(schema::PROTOCOL_VERSION);
  shoal::proto::append_frame(welcome, out);
  const std::uint64_t million = 1'000'000;
  for (std::uint64_t w : {
           std::uint64_t{4} << 32,                                // one segment of 4 words
           (std::uint64_t{1} << 48) | (std::uint64_t{1} << 32),  // root: 1 data word, 1 pointer
           std::uint64_t{6},                                      // Envelope's union: assignBatch (@6)
           1 | (std::uint64_t{7} << 32),                          // a list: inline composite, 0 words
           million << 2})                                         // its tag: a million empty structs
    out.push_back(w);
  REQUIRE(::write(fds[0], out.data(), out.size() * 8) == static_cast<ssize_t>(out.size() * 8));
  ::shutdown(fds[0], SHUT_WR);

  auto started = std::chrono::steady_clock::now();
  std::thread worker_thread([fd = fds[1]] {
    shoal::worker::WorkerOptions o;
    o.adopted_fd = fd;
    o.threads = 1;
    o.log = false;
    o.grace = std::chrono::milliseconds(0);
    shoal::Loop loop;
    shoal::worker::Worker worker(o);
    (void)loop.run_until_complete([&]() -> shoal::Coro<int> { co_return co_await worker.run(); }());
    loop.shutdown();
  });
  // What the worker sends back, to its end (bounded: 20 s).
  std::string back;
  char buf[65536];
  auto deadline = started + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    back.append(buf, static_cast<std::size_t>(n));
  }
  auto took = std::chrono::steady_clock::now() - started;
  ::close(fds[0]);
  worker_thread.join();
  CHECK(took < 5s);
  CHECK(back.size() < 64 * 1024);  // a hello and an error, not a million results
}

TEST_CASE("in process with a journal: submits acknowledged from two threads, and the next coordinator runs what "
          "the first left queued",
          "[daemons][journal]") {
  shoal::test::TempDir keep;
  auto journal = keep.file("journal.db");
  std::vector<std::uint64_t> left;
  {
    InProcess first(0, 2, journal);  // no worker: everything stays queued
    auto local = first.local_client();
    shoal::Client remote(first.address(), {.reconnect = 0ms});  // its futures fail at the stop
    REQUIRE(local->journaled());
    std::vector<shoal::Future<std::int64_t>> a, b;
    std::thread t1([&] {
      for (std::int64_t i = 0; i < 300; ++i) a.push_back(local->submit(&inproc::square, i));
    });
    std::thread t2([&] {
      for (std::int64_t i = 300; i < 600; ++i) b.push_back(remote.submit(&inproc::square, i));
    });
    t1.join();
    t2.join();
    CHECK(local->wait_accepted(shoal::Client::task_id(a.back()), 10s));
    CHECK(remote.wait_accepted(shoal::Client::task_id(b.back()), 10s));
    for (auto* fs : {&a, &b})
      for (auto& f : *fs) left.push_back(shoal::Client::task_id(f));
    first.stop();  // with the clients still connected: their tasks stay in the journal
    for (auto* fs : {&a, &b})
      for (auto& f : *fs) REQUIRE_THROWS_AS(f.result(10s), shoal::CoordinatorLost);
  }
  InProcess second(1, 2, journal);
  shoal::Client client(second.address());
  std::vector<shoal::Future<shoal::Bytes>> results;
  for (auto id : left) results.push_back(client.subscribe(id));
  for (std::size_t i = 0; i < results.size(); ++i)
    REQUIRE(shoal::codec::decode<std::int64_t>(results[i].result(20s)) == static_cast<std::int64_t>(i * i));
}

TEST_CASE("in process: a client reconnects to the next coordinator on its socket while another thread submits, "
          "and every future completes",
          "[daemons][journal][reconnect]") {
  shoal::test::TempDir keep;
  auto journal = keep.file("journal.db"), sock = keep.file("c.sock");
  std::optional<InProcess> first(std::in_place, 1, 2, journal, sock);
  shoal::Client client(first->address());
  first->wait_workers(client, 1);
  std::vector<shoal::Future<std::int64_t>> before, during;
  for (std::int64_t i = 0; i < 200; ++i) before.push_back(client.submit(&inproc::nap, 20 + i % 5));
  REQUIRE(client.wait_accepted(shoal::Client::task_id(before.back()), 10s));
  first->stop();
  first.reset();
  std::thread submitter([&] {
    for (std::int64_t i = 0; i < 100; ++i) during.push_back(client.submit(&inproc::square, i));
  });
  InProcess second(1, 2, journal, sock);
  submitter.join();
  for (std::size_t i = 0; i < before.size(); ++i) REQUIRE(before[i].result(30s) == static_cast<std::int64_t>(20 + i % 5));
  for (std::size_t i = 0; i < during.size(); ++i) REQUIRE(during[i].result(30s) == static_cast<std::int64_t>(i * i));
}

TEST_CASE("in process: a client that asks to resume a live worker's identity gets its own, and the worker is "
          "untouched",
          "[daemons][reconnect]") {
  InProcess cluster(1);
  shoal::Client client(cluster.address());
  cluster.wait_workers(client, 1);
  namespace schema = shoal::proto::schema;
  auto worker_id = client.workers().result(5s).at(0).id;
  asio::io_context io;
  auto socket = shoal::remote::connect_socket(io.get_executor(), shoal::remote::parse_address(cluster.address()));
  capnp::MallocMessageBuilder m;
  auto h = m.initRoot<schema::Envelope>().initHello();
  h.setProtocolVersion(schema::PROTOCOL_VERSION);
  h.setRole(schema::Role::CLIENT);
  h.setResumePeerId(worker_id);
  std::string nonce(32, 'n');
  h.setNonce(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(nonce.data()), nonce.size()));
  std::vector<std::uint64_t> out;
  shoal::proto::append_frame(m, out);
  asio::write(socket, asio::buffer(out.data(), out.size() * 8));
  shoal::proto::FrameReader reader(socket);
  std::optional<shoal::proto::Frame> welcome;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { welcome = co_await reader.next(); }, asio::detached);
  io.run_for(std::chrono::seconds(5));
  REQUIRE(welcome);
  REQUIRE(welcome->envelope().which() == schema::Envelope::WELCOME);
  CHECK(welcome->envelope().getWelcome().getPeerId() != worker_id);
  CHECK(client.workers().result(5s).size() == 1);
  CHECK(client.submit(&inproc::square, 12).result(10s) == 144);
}
