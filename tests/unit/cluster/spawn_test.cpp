#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <shoal/cluster/spawn.hpp>
#include <shoal/core/error.hpp>

namespace cl = shoal::cluster;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

/// A pipe whose ends are CLOEXEC and closed by the destructor.
struct Pipe {
  int r = -1, w = -1;
  Pipe() { REQUIRE(::pipe2(&r, O_CLOEXEC) == 0); }
  ~Pipe() {
    close_r();
    close_w();
  }
  void close_r() {
    if (r >= 0) ::close(r);
    r = -1;
  }
  void close_w() {
    if (w >= 0) ::close(w);
    w = -1;
  }
  /// Moves both ends to numbers from 100 up (out of the way of fds 3 and 4).
  void lift() {
    for (int* fd : {&r, &w}) {
      int high = ::fcntl(*fd, F_DUPFD_CLOEXEC, 100);
      REQUIRE(high >= 100);
      ::close(*fd);
      *fd = high;
    }
  }
};

/// Everything readable from `fd` until EOF, failing the test after `limit`.
std::string read_all(int fd, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::string out;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    REQUIRE(left.count() > 0);
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    REQUIRE(pr >= 0);
    if (pr == 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n >= 0);
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

cl::SpawnOptions sh(const std::string& script) {
  cl::SpawnOptions o;
  o.program = "/bin/sh";
  o.argv = {"sh", "-c", script};
  return o;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A fresh directory under /tmp, removed with its contents.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/shoal-spawn-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

/// The session id of `pid`, from /proc/PID/stat (the 4th field after the ")" of comm).
pid_t session_of(pid_t pid) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in(stat.substr(stat.rfind(')') + 1));
  std::string state;
  long ppid = 0, pgrp = 0, sid = 0;
  in >> state >> ppid >> pgrp >> sid;
  return static_cast<pid_t>(sid);
}

/// Puts fd `target` aside for the scope (dup to a high number) and restores it after.
struct SaveFd {
  int target;
  int saved;
  explicit SaveFd(int t) : target(t), saved(::fcntl(t, F_DUPFD_CLOEXEC, 200)) {}
  ~SaveFd() {
    if (saved >= 0) {
      ::dup2(saved, target);
      ::close(saved);
    } else {
      ::close(target);
    }
  }
};

}  // namespace

TEST_CASE("spawn runs a program and reports its exit code", "[cluster][spawn]") {
  cl::Child c = cl::spawn(sh("exit 7"));
  CHECK(c.pid() > 0);
  CHECK(c.pidfd() >= 0);
  CHECK(c.wait(10s) == 7);
  CHECK(c.exitcode() == 7);
  CHECK_FALSE(c.running());
  CHECK(c.wait(0s) == 7);
  c.kill();  // reaped: a no-op
}

TEST_CASE("a child killed by a signal reports minus the signal number", "[cluster][spawn]") {
  cl::Child c = cl::spawn(sh("kill -9 $$"));
  CHECK(c.wait(10s) == -9);
  CHECK(c.exitcode() == -9);
}

TEST_CASE("wait returns nullopt at its timeout while the child runs, and terminate ends it",
          "[cluster][spawn]") {
  cl::SpawnOptions o;
  o.program = "/bin/sleep";
  o.argv = {"sleep", "30"};
  cl::Child c = cl::spawn(o);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(c.wait(100ms).has_value());
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(elapsed >= 100ms);
  CHECK(elapsed < 5s);
  CHECK(c.running());
  CHECK_FALSE(c.exitcode().has_value());
  CHECK_FALSE(c.wait(0s).has_value());
  c.terminate();
  CHECK(c.wait(10s) == -SIGTERM);
  CHECK_FALSE(c.running());
}

TEST_CASE("kill ends a child with SIGKILL, seen through a pollable pidfd", "[cluster][spawn]") {
  cl::SpawnOptions o;
  o.program = "/bin/sleep";
  o.argv = {"sleep", "30"};
  cl::Child c = cl::spawn(o);
  c.kill();
  pollfd p{c.pidfd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 10000) == 1);
  CHECK(c.exitcode() == -SIGKILL);
}

