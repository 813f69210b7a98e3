// Functions every shoal-worker has, whatever it loads: `shoal.exec` runs a command for
// `shoal submit --exec -- CMD ARG...`. Compiled into shoal-worker, whose archives are
// linked whole, so the registration below is kept although nothing references it.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "shoal/core/error.hpp"
#include "shoal/remote/registry.hpp"
#include "shoal/remote/this_task.hpp"

extern char** environ;

namespace shoal::worker {

namespace {

/// Closes a descriptor when it goes.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

/// What a command wrote on one stream: its first kOutputCap bytes go to whoever waits for
/// the task as they come (this_task::write_output: `shoal submit --exec` prints them
/// live), or, where no worker carries them (in-process use), are kept for the result; the
/// rest is read, counted and dropped (a command that writes without end must not grow the
/// worker, nor its caller).
struct Captured {
  static constexpr std::size_t kOutputCap = 4u << 20;
  int stream = 1;
  std::string text;
  std::size_t taken = 0;  // streamed or kept
  std::uint64_t dropped = 0;
  explicit Captured(int s) : stream(s) {}
  void append(const char* data, std::size_t n) {
    std::size_t keep = std::min(n, kOutputCap - std::min(kOutputCap, taken));
    if (keep && !this_task::write_output(stream, std::string_view(data, keep))) text.append(data, keep);
    taken += keep;
    dropped += n - keep;
  }
  /// The text, with a last line saying what was dropped, if anything was.
  std::string finish() && {
    if (dropped)
      text += "\n[shoal.exec: " + std::to_string(dropped) + " more bytes dropped: output is capped at " +
              std::to_string(kOutputCap >> 20) + " MiB per stream]\n";
    return std::move(text);
  }
};

/// Reads what is available on `fd` into `out`; false at EOF (or on an error).
bool drain(int fd, Captured& out) {
  char buf[65536];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof buf) return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

}  // namespace

/// Runs `argv` (argv[0] looked up in PATH) with stdin from /dev/null and returns its exit
/// code (-S when killed by signal S), and what of its stdout and stderr was not streamed:
/// each is read in full, its first 4 MiB streamed to the task's caller as it comes (kept
/// for the result only where no worker streams it), the rest counted and dropped, and a
/// last line of the result says so. A stop
/// request (the task cancelled, or its timeout) kills the command's process group and
/// reports the task cancelled. ValueError when argv is empty or the program cannot be started.
std::tuple<std::int32_t, std::string, std::string> shoal_exec(std::vector<std::string> argv) {
  if (argv.empty()) throw ValueError("shoal.exec: no command given");
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC | O_NONBLOCK) != 0) throw Error(std::string("shoal.exec: pipe: ") + std::strerror(errno));
  Fd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC | O_NONBLOCK) != 0) throw Error(std::string("shoal.exec: pipe: ") + std::strerror(errno));
  Fd err_r(err[0]), err_w(err[1]);
  // The child's ends must block: a command does not expect a non-blocking stdout.
  ::fcntl(out_w.fd, F_SETFL, 0);
  ::fcntl(err_w.fd, F_SETFL, 0);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.fd, 2);
  // The worker's signal mask and dispositions are not the command's business.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Its own process group, so that a stop kills what the command started too (a shell's
  // children would otherwise keep the pipes open).
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  out_w.reset();
  err_w.reset();
  if (rc != 0) throw ValueError("shoal.exec: cannot run " + argv[0] + ": " + std::strerror(rc));

  Captured stdout_text(1), stderr_text(2);
  bool out_open = true, err_open = true, killed = false;
  while (out_open || err_open) {
    if (!killed && this_task::stop_requested()) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    pollfd p[2] = {{out_open ? out_r.fd : -1, POLLIN, 0}, {err_open ? err_r.fd : -1, POLLIN, 0}};
    // A bounded wait, so that a stop request is seen within 50 ms.
    int n = ::poll(p, 2, 50);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (out_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) out_open = drain(out_r.fd, stdout_text);
    if (err_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) err_open = drain(err_r.fd, stderr_text);
  }
  // Both pipes closed: the command (or whatever inherited them) is done writing. A child
  // that closed them and kept running is still waited for, and still killed on a stop.
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) throw Error(std::string("shoal.exec: waitpid: ") + std::strerror(errno));
    if (r == 0) {
      if (this_task::stop_requested()) {
        ::kill(-pid, SIGKILL);
        killed = true;
      } else {
        ::poll(nullptr, 0, 20);
      }
    }
  }
  if (killed) this_task::throw_if_stop_requested();
  std::int32_t code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return {code, std::move(stdout_text).finish(), std::move(stderr_text).finish()};
}

}  // namespace shoal::worker

SHOAL_REMOTE_AS(shoal::worker::shoal_exec, "shoal.exec")
