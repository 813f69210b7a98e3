// `shoal __supervise`: the process `shoal start` leaves behind to keep its workers alive.
// It starts the workers described in STATE_DIR/supervisor.json, restarts any that dies
// (with a backoff that grows while a worker keeps dying young, and gives up on one that
// dies at once five times in a row), keeps STATE_DIR/worker-N.pid current, and logs each
// exit and restart to STATE_DIR/supervisor.log. On SIGTERM or SIGINT it stops restarting,
// passes SIGTERM on (each worker drains for its --grace), waits, SIGKILLs stragglers and
// exits 0.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "shoal/cluster/spawn.hpp"
#include "shoal/link/private_files.hpp"

namespace shoal::cli {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

struct Slot {
  std::string name;
  cluster::SpawnOptions spawn;
  fs::path pid_file;
  cluster::Child child;
  Clock::time_point started{};
  Clock::time_point restart_at{};  // when dead: when to start it again
  std::chrono::milliseconds backoff{250};
  int quick_deaths = 0;  // in a row, each within kYoung of its start
  bool given_up = false;
};

constexpr auto kYoung = 5s;       // a worker that dies this soon after its start died young
constexpr int kGiveUpAfter = 5;    // young deaths in a row before the slot is left empty
constexpr auto kMaxBackoff = 10s;

std::string describe_exit(int code) {
  if (code >= 0) return "exit status " + std::to_string(code);
  const char* name = ::sigabbrev_np(-code);
  return std::string("signal ") + (name ? std::string("SIG") + name : std::to_string(-code));
}

std::string now_text() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

}  // namespace

int cmd_supervise(const Globals& g) {
  auto dir = state_dir(g);
  auto spec = nlohmann::json::parse(slurp(dir / "supervisor.json"), nullptr, false);
  if (spec.is_discarded() || !spec.contains("workers"))
    throw CliError(exit_usage, "__supervise: no worker spec in " + (dir / "supervisor.json").string());
  // Appended to, never through a symlink (as every file in the state directory).
  int log_fd = ::open((dir / "supervisor.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (log_fd < 0)
    throw CliError(exit_usage, "__supervise: cannot open " + (dir / "supervisor.log").string() + ": " +
                                   std::strerror(errno));
  struct CloseFd {
    int fd;
    ~CloseFd() { ::close(fd); }
  } close_log{log_fd};
  auto say = [&](const std::string& line) {
    auto text = now_text() + " " + line + "\n";
    for (std::size_t at = 0; at < text.size();) {
      auto n = ::write(log_fd, text.data() + at, text.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // a full disk: the line is lost, supervising goes on
      at += static_cast<std::size_t>(n);
    }
  };
  auto grace = std::chrono::milliseconds(static_cast<std::int64_t>(spec.value("grace", 5.0) * 1000));

  std::vector<Slot> slots;
  for (const auto& w : spec["workers"]) {
    Slot s;
    s.name = w.at("name").get<std::string>();
    s.spawn.argv = w.at("argv").get<std::vector<std::string>>();
    s.spawn.program = s.spawn.argv.at(0);
    s.spawn.stdin_path = "/dev/null";
    s.spawn.stdout_path = s.spawn.stderr_path = w.at("log").get<std::string>();
    s.pid_file = w.at("pid_file").get<std::string>();
    slots.push_back(std::move(s));
  }
  auto start = [&](Slot& s) {
    try {
      s.child = cluster::spawn(s.spawn);
      s.started = Clock::now();
      link::write_private_file(s.pid_file, std::to_string(s.child.pid()) + "\n");
      return true;
    } catch (const std::exception& e) {
      say("cannot start worker " + s.name + ": " + e.what());
      return false;
    }
  };
  interrupts().arm(std::make_shared<Wakeup>());
  for (auto& s : slots)
    if (!start(s)) s.restart_at = Clock::now() + s.backoff;
  say("supervising " + std::to_string(slots.size()) + " workers");

  while (!interrupts().interrupted()) {
    auto now = Clock::now();
    for (auto& s : slots) {
      if (s.given_up) continue;
      if (s.child.pid() > 0) {
        auto code = s.child.exitcode();
        if (!code) continue;
        bool young = now - s.started < kYoung;
        s.quick_deaths = young ? s.quick_deaths + 1 : 0;
        s.backoff = young ? std::min<std::chrono::milliseconds>(s.backoff * 2, kMaxBackoff) : 250ms;
        s.child = cluster::Child();
        if (s.quick_deaths >= kGiveUpAfter) {
          s.given_up = true;
          say("worker " + s.name + " exited (" + describe_exit(*code) + ") " + std::to_string(s.quick_deaths) +
              " times in a row within " + std::to_string(kYoung.count()) + " s of starting: not restarted (see " +
              s.spawn.stderr_path + ")");
          continue;
        }
        s.restart_at = now + s.backoff;
        say("worker " + s.name + " exited (" + describe_exit(*code) + "): restarting it in " +
            std::to_string(s.backoff.count()) + " ms");
      } else if (now >= s.restart_at) {
        if (start(s))
          say("worker " + s.name + " restarted (pid " + std::to_string(s.child.pid()) + ")");
        else
          s.restart_at = now + s.backoff;
      }
    }
    std::this_thread::sleep_for(20ms);
  }

  // Stopping: no more restarts; each worker drains for its grace, then goes.
  say("stopping the workers");
  for (auto& s : slots)
    if (s.child.pid() > 0) s.child.terminate();
  auto deadline = Clock::now() + grace + 2s;
  for (auto& s : slots)
    if (s.child.pid() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
      if (!s.child.wait(std::max(left, std::chrono::nanoseconds(0)))) {
        s.child.kill();
        (void)s.child.wait(2s);
      }
    }
  for (auto& s : slots) {
    std::error_code ec;
    fs::remove(s.pid_file, ec);
  }
  say("stopped");
  return exit_ok;
}

}  // namespace shoal::cli
