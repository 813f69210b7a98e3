#pragma once
// Real coordinator and worker processes for integration tests: each test gets its own
// temporary directory and socket; every process is SIGKILLed and reaped when its Daemon
// goes, so a failing test leaves nothing behind.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace shoal::test {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/shoal-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return path + "/" + name; }
};

/// A "Vm...:" line of /proc/PID/status (in KiB; 0 when it cannot be read).
inline std::uint64_t proc_status_kib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stoull(line.substr(key.size()));
  return 0;
}

/// The resident memory of process `pid`, in KiB (0 when it cannot be read).
inline std::uint64_t rss_kib(pid_t pid) { return proc_status_kib(pid, "VmRSS:"); }

/// The peak resident memory of process `pid` (VmHWM), in KiB (0 when it cannot be read).
inline std::uint64_t peak_rss_kib(pid_t pid) { return proc_status_kib(pid, "VmHWM:"); }

/// A token of 32 bytes, the least a token file may hold.
inline const std::string kTestToken = "0123456789abcdef0123456789abcdef";

/// Writes `token` to `path` as a token file must be: mode 0600. Returns `path`.
inline std::string write_token_file(const std::string& path, const std::string& token = kTestToken) {
  {
    std::ofstream(path) << token << "\n";
  }
  ::chmod(path.c_str(), 0600);
  return path;
}

/// Polls `cond` every millisecond until it holds or `limit` passes; returns whether it held.
inline bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A child process. stdout goes to a pipe (ready_line() reads it), stderr to `log`.
class Daemon {
 public:
  Daemon(std::vector<std::string> argv, const std::string& log) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, argv[0].c_str(), &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    out_ = out[0];
    if (rc != 0) {
      ::close(out_);
      throw std::runtime_error("cannot start " + argv[0]);
    }
  }
  ~Daemon() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }

  /// The next line of its stdout, within `limit` (nullopt at EOF or timeout).
  std::optional<std::string> line(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        auto l = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buf[4096];
      auto n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  /// Its exit status (N, or -signal) within `limit`; nullopt if still running.
  std::optional<int> wait(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    if (status_) return status_;
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int st;
      auto r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
        return status_;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  std::optional<int> status_;
};

#ifdef SHOAL_BIN_DIR
/// A coordinator on a temporary socket, and the workers the test adds (the daemons of
/// SHOAL_BIN_DIR, loading SHOAL_TEST_TASKS_LIB).
struct Cluster {
  TempDir dir;
  std::string address = "unix://" + dir.file("c.sock");
  std::unique_ptr<Daemon> coordinator;
  std::vector<std::unique_ptr<Daemon>> workers;
  std::vector<std::string> coordinator_argv;

  explicit Cluster(std::vector<std::string> extra = {}) {
    coordinator_argv = {std::string(SHOAL_BIN_DIR) + "/shoal-coordinator", "--listen", address};
    coordinator_argv.insert(coordinator_argv.end(), extra.begin(), extra.end());
    start_coordinator();
  }

  /// Starts the coordinator with the flags it was first given (again, after
  /// kill_coordinator() or its exit). Its log goes on in coordinator.log.
  void start_coordinator() {
    coordinator = std::make_unique<Daemon>(coordinator_argv, dir.file("coordinator.log"));
    auto ready = coordinator->line();
    if (!ready || ready->rfind("ready ", 0) != 0)
      throw std::runtime_error("the coordinator did not start: " + read_file(dir.file("coordinator.log")));
  }

  /// kill -9 of the coordinator, waited for.
  void kill_coordinator() {
    coordinator->signal(SIGKILL);
    (void)coordinator->wait();
  }

  Daemon& add_worker(unsigned threads = 2, std::vector<std::string> extra = {}) {
    std::string name = "w" + std::to_string(workers.size());
    std::vector<std::string> argv{std::string(SHOAL_BIN_DIR) + "/shoal-worker", "-c", address, "--load",
                                  SHOAL_TEST_TASKS_LIB, "-t", std::to_string(threads), "--name", name};
    argv.insert(argv.end(), extra.begin(), extra.end());
    workers.push_back(std::make_unique<Daemon>(argv, dir.file(name + ".log")));
    return *workers.back();
  }

  std::string logs() const {
    std::string out = "--- coordinator\n" + read_file(dir.file("coordinator.log"));
    for (std::size_t i = 0; i < workers.size(); ++i)
      out += "--- w" + std::to_string(i) + "\n" + read_file(dir.file("w" + std::to_string(i) + ".log"));
    return out;
  }
};
#endif

}  // namespace shoal::test
