// The `shoal` command for real: the binary run as a child process (stdout, stderr and exit
// code captured, every run bounded), against shoal-coordinator and shoal-worker processes
// on a temporary socket with the example tasks loaded. No test touches the real default
// socket: each sets SHOAL_ADDRESS or passes --address, and the embedded-cluster tests point
// XDG_RUNTIME_DIR at a temporary directory. Tests that start processes check what survived.

#if defined(SHOAL_EXAMPLES_LIB) && defined(SHOAL_SOURCE_DIR)

#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "shoal/remote/client.hpp"
#include "support/cli.hpp"
#include "support/daemons.hpp"
#include "support/test_tasks.hpp"

using namespace std::chrono_literals;
using namespace shoal::test;  // the shoal command as a child process (support/cli.hpp)

namespace {
/// Processes whose environment holds `marker` (our private XDG_RUNTIME_DIR), but not us.
std::vector<pid_t> processes_with_env(const std::string& marker) {
  std::vector<pid_t> found;
  DIR* d = ::opendir("/proc");
  if (!d) return found;
  while (auto* e = ::readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ");
    std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (env.find(marker) == std::string::npos) continue;
    std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') continue;
    found.push_back(pid);
  }
  ::closedir(d);
  return found;
}

bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  return !(close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z');
}

}  // namespace

TEST_CASE("shoal start runs a coordinator and workers in the background and shoal stop stops them",
          "[integration][cli]") {
  TempDir dir;
  std::string address = "unix://" + dir.file("c.sock");
  Env env{{"SHOAL_ADDRESS", address}, {"XDG_RUNTIME_DIR", dir.path}};
  std::string state = dir.file("state");
  auto started = run_cli({"--state-dir", state, "start", "--workers", "2", "--threads", "1", "--listen", address}, env);
  INFO(started);
  REQUIRE(started.exit == 0);
  CHECK(trim(started.out) == address);

  auto cluster = nlohmann::json::parse(shoal::test::read_file(state + "/cluster.json"));
  std::vector<pid_t> pids{cluster["coordinator"].get<pid_t>()};
  for (const auto& w : cluster["workers"]) pids.push_back(w.get<pid_t>());
  REQUIRE(pids.size() == 3);
  for (auto p : pids) CHECK(alive(p));

  auto workers = run_cli({"--json", "workers"}, env);
  CHECK(parse_json(workers).size() == 2);
  auto sum = run_cli({"submit", "--wait", "add", "2", "3"}, env);
  CHECK(trim(sum.out) == "5");

  SECTION("a second start is refused while the first runs") {
    auto again = run_cli({"--state-dir", state, "start", "--listen", address}, env);
    CHECK(again.exit == 1);
    CHECK(again.err.find("already running") != std::string::npos);
  }

  auto stopped = run_cli({"--state-dir", state, "stop"}, env);
  INFO(stopped);
  CHECK(stopped.exit == 0);
  // What we killed: the three daemons; what survives: nothing.
  for (auto p : pids) CHECK(wait_until([&] { return !alive(p); }, 5s));
  CHECK(processes_with_env("XDG_RUNTIME_DIR=" + dir.path).empty());
  CHECK_FALSE(std::filesystem::exists(state + "/cluster.json"));

  auto none = run_cli({"--state-dir", state, "stop"}, env);
  CHECK(none.exit == 3);
  CHECK(none.err.find("no cluster running") != std::string::npos);
  auto gone = run_cli({"workers"}, env);
  CHECK(gone.exit == 3);
}

