#pragma once
/// \file
/// spawn(): starts a program as a child process (posix_spawn, vfork-fast) and returns a
/// Child that owns a pidfd, for LocalCluster's workers, `shoal start`'s daemons and
/// shoal::Process. Python's subprocess.Popen, reduced to what shoal needs.
///
///     shoal::cluster::SpawnOptions o;
///     o.program = shoal::cluster::self_exe();
///     o.fds = {sock};                            // the child's fd 3
///     o.env = {{"SHOAL_CHILD", "worker:fd=3"}};
///     shoal::cluster::Child c = shoal::cluster::spawn(o);
///     if (!c.wait(std::chrono::seconds(1))) c.kill();

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace shoal::cluster {

/// What to start and how. Only `program` is required.
struct SpawnOptions {
  /// The file to execute. No PATH search: give an absolute or relative path.
  std::string program{};
  /// The arguments, argv[0] included; empty means {program}.
  std::vector<std::string> argv{};
  /// Variables set in (or overriding those of) the child's environment, which is
  /// otherwise this process's `environ`.
  std::vector<std::pair<std::string, std::string>> env{};
  /// Variables removed from the child's environment (applied before `env`).
  std::vector<std::string> unset_env{};
  /// fds[i] becomes fd 3+i in the child, whatever its number and its FD_CLOEXEC flag here.
  /// Every other descriptor from 3 up is closed in the child, as Python's close_fds=True,
  /// so a descriptor some library opened without O_CLOEXEC does not leak into workers.
  std::vector<int> fds{};
  /// Starts the child in a new session (setsid): no controlling terminal, and it is not
  /// in our process group, so a Ctrl-C at the terminal does not reach it. For daemons that
  /// outlive the caller (`shoal start`).
  bool new_session = false;
  /// Empty: inherit ours. Else opened for the child: stdin read-only ("/dev/null" is
  /// fine); stdout and stderr appended to, created with mode 0644 when missing. The same
  /// path for both shares one open file.
  std::string stdin_path{}, stdout_path{}, stderr_path{};
};

/// A started child process. Move-only; owns a pidfd (Linux 5.3+), so that signals never
/// reach a recycled pid and waits can poll. Members may be called from any thread, also
/// concurrently (the exit status is reaped once, under a lock), but not while the Child
/// is being moved or destroyed.
///
/// The child starts with an empty signal mask and SIGPIPE and SIGXFSZ at their default
/// (Python's restore_signals): a blocked SIGTERM or an ignored SIGPIPE here does not
/// carry over; other ignored signals do, as exec keeps them (nohup).
class Child {
 public:
  /// An empty Child (pid() == -1), as left by a move or detach().
  Child() noexcept = default;
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// Never blocks and never signals the child. A child still running is left running and
  /// reaped later, when it has exited, by a sweep at the start of each spawn() (Python's
  /// subprocess._cleanup). Owners that want it gone kill() and wait() first; daemons
  /// that must outlive us are detach()ed.
  ~Child();

  /// The process id (-1 when empty). Stays valid after the child was reaped.
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// The pidfd, readable (POLLIN) once the child has exited; -1 when empty. Still owned
  /// by this Child: do not close it.
  [[nodiscard]] int pidfd() const noexcept { return pidfd_; }

  /// True while the child has not exited (reaps it if it has). False when empty.
  [[nodiscard]] bool running();
  /// nullopt while running; N after exit(N); -S after death by signal S (Python's
  /// returncode convention). Reaps the child. nullopt when empty. A child reaped behind
  /// our back (SIGCHLD set to SIG_IGN, a stray waitpid(-1)) reads as 0, as in Python.
  [[nodiscard]] std::optional<int> exitcode();
  /// Waits for the child to exit, at most `timeout` (nullopt: no bound), and returns
  /// exitcode(): nullopt when it is still running at the deadline. Blocks the calling
  /// thread (ppoll on the pidfd); a zero timeout polls.
  std::optional<int> wait(std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

  /// Sends `sig` through the pidfd. A no-op once the child was reaped (or when empty);
  /// throws shoal::Error on any other failure.
  void signal(int sig);
  /// signal(SIGTERM).
  void terminate() { signal(SIGTERM); }
  /// signal(SIGKILL).
  void kill() { signal(SIGKILL); }

  /// Forgets the child without reaping or signalling it and returns its pid (-1 when
  /// empty); this Child becomes empty. For `shoal start`, whose daemon (started with
  /// new_session) outlives the caller: when the caller exits first, init reaps it. A
  /// long-lived caller that detaches should waitpid() the returned pid itself, or it
  /// leaves a zombie when the child exits.
  pid_t detach() noexcept;

 private:
  friend Child spawn(const SpawnOptions&);
  Child(pid_t pid, int pidfd) noexcept : pid_(pid), pidfd_(pidfd) {}
  /// Reaps without blocking when the child has exited; caller holds mu_.
  void try_reap_locked();
  void release() noexcept;

  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> code_;  // set once reaped
  mutable std::mutex mu_;    // guards code_ and the reap
};

/// Starts `options.program`. Returns once the program was exec'd: a failure to start it
/// (missing file, not executable, a bad fd in `fds`, an unopenable stdout_path) throws
/// shoal::Error naming the program and the errno text, e.g.
/// "cannot start /x/y: No such file or directory". Safe to call from several threads.
[[nodiscard]] Child spawn(const SpawnOptions& options);

/// The path of this program (readlink of /proc/self/exe), for re-executing it as a worker.
/// Throws shoal::Error when it cannot be read.
[[nodiscard]] std::string self_exe();

}  // namespace shoal::cluster
