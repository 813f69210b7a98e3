// Two "hosts" and a coordinator on a third, each a network namespace of its own joined
// by veth pairs (made here; root is needed): everything crosses TCP with mutual TLS and
// the token, as between machines. A job runs across both hosts; when one host goes
// silent (its link cut, every process on it killed) its tasks run again on the other.
// Where namespaces cannot be made, the test says so and checks nothing.

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shoal/link/tls.hpp"
#include "support/daemons.hpp"
#include "support/test_tasks.hpp"

using namespace std::chrono_literals;

namespace {

// Runs a shell command; its exit status.
int sh(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A shell command's stdout (at most a few MiB), and its status.
std::pair<int, std::string> capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return {-1, out};
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Three namespaces: c (the coordinator) linked to a (10.77.1.0/24) and to b (10.77.2.0/24).
struct Net {
  std::string tag = std::to_string(::getpid());
  std::string c = "shoal-c-" + tag, a = "shoal-a-" + tag, b = "shoal-b-" + tag;
  std::string why_not;  // empty when the namespaces are up

  Net() {
    if (::geteuid() != 0) {
      why_not = "not root";
      return;
    }
    if (sh("command -v ip") != 0) {
      why_not = "no `ip` command (iproute2)";
      return;
    }
    for (auto* ns : {&c, &a, &b}) {
      if (sh("ip netns add " + *ns) != 0) {
        why_not = "cannot make network namespaces here (ip netns add failed)";
        return;
      }
      sh("ip -n " + *ns + " link set lo up");
    }
    auto link = [&](const std::string& host, const std::string& c_end, const std::string& h_end,
                    const std::string& subnet) {
      return sh("ip link add " + c_end + " netns " + c + " type veth peer name " + h_end + " netns " + host) == 0 &&
             sh("ip -n " + c + " addr add " + subnet + ".1/24 dev " + c_end) == 0 &&
             sh("ip -n " + host + " addr add " + subnet + ".2/24 dev " + h_end) == 0 &&
             sh("ip -n " + c + " link set " + c_end + " up") == 0 && sh("ip -n " + host + " link set " + h_end + " up") == 0;
    };
    if (!link(a, "ca" + tag, "ac" + tag, "10.77.1") || !link(b, "cb" + tag, "bc" + tag, "10.77.2"))
      why_not = "cannot make veth pairs between the namespaces";
  }
  ~Net() {
    for (auto* ns : {&a, &b, &c}) {
      sh("ip netns pids " + *ns + " | xargs -r kill -9");
      sh("ip netns del " + *ns);
    }
  }
  // `argv` run inside namespace `ns`.
  std::vector<std::string> in(const std::string& ns, std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"ip", "netns", "exec", ns});
    argv.insert(argv.begin(), "/usr/bin/env");
    return argv;
  }
};

}  // namespace

