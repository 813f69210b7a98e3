#include "shoal/cluster/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "shoal/core/error.hpp"

extern char** environ;

namespace shoal::cluster {

namespace {

// waitid(P_PIDFD) (Linux 5.4): <linux/wait.h> defines it but clashes with glibc's idtype_t.
constexpr auto P_PIDFD_ = static_cast<idtype_t>(3);

std::string errno_text(int err) { return std::generic_category().message(err); }

[[noreturn]] void fail(const std::string& program, const std::string& what, int err) {
  throw Error("cannot start " + program + ": " + (what.empty() ? "" : what + ": ") + errno_text(err));
}

/// Closes a descriptor when it goes out of scope.
struct FdGuard {
  int fd = -1;
  FdGuard() = default;
  explicit FdGuard(int f) : fd(f) {}
  FdGuard(FdGuard&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

/// A CLOEXEC duplicate of `fd` numbered `min_fd` or above: above every target fd of the
/// child, so that no dup2 in the child overwrites a source still to be copied, and never
/// equal to its target (dup2 onto itself would keep FD_CLOEXEC). -1 with errno on failure.
int dup_above(int fd, int min_fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, min_fd); }

/// exitcode() from a waitid result: N for exit(N), -S for signal S.
int code_from(const siginfo_t& info) {
  return info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
}

/// Non-blocking reap through a pidfd: the exit code, or nullopt while running. A child
/// already reaped elsewhere (SIGCHLD set to SIG_IGN, a waitpid(-1) somewhere) has lost its
/// status: it reads as 0, as Python's Popen does on ECHILD.
std::optional<int> reap_nohang(int pidfd) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  int r;
  do r = ::waitid(P_PIDFD_, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == ECHILD) return 0;
    throw Error("waitid: " + errno_text(errno));
  }
  if (info.si_pid == 0) return std::nullopt;
  return code_from(info);
}

// Children whose Child was destroyed while they ran (pid, pidfd), reaped by the sweep at
// the next spawn(), like Python's subprocess._active. Never destroyed, so that a Child
// destroyed during static destruction still finds it.
struct Orphans {
  std::mutex mu;
  std::vector<std::pair<pid_t, int>> list;
};
Orphans& orphans() {
  static auto* o = new Orphans;
  return *o;
}

void adopt_orphan(pid_t pid, int pidfd) {
  auto& o = orphans();
  std::lock_guard hold(o.mu);
  o.list.emplace_back(pid, pidfd);
}

void reap_orphans() noexcept {
  auto& all = orphans();
  std::lock_guard hold(all.mu);
  std::erase_if(all.list, [](const std::pair<pid_t, int>& o) {
    try {
      if (!reap_nohang(o.second)) return false;
    } catch (const Error&) {
      // EBADF/EINVAL cannot be retried either: drop it.
    }
    ::close(o.second);
    return true;
  });
}

bool env_name_is(std::string_view entry, std::string_view name) {
  return entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=';
}

/// The child's environment: ours minus `unset_env` and the names `env` sets, plus `env`.
std::vector<std::string> child_env(const SpawnOptions& o) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto named = [&](std::string_view name) { return env_name_is(entry, name); };
    if (std::any_of(o.unset_env.begin(), o.unset_env.end(), named)) continue;
    if (std::any_of(o.env.begin(), o.env.end(), [&](const auto& kv) { return named(kv.first); })) continue;
    out.emplace_back(entry);
  }
  for (const auto& [k, v] : o.env) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

/// posix_spawn_file_actions_t and posix_spawnattr_t, destroyed on scope exit.
struct SpawnState {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  SpawnState() {
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
  }
  ~SpawnState() {
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
  }
  SpawnState(const SpawnState&) = delete;
  SpawnState& operator=(const SpawnState&) = delete;
};

}  // namespace

// ---- Child ------------------------------------------------------------------------------

Child::Child(Child&& other) noexcept {
  std::lock_guard hold(other.mu_);
  pid_ = std::exchange(other.pid_, -1);
  pidfd_ = std::exchange(other.pidfd_, -1);
  code_ = std::exchange(other.code_, std::nullopt);
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    release();
    std::scoped_lock hold(mu_, other.mu_);
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    code_ = std::exchange(other.code_, std::nullopt);
  }
  return *this;
}

Child::~Child() { release(); }

void Child::release() noexcept {
  std::lock_guard hold(mu_);
  if (pidfd_ < 0) return;
  try {
    try_reap_locked();
  } catch (const Error&) {
    code_ = 0;  // unreapable through this pidfd: nothing left to wait for
  }
  if (code_)
    ::close(pidfd_);
  else
    adopt_orphan(pid_, pidfd_);  // never block here: the next spawn() reaps it
  pidfd_ = -1;
  pid_ = -1;
  code_.reset();
}

void Child::try_reap_locked() {
  if (code_ || pidfd_ < 0) return;
  code_ = reap_nohang(pidfd_);
}

bool Child::running() {
  std::lock_guard hold(mu_);
  try_reap_locked();
  return pidfd_ >= 0 && !code_;
}

