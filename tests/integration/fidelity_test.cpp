// What Python, Ray and Dask users expect of remote tasks (issue 15), with real
// coordinator and worker processes: a by-name submit nobody can run fails NotRegistered
// after a bounded grace, workers that disagree on a signature are refused at registration,
// cancelling a task cancels the tasks it submitted.

#include <catch2/catch.hpp>

#include <signal.h>
#include <stdio.h>

#include <cstdio>
#include <map>
#include <string>

#include "shoal/cluster/local_cluster.hpp"
#include "shoal/coordinator/coordinator.hpp"
#include "shoal/compose/wait_for.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/remote/client.hpp"
#if defined(SHOAL_EXAMPLES_LIB) && defined(SHOAL_SOURCE_DIR)  // the shoal CLI is built
#include "support/cli.hpp"
#endif
#include "support/daemons.hpp"
#include "support/test_tasks.hpp"

using namespace std::chrono_literals;
using shoal::test::Cluster;
using shoal::test::wait_until;
using Int1 = std::int64_t(std::int64_t);

namespace {

void await_workers(shoal::Client& client, std::size_t n, Cluster& c) {
  if (!wait_until([&] { return client.workers().result(5s).size() == n; }, 15s))
    FAIL("workers did not register:\n" << c.logs());
}

}  // namespace

TEST_CASE("NotRegistered waits 30 s by default before failing a task nobody has", "[integration][fidelity]") {
  CHECK(shoal::coordinator::CoordinatorOptions{}.unregistered_wait == 30s);
  CHECK(shoal::LocalClusterOptions{}.unregistered_wait == 30s);
  std::string help;
  if (FILE* p = ::popen((std::string(SHOAL_BIN_DIR) + "/shoal-coordinator --help").c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) help.append(buf, n);
    ::pclose(p);
  }
  INFO(help);
  auto at = help.find("--unregistered-wait-ms");
  REQUIRE(at != std::string::npos);
  CHECK(help.find("30000", at) != std::string::npos);
}