TEST_CASE("shoal start --journal: a task accepted before shoal stop is there again after the next start",
          "[integration][cli][journal]") {
  TempDir dir;
  std::string address = "unix://" + dir.file("c.sock");
  Env env{{"SHOAL_ADDRESS", address}, {"XDG_RUNTIME_DIR", dir.path}};
  std::string state = dir.file("state"), journal = dir.file("journal.db");
  auto start = [&] {
    return run_cli({"--state-dir", state, "start", "--workers", "1", "--threads", "1", "--listen", address,
                    "--journal", journal, "--grace", "1"},
                   env);
  };
  auto first = start();
  INFO(first);
  REQUIRE(first.exit == 0);
  auto sub = run_cli({"submit", "sleep_ms", "60000"}, env);
  REQUIRE(sub.exit == 0);
  auto id = trim(sub.out);
  struct stat st {};
  REQUIRE(::stat(journal.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(run_cli({"--state-dir", state, "stop"}, env).exit == 0);
  auto second = start();
  INFO(second);
  REQUIRE(second.exit == 0);
  auto status = parse_json(run_cli({"--json", "status", id}, env));
  CHECK((status["state"] == "queued" || status["state"] == "running"));
  CHECK(run_cli({"cancel", id}, env).exit == 0);
  CHECK(run_cli({"--state-dir", state, "stop"}, env).exit == 0);
}

TEST_CASE("shoal start restarts a worker that dies, and a segfaulting task costs one worker, which comes back",
          "[integration][cli]") {
  // Found broken: a segfaulting task took down all three workers of a `shoal start`
  // cluster, and nothing restarted them.
  TempDir dir;
  std::string address = "unix://" + dir.file("c.sock");
  Env env{{"SHOAL_ADDRESS", address}, {"XDG_RUNTIME_DIR", dir.path}};
  std::string state = dir.file("state");
  auto started = run_cli({"--state-dir", state, "start", "--workers", "3", "--threads", "1", "--listen", address,
                          "--no-examples", "--load", SHOAL_TEST_TASKS_LIB},
                         env);
  INFO(started);
  REQUIRE(started.exit == 0);
  auto logs = [&] {
    return shoal::test::read_file(state + "/supervisor.log") + shoal::test::read_file(state + "/coordinator.log");
  };
  auto worker_pid = [&](int n) {
    auto t = shoal::test::read_file(state + "/worker-" + std::to_string(n) + ".pid");
    return t.empty() ? pid_t{0} : static_cast<pid_t>(std::stol(t));
  };
  auto registered = [&] {
    auto w = run_cli({"--json", "workers"}, env);
    return w.exit == 0 ? parse_json(w).size() : std::size_t{0};
  };

  pid_t first = worker_pid(1);
  REQUIRE(first > 0);
  ::kill(first, SIGKILL);
  if (!wait_until([&] { return worker_pid(1) != first && worker_pid(1) > 0 && registered() == 3; }, 15s))
    FAIL("w1 was not restarted:\n" << logs());
  CHECK(shoal::test::read_file(state + "/supervisor.log").find("worker w1 exited (signal SIGKILL)") != std::string::npos);

  auto crashed = run_cli({"submit", "--wait", "segfault"}, env);
  INFO(crashed << logs());
  CHECK(crashed.exit == 1);
  CHECK(crashed.err.find("crashed worker w") != std::string::npos);
  CHECK(crashed.err.find("SIGSEGV") != std::string::npos);
  if (!wait_until([&] { return registered() == 3; }, 15s)) FAIL("the crashed worker did not come back:\n" << logs());
  CHECK(shoal::test::read_file(state + "/supervisor.log").find("exited (signal SIGSEGV)") != std::string::npos);
  auto sum = run_cli({"submit", "--wait", "add", "2", "3"}, env);
  CHECK(trim(sum.out) == "5");

  CHECK(run_cli({"--state-dir", state, "stop"}, env).exit == 0);
  CHECK(wait_until([&] { return processes_with_env("XDG_RUNTIME_DIR=" + dir.path).empty(); }, 10s));
}

TEST_CASE("shoal start --listen tcp:// makes a token (0600), and the daemons and clients use it",
          "[integration][cli][security]") {
  // Found broken: `shoal start --listen tcp://...` always failed: it could not hand the
  // coordinator a token.
  TempDir dir;
  Env env{{"XDG_RUNTIME_DIR", dir.path}, {"SHOAL_TOKEN_FILE", std::nullopt}};
  std::string state = dir.file("state");
  auto started = run_cli({"--state-dir", state, "start", "--workers", "1", "--threads", "1", "--listen",
                          "tcp://127.0.0.1:0"}, env);
  INFO(started);
  REQUIRE(started.exit == 0);
  std::string address = trim(started.out);
  CHECK(address.rfind("tcp://127.0.0.1:", 0) == 0);
  std::string token = state + "/token";
  CHECK(started.err.find("made a token for the TCP coordinator in " + token) != std::string::npos);
  struct stat st{};
  REQUIRE(::stat(token.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(shoal::test::read_file(token).size() == 65);  // 32 random bytes in hex, and a newline
  auto without = run_cli({"--address", address, "workers"}, env);
  CHECK(without.exit == 3);
  CHECK(without.err.find("token") != std::string::npos);
  auto with = run_cli({"--address", address, "--token-file", token, "--json", "workers"}, env);
  INFO(with);
  CHECK(with.exit == 0);
  CHECK(parse_json(with).size() == 1);
  CHECK(run_cli({"--state-dir", state, "stop"}, env).exit == 0);
}

TEST_CASE("shoal cert init, then shoal start over TCP with mutual TLS: verified peers in, the rest out",
          "[integration][cli][security][tls]") {
  TempDir dir;
  Env env{{"XDG_RUNTIME_DIR", dir.path}, {"SHOAL_TOKEN_FILE", std::nullopt}, {"SHOAL_TLS_CA", std::nullopt},
          {"SHOAL_TLS_CERT", std::nullopt}, {"SHOAL_TLS_KEY", std::nullopt}};
  std::string pki = dir.file("pki"), state = dir.file("state");
  auto made = run_cli({"cert", "init", pki, "--host", "node-a.example"}, env);
  INFO(made);
  REQUIRE(made.exit == 0);
  CHECK(made.out.find(pki + "/coordinator.crt") != std::string::npos);
  auto again = run_cli({"cert", "init", pki}, env);
  CHECK(again.exit == 2);
  CHECK(again.err.find("already holds a CA") != std::string::npos);

  auto at = [&](const std::string& f) { return pki + "/" + f; };
  auto started = run_cli({"--state-dir", state, "--token-file", at("token"), "--tls-cert", at("coordinator.crt"),
                          "--tls-key", at("coordinator.key"), "--tls-ca", at("ca.crt"), "start", "--workers", "1",
                          "--threads", "1", "--listen", "tcp://127.0.0.1:0"},
                         env);
  INFO(started);
  REQUIRE(started.exit == 0);  // its worker joined through TLS
  std::string address = trim(started.out);
  std::vector<std::string> token{"--address", address, "--token-file", at("token")};
  auto plus = [&](std::vector<std::string> more) {
    auto v = token;
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };

  auto plain = run_cli(plus({"workers"}), env);
  INFO(plain);
  CHECK(plain.exit == 3);
  CHECK(plain.err.find("uses TLS needs its CA") != std::string::npos);
  auto no_cert = run_cli(plus({"--tls-ca", at("ca.crt"), "workers"}), env);
  INFO(no_cert);
  CHECK(no_cert.exit == 3);
  CHECK(no_cert.err.find("certificate required") != std::string::npos);

  Env with_tls = env;  // the same through the environment
  with_tls["SHOAL_TLS_CA"] = at("ca.crt");
  with_tls["SHOAL_TLS_CERT"] = at("client.crt");
  with_tls["SHOAL_TLS_KEY"] = at("client.key");
  auto workers = run_cli(plus({"--json", "workers"}), with_tls);
  INFO(workers);
  CHECK(workers.exit == 0);
  CHECK(parse_json(workers).size() == 1);
  auto sum = run_cli(plus({"submit", "--wait", "add", "40", "2"}), with_tls);
  INFO(sum);
  CHECK(sum.exit == 0);
  CHECK(trim(sum.out) == "42");
  CHECK(run_cli({"--state-dir", state, "stop"}, env).exit == 0);
}

TEST_CASE("a coordinator killed under shoal submit --wait is exit 3, never a task failure", "[integration][cli]") {
  // Found broken: kill -9 of the coordinator made the CLI report "lost the connection" as
  // a task failure (exit 1).
  ExampleCluster ec(1);
  CliProcess waiting({"submit", "--wait", "sleep_ms", "20000"}, ec.env);
  REQUIRE(wait_until(
      [&] {
        auto t = ec.run({"--json", "tasks", "--state", "running"});
        return t.exit == 0 && parse_json(t).size() == 1;
      },
      10s));
  ec.c.coordinator->signal(SIGKILL);
  auto r = waiting.finish(20s);
  INFO(r);
  CHECK(r.exit == 3);
  CHECK(r.err.find("may still run there") != std::string::npos);
  CHECK(r.err.find("failed") == std::string::npos);
}

TEST_CASE("shoal submit to a journaled coordinator: the ids it prints survive kill -9, shoal result gets them after",
          "[integration][cli][journal]") {
  shoal::test::TempDir d;
  ExampleCluster ec(1, {"--journal", d.file("journal.db")});
  auto finished = ec.run({"submit", "add", "40", "2"});
  REQUIRE(finished.exit == 0);
  REQUIRE(ec.run({"result", trim(finished.out)}).exit == 0);  // done before the crash
  auto running = ec.run({"submit", "sleep_ms", "1500"});       // not done at the crash
  INFO(finished << running);
  REQUIRE(running.exit == 0);
  ec.c.kill_coordinator();
  ec.c.start_coordinator();  // the worker comes back by itself
  auto a = ec.run({"result", trim(finished.out)});
  auto b = ec.run({"result", trim(running.out)}, 30s);
  INFO(a << b << ec.c.logs());
  CHECK(a.exit == 0);
  CHECK(trim(a.out) == "42");
  CHECK(b.exit == 0);
  CHECK(trim(b.out) == "1500");
}

TEST_CASE("shoal submit, result and status: a plain task", "[integration][cli]") {
  ExampleCluster ec;
  auto sub = ec.run({"submit", "add", "40", "2"});
  INFO(sub);
  REQUIRE(sub.exit == 0);
  auto id = trim(sub.out);
  REQUIRE_FALSE(id.empty());

  auto res = ec.run({"result", id});
  CHECK(res.exit == 0);
  CHECK(trim(res.out) == "42");
  auto js = parse_json(ec.run({"--json", "result", id}));
  CHECK(js["result"] == 42);
  CHECK(js["state"] == "done");

  auto st = parse_json(ec.run({"--json", "status", id}));
  CHECK(st["state"] == "done");
  CHECK(st["function"] == "add");
  CHECK((st["worker"] == "w0" || st["worker"] == "w1"));

  auto waited = parse_json(ec.run({"--json", "submit", "--wait", "fib", "20"}));
  CHECK(waited["result"] == 6765);

  auto all = parse_json(ec.run({"--json", "status"}));
  CHECK(all["workers"].size() == 2);
  auto done = parse_json(ec.run({"--json", "tasks", "--state", "done"}));
  bool listed = false;
  for (const auto& t : done) listed = listed || std::to_string(t["id"].get<std::uint64_t>()) == id;
  CHECK(listed);
}

TEST_CASE("shoal result of a coroutine task: a short --timeout exits 4, waiting longer gives it",
          "[integration][cli]") {
  ExampleCluster ec;
  auto sub = ec.run({"submit", "sleep_ms", "1500"});
  REQUIRE(sub.exit == 0);
  auto id = trim(sub.out);
  auto early = ec.run({"result", id, "--timeout", "0.2"});
  INFO(early);
  CHECK(early.exit == 4);
  CHECK(early.err.find("not done after 0.2 s") != std::string::npos);
  auto late = ec.run({"result", id, "--timeout", "20"});
  CHECK(late.exit == 0);
  CHECK(trim(late.out) == "1500");
}

TEST_CASE("shoal result -o FILE writes a string result's bytes as they are, other results as JSON, never "
          "through a symlink",
          "[integration][cli]") {
  // Issue 13: a large result goes to a file, not through the terminal as JSON.
  shoal::test::Cluster c;
  c.add_worker(1);
  Env env{{"SHOAL_ADDRESS", c.address}};
  shoal::Client client(c.address);
  REQUIRE(wait_until([&] { return client.workers().result(5s).size() == 1; }, 15s));
  auto big = run_cli({"submit", "blob", "3000000"}, env);  // a 3 MB string of 'x'
  REQUIRE(big.exit == 0);
  auto file = c.dir.file("blob.out");
  auto r = run_cli({"result", trim(big.out), "-o", file}, env);
  INFO(r);
  CHECK(r.exit == 0);
  CHECK(r.out.empty());
  CHECK(r.err.find("wrote 3000000 bytes to " + file) != std::string::npos);
  auto text = shoal::test::read_file(file);
  CHECK(text.size() == 3000000);
  CHECK(text.find_first_not_of('x') == std::string::npos);

  auto sq = run_cli({"submit", "square", "12"}, env);
  REQUIRE(sq.exit == 0);
  auto json_file = c.dir.file("square.json");
  CHECK(run_cli({"result", trim(sq.out), "--output", json_file}, env).exit == 0);
  CHECK(shoal::test::read_file(json_file) == "144\n");

  // A symlink where the file goes is refused (exit 1, one line); its target is untouched.
  {
    std::ofstream(c.dir.file("precious")) << "keep me\n";
  }
  REQUIRE(::symlink(c.dir.file("precious").c_str(), c.dir.file("link.out").c_str()) == 0);
  auto refused = run_cli({"result", trim(sq.out), "-o", c.dir.file("link.out")}, env);
  CHECK(refused.exit == 1);
  CHECK(refused.err.find("a symlink") != std::string::npos);
  CHECK(shoal::test::read_file(c.dir.file("precious")) == "keep me\n");
}

TEST_CASE("a file as a bytes argument: shoal submit {\"$path\": ...} and a job's { path = ... }, back with -o",
          "[integration][cli][large]") {
  // Issue 13: a payload from a file, of any size, and a large result to a file.
  shoal::test::Cluster c;
  c.add_worker(1);
  Env env{{"SHOAL_ADDRESS", c.address}};
  auto input = c.dir.file("in.bin");
  {
    auto data = shoal_test_tasks::pattern_bytes(20 << 20);
    std::ofstream(input, std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                                 static_cast<std::streamsize>(data.size()));
  }
  auto echo = run_cli({"submit", "echo_bytes", "{\"$path\": \"" + input + "\"}"}, env);
  INFO(echo);
  REQUIRE(echo.exit == 0);
  auto output = c.dir.file("out.bin");
  auto r = run_cli({"result", trim(echo.out), "-o", output}, env, 60s);
  INFO(r);
  CHECK(r.exit == 0);
  CHECK(shoal::test::read_file(output) == shoal::test::read_file(input));
  // In a job file, relative to the job's directory; a string parameter would get the path.
  {
    std::ofstream(c.dir.file("check.toml")) << "[[task]]\nname = \"check\"\nfunction = \"pattern_errors\"\n"
                                               "args = [{ path = \"in.bin\" }]\n";
  }
  auto job = run_cli({"--json", "run", c.dir.file("check.toml")}, env, 60s);
  INFO(job);
  CHECK(job.exit == 0);
  CHECK(parse_json(job)["results"]["check"] == 0);
  // A file that is not there: one line, exit 2 (bad input), nothing submitted.
  auto missing = run_cli({"submit", "echo_bytes", "{\"$path\": \"/nonexistent/x\"}"}, env);
  CHECK(missing.exit != 0);
  CHECK(missing.err.find("cannot read /nonexistent/x") != std::string::npos);
}

TEST_CASE("a failing task: submit --wait and result exit 1 with its message", "[integration][cli]") {
  ExampleCluster ec;
  auto waited = ec.run({"submit", "--wait", "fail", "\"boom\""});
  INFO(waited);
  CHECK(waited.exit == 1);
  CHECK(waited.err.find("boom") != std::string::npos);
  CHECK(waited.out.empty());

  auto sub = ec.run({"submit", "fail", "\"kaput\""});
  REQUIRE(sub.exit == 0);
  auto id = trim(sub.out);
  auto res = ec.run({"--json", "result", id});
  CHECK(res.exit == 1);
  auto j = parse_json(res);
  CHECK(j["state"] == "failed");
  CHECK(j["error"].get<std::string>().find("kaput") != std::string::npos);
  CHECK(wait_until([&] { return ec.state(id) == "failed"; }, 5s));
}

TEST_CASE("shoal cancel stops a running coroutine task", "[integration][cli]") {
  ExampleCluster ec;
  auto sub = ec.run({"submit", "sleep_ms", "60000"});
  REQUIRE(sub.exit == 0);
  auto id = trim(sub.out);
  REQUIRE(wait_until([&] { return ec.state(id) == "running"; }, 10s));
  auto can = ec.run({"cancel", id});
  INFO(can);
  CHECK(can.exit == 0);
  CHECK(wait_until([&] { return ec.state(id) == "cancelled"; }, 10s));
  auto res = ec.run({"result", id, "--timeout", "5"});
  CHECK(res.exit == 1);
  CHECK(res.err.find("cancelled") != std::string::npos);
}

TEST_CASE("shoal's error paths: one line each and the documented exit code", "[integration][cli]") {
  ExampleCluster ec;
  SECTION("no verb or an unknown verb is a usage error (2)") {
    CHECK(ec.run({}).exit == 2);
    auto r = ec.run({"frobnicate"});
    CHECK(r.exit == 2);
    CHECK(r.err.find("shoal --help") != std::string::npos);
  }
  SECTION("--help works on every verb (0)") {
    for (std::string verb : {"start", "stop", "submit", "result", "status", "cancel", "workers", "tasks", "run"}) {
      auto r = ec.run({verb, "--help"});
      INFO(verb << ": " << r);
      CHECK(r.exit == 0);
      CHECK(r.out.find("Usage") != std::string::npos);
    }
  }
  SECTION("an argument that is not JSON, or of the wrong type, is a usage error (2)") {
    auto r = ec.run({"submit", "add", "x", "1"});
    CHECK(r.exit == 2);
    CHECK(r.err.find("not JSON") != std::string::npos);
    auto t = ec.run({"submit", "add", "\"x\"", "1"});
    CHECK(t.exit == 2);
    CHECK(t.err.find("int64") != std::string::npos);
    auto n = ec.run({"submit", "add", "1"});
    CHECK(n.exit == 2);
  }
  SECTION("negative, NaN, infinite and overflowing timeouts and retry counts are usage errors (2)") {
    // Found broken: --timeout -1 wrapped to an enormous value and failed at once,
    // --timeout nan gave different results on two runs, and any --retries went through.
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"submit", "--timeout", "-1", "add", "1", "2"},
             {"submit", "--timeout", "nan", "add", "1", "2"},
             {"submit", "--timeout", "inf", "add", "1", "2"},
             {"submit", "--timeout", "0", "add", "1", "2"},
             {"submit", "--timeout", "1e300", "add", "1", "2"},
             {"submit", "--timeout", "5x", "add", "1", "2"},
             {"submit", "--retries", "-5", "add", "1", "2"},
             {"submit", "--retries", "2000000000", "add", "1", "2"},
             {"result", "--timeout", "-3", "12345"},
             {"start", "--grace", "nan"}}) {
      auto r = ec.run(args);
      INFO(args[1] << " " << args[2] << ": " << r);
      CHECK(r.exit == 2);
      CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
      CHECK(r.err.find(args[1]) != std::string::npos);
    }
    auto ok = ec.run({"submit", "--wait", "--timeout", "30", "--retries", "0", "add", "1", "2"});
    CHECK(ok.exit == 0);
    CHECK(trim(ok.out) == "3");
  }
  SECTION("sleep_ms of the largest int64 sleeps, it does not return at once") {
    auto r = ec.run({"submit", "--wait", "--timeout", "0.3", "sleep_ms", "9223372036854775807"});
    INFO(r);
    CHECK(r.exit == 4);  // it ran past its timeout
    CHECK(r.err.find("ran past its timeout of 300 ms") != std::string::npos);
  }
  SECTION("an unknown function names the known ones (1)") {
    auto r = ec.run({"submit", "nope", "1"});
    CHECK(r.exit == 1);
    CHECK(r.err.find("no worker has registered nope (known: ") != std::string::npos);
    CHECK(r.err.find("sleep_ms") != std::string::npos);
  }
  SECTION("no coordinator (3), from --address or SHOAL_ADDRESS") {
    std::string nowhere = "unix://" + ec.c.dir.file("nobody.sock");
    auto r = ec.run({"--address", nowhere, "workers"});
    CHECK(r.exit == 3);
    CHECK(r.err.find("no coordinator at " + nowhere + ": start one with `shoal start`") != std::string::npos);
    auto e = run_cli({"submit", "add", "1", "2"}, Env{{"SHOAL_ADDRESS", nowhere}});
    CHECK(e.exit == 3);
  }
  SECTION("an unknown task id (1)") {
    auto r = ec.run({"result", "12345"});
    CHECK(r.exit == 1);
    CHECK(r.err.find("no task 12345") != std::string::npos);
  }
  SECTION("a job file that does not parse (2)") {
    TempDir d;
    std::ofstream(d.file("bad.toml")) << "[[task]]\nname = \"a\"\nfucntion = \"add\"\n";
    auto r = ec.run({"run", d.file("bad.toml")});
    CHECK(r.exit == 2);
    CHECK(r.err.find("bad.toml:") != std::string::npos);
  }
}

TEST_CASE("shoal submit --exec runs a command on a worker: its output and exit code come back",
          "[integration][cli]") {
  ExampleCluster ec;
  auto r = ec.run({"submit", "--exec", "--", "/bin/sh", "-c", "echo hi; echo oops >&2; exit 3"});
  INFO(r);
  CHECK(r.exit == 3);
  CHECK(r.out == "hi\n");
  CHECK(r.err == "oops\n");
  auto j = parse_json(ec.run({"--json", "submit", "--exec", "--", "/bin/sh", "-c", "echo hi; exit 3"}));
  CHECK(j["exit_code"] == 3);
  CHECK(j["stdout"] == "hi\n");
  auto missing = ec.run({"submit", "--exec", "--", "/no/such/program"});
  CHECK(missing.exit == 1);
  CHECK(missing.err.find("cannot run /no/such/program") != std::string::npos);
}

TEST_CASE("a queued task no worker can run says so in shoal status and shoal tasks, then runs when one comes",
          "[integration][cli]") {
  ExampleCluster ec(0);
  shoal::Client client(ec.c.address);
  auto f = client.submit<std::int64_t(std::int64_t, std::int64_t)>("add", 20, 22);
  auto id = std::to_string(shoal::Client::task_id(f));
  REQUIRE(wait_until([&] { return ec.state(id) == "queued"; }, 10s));
  auto status = ec.run({"status", id});
  INFO(status);
  CHECK(status.out.find("queued (waiting: no worker has add (NotRegistered in ") != std::string::npos);
  auto listed = ec.run({"tasks", "--state", "queued"});
  CHECK(listed.out.find("waiting: no worker has add") != std::string::npos);
  auto json = parse_json(ec.run({"--json", "status", id}));
  CHECK(json.value("note", "").starts_with("waiting: no worker has add (NotRegistered in "));
  ec.c.workers.push_back(std::make_unique<Daemon>(
      std::vector<std::string>{std::string(SHOAL_BIN_DIR) + "/shoal-worker", "-c", ec.c.address, "--load",
                               SHOAL_EXAMPLES_LIB, "-t", "1", "--name", "late"},
      ec.c.dir.file("late.log")));
  CHECK(f.result(15s) == 42);
  CHECK(parse_json(ec.run({"--json", "status", id})).value("note", "") == "");
}

TEST_CASE("shoal submit --exec passes on at most 4 MiB of a stream of output and says how much it dropped",
          "[integration][cli]") {
  // Found broken: `submit --exec -- yes` grew the worker by about 200 MB/s.
  ExampleCluster ec(1);
  auto before = shoal::test::rss_kib(ec.c.workers[0]->pid());
  auto endless = ec.run({"submit", "--exec", "--timeout", "2", "--", "yes"});
  INFO(endless);
  CHECK(endless.exit == 4);  // stopped at its timeout
  auto after = shoal::test::rss_kib(ec.c.workers[0]->pid());
  INFO("worker RSS " << before << " KiB before, " << after << " KiB after 2 s of yes");
  CHECK(after < before + 64 * 1024);
  auto big = ec.run({"submit", "--exec", "--", "/bin/sh", "-c", "head -c 20000000 /dev/zero | tr '\\0' y"});
  INFO(big.err);
  CHECK(big.exit == 0);
  CHECK(big.out.size() > (4u << 20));
  CHECK(big.out.size() < (4u << 20) + 200);
  CHECK(big.out.find("[shoal.exec: 15805696 more bytes dropped: output is capped at 4 MiB per stream]") !=
        std::string::npos);
}

TEST_CASE("shoal submit --exec streams the command's output as it comes, before the command ends",
          "[integration][cli]") {
  // Issue 12: the output was held on the worker (up to 4 MiB a stream) and came back only
  // with the result.
  ExampleCluster ec;
  TempDir d;
  auto go = d.file("go");
  CliProcess p({"submit", "--exec", "--", "/bin/sh", "-c",
                "echo first; while [ ! -e " + go + " ]; do sleep 0.02; done; echo second; echo warn >&2"},
               ec.env);
  // The command waits for the file: "first" can only have come while it still runs.
  auto early = p.read_out_until("first\n", 20s);
  CHECK(early == "first\n");
  {
    std::ofstream touch(go);
  }
  auto r = p.finish();
  INFO(r);
  CHECK(r.exit == 0);
  CHECK(early + r.out == "first\nsecond\n");
  CHECK(r.err == "warn\n");
}

TEST_CASE("cancelling shoal submit --exec kills the command and what it started", "[integration][cli]") {
  ExampleCluster ec;
  // `; true` makes the shell fork sleep rather than exec it: two processes to kill.
  CliProcess p({"submit", "--exec", "--", "/bin/sh", "-c", "sleep 61.25; true"}, ec.env);
  auto sleeping = [] {
    std::size_t n = 0;
    DIR* d = ::opendir("/proc");
    while (auto* e = ::readdir(d)) {
      std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
      std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmd.rfind("sleep", 0) == 0 && cmd.find("61.25") != std::string::npos) ++n;
    }
    ::closedir(d);
    return n;
  };
  REQUIRE(wait_until([&] { return sleeping() == 1; }, 15s));
  p.signal(SIGINT);
  auto r = p.finish(15s);
  INFO(r);
  CHECK(r.exit == 130);
  CHECK(wait_until([&] { return sleeping() == 0; }, 10s));
}

