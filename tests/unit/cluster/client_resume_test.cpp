// remote::Client across reconnects, against a scripted coordinator that answers (or does
// not) exactly as a test needs. Both cases were found by the deterministic simulation
// (docs/simulation.md) and failed before their fixes in ClientCore::Impl::resumed().

#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "shoal/link/connection.hpp"
#include "shoal/link/listener.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/remote/client.hpp"

namespace schema = shoal::proto::schema;
using namespace std::chrono_literals;

namespace resume_test {

/// What reached the scripted coordinator: one message, summed up.
struct Heard {
  int conn = 0;  // which connection (1, 2, ...)
  schema::Envelope::Which which{};
  std::vector<std::uint64_t> ids;  // submits' task ids, a subscribe's
  std::uint64_t resume = 0;        // a hello's
};

/// A coordinator the test scripts: it accepts connections on a Unix socket, tells the
/// test every message, and sends what the test says.
class Scripted {
 public:
  Scripted() : path_("/tmp/shoal-resume-" + std::to_string(::getpid()) + "-" + std::to_string(++count_) + ".sock") {
    listener_ = std::make_unique<shoal::link::Listener>(io_.get_executor(), shoal::link::parse_address(address()));
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Scripted() {
    asio::post(io_, [this] {
      listener_->close();
      for (auto& c : conns_) c->conn->close("the test ended");
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }
  [[nodiscard]] std::string address() const { return "unix://" + path_; }

  /// The next message (within 10 s).
  Heard next() {
    std::unique_lock lock(mu_);
    REQUIRE(cv_.wait_for(lock, 10s, [&] { return !heard_.empty(); }));
    auto h = heard_.front();
    heard_.pop_front();
    return h;
  }
  /// The next message of kind `which`, skipping heartbeats and the like.
  Heard next(schema::Envelope::Which which) {
    for (;;) {
      auto h = next();
      if (h.which == which) return h;
      REQUIRE((h.which == schema::Envelope::HEARTBEAT || h.which == schema::Envelope::RELEASE));
    }
  }
  /// Sends on connection `conn` what `fill` builds.
  template <typename Fill>
  void send(int conn, Fill fill) {
    std::promise<void> sent;
    asio::post(io_, [&] {
      capnp::MallocMessageBuilder msg;
      fill(msg.initRoot<schema::Envelope>());
      conns_.at(static_cast<std::size_t>(conn - 1))->conn->send(msg);
      sent.set_value();
    });
    sent.get_future().wait();
  }
  void welcome(int conn, std::uint64_t peer) {
    send(conn, [&](schema::Envelope::Builder e) {
      auto w = e.initWelcome();
      w.setProtocolVersion(schema::PROTOCOL_VERSION);
      w.setPeerId(peer);
      w.setJournaled(true);
      w.setHeartbeatMs(60'000);
    });
  }
  void close(int conn) {
    asio::post(io_, [this, conn] { conns_.at(static_cast<std::size_t>(conn - 1))->conn->close("scripted"); });
  }

 private:
  struct Handler : shoal::link::ConnectionHandler {
    Scripted* s = nullptr;
    int index = 0;
    std::shared_ptr<shoal::link::Connection> conn;
    void on_message(schema::Envelope::Reader env, const shoal::proto::FrameOwner&) override {
      Heard h;
      h.conn = index;
      h.which = env.which();
      if (h.which == schema::Envelope::HELLO) h.resume = env.getHello().getResumePeerId();
      if (h.which == schema::Envelope::SUBMIT) h.ids.push_back(env.getSubmit().getTaskId());
      if (h.which == schema::Envelope::SUBMIT_BATCH)
        for (auto sb : env.getSubmitBatch()) h.ids.push_back(sb.getTaskId());
      if (h.which == schema::Envelope::SUBSCRIBE)
        for (auto id : env.getSubscribe().getTaskIds()) h.ids.push_back(id);
      std::lock_guard lock(s->mu_);
      s->heard_.push_back(std::move(h));
      s->cv_.notify_all();
    }
    void on_protocol_error(const std::string&) override {}
    void on_closed(const std::string&) override {}
  };

  shoal::Coro<void> accept() {
    for (;;) {
      std::optional<shoal::proto::Socket> sock;
      try {
        sock.emplace(co_await listener_->accept());
      } catch (const std::exception&) {
        co_return;
      }
      auto h = std::make_unique<Handler>();
      h->s = this;
      h->index = static_cast<int>(conns_.size()) + 1;
      h->conn = shoal::link::Connection::over_socket(std::move(*sock));
      h->conn->start(*h);
      conns_.push_back(std::move(h));
    }
  }

  static inline int count_ = 0;
  std::string path_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  std::unique_ptr<shoal::link::Listener> listener_;
  std::vector<std::unique_ptr<Handler>> conns_;  // the io thread's
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Heard> heard_;
  std::thread thread_;
};

shoal::RawCall call() {
  shoal::RawCall c;
  c.function = "f";
  c.signature_hash = 1;
  c.args = shoal::Bytes::copy(std::string_view("args"));
  return c;
}

}  // namespace resume_test

using resume_test::Scripted;

// Seed 186: a task subscribed on one reconnect, whose connection broke in turn before the
// answer, was not asked for again on the next: its result, made while the client was
// away, never came. Every reconnect asks for every result still awaited.
TEST_CASE("client: a result asked for on a connection that broke is asked for again on the next", "[client][resume]") {
  Scripted coord;
  std::thread welcomer([&] {
    REQUIRE(coord.next(schema::Envelope::HELLO).conn == 1);
    coord.welcome(1, 7);
  });
  shoal::Client client(coord.address());
  welcomer.join();
  auto task = client.submit_raw(resume_test::call());
  auto s = coord.next(schema::Envelope::SUBMIT);
  REQUIRE(s.ids == std::vector<std::uint64_t>{task.id});
  coord.send(1, [&](schema::Envelope::Builder e) { e.initAccepted(1).set(0, task.id); });
  coord.close(1);
  // Reconnect 1: it asks for the result; the connection breaks before any answer.
  auto h2 = coord.next(schema::Envelope::HELLO);
  CHECK(h2.resume == 7);
  coord.welcome(2, 7);
  CHECK(coord.next(schema::Envelope::SUBSCRIBE).ids == std::vector<std::uint64_t>{task.id});
  coord.close(2);
  // Reconnect 2: it must ask again, and get the result.
  REQUIRE(coord.next(schema::Envelope::HELLO).resume == 7);
  coord.welcome(3, 7);
  auto sub = coord.next(schema::Envelope::SUBSCRIBE);
  CHECK(sub.conn == 3);
  CHECK(sub.ids == std::vector<std::uint64_t>{task.id});
  coord.send(3, [&](schema::Envelope::Builder e) {
    auto r = e.initResult();
    r.setTaskId(task.id);
    r.setValue(shoal::link::data(std::string_view("done")));
  });
  auto value = task.result.result(10s);
  CHECK(std::string(reinterpret_cast<const char*>(value.data()), value.size()) == "done");
}

// Seed 191: a submit the coordinator refused (its journal failing: a result, no
// acknowledgement) was sent again after a reconnect, and could run though its caller had
// seen it fail. What the coordinator answered is not sent again.
TEST_CASE("client: a submit the coordinator answered is not sent again after a reconnect", "[client][resume]") {
  Scripted coord;
  std::thread welcomer([&] {
    REQUIRE(coord.next(schema::Envelope::HELLO).conn == 1);
    coord.welcome(1, 7);
  });
  shoal::Client client(coord.address());
  welcomer.join();
  auto refused = client.submit_raw(resume_test::call());
  REQUIRE(coord.next(schema::Envelope::SUBMIT).ids == std::vector<std::uint64_t>{refused.id});
  coord.send(1, [&](schema::Envelope::Builder e) {
    auto r = e.initResult();
    r.setTaskId(refused.id);
    auto err = r.initError();
    err.setTypeName("shoal::Error");
    err.setMessage("cannot write the journal: the coordinator accepts no work until its journal can be written");
    err.setKind(schema::ErrorKind::OVERLOADED);
  });
  CHECK_THROWS(refused.result.result(10s));
  coord.close(1);
  REQUIRE(coord.next(schema::Envelope::HELLO).resume == 7);
  coord.welcome(2, 7);
  // What it sends from now on: a new task's submit comes, the refused one's never.
  auto fresh = client.submit_raw(resume_test::call());
  auto s = coord.next(schema::Envelope::SUBMIT);
  CHECK(s.conn == 2);
  CHECK(s.ids == std::vector<std::uint64_t>{fresh.id});
}