TEST_CASE("fds become 3, 4, ... in the child and other descriptors are closed", "[cluster][spawn]") {
  Pipe a, b;
  // A descriptor without CLOEXEC that is not listed: it must not reach the child.
  int stray = ::fcntl(a.r, F_DUPFD, 50);
  REQUIRE(stray >= 0);
  auto o = sh("echo three >&3; echo four >&4; if [ -e /proc/$$/fd/" + std::to_string(stray) +
              " ]; then echo leaked >&3; fi");
  o.fds = {a.w, b.w};
  cl::Child c = cl::spawn(o);
  ::close(stray);
  a.close_w();
  b.close_w();
  CHECK(read_all(a.r) == "three\n");
  CHECK(read_all(b.r) == "four\n");
  CHECK(c.wait(10s) == 0);
}

TEST_CASE("fds whose numbers are the targets themselves are mapped correctly", "[cluster][spawn]") {
  SaveFd keep3(3), keep4(4);
  Pipe a, b;
  a.lift();
  b.lift();
  // a.w at fd 3 and b.w at fd 4, both CLOEXEC (dup3 keeps the flag).
  REQUIRE(::dup3(a.w, 3, O_CLOEXEC) == 3);
  REQUIRE(::dup3(b.w, 4, O_CLOEXEC) == 4);
  a.close_w();
  b.close_w();

  SECTION("each onto itself: CLOEXEC must still be cleared") {
    auto o = sh("echo A >&3; echo B >&4");
    o.fds = {3, 4};
    cl::Child c = cl::spawn(o);
    ::close(3);
    ::close(4);
    CHECK(read_all(a.r) == "A\n");
    CHECK(read_all(b.r) == "B\n");
    CHECK(c.wait(10s) == 0);
  }
  SECTION("swapped: 4 becomes 3 and 3 becomes 4") {
    auto o = sh("echo to-a >&4; echo to-b >&3");
    o.fds = {4, 3};
    cl::Child c = cl::spawn(o);
    ::close(3);
    ::close(4);
    CHECK(read_all(a.r) == "to-a\n");
    CHECK(read_all(b.r) == "to-b\n");
    CHECK(c.wait(10s) == 0);
  }
}

TEST_CASE("env sets, overrides and unsets variables, and argv reaches the child", "[cluster][spawn]") {
  ::setenv("SHOAL_TEST_GONE", "1", 1);
  ::setenv("SHOAL_TEST_KEEP", "ours", 1);
  ::setenv("SHOAL_TEST_KEPT", "kept", 1);
  Pipe p;
  cl::SpawnOptions o;
  o.program = "/bin/sh";
  o.argv = {"sh", "-c",
            "printf '%s|%s|%s|%s|%s|%s' \"$SHOAL_TEST_NEW\" \"${SHOAL_TEST_GONE-unset}\" \"$SHOAL_TEST_KEEP\" "
            "\"$SHOAL_TEST_KEPT\" \"$0\" \"$1\" >&3",
            "zero", "one"};
  o.env = {{"SHOAL_TEST_NEW", "a b=c"}, {"SHOAL_TEST_KEEP", "theirs"}};
  o.unset_env = {"SHOAL_TEST_GONE"};
  o.fds = {p.w};
  cl::Child c = cl::spawn(o);
  p.close_w();
  CHECK(read_all(p.r) == "a b=c|unset|theirs|kept|zero|one");
  CHECK(c.wait(10s) == 0);
  ::unsetenv("SHOAL_TEST_GONE");
  ::unsetenv("SHOAL_TEST_KEEP");
  ::unsetenv("SHOAL_TEST_KEPT");
}

TEST_CASE("stdin, stdout and stderr paths are opened for the child, output appended", "[cluster][spawn]") {
  TempDir dir;
  const auto in = dir.path / "in.txt", out = dir.path / "out.log", err = dir.path / "err.log";
  std::ofstream(in) << "hello\n";
  std::ofstream(out) << "first\n";

  SECTION("separate files") {
    auto o = sh("read x; echo \"got $x\"; echo oops >&2");
    o.stdin_path = in;
    o.stdout_path = out;
    o.stderr_path = err;
    CHECK(cl::spawn(o).wait(10s) == 0);
    CHECK(slurp(out) == "first\ngot hello\n");
    CHECK(slurp(err) == "oops\n");
    CHECK((std::filesystem::status(err).permissions() & std::filesystem::perms::owner_read) !=
          std::filesystem::perms::none);
  }
  SECTION("one file for both, and /dev/null for stdin") {
    auto o = sh("if read x; then echo unexpected; fi; echo out; echo err >&2");
    o.stdin_path = "/dev/null";
    o.stdout_path = out;
    o.stderr_path = out;
    CHECK(cl::spawn(o).wait(10s) == 0);
    CHECK(slurp(out) == "first\nout\nerr\n");
  }
}