TEST_CASE("shoal run of failing.toml: the failure's dependents are skipped, the rest done, exit 1",
          "[integration][cli]") {
  ExampleCluster ec;
  auto r = ec.run({"--json", "run", jobs_dir + "/failing.toml"});
  INFO(r);
  CHECK(r.exit == 1);
  auto j = parse_json(r);
  CHECK(j["tasks"] == 4);
  CHECK(j["done"] == 1);
  CHECK(j["failed"] == 1);
  CHECK(j["skipped"] == 2);
  CHECK(j["results"]["sum"] == 5);
  // Progress went to stderr with --json, a line per task.
  CHECK(r.err.find("skipped after_broken") != std::string::npos);
}

TEST_CASE("shoal run of pi.toml on a running cluster prints the estimate and the workers", "[integration][cli]") {
  ExampleCluster ec;
  auto r = ec.run({"run", jobs_dir + "/pi.toml"}, 60s);
  INFO(r);
  CHECK(r.exit == 0);
  CHECK(r.out.find("job pi: 17 tasks, 17 done") != std::string::npos);
  CHECK(r.out.find("estimate = 3.1") != std::string::npos);
  CHECK(r.out.find("worker w") != std::string::npos);
}

TEST_CASE("SIGINT during shoal run cancels the job's remote tasks and exits 130", "[integration][cli]") {
  ExampleCluster ec;
  TempDir d;
  std::ofstream(d.file("slow.toml")) << "name = \"slow\"\n[[task]]\nname = \"nap\"\nfunction = \"sleep_ms\"\n"
                                        "count = 3\nargs = [60000]\n[[task]]\nname = \"after\"\n"
                                        "function = \"add\"\nargs = [{ result = \"nap[0]\" }, 1]\n";
  CliProcess p({"run", d.file("slow.toml")}, ec.env);
  shoal::Client client(ec.c.address);
  REQUIRE(wait_until([&] { return client.tasks("running").result(5s).tasks.size() == 3; }, 15s));
  p.signal(SIGINT);
  auto r = p.finish(15s);
  INFO(r);
  CHECK(r.exit == 130);
  CHECK(r.err.find("interrupted") != std::string::npos);
  // Nothing of the job runs or waits any more.
  CHECK(wait_until([&] {
    auto st = client.status().result(5s);
    return st.running == 0 && st.waiting == 0 && st.queued == 0;
  }, 10s));
  auto running = parse_json(ec.run({"--json", "tasks", "--state", "running"}));
  CHECK(running.empty());
}

