// shoal replay (issue 18): the coordinator keeps a failed task's arguments and its
// dependencies' values; a program (Client::replay) or the CLI runs the task again here,
// reproducing its exception or its crash; a saved bundle runs without the cluster; the
// kept tasks survive a coordinator restart on its journal; the bounds hold.

#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "shoal/cluster/local_cluster.hpp"
#include "shoal/codec/codec.hpp"
#include "shoal/remote/client.hpp"
#include "shoal/remote/replay.hpp"
#if defined(SHOAL_EXAMPLES_LIB) && defined(SHOAL_SOURCE_DIR)  // the shoal CLI is built
#include "support/cli.hpp"
#endif
#include "support/daemons.hpp"
#include "support/test_tasks.hpp"

using namespace std::chrono_literals;
using shoal::test::Cluster;
using shoal::test::wait_until;
using FailSig = std::int64_t(std::string);
using EchoSig = std::string(std::string);

namespace {

// Waits until `f` failed (any error) and returns its task id.
template <typename T>
std::uint64_t failed_id(const shoal::Future<T>& f) {
  try {
    (void)f.result(20s);
  } catch (const shoal::TimeoutError&) {
    throw;
  } catch (const std::exception&) {
  }
  return shoal::Client::task_id(f);
}

}  // namespace

TEST_CASE("Client::replay runs a failed task here and throws its exception with its message, "
          "its dependencies' values included",
          "[integration][replay]") {
  Cluster c;
  c.add_worker(1);
  shoal::Client client(c.address);
  auto id = failed_id(client.submit<FailSig>("fail", std::string("boom at 3 a.m.")));
  auto bundle = client.replay_bundle(id);
  INFO(c.logs());
  CHECK(bundle.task_id == id);
  CHECK(bundle.function == "fail");
  CHECK(bundle.signature == "int64(string)");
  CHECK(bundle.error_type == "shoal::ValueError");
  CHECK(bundle.error_message == "boom at 3 a.m.");
  CHECK(bundle.worker == "w0");
  CHECK(bundle.pid != 0);
  REQUIRE(bundle.libraries.size() == 1);
  CHECK(std::filesystem::equivalent(bundle.libraries[0], SHOAL_TEST_TASKS_LIB));
  try {
    (void)client.replay(id);
    FAIL("no exception");
  } catch (const shoal::ValueError& e) {
    CHECK(std::string(e.what()) == "boom at 3 a.m.");
  }
  // Its argument came from another task: the dependency's value is kept with it. (Behind
  // a blocking task on the one thread, the dependency is still unfinished when the
  // dependent is submitted: a finished one's value would travel inline instead.)
  auto blocker = client.submit<std::int64_t(std::int64_t)>("block_ms", 300);
  auto echoed = client.submit<EchoSig>("echo_string", std::string("from a dependency"));
  auto dep_id = failed_id(client.submit<FailSig>("fail", echoed));
  auto with_dep = client.replay_bundle(dep_id);
  CHECK(with_dep.deps.size() == 1);
  CHECK(blocker.result(10s) == 300);
  try {
    (void)client.replay(dep_id);
    FAIL("no exception");
  } catch (const shoal::ValueError& e) {
    CHECK(std::string(e.what()) == "from a dependency");
  }
  // Nothing to replay for a task that did not fail.
  auto ok = client.submit<std::int64_t(std::int64_t)>("square", 4);
  CHECK(ok.result(10s) == 16);
  CHECK_THROWS_WITH(client.replay_bundle(shoal::Client::task_id(ok)),
                    Catch::Contains("has not failed") || Catch::Contains("is not among the failed tasks"));
}

TEST_CASE("a replay whose dependencies' values together pass a frame's inline budget still arrives",
          "[integration][replay]") {
  // Six values of 900 KiB (each under the 1 MiB that travels beside a frame) are 5.4 MB:
  // all inline, the reply would pass the 4 MiB a frame carries inline (a review finding:
  // enough of them pass the 16 MiB frame limit). Past that budget they go beside it.
  Cluster c;
  c.add_worker(1);
  shoal::Client client(c.address);
  using Blob = std::string(std::int64_t);
  constexpr std::int64_t kEach = 900 * 1024;
  auto blocker = client.submit<std::int64_t(std::int64_t)>("block_ms", 300);  // keeps them unfinished at submit
  std::vector<shoal::Future<std::string>> parts;
  for (int i = 0; i < 6; ++i) parts.push_back(client.submit<Blob>("blob", kEach));
  using Six = std::int64_t(std::string, std::string, std::string, std::string, std::string, std::string);
  auto id = failed_id(client.submit<Six>("fail_sizes", parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]));
  CHECK(blocker.result(10s) == 300);
  auto bundle = client.replay_bundle(id, 30s);
  INFO(c.logs());
  REQUIRE(bundle.deps.size() == 6);
  for (const auto& d : bundle.deps) CHECK(d.size() > kEach);
  CHECK_THROWS_WITH(shoal::remote::run_replay(bundle), std::to_string(6 * kEach) + " bytes");
}