TEST_CASE("new_session starts the child in a session of its own", "[cluster][spawn]") {
  for (bool fresh : {true, false}) {
    Pipe hold;  // the child blocks reading it until we close the write end
    auto o = sh("read x <&3; exit 0");
    o.fds = {hold.r};
    o.new_session = fresh;
    cl::Child c = cl::spawn(o);
    hold.close_r();
    const pid_t sid = session_of(c.pid());
    hold.close_w();
    CHECK(c.wait(10s) == 0);
    if (fresh)
      CHECK(sid == c.pid());
    else
      CHECK(sid == ::getsid(0));
  }
}

TEST_CASE("a program that cannot start is an Error naming it", "[cluster][spawn]") {
  cl::SpawnOptions o;
  SECTION("missing") {
    o.program = "/nonexistent/shoal-no-such-program";
    REQUIRE_THROWS_MATCHES(cl::spawn(o), shoal::Error,
                           Catch::Matchers::Message("cannot start /nonexistent/shoal-no-such-program: No such file or directory"));
  }
  SECTION("not executable") {
    TempDir dir;
    const auto file = dir.path / "plain.txt";
    std::ofstream(file) << "not a program\n";
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    o.program = file;
    REQUIRE_THROWS_WITH(cl::spawn(o), Contains(file.string()) && Contains("Permission denied"));
  }
  SECTION("an unopenable stdout_path") {
    o.program = "/bin/true";
    o.stdout_path = "/nonexistent/dir/out.log";
    REQUIRE_THROWS_WITH(cl::spawn(o), Contains("/bin/true") && Contains("/nonexistent/dir/out.log"));
  }
  SECTION("a closed fd in fds") {
    o.program = "/bin/true";
    o.fds = {987};
    REQUIRE_THROWS_WITH(cl::spawn(o), Contains("fd 987") && Contains("Bad file descriptor"));
  }
  SECTION("no program") { REQUIRE_THROWS_AS(cl::spawn(o), shoal::ValueError); }
}

TEST_CASE("self_exe is the path of this test binary", "[cluster][spawn]") {
  const std::string exe = cl::self_exe();
  CHECK(std::filesystem::path(exe).is_absolute());
  CHECK(exe == std::filesystem::read_symlink("/proc/self/exe").string());
}

TEST_CASE("the destructor neither blocks nor kills a running child", "[cluster][spawn]") {
  cl::SpawnOptions o;
  o.program = "/bin/sleep";
  o.argv = {"sleep", "30"};
  pid_t pid;
  const auto t0 = std::chrono::steady_clock::now();
  {
    cl::Child c = cl::spawn(o);
    pid = c.pid();
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(::kill(pid, 0) == 0);  // still there (running, unreaped)
  ::kill(pid, SIGKILL);        // reaped by a later spawn()'s sweep
  CHECK(cl::spawn(sh("exit 0")).wait(10s) == 0);
}

TEST_CASE("detach forgets the child, which the caller may reap itself", "[cluster][spawn]") {
  cl::SpawnOptions o;
  o.program = "/bin/sleep";
  o.argv = {"sleep", "30"};
  o.new_session = true;
  cl::Child c = cl::spawn(o);
  const pid_t pid = c.detach();
  CHECK(c.pid() == -1);
  CHECK(c.pidfd() == -1);
  CHECK_FALSE(c.running());
  CHECK_FALSE(c.exitcode().has_value());
  REQUIRE(::kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
}

TEST_CASE("a moved Child keeps the process and the source becomes empty", "[cluster][spawn]") {
  cl::Child a = cl::spawn(sh("exit 3"));
  const pid_t pid = a.pid();
  cl::Child b = std::move(a);
  CHECK(a.pid() == -1);
  CHECK(b.pid() == pid);
  cl::Child c;
  c = std::move(b);
  CHECK(c.wait(10s) == 3);
}

TEST_CASE("spawn can be called from several threads at once", "[cluster][spawn]") {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto c = cl::spawn(sh("exit " + std::to_string(t + i)));
        if (c.wait(10s) == t + i) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(ok == 40);
}