TEST_CASE("SIGINT during shoal submit --wait cancels the task and exits 130", "[integration][cli]") {
  ExampleCluster ec;
  CliProcess p({"submit", "--wait", "sleep_ms", "60000"}, ec.env);
  shoal::Client client(ec.c.address);
  REQUIRE(wait_until([&] { return client.tasks("running").result(5s).tasks.size() == 1; }, 15s));
  p.signal(SIGINT);
  auto r = p.finish(15s);
  INFO(r);
  CHECK(r.exit == 130);
  CHECK(wait_until([&] { return client.status().result(5s).cancelled == 1; }, 10s));
  CHECK(client.tasks("running").result(5s).tasks.empty());
}

TEST_CASE("shoal run with no cluster starts an embedded one, and stops it leaving no process",
          "[integration][cli]") {
  TempDir xdg;
  Env env{{"SHOAL_ADDRESS", std::nullopt}, {"XDG_RUNTIME_DIR", xdg.path}};
  auto r = run_cli({"run", jobs_dir + "/pi.toml"}, env, 90s);
  INFO(r);
  CHECK(r.exit == 0);
  CHECK(r.err.find("embedded cluster") != std::string::npos);
  CHECK(r.out.find("estimate = 3.1") != std::string::npos);
  CHECK(r.out.find("worker ") != std::string::npos);
  // What it started (workers carry our XDG_RUNTIME_DIR in their environment) is gone.
  CHECK(wait_until([&] { return processes_with_env("XDG_RUNTIME_DIR=" + xdg.path).empty(); }, 5s));
}