TEST_CASE("across network namespaces over TCP with TLS: a job spans two hosts, and one host's loss moves its tasks",
          "[integration][multihost][tls]") {
  Net net;
  if (!net.why_not.empty()) {
    WARN("skipped: the multi-host test needs network namespaces: " + net.why_not);
    return;
  }
  shoal::test::TempDir d;
  auto pki = d.file("pki");
  (void)shoal::link::init_certificates(pki, {"10.77.1.1", "10.77.2.1"});
  auto at = [&](const std::string& f) { return pki + "/" + f; };
  const std::string bin = SHOAL_BIN_DIR;

  shoal::test::Daemon coordinator(
      net.in(net.c, {bin + "/shoal-coordinator", "--listen", "tcp://0.0.0.0:7411", "--token-file", at("token"),
                     "--tls-cert", at("coordinator.crt"), "--tls-key", at("coordinator.key"), "--tls-ca", at("ca.crt"),
                     "--heartbeat-ms", "300", "--heartbeat-timeout-ms", "3000"}),
      d.file("coordinator.log"));
  auto ready = coordinator.line();
  INFO(shoal::test::read_file(d.file("coordinator.log")));
  REQUIRE(ready.has_value());
  REQUIRE(*ready == "ready tcp://0.0.0.0:7411");

  std::vector<std::unique_ptr<shoal::test::Daemon>> workers;
  auto add_worker = [&](const std::string& ns, const std::string& via, const std::string& name) {
    workers.push_back(std::make_unique<shoal::test::Daemon>(
        net.in(ns, {bin + "/shoal-worker", "-c", "tcp://" + via + ":7411", "--name", name, "-t", "1", "--load",
                    SHOAL_TEST_TASKS_LIB, "--token-file", at("token"), "--tls-ca", at("ca.crt"), "--tls-cert",
                    at("worker.crt"), "--tls-key", at("worker.key")}),
        d.file(name + ".log")));
  };
  add_worker(net.a, "10.77.1.1", "a1");
  add_worker(net.a, "10.77.1.1", "a2");
  add_worker(net.b, "10.77.2.1", "b1");
  add_worker(net.b, "10.77.2.1", "b2");

  // The CLI runs on the coordinator's "host", over TCP with TLS too (its loopback).
  std::string cli = "ip netns exec " + net.c + " env SHOAL_TLS_CA=" + quote(at("ca.crt")) +
                    " SHOAL_TLS_CERT=" + quote(at("client.crt")) + " SHOAL_TLS_KEY=" + quote(at("client.key")) + " " +
                    quote(bin + "/shoal") + " -a tcp://127.0.0.1:7411 --token-file " + quote(at("token")) + " ";
  auto logs = [&] {
    std::string out = "--- coordinator\n" + shoal::test::read_file(d.file("coordinator.log"));
    for (std::string n : {"a1", "a2", "b1", "b2"}) out += "--- " + n + "\n" + shoal::test::read_file(d.file(n + ".log"));
    return out;
  };
  if (!shoal::test::wait_until(
          [&] {
            auto [rc, out] = capture(cli + "--json workers");
            auto j = nlohmann::json::parse(out, nullptr, false);
            return rc == 0 && j.is_array() && j.size() == 4;
          },
          20s))
    FAIL("the four workers did not join\n" << logs());

  // A job across both hosts: 8 tasks that each hold a worker a while, submitted together
  // (a job file: one client, one batch); each host runs some.
  {
    std::ofstream job(d.file("spread.toml"));
    job << "name = \"spread\"\n[[task]]\nname = \"hold\"\nfunction = \"block_ms\"\ncount = 8\nargs = [300]\n";
  }
  auto [run_rc, run_out] = capture(cli + "run " + quote(d.file("spread.toml")));
  if (run_rc != 0) FAIL("the job failed: " << run_out << "\n" << logs());
  std::set<char> hosts;
  auto [wrc, wout] = capture(cli + "--json workers");
  auto ws = nlohmann::json::parse(wout, nullptr, false);
  REQUIRE(ws.is_array());
  for (auto& w : ws)
    if (w.value("done", 0) > 0) hosts.insert(w.value("name", std::string("?"))[0]);
  CHECK(hosts == std::set<char>{'a', 'b'});

  // 256 MiB between hosts: streamed in chunks (no shared memory across hosts), through
  // TLS, client -> coordinator -> a worker on host a or b, and a 256 MiB result back.
  {
    constexpr std::int64_t big = std::int64_t{256} << 20;
    auto data = shoal_test_tasks::pattern_bytes(big);
    std::ofstream(d.file("big.bin"), std::ios::binary)
        .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    auto [rc, out] = capture(cli + "submit --wait pattern_errors '{\"$path\": \"" + d.file("big.bin") + "\"}'");
    if (rc != 0) FAIL("256 MiB to a worker on another host failed: " << out << "\n" << logs());
    CHECK(out.substr(0, out.find('\n')) == "0");  // every byte arrived as sent
    auto [mrc, made] = capture(cli + "submit pattern_bytes " + std::to_string(big));
    REQUIRE(mrc == 0);
    auto [orc, oout] = capture(cli + "result --timeout 120 -o " + quote(d.file("back.bin")) + " " +
                               made.substr(0, made.find('\n')));
    if (orc != 0) FAIL("a 256 MiB result from another host failed: " << oout << "\n" << logs());
    CHECK(shoal::test::read_file(d.file("back.bin")) == shoal::test::read_file(d.file("big.bin")));
  }

  std::vector<std::string> ids;
  // Four long tasks, one per worker; then host a goes silent: its link is cut (no FIN
  // reaches the coordinator) and everything on it is killed. Each `shoal` run costs about
  // 0.4 s under ASan: the tasks last long enough that all four overlap after the fourth
  // submit and the check that follows it.
  ids.clear();
  for (int i = 0; i < 4; ++i) {
    auto [rc, out] = capture(cli + "submit block_ms 5000");
    REQUIRE(rc == 0);
    ids.push_back(out.substr(0, out.find('\n')));
  }
  if (!shoal::test::wait_until(
          [&] {
            auto [rc, out] = capture(cli + "--json workers");
            auto j = nlohmann::json::parse(out, nullptr, false);
            if (!j.is_array()) return false;
            int busy = 0;
            for (auto& w : j) busy += w.value("running", 0) > 0;
            return busy == 4;
          },
          10s))
    FAIL("the four long tasks did not spread over the four workers\n" << logs());
  REQUIRE(sh("ip -n " + net.c + " link set ca" + net.tag + " down") == 0);
  REQUIRE(sh("ip netns pids " + net.a + " | xargs -r kill -9") == 0);

  int moved = 0;
  for (auto& id : ids) {
    auto [rc, out] = capture(cli + "result --timeout 30 " + id);
    if (rc != 0) FAIL("task " << id << " did not finish after host a was lost\n" << logs());
    CHECK(out.substr(0, out.find('\n')) == "5000");
    auto [src, status] = capture(cli + "--json status " + id);
    auto j = nlohmann::json::parse(status, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j.value("worker", std::string("?"))[0] == 'b');  // every task ended on host b
    moved += j.value("attempt", 0) > 1;
  }
  CHECK(moved == 2);  // the two that ran on host a ran again
  auto [rc, out] = capture(cli + "--json workers");
  auto j = nlohmann::json::parse(out, nullptr, false);
  REQUIRE(j.is_array());
  CHECK(j.size() == 2);
}