TEST_CASE("a task that never ran is not kept (it would push out those that did), and says so",
          "[integration][replay]") {
  Cluster c({"--unregistered-wait-ms", "200"});
  c.add_worker(1);
  shoal::Client client(c.address);
  auto id = failed_id(client.submit<FailSig>("no_such_function", std::string("x")));
  CHECK_THROWS_WITH(client.replay_bundle(id), Catch::Contains("never ran (shoal::NotRegistered): nothing to replay"));
}

TEST_CASE("the coordinator keeps the newest --keep-failed failures, says why one is gone, and none with 0",
          "[integration][replay]") {
  Cluster c({"--keep-failed", "2"});
  c.add_worker(1);
  shoal::Client client(c.address);
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(failed_id(client.submit<FailSig>("fail", "n" + std::to_string(i))));
  CHECK_THROWS_WITH(client.replay_bundle(ids[0]), Catch::Contains("the newest 2, --keep-failed"));
  CHECK(client.replay_bundle(ids[1]).error_message == "n1");
  CHECK(client.replay_bundle(ids[2]).error_message == "n2");

  Cluster none({"--keep-failed", "0"});
  none.add_worker(1);
  shoal::Client other(none.address);
  auto id = failed_id(other.submit<FailSig>("fail", std::string("x")));
  CHECK_THROWS_WITH(other.replay_bundle(id), Catch::Contains("keeps no failed tasks (--keep-failed 0)"));
}

TEST_CASE("a journaled coordinator keeps its failed tasks for replay across a restart", "[integration][replay]") {
  shoal::test::TempDir j;
  Cluster c({"--journal", j.file("journal.db")});
  c.add_worker(1);
  std::uint64_t id = 0;
  {
    shoal::Client client(c.address);
    id = failed_id(client.submit<FailSig>("fail", std::string("before the restart")));
    REQUIRE(client.replay_bundle(id).error_message == "before the restart");
    // The record went with the commit of the turn the task failed in; commits are written
    // in order, so a later submit acknowledged as durable means it is on disk.
    auto later = client.submit<std::int64_t(std::int64_t)>("square", 3);
    REQUIRE(client.wait_accepted(shoal::Client::task_id(later), 10s));
  }
  c.kill_coordinator();
  c.start_coordinator();
  shoal::Client client(c.address);
  auto bundle = client.replay_bundle(id);
  INFO(c.logs());
  CHECK(bundle.error_message == "before the restart");
  CHECK(bundle.function == "fail");
  CHECK_THROWS_AS(shoal::remote::run_replay(bundle), shoal::ValueError);
}

#if defined(SHOAL_EXAMPLES_LIB) && defined(SHOAL_SOURCE_DIR)
TEST_CASE("shoal replay reproduces a task's exception and message, and a crash as a crash", "[integration][replay][cli]") {
  Cluster c;
  c.add_worker(1);
  shoal::Client client(c.address);
  shoal::test::Env env{{"SHOAL_ADDRESS", c.address}};
  auto id = failed_id(client.submit<FailSig>("fail", std::string("bad input 42")));
  auto r = shoal::test::run_cli({"replay", std::to_string(id)}, env, 60s);
  INFO(r);
  CHECK(r.exit == 1);
  CHECK(r.err.find("shoal::ValueError: bad input 42\n(the same as on its worker)") != std::string::npos);
  CHECK(r.err.find("ran on w0") != std::string::npos);
  auto j = shoal::test::parse_json(shoal::test::run_cli({"--json", "replay", std::to_string(id)}, env, 60s));
  CHECK(j["outcome"] == "raised");
  CHECK(j["error"]["message"] == "bad input 42");

  // A task that killed its worker kills the replaying process the same way, and says so.
  auto crashed = failed_id(client.submit<void()>("segfault"));
  auto k = shoal::test::run_cli({"replay", std::to_string(crashed)}, env, 60s);
  INFO(k);
  // (Under AddressSanitizer the replaying process reports the SIGSEGV and aborts.)
  CHECK((k.exit == 128 + SIGSEGV || k.exit == 128 + SIGABRT));
  CHECK(k.err.find("it crashed its worker: SIGSEGV") != std::string::npos);
  CHECK(k.err.find("the replay crashed: signal") != std::string::npos);

  // Nothing to replay: exit 2 with why.
  auto none = shoal::test::run_cli({"replay", "12345"}, env, 30s);
  CHECK(none.exit == 2);
  CHECK(none.err.find("nothing to replay") != std::string::npos);
}