std::optional<int> Child::exitcode() {
  std::lock_guard hold(mu_);
  try_reap_locked();
  return code_;
}

std::optional<int> Child::wait(std::optional<std::chrono::nanoseconds> timeout) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (;;) {
    int fd;
    {
      std::lock_guard hold(mu_);
      try_reap_locked();
      if (code_ || pidfd_ < 0) return code_;
      fd = pidfd_;
    }
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout) {
      const auto left = *timeout - (Clock::now() - start);
      if (left <= std::chrono::nanoseconds::zero()) return std::nullopt;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      tsp = &ts;
    }
    pollfd p{fd, POLLIN, 0};
    if (::ppoll(&p, 1, tsp, nullptr) < 0 && errno != EINTR) throw Error("poll on a pidfd: " + errno_text(errno));
  }
}

void Child::signal(int sig) {
  std::lock_guard hold(mu_);
  if (pidfd_ < 0 || code_) return;
  if (::syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0) < 0 && errno != ESRCH)
    throw Error("cannot send signal " + std::to_string(sig) + " to process " + std::to_string(pid_) + ": " +
                errno_text(errno));
}

pid_t Child::detach() noexcept {
  std::lock_guard hold(mu_);
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
  code_.reset();
  return std::exchange(pid_, -1);
}

// ---- spawn ------------------------------------------------------------------------------

Child spawn(const SpawnOptions& o) {
  if (o.program.empty()) throw ValueError("spawn: no program given");
  reap_orphans();

  std::vector<std::string> args = o.argv.empty() ? std::vector<std::string>{o.program} : o.argv;
  std::vector<std::string> env = child_env(o);
  std::vector<char*> argv = c_strings(args);
  std::vector<char*> envp = c_strings(env);

  // Every descriptor the child receives is first duplicated here above its highest target
  // fd (2 + fds.size()), CLOEXEC: then the dup2s in the child can run in any order, and
  // the closefrom that follows removes the temporaries with everything else.
  const int first_free = 3 + static_cast<int>(o.fds.size());
  std::vector<FdGuard> held;
  held.reserve(o.fds.size() + 3);
  SpawnState st;
  auto give = [&](int src, int target) {
    if (int e = posix_spawn_file_actions_adddup2(&st.fa, src, target)) fail(o.program, "", e);
  };

  auto open_stdio = [&](const std::string& path, int flags, int target, const char* name) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, 0600);  // never through a planted symlink
    if (fd < 0) fail(o.program, std::string("cannot open ") + name + " '" + path + "'", errno);
    FdGuard raw(fd);
    int high = dup_above(fd, first_free);
    if (high < 0) fail(o.program, std::string("cannot open ") + name + " '" + path + "'", errno);
    held.emplace_back(high);
    give(high, target);
    return high;
  };
  if (!o.stdin_path.empty()) open_stdio(o.stdin_path, O_RDONLY, 0, "stdin");
  int out_fd = -1;
  if (!o.stdout_path.empty()) out_fd = open_stdio(o.stdout_path, O_WRONLY | O_APPEND | O_CREAT, 1, "stdout");
  if (!o.stderr_path.empty()) {
    if (o.stderr_path == o.stdout_path)
      give(out_fd, 2);
    else
      open_stdio(o.stderr_path, O_WRONLY | O_APPEND | O_CREAT, 2, "stderr");
  }
  for (std::size_t i = 0; i < o.fds.size(); ++i) {
    int high = dup_above(o.fds[i], first_free);
    if (high < 0) fail(o.program, "fd " + std::to_string(o.fds[i]) + " (fds[" + std::to_string(i) + "])", errno);
    held.emplace_back(high);
    give(high, 3 + static_cast<int>(i));
  }
  if (int e = posix_spawn_file_actions_addclosefrom_np(&st.fa, first_free)) fail(o.program, "", e);

  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (o.new_session) flags |= POSIX_SPAWN_SETSID;
  sigset_t none, restore;
  sigemptyset(&none);
  sigemptyset(&restore);
  sigaddset(&restore, SIGPIPE);
  sigaddset(&restore, SIGXFSZ);
  posix_spawnattr_setflags(&st.attr, flags);
  posix_spawnattr_setsigmask(&st.attr, &none);
  posix_spawnattr_setsigdefault(&st.attr, &restore);

  pid_t pid = -1;
  // glibc's posix_spawn (clone with CLONE_VFORK) reports a failed exec or file action
  // through its return value: no child is left behind then.
  if (int e = ::posix_spawn(&pid, o.program.c_str(), &st.fa, &st.attr, argv.data(), envp.data()))
    fail(o.program, "", e);

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    fail(o.program, "pidfd_open (Linux 5.3+ is required)", e);
  }
  // The pidfd is CLOEXEC by default (pidfd_open always sets it).
  return Child(pid, pidfd);
}

std::string self_exe() {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size());
    if (n < 0) throw Error("cannot read /proc/self/exe: " + errno_text(errno));
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

}  // namespace shoal::cluster
