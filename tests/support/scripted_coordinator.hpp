#pragma once
// Test helper: a coordinator the test scripts. It accepts connections on a Unix socket,
// tells the test every message it gets (summed up: Heard), and sends what the test says:
// for a client or a worker under test, the coordinator answers (or does not) exactly as
// the case needs (a connection that breaks between a request and its answer, a result
// without an acknowledgement, a call sent again after a restart).

#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <capnp/message.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shoal/link/connection.hpp"
#include "shoal/link/listener.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::test {

namespace schema = shoal::proto::schema;

/// What reached the scripted coordinator: one message, summed up.
struct Heard {
  int conn = 0;  // which connection (1, 2, ...)
  schema::Envelope::Which which{};
  std::vector<std::uint64_t> ids;  // submits' task ids, a subscribe's
  std::uint64_t resume = 0;        // a hello's
  // A registration's: its actor classes' constructor hashes and methods' ("Counter",
  // "Counter.add"), the actors it says it hosts, and a result's value or error type.
  std::map<std::string, std::uint64_t> hashes;
  std::vector<std::uint64_t> live_actors;
  std::string value, error_type;
  bool cancelled = false;  // a result's
};

/// A coordinator the test scripts: it accepts connections on a Unix socket, tells the
/// test every message, and sends what the test says.
class Scripted {
 public:
  Scripted() : path_("/tmp/shoal-scripted-" + std::to_string(::getpid()) + "-" + std::to_string(++count_) + ".sock") {
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
    REQUIRE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !heard_.empty(); }));
    auto h = heard_.front();
    heard_.pop_front();
    return h;
  }
  /// The next message of kind `which`, skipping heartbeats and the like.
  Heard next(schema::Envelope::Which which) {
    for (;;) {
      auto h = next();
      if (h.which == which) return h;
      REQUIRE((h.which == schema::Envelope::HEARTBEAT || h.which == schema::Envelope::RELEASE ||
               h.which == schema::Envelope::LOG_LINES));
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
  /// Sends on connection `conn` what each of `fills` builds, in one write: the peer reads
  /// them in one turn.
  void send_together(int conn, const std::vector<std::function<void(schema::Envelope::Builder)>>& fills) {
    std::promise<void> sent;
    asio::post(io_, [&] {
      auto& c = *conns_.at(static_cast<std::size_t>(conn - 1))->conn;
      auto one_write = c.cork();
      for (const auto& fill : fills) {
        capnp::MallocMessageBuilder msg;
        fill(msg.initRoot<schema::Envelope>());
        c.send(msg);
      }
      sent.set_value();
    });
    sent.get_future().wait();
  }
  /// The welcome of a coordinator with a journal (a client's submits are acknowledged).
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
      if (h.which == schema::Envelope::CANCEL) h.ids.push_back(env.getCancel().getTaskId());
      if (h.which == schema::Envelope::ACTOR_CREATE) h.ids.push_back(env.getActorCreate().getTaskId());
      if (h.which == schema::Envelope::SUBSCRIBE)
        for (auto id : env.getSubscribe().getTaskIds()) h.ids.push_back(id);
      if (h.which == schema::Envelope::REGISTER_WORKER) {
        auto r = env.getRegisterWorker();
        for (auto a : r.getActors()) {
          h.hashes[a.getName()] = a.getConstructorHash();
          for (auto m : a.getMethods()) h.hashes[std::string(a.getName().cStr()) + "." + m.getName().cStr()] = m.getSignatureHash();
        }
        for (auto f : r.getFunctions()) h.hashes[f.getName()] = f.getSignatureHash();
        for (auto id : r.getLiveActors()) h.live_actors.push_back(id);
      }
      std::lock_guard lock(s->mu_);
      if (h.which == schema::Envelope::RESULT) {
        s->heard_.push_back(result(index, env.getResult()));
      } else if (h.which == schema::Envelope::RESULT_BATCH) {
        for (auto r : env.getResultBatch()) s->heard_.push_back(result(index, r));  // one each, as RESULT
      } else {
        s->heard_.push_back(std::move(h));
      }
      s->cv_.notify_all();
    }
    static Heard result(int index, schema::Result::Reader r) {
      Heard h;
      h.conn = index;
      h.which = schema::Envelope::RESULT;
      h.ids.push_back(r.getTaskId());
      if (r.isValue()) h.value.assign(reinterpret_cast<const char*>(r.getValue().begin()), r.getValue().size());
      if (r.isError()) h.error_type = r.getError().getTypeName();
      h.cancelled = r.isCancelled();
      return h;
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


}  // namespace shoal::test