TEST_CASE("a TCP coordinator: the CLI needs its token, from --token-file or SHOAL_TOKEN_FILE", "[cli]") {
  shoal::test::TempDir d;
  shoal::test::write_token_file(d.file("token"));
  shoal::test::Daemon coord({std::string(SHOAL_BIN_DIR) + "/shoal-coordinator", "--listen", "tcp://127.0.0.1:0",
                             "--token-file", d.file("token")},
                            d.file("c.log"));
  auto ready = coord.line();
  REQUIRE(ready.has_value());
  std::string address = ready->substr(6);
  Env env;
  auto refused = run_cli({"--address", address, "workers"}, env);
  CHECK(refused.exit == 3);
  CHECK(refused.err.find("token") != std::string::npos);
  auto ok = run_cli({"--address", address, "--token-file", d.file("token"), "--json", "workers"}, env);
  CHECK(ok.exit == 0);
  env["SHOAL_TOKEN_FILE"] = d.file("token");
  CHECK(run_cli({"--address", address, "workers"}, env).exit == 0);
  CHECK(run_cli({"--address", address, "--token-file", d.file("missing"), "workers"}, Env{}).exit == 2);
}


TEST_CASE("shoal submit --resources, --label, --priority and --retry-on, and shoal workers showing what is offered",
          "[integration][cli][placement]") {
  ExampleCluster ec(0);
  ec.c.workers.push_back(std::make_unique<Daemon>(
      std::vector<std::string>{std::string(SHOAL_BIN_DIR) + "/shoal-worker", "-c", ec.c.address, "--load",
                               SHOAL_EXAMPLES_LIB, "-t", "1", "--name", "gpu", "--resources", "gpu=1,licence=2",
                               "--label", "zone=a"},
      ec.c.dir.file("gpu.log")));
  shoal::Client client(ec.c.address);
  REQUIRE(wait_until([&] { return client.workers().result(5s).size() == 1; }, 15s));
  auto table = ec.run({"workers"});
  INFO(table);
  CHECK(table.out.find("gpu 0/1") != std::string::npos);
  CHECK(table.out.find("licence 0/2") != std::string::npos);
  CHECK(table.out.find("zone=a") != std::string::npos);
  auto js = parse_json(ec.run({"--json", "workers"}));
  CHECK(js[0]["resources"]["gpu"] == 1);
  CHECK(js[0]["labels"][0] == "zone=a");

  auto ok = parse_json(ec.run({"--json", "submit", "--wait", "--resources", "gpu=1", "--label", "zone=a", "--prefer",
                               "disk=ssd", "--priority", "10", "add", "1", "2"}));
  CHECK(ok["result"] == 3);
  auto never = ec.run({"submit", "--wait", "--resources", "gpu=2", "add", "1", "2"});
  INFO(never);
  CHECK(never.exit == 1);
  CHECK(never.err.find("gpu=2 (the most offered: 1)") != std::string::npos);
  auto bad = ec.run({"submit", "--resources", "gpu", "add", "1", "2"});
  CHECK(bad.exit == 2);
  CHECK(bad.err.find("NAME=AMOUNT") != std::string::npos);
  CHECK(ec.run({"submit", "--label", "zone", "add", "1", "2"}).exit == 2);

  // Retried twice with a short backoff, then failed: three attempts, shown by shoal tasks.
  auto sub = ec.run({"submit", "--retry-on", "ValueError", "--retry-attempts", "2", "--retry-backoff", "0.01", "fail",
                     "\"again\""});
  REQUIRE(sub.exit == 0);
  auto id = trim(sub.out);
  CHECK(ec.run({"result", id}).exit == 1);
  auto st = parse_json(ec.run({"--json", "status", id}));
  CHECK(st["attempt"] == 3);
  auto listed = ec.run({"tasks", "--state", "failed"});
  CHECK(listed.out.find("ATTEMPT") != std::string::npos);
}

#endif
