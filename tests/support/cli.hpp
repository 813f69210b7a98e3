#pragma once
// The `shoal` command as a child process for integration tests (stdout, stderr and exit
// code captured, every run bounded), and a coordinator with shoal-workers loading the
// example tasks. Needs SHOAL_BIN_DIR, SHOAL_EXAMPLES_LIB and SHOAL_SOURCE_DIR.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shoal/remote/client.hpp"
#include "support/daemons.hpp"

namespace shoal::test {

using namespace std::chrono_literals;


inline const std::string shoal_bin = std::string(SHOAL_BIN_DIR) + "/shoal";
inline const std::string jobs_dir = std::string(SHOAL_SOURCE_DIR) + "/examples/jobs";

struct CliResult {
  int exit = -1;  ///< N, or -signal
  std::string out, err;
};

inline std::ostream& operator<<(std::ostream& o, const CliResult& r) {
  return o << "exit " << r.exit << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

/// Environment changes for a run: a value sets the variable, nullopt removes it.
using Env = std::map<std::string, std::optional<std::string>>;

/// `shoal ARGS...` as a child process with stdout and stderr on pipes.
class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& args, const Env& env) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      auto name = kv.substr(0, kv.find('='));
      if (!env.count(name)) envs.push_back(kv);
    }
    for (const auto& [k, v] : env)
      if (v) envs.push_back(k + "=" + *v);
    std::vector<std::string> argv{shoal_bin};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> a, e;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    for (auto& s : envs) e.push_back(s.data());
    e.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    int rc = ::posix_spawn(&pid_, shoal_bin.c_str(), &fa, nullptr, a.data(), e.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
    if (rc != 0) throw std::runtime_error("cannot start " + shoal_bin);
  }
  ~CliProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
    if (out_ >= 0) ::close(out_);
    if (err_ >= 0) ::close(err_);
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }

  /// Reads its stdout until what was read ends with `want` (or `limit` passes), and returns
  /// it; finish() then reads the rest.
  std::string read_out_until(const std::string& want, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::string got;
    while (out_ >= 0 && (got.size() < want.size() || got.compare(got.size() - want.size(), want.size(), want) != 0)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char c;
      if (::read(out_, &c, 1) != 1) break;
      got += c;
    }
    return got;
  }

  /// Reads its output to EOF and reaps it; past `limit` it is SIGKILLed (exit -9).
  CliResult finish(std::chrono::milliseconds limit = 30s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    CliResult r;
    bool killed = false;
    while (out_ >= 0 || err_ >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 && !killed) {
        ::kill(pid_, SIGKILL);
        killed = true;
        deadline = std::chrono::steady_clock::now() + 2s;  // for what it left behind
        continue;
      }
      if (left.count() <= 0) break;
      pollfd p[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
      if (::poll(p, 2, static_cast<int>(left.count())) <= 0) continue;
      for (int k = 0; k < 2; ++k) {
        int& fd = k == 0 ? out_ : err_;
        if (fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[4096];
        auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fd);
          fd = -1;
        } else {
          (k == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
        }
      }
    }
    int st = 0;
    ::waitpid(pid_, &st, 0);
    reaped_ = true;
    r.exit = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    return r;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  bool reaped_ = false;
};

inline CliResult run_cli(const std::vector<std::string>& args, const Env& env, std::chrono::milliseconds limit = 30s) {
  CliProcess p(args, env);
  return p.finish(limit);
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

inline nlohmann::json parse_json(const CliResult& r) {
  INFO(r);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

/// A coordinator and `n` shoal-workers with the example tasks, on a temporary socket.
struct ExampleCluster {
  shoal::test::Cluster c;
  Env env;
  explicit ExampleCluster(int n = 2, std::vector<std::string> coordinator_flags = {}) : c(std::move(coordinator_flags)) {
    for (int i = 0; i < n; ++i) {
      std::string name = "w" + std::to_string(i);
      c.workers.push_back(std::make_unique<Daemon>(
          std::vector<std::string>{std::string(SHOAL_BIN_DIR) + "/shoal-worker", "-c", c.address, "--load",
                                   SHOAL_EXAMPLES_LIB, "-t", "2", "--name", name},
          c.dir.file(name + ".log")));
    }
    shoal::Client client(c.address);
    if (!wait_until([&] { return client.workers().result(5s).size() == static_cast<std::size_t>(n); }, 15s))
      FAIL("workers did not register:\n" << c.logs());
    env["SHOAL_ADDRESS"] = c.address;
  }
  CliResult run(const std::vector<std::string>& args, std::chrono::milliseconds limit = 30s) {
    return run_cli(args, env, limit);
  }
  /// The state of task `id` as `shoal --json status ID` reports it.
  std::string state(const std::string& id) {
    auto r = run({"--json", "status", id});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("state", "") : "?";
  }
};

}  // namespace shoal::test