TEST_CASE("a by-name submit with no worker connected at all fails NotRegistered after the grace, "
          "and status says it waits for a worker with it",
          "[integration][fidelity]") {
  Cluster c({"--unregistered-wait-ms", "1500"});
  shoal::Client client(c.address);
  auto f = client.submit<Int1>("square", 7);
  auto id = shoal::Client::task_id(f);
  // While it waits: the summary lists the function, the task says what it waits for.
  auto st = client.status().result(5s);
  REQUIRE(st.unserved.size() == 1);
  CHECK(st.unserved[0].function == "square");
  CHECK(st.unserved[0].tasks == 1);
  CHECK(st.unserved[0].fails_in <= 1500ms);
  auto one = client.status(id).result(5s);
  REQUIRE(one.tasks.size() == 1);
  CHECK(one.tasks[0].note.find("waiting: no worker has square (NotRegistered in ") == 0);
#if defined(SHOAL_EXAMPLES_LIB) && defined(SHOAL_SOURCE_DIR)
  shoal::test::Env env{{"SHOAL_ADDRESS", c.address}};
  auto r = shoal::test::run_cli({"status"}, env);
  INFO(r);
  CHECK(r.out.find("waiting for a worker with square: 1 task(s), NotRegistered in") != std::string::npos);
#endif
  auto t0 = std::chrono::steady_clock::now();
  try {
    (void)f.result(15s);
    FAIL("no exception");
  } catch (const shoal::NotRegistered& e) {
    CHECK(e.function() == "square");
    CHECK(std::string(e.what()).find("no worker") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  CHECK(client.status().result(5s).unserved.empty());
}

TEST_CASE("a task that waits for its function is run by a worker that joins within the grace",
          "[integration][fidelity]") {
  Cluster c({"--unregistered-wait-ms", "20000"});
  shoal::Client client(c.address);
  auto f = client.submit<Int1>("square", 9);
  REQUIRE(wait_until([&] { return !client.status().result(5s).unserved.empty(); }));
  c.add_worker(1);
  CHECK(f.result(20s) == 81);
}

TEST_CASE("a worker that registers a name with another signature is refused at registration, naming both",
          "[integration][fidelity]") {
  Cluster c;
  c.add_worker(1);
  shoal::Client client(c.address);
  await_workers(client, 1, c);
  shoal::test::Daemon other({std::string(SHOAL_BIN_DIR) + "/shoal-worker", "-c", c.address, "--load",
                             SHOAL_TEST_TASKS_OTHER_LIB, "-t", "1", "--name", "other"},
                            c.dir.file("other.log"));
  std::string refused = "refused this worker: 'square' is string(string) in this worker but int64(int64) in the "
                        "live workers (w0)";
  if (!wait_until([&] { return shoal::test::read_file(c.dir.file("other.log")).find(refused) != std::string::npos; },
                  15s))
    FAIL(c.logs() << "--- other\n" << shoal::test::read_file(c.dir.file("other.log")));
  CHECK(shoal::test::read_file(c.dir.file("coordinator.log")).find("refused the registration of other") !=
        std::string::npos);
  // It is not among the workers, and square still runs as the live workers have it.
  auto ws = client.workers().result(5s);
  REQUIRE(ws.size() == 1);
  CHECK(ws[0].name == "w0");
  CHECK(client.submit<Int1>("square", 5).result(10s) == 25);
  // Once the workers it disagreed with are gone (a rolling upgrade), it is let in.
  c.workers[0]->signal(SIGKILL);
  (void)c.workers[0]->wait();
  if (!wait_until([&] {
        auto now = client.workers().result(5s);
        return now.size() == 1 && now[0].name == "other";
      }, 20s))
    FAIL(c.logs() << "--- other\n" << shoal::test::read_file(c.dir.file("other.log")));
}

namespace {

/// How many tasks of `function` the coordinator knows, by state.
std::map<std::string, int> states_of(shoal::Client& client, const std::string& function) {
  std::map<std::string, int> out;
  for (const auto& t : client.tasks().result(5s).tasks)
    if (t.function == function) ++out[t.state];
  return out;
}

}  // namespace

TEST_CASE("cancelling a remote task cancels the tasks it submitted, from a plain or a coroutine task "
          "(Ray's recursive cancel)",
          "[integration][fidelity]") {
  Cluster c;
  c.add_worker(4);
  shoal::Client client(c.address);
  await_workers(client, 1, c);
  for (std::string fn : {"fan_out", "fan_out_async"}) {
    INFO(fn << "\n" << c.logs());
    auto parent = client.submit<Int1>(fn, 3);
    REQUIRE(wait_until([&] { return states_of(client, "sleep_ms")["running"] == 3; }, 15s));
    parent.cancel();
    CHECK_THROWS_AS(parent.result(20s), shoal::CancelledError);
    // The children slept for a minute: they end now because they were cancelled.
    CHECK(wait_until([&] {
      auto s = states_of(client, "sleep_ms");
      return s["running"] == 0 && s["queued"] == 0;
    }, 10s));
    CHECK(states_of(client, "sleep_ms")["done"] == 0);
  }
}

TEST_CASE("a wait_for deadline that cancels a remote parent reaches its children", "[integration][fidelity]") {
  Cluster c;
  c.add_worker(4);
  shoal::Client client(c.address);
  await_workers(client, 1, c);
  auto parent = client.submit<Int1>("fan_out_async", 2);
  REQUIRE(wait_until([&] { return states_of(client, "sleep_ms")["running"] == 2; }, 15s));
  auto waited = [&]() -> shoal::Coro<void> { (void)co_await shoal::wait_for(parent.wait(), 200ms); };
  CHECK_THROWS_AS(shoal::run(waited()), shoal::TimeoutError);
  CHECK(wait_until([&] { return states_of(client, "sleep_ms")["running"] == 0; }, 10s));
}
