#pragma once
// The coordinator's engine over in-process connections, driven by the test's thread: a
// client's or a worker's end that records what the engine sends it (End), and the rig
// that runs the engine (Rig). resume_test.cpp and ack_test.cpp use it.
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <capnp/message.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "shoal/coordinator/coordinator.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/link/messages.hpp"

namespace schema = shoal::proto::schema;
using namespace std::chrono_literals;

namespace engine_rig {

struct Seen {
  schema::Envelope::Which which{};
  std::uint64_t peer = 0;           // a welcome's
  std::vector<std::uint64_t> ids;   // results' task ids, accepted ids
  std::size_t delivery = 0;         // which delivery (one write of the engine's) it came in
};

// A client end of a local pair: records what the coordinator sends.
struct End final : shoal::link::ConnectionHandler {
  std::shared_ptr<shoal::link::Connection> conn;
  std::vector<Seen> seen;
  bool closed = false;
  std::size_t deliveries = 0;
  void on_frames() override { ++deliveries; }
  void on_message(schema::Envelope::Reader env, const shoal::proto::FrameOwner&) override {
    Seen s;
    s.which = env.which();
    s.delivery = deliveries;
    if (s.which == schema::Envelope::WELCOME) s.peer = env.getWelcome().getPeerId();
    if (s.which == schema::Envelope::RESULT) s.ids.push_back(env.getResult().getTaskId());
    if (s.which == schema::Envelope::RESULT_BATCH)
      for (auto r : env.getResultBatch()) s.ids.push_back(r.getTaskId());
    if (s.which == schema::Envelope::ACCEPTED)
      for (auto id : env.getAccepted()) s.ids.push_back(id);
    if (s.which == schema::Envelope::ASSIGN) s.ids.push_back(env.getAssign().getTaskId());
    if (s.which == schema::Envelope::CANCEL) s.ids.push_back(env.getCancel().getTaskId());
    if (s.which == schema::Envelope::ASSIGN_BATCH)
      for (auto a : env.getAssignBatch()) s.ids.push_back(a.getTaskId());
    seen.push_back(std::move(s));
  }
  void on_protocol_error(const std::string&) override {}
  void on_closed(const std::string&) override { closed = true; }
  ~End() override {
    if (conn) conn->abandon();
  }
  // Messages of kind `w` (a batch counts as its single kind) naming `id`.
  [[nodiscard]] std::size_t count(schema::Envelope::Which w, std::uint64_t id) const {
    auto single = [](schema::Envelope::Which x) {
      return x == schema::Envelope::ASSIGN_BATCH ? schema::Envelope::ASSIGN
             : x == schema::Envelope::RESULT_BATCH ? schema::Envelope::RESULT
                                                   : x;
    };
    std::size_t n = 0;
    for (auto& s : seen)
      if (single(s.which) == w)
        for (auto i : s.ids) n += i == id;
    return n;
  }
};

struct Rig {
  asio::io_context io;
  shoal::coordinator::Coordinator coord;
  explicit Rig(shoal::coordinator::CoordinatorOptions o = options()) : coord(io.get_executor(), std::move(o)) {
    coord.start();
    asio::co_spawn(io, coord.run(), [this](std::exception_ptr) { ended = true; });
  }
  ~Rig() {
    coord.stop_now();
    (void)until([&] { return ended; });
  }
  bool ended = false;
  static shoal::coordinator::CoordinatorOptions options() {
    shoal::coordinator::CoordinatorOptions o;
    o.log = std::getenv("SHOAL_TEST_LOG") != nullptr;
    o.first_peer = 5;
    return o;
  }
  std::unique_ptr<End> connect(std::uint64_t resume = 0, schema::Role role = schema::Role::CLIENT) {
    auto e = std::make_unique<End>();
    auto [mine, theirs] = shoal::link::Connection::local_pair(io.get_executor());
    e->conn = mine;
    mine->start(*e);
    coord.adopt(theirs);
    send(*e, [&](schema::Envelope::Builder env) {
      auto h = env.initHello();
      h.setProtocolVersion(schema::PROTOCOL_VERSION);
      h.setRole(role);
      h.setName(role == schema::Role::CLIENT ? "c" : "w");
      h.setResumePeerId(resume);
      h.setNonce(shoal::link::data(std::string(32, 'n')));
    });
    REQUIRE(until([&] { return !e->seen.empty(); }));
    REQUIRE(e->seen.front().which == schema::Envelope::WELCOME);
    return e;
  }
  template <typename Fill>
  void send(End& e, Fill fill) {
    capnp::MallocMessageBuilder msg;
    fill(msg.initRoot<schema::Envelope>());
    e.conn->send(msg);
  }
  // Runs the engine until `done` (at most 5 s).
  bool until(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.run_one_for(50ms);
    }
    return true;
  }
  // Runs what is ready now, then the engine's end-of-turn flushes.
  void settle() {
    for (int i = 0; i < 3; ++i) io.poll();
  }
};

inline void submit(schema::Submit::Builder s, std::uint64_t id, std::vector<std::uint64_t> deps = {}) {
  s.setTaskId(id);
  s.setFunction("f");
  s.setSignatureHash(1);
  s.setArgs(shoal::link::data(std::string_view("a")));
  auto d = s.initDeps(static_cast<unsigned>(deps.size()));
  for (unsigned i = 0; i < deps.size(); ++i) d.set(i, deps[i]);
}


// A worker of one gpu serving `f`, still running `running` (a reconnect's registration).
inline void register_gpu_worker(Rig& rig, End& w, std::vector<std::uint64_t> running) {
  rig.send(w, [&](schema::Envelope::Builder e) {
    auto r = e.initRegisterWorker();
    r.setCapacity(2);
    auto f = r.initFunctions(1)[0];
    f.setName("f");
    f.setSignatureHash(1);
    f.setSignature("int64(bytes)");
    auto res = r.initResources(1)[0];
    res.setName("gpu");
    res.setAmount(1);
    auto l = r.initRunning(static_cast<unsigned>(running.size()));
    for (unsigned i = 0; i < running.size(); ++i) l.set(i, running[i]);
  });
}

// A submit of `f` asking for the gpu.
inline void gpu_submit(Rig& rig, End& c, std::uint64_t id) {
  rig.send(c, [&](schema::Envelope::Builder e) {
    auto s = e.initSubmit();
    submit(s, id);
    auto o = s.getOptions();
    o.setRetries(-1);  // the coordinator's default: it runs again after its worker is lost
    auto r = o.initResources(1)[0];
    r.setName("gpu");
    r.setAmount(1);
  });
}


// The result of attempt 1 of `task`, a value, from worker `w`.
inline void send_value(Rig& rig, End& w, std::uint64_t task) {
  rig.send(w, [&](schema::Envelope::Builder e) {
    auto r = e.initResult();
    r.setTaskId(task);
    r.setAttempt(1);
    r.setValue(shoal::link::data(std::string_view("v")));
  });
}

}  // namespace engine_rig