TEST_CASE("shoal replay runs a function built into a LocalCluster program in that program",
          "[integration][replay][cli]") {
  // This test binary is such a program: its workers are itself re-executed, and so is
  // the replay (SHOAL_CHILD=replay), since no library has the function.
  shoal::LocalCluster local(1, {.threads_per_worker = 1});
  auto& client = local.client();
  auto id = failed_id(client.submit<FailSig>("fail", std::string("built in")));
  auto b = client.replay_bundle(id);
  CHECK(b.libraries.empty());
  CHECK(std::filesystem::path(b.executable).filename() == "test_integration");
  shoal::test::Env env{{"SHOAL_ADDRESS", local.address()}};
  auto r = shoal::test::run_cli({"replay", std::to_string(id)}, env, 60s);
  INFO(r);
  CHECK(r.exit == 1);
  CHECK(r.err.find("running: SHOAL_CHILD=replay") != std::string::npos);
  CHECK(r.err.find("shoal::ValueError: built in\n(the same as on its worker)") != std::string::npos);
}

TEST_CASE("shoal --json replay keeps stdout for its JSON (what the task prints goes to stderr), "
          "and a replay that returns prints its result",
          "[integration][replay][cli]") {
  Cluster c;
  c.add_worker(1);
  shoal::Client client(c.address);
  shoal::test::TempDir d;
  // Fails on its first run only (it counts its runs in a file): the replay is its second.
  auto id = failed_id(client.submit<FailSig>("print_then_fail_once", d.file("runs")));
  shoal::test::Env env{{"SHOAL_ADDRESS", c.address}};
  auto r = shoal::test::run_cli({"--json", "replay", std::to_string(id)}, env, 60s);
  INFO(r);
  CHECK(r.exit == 0);
  auto j = shoal::test::parse_json(r);  // stdout is the JSON alone
  CHECK(j["outcome"] == "returned");
  CHECK(j["result"] == 2);
  CHECK(j["original"]["error_message"] == "the first run fails");
  CHECK(r.err.find("run 2") != std::string::npos);
  // Without --json: the result on stdout, and that it returned here though it failed there.
  auto h = shoal::test::run_cli({"replay", std::to_string(id)}, env, 60s);
  INFO(h);
  CHECK(h.exit == 0);
  CHECK(h.out.find("run 3\n3\n") != std::string::npos);
  CHECK(h.err.find("(it returned here; on its worker it failed with shoal::ValueError: the first run fails)") !=
        std::string::npos);
}

TEST_CASE("a replay bundle runs in a fresh directory with no cluster at all", "[integration][replay][cli]") {
  shoal::test::TempDir saved, fresh;
  std::uint64_t id = 0;
  {
    Cluster c;
    c.add_worker(1);
    shoal::Client client(c.address);
    shoal::test::Env env{{"SHOAL_ADDRESS", c.address}};
    id = failed_id(client.submit<FailSig>("fail", std::string("saved for later")));
    auto s = shoal::test::run_cli({"replay", std::to_string(id), "--save", saved.file("t.replay")}, env, 30s);
    INFO(s);
    REQUIRE(s.exit == 0);
    // Never through a symlink.
    std::filesystem::create_symlink(saved.file("elsewhere"), saved.file("link.replay"));
    auto l = shoal::test::run_cli({"replay", std::to_string(id), "--save", saved.file("link.replay")}, env, 30s);
    CHECK(l.exit == 2);
    CHECK(l.err.find("is a symlink: refusing to write through it") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(saved.file("elsewhere")));
  }  // the cluster is gone
  CHECK((std::filesystem::status(saved.file("t.replay")).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);
  std::filesystem::copy_file(saved.file("t.replay"), fresh.file("t.replay"));
  shoal::test::Env env{{"SHOAL_ADDRESS", "unix://" + fresh.file("nobody.sock")}};
  auto r = shoal::test::run_cli({"replay", "--bundle", fresh.file("t.replay")}, env, 60s);
  INFO(r);
  CHECK(r.exit == 1);
  CHECK(r.err.find("shoal::ValueError: saved for later") != std::string::npos);
  CHECK(r.err.find("task " + std::to_string(id) + ": fail int64(string)") != std::string::npos);
  // A file that is not a bundle is refused with why.
  std::ofstream(fresh.file("junk")) << "not a bundle";
  auto junk = shoal::test::run_cli({"replay", "--bundle", fresh.file("junk")}, env, 30s);
  CHECK(junk.exit == 2);
  CHECK(junk.err.find("is not a replay bundle") != std::string::npos);
}

TEST_CASE("shoal replay --debugger gdb stops at the function", "[integration][replay][cli]") {
  if (std::system("command -v gdb > /dev/null 2>&1") != 0) {
    WARN("gdb is not installed (make deps installs it): not tested here");
    return;
  }
  Cluster c;
  c.add_worker(1);
  shoal::Client client(c.address);
  shoal::test::Env env{{"SHOAL_ADDRESS", c.address}};
  auto id = failed_id(client.submit<FailSig>("fail", std::string("under gdb")));
  // gdb reads its commands from stdin: at its end (not a terminal) it kills the task and quits.
  auto r = shoal::test::run_cli({"replay", std::to_string(id), "--debugger", "gdb"}, env, 120s);
  INFO(r);
  auto all = r.out + r.err;
  CHECK(all.find("Temporary breakpoint 2") != std::string::npos);
  CHECK(all.find("shoal_test_tasks::fail") != std::string::npos);
}
#endif
