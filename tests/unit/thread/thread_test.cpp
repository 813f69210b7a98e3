// Thread and the threading module functions, ported from CPython's
// Lib/test/test_threading.py (ThreadTests, ThreadingExceptionTests, ThreadJoinOnShutdown).
// What happens at process exit is checked in a child process: this test binary run again
// with SHOAL_THREAD_TEST_CHILD set, which plays a scenario before main() and exits.

#include <catch2/catch.hpp>

#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "unit/thread/helpers.hpp"

#include <shoal/sync/bounded_semaphore.hpp>
#include <shoal/sync/event.hpp>
#include <shoal/sync/rlock.hpp>
#include <shoal/thread/thread.hpp>

extern char** environ;

using namespace std::chrono_literals;
using shoal::test::eventually;

namespace {

bool contains(const std::vector<shoal::Thread>& ts, const shoal::Thread& t) {
  return std::find(ts.begin(), ts.end(), t) != ts.end();
}

void say(const char* s) { [[maybe_unused]] auto n = ::write(1, s, std::strlen(s)); }

// --- child-process scenarios --------------------------------------------------------------

/// ThreadJoinOnShutdown.test_1_join_on_shutdown: a non-daemon thread that joins the main
/// thread runs to its end after main has finished.
void child_join_on_shutdown() {
  shoal::Thread t([] {
    shoal::main_thread().join();  // returns once the main thread is done (at exit)
    say("end of thread\n");
  });
  t.start();
  say("end of main\n");
  std::exit(0);
}

/// Daemon threads do not hold the process back; non-daemon ones are waited for.
void child_daemon_not_joined() {
  static shoal::Event never;
  shoal::Thread daemon({.daemon = true}, [] { never.wait(); });
  daemon.start();
  static shoal::Event go;
  shoal::Thread worker([] {
    go.wait();
    say("worker done\n");
  });
  worker.start();
  go.set();
  say("end of main\n");
  std::exit(0);
}

/// test_main_thread_after_fork_from_nonmain_thread and test_3_join_in_forked_from_thread:
/// in a child forked by a Thread, that Thread is the main thread and the only one, and the
/// child's exit does not wait for the parent's other non-daemon threads.
void child_fork_from_thread() {
  static shoal::Event release;
  shoal::Thread sleeper([] { release.wait(); });  // alive in the parent, absent in the child
  sleeper.start();
  shoal::Thread forker({.name = "forker"}, [] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const bool is_main = shoal::current_thread() == shoal::main_thread();
      const std::string line = "child: " + shoal::main_thread().name() + " " + (is_main ? "main" : "not-main") +
                               " " + std::to_string(shoal::active_count()) + "\n";
      say(line.c_str());
      std::exit(0);  // joins nothing: the sleeper does not exist here
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    say(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "child exited 0\n" : "child failed\n");
  });
  forker.start();
  forker.join();
  release.set();
  std::exit(0);
}

[[maybe_unused]] const bool child_ran = [] {
  const char* scenario = std::getenv("SHOAL_THREAD_TEST_CHILD");
  if (!scenario) return false;
  if (std::strcmp(scenario, "join_on_shutdown") == 0) child_join_on_shutdown();
  if (std::strcmp(scenario, "daemon_not_joined") == 0) child_daemon_not_joined();
  if (std::strcmp(scenario, "fork_from_thread") == 0) child_fork_from_thread();
  std::_Exit(99);
}();

/// Runs this binary with SHOAL_THREAD_TEST_CHILD=scenario; returns its exit status and stdout.
std::pair<int, std::string> run_child(const std::string& scenario, std::vector<std::string> extra_env = {}) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<std::string> env_store = std::move(extra_env);  // first: getenv() finds these
  env_store.push_back("SHOAL_THREAD_TEST_CHILD=" + scenario);
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  std::vector<char*> env;
  for (auto& s : env_store) env.push_back(s.data());
  env.push_back(nullptr);
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, exe, &actions, nullptr, argv, env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  REQUIRE(rc == 0);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// The stack size the calling thread runs on.
std::size_t my_stack_size() {
  pthread_attr_t attr;
  ::pthread_getattr_np(::pthread_self(), &attr);
  std::size_t size = 0;
  ::pthread_attr_getstacksize(&attr, &size);
  ::pthread_attr_destroy(&attr);
  return size;
}

/// test_various_ops: 10 threads, at most 3 at once through a BoundedSemaphore.
void various_ops() {
  constexpr int tasks = 10;
  shoal::BoundedSemaphore sema(3);
  shoal::RLock mutex;
  int running = 0;  // under mutex
  std::atomic<int> too_many{0}, negative{0};
  std::vector<shoal::Thread> threads;
  for (int i = 0; i < tasks; ++i) {
    shoal::Thread t({.name = "<thread " + std::to_string(i) + ">"}, [&] {
      std::lock_guard slot(sema);
      {
        std::lock_guard hold(mutex);
        if (++running > 3) too_many.fetch_add(1);
      }
      std::this_thread::yield();
      {
        std::lock_guard hold(mutex);
        if (--running < 0) negative.fetch_add(1);
      }
    });
    CHECK_FALSE(t.ident());
    CHECK(t.repr() == "<Thread(<thread " + std::to_string(i) + ">, initial)>");
    t.start();
    threads.push_back(t);
  }
  std::set<std::uint64_t> native_ids{shoal::get_native_id()};
  for (auto& t : threads) native_ids.insert(t.native_id().value_or(0));
  CHECK(native_ids.count(0) == 0);
  CHECK(native_ids.size() == tasks + 1);
  for (auto& t : threads) {
    t.join();
    CHECK_FALSE(t.is_alive());
    REQUIRE(t.ident());
    CHECK(*t.ident() != 0);
    CHECK(t.repr().find("stopped " + std::to_string(*t.ident())) != std::string::npos);
  }
  CHECK(running == 0);
  CHECK(too_many == 0);
  CHECK(negative == 0);
}

}  // namespace

// --- ThreadTests --------------------------------------------------------------------------

TEST_CASE("a Thread takes its name from its options, or is named Thread-N", "[thread]") {
  shoal::Thread named({.name = "myname1"});
  CHECK(named.name() == "myname1");
  shoal::Thread a, b;
  const std::string an = a.name(), bn = b.name();
  REQUIRE(an.rfind("Thread-", 0) == 0);
  REQUIRE(bn.rfind("Thread-", 0) == 0);
  CHECK(std::stoi(bn.substr(7)) == std::stoi(an.substr(7)) + 1);
  shoal::Thread empty({.name = ""}, [] {});
  CHECK(empty.name().rfind("Thread-", 0) == 0);
  empty.set_name("renamed");
  CHECK(empty.name() == "renamed");
}

TEST_CASE("a Thread calls its callable with the arguments it was given", "[thread]") {
  std::atomic<int> sum{0};
  std::string text;
  std::vector<int> list;
  auto owned = std::make_unique<int>(5);
  shoal::Thread t(
      [&](int a, std::string s, std::vector<int> v, std::unique_ptr<int> p) {
        sum = a + *p;
        text = s;
        list = v;
      },
      1, std::string("str"), std::vector<int>{1}, std::move(owned));
  t.start();
  t.join();
  CHECK(sum == 6);
  CHECK(text == "str");
  CHECK(list == std::vector<int>{1});
}

TEST_CASE("a Thread copies its arguments when it is made", "[thread]") {
  std::string s = "before";
  std::string seen;
  shoal::Thread t([&](const std::string& arg) { seen = arg; }, s);
  s = "after";
  t.start();
  t.join();
  CHECK(seen == "before");
}

TEST_CASE("a Thread calls its callable even when the callable converts to false", "[thread]") {
  struct FalseTarget {
    std::atomic<bool>* ran;
    explicit operator bool() const { return false; }
    void operator()() const { *ran = true; }
  };
  std::atomic<bool> ran{false};
  shoal::Thread t(FalseTarget{&ran});
  t.start();
  t.join();
  CHECK(ran);
}

TEST_CASE("ten threads run at most three at a time through a BoundedSemaphore", "[thread]") {
  shoal::test::Watchdog dog(10s);
  various_ops();
}

TEST_CASE("threads started after stack_size is set get that stack size", "[thread]") {
  shoal::test::Watchdog dog(10s);
  CHECK(shoal::stack_size() == 0);
  CHECK_THROWS_AS(shoal::stack_size(1000), shoal::ValueError);
  auto stack_of_new_thread = [] {
    std::atomic<std::size_t> seen{0};
    shoal::Thread t([&] { seen = my_stack_size(); });
    t.start();
    t.join();
    return seen.load();
  };
  const std::size_t system_default = stack_of_new_thread();
  for (std::size_t size : {std::size_t{256 * 1024}, std::size_t{1024 * 1024}}) {
    CHECK(shoal::stack_size(size) == 0);
    CHECK(shoal::stack_size() == size);
    const std::size_t seen = stack_of_new_thread();
    CHECK(seen >= size);  // sanitizers may add room of their own
    CHECK(seen != system_default);
    various_ops();  // test_various_ops_small_stack, test_various_ops_large_stack
    CHECK(shoal::stack_size(0) == size);
  }
}

TEST_CASE("current_thread in a thread shoal did not start is a Dummy daemon Thread while that thread lives",
          "[thread]") {
  shoal::test::Watchdog dog(10s);
  std::atomic<std::uint64_t> ident{0};
  std::optional<shoal::Thread> dummy;
  shoal::Event registered, finish;
  std::thread foreign([&] {
    dummy = shoal::current_thread();
    ident = dummy->ident().value_or(0);
    registered.set();
    finish.wait();
  });
  registered.wait();
  CHECK(ident == dummy->ident().value_or(1));
  CHECK(dummy->name().rfind("Dummy-", 0) == 0);
  CHECK(dummy->daemon());
  CHECK(dummy->is_alive());
  CHECK(dummy->repr().rfind("<_DummyThread(Dummy-", 0) == 0);
  CHECK(contains(shoal::enumerate(), *dummy));
  CHECK_THROWS_AS(dummy->join(), shoal::InvalidStateError);  // a dummy cannot be joined
  CHECK_THROWS_AS(dummy->start(), shoal::InvalidStateError);
  finish.set();
  foreign.join();
  CHECK_FALSE(dummy->is_alive());
  CHECK_FALSE(contains(shoal::enumerate(), *dummy));
}

TEST_CASE("a joined Thread is no longer in enumerate", "[thread]") {
  for (int i = 0; i < 100; ++i) {
    shoal::Thread t([] {});
    t.start();
    t.join();
    REQUIRE_FALSE(contains(shoal::enumerate(), t));
  }
}

TEST_CASE("a running Thread is in enumerate and counts in active_count", "[thread]") {
  shoal::test::Watchdog dog(10s);
  const auto before = shoal::active_count();
  shoal::Event finish;
  shoal::Thread t([&] { finish.wait(); });
  CHECK_FALSE(contains(shoal::enumerate(), t));
  t.start();
  CHECK(t.is_alive());
  CHECK(contains(shoal::enumerate(), t));
  CHECK(shoal::active_count() == before + 1);
  CHECK(contains(shoal::enumerate(), shoal::main_thread()));
  finish.set();
  t.join();
  CHECK(shoal::active_count() == before);
}

TEST_CASE("a Thread releases its callable and arguments when it ends, before join returns", "[thread]") {
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> weak = token;
  SECTION("returning") {
    shoal::Thread t([](std::shared_ptr<int>) {}, std::move(token));
    t.start();
    t.join();
    CHECK(weak.expired());
  }
  SECTION("throwing") {
    auto old = shoal::set_excepthook([](const shoal::ExceptHookArgs&) {});
    shoal::Thread t([p = std::move(token)] { throw std::runtime_error("raised"); });
    t.start();
    t.join();
    shoal::set_excepthook(old);
    CHECK(weak.expired());
  }
}

TEST_CASE("a Thread is not a daemon unless asked, and inherits the flag of the thread that makes it",
          "[thread]") {
  CHECK_FALSE(shoal::Thread().daemon());
  CHECK_FALSE(shoal::Thread({.daemon = false}).daemon());
  CHECK(shoal::Thread({.daemon = true}).daemon());
  CHECK_FALSE(shoal::main_thread().daemon());
  std::atomic<int> inherited{-1};
  shoal::Thread parent({.daemon = true}, [&] { inherited = shoal::Thread().daemon() ? 1 : 0; });
  parent.start();
  parent.join();
  CHECK(inherited == 1);
}

TEST_CASE("repr shows a Thread's name, state, daemon flag and ident", "[thread]") {
  shoal::test::Watchdog dog(10s);
  shoal::Thread t({.name = "r"});
  CHECK(t.repr() == "<Thread(r, initial)>");
  t.set_daemon(true);
  CHECK(t.repr() == "<Thread(r, initial daemon)>");
  shoal::Event finish;
  shoal::Thread running({.name = "s"}, [&] { finish.wait(); });
  running.start();
  CHECK(running.repr() == "<Thread(s, started " + std::to_string(*running.ident()) + ")>");
  finish.set();
  running.join();
  CHECK(running.repr() == "<Thread(s, stopped " + std::to_string(*running.ident()) + ")>");
}

TEST_CASE("main_thread is MainThread, and is the current thread only in the main thread", "[thread]") {
  // Catch2 runs the tests on the process's main thread.
  const shoal::Thread main = shoal::main_thread();
  CHECK(main.name() == "MainThread");
  CHECK(main.ident() == shoal::current_thread().ident());
  CHECK(main.ident() == shoal::get_ident());
  CHECK(main.native_id() == shoal::get_native_id());
  CHECK(main == shoal::current_thread());
  CHECK(main.is_alive());
  CHECK(main.repr().rfind("<_MainThread(MainThread, started ", 0) == 0);
  std::atomic<int> same{-1};
  shoal::Thread t([&] {
    same = shoal::main_thread().ident() == shoal::current_thread().ident() ? 1 : 0;
  });
  t.start();
  t.join();
  CHECK(same == 0);
}

TEST_CASE("inside a Thread, current_thread is that Thread and get_ident is its ident", "[thread]") {
  std::optional<shoal::Thread> seen;
  std::atomic<std::uint64_t> ident{0}, native{0};
  shoal::Thread t([&] {
    seen = shoal::current_thread();
    ident = shoal::get_ident();
    native = shoal::get_native_id();
  });
  t.start();
  t.join();
  REQUIRE(seen);
  CHECK(*seen == t);
  CHECK(t.ident() == ident.load());
  CHECK(t.native_id() == native.load());
  CHECK(ident != shoal::get_ident());
}

TEST_CASE("a Thread whose handles are all dropped keeps running and is cleaned up when it ends", "[thread]") {
  shoal::test::Watchdog dog(10s);
  const auto before = shoal::active_count();
  shoal::Event go, done;
  {
    shoal::Thread t([&] {
      go.wait();
      done.set();
    });
    t.start();
  }
  CHECK(shoal::active_count() == before + 1);
  go.set();
  CHECK(done.wait(5s));
  CHECK(eventually([&] { return shoal::active_count() == before; }));
}

TEST_CASE("join with a timeout tells whether the Thread finished", "[thread]") {
  shoal::test::Watchdog dog(10s);
  shoal::Event finish;
  shoal::Thread t([&] { finish.wait(); });
  t.start();
  bool r = true;
  auto took = shoal::test::elapsed([&] { r = t.join(20ms); });
  CHECK_FALSE(r);
  CHECK(took >= 20ms);
  CHECK(t.is_alive());
  CHECK_FALSE(t.join(-1ms));  // a negative timeout polls
  finish.set();
  CHECK(t.join(5s));
  CHECK_FALSE(t.is_alive());
  CHECK(t.join(0ms));
}

TEST_CASE("a Thread that the system refuses to start is not counted and can be started later", "[thread]") {
  // test_limbo_cleanup: a 4 TiB stack cannot be mapped, so pthread_create fails.
  const auto before = shoal::active_count();
  shoal::stack_size(std::size_t{1} << 42);
  std::atomic<bool> ran{false};
  shoal::Thread t([&] { ran = true; });
  bool refused = false;
  try {
    t.start();
  } catch (const shoal::Error&) {
    refused = true;
  }
  shoal::stack_size(0);
  if (!refused) {  // this system mapped a 4 TiB stack: nothing to check
    WARN("pthread_create accepted a 4 TiB stack");
    t.join();
    return;
  }
  CHECK_FALSE(t.is_alive());
  CHECK(shoal::active_count() == before);
  t.start();
  t.join();
  CHECK(ran);
}

// --- ThreadingExceptionTests --------------------------------------------------------------

TEST_CASE("starting a Thread twice throws InvalidStateError", "[thread]") {
  shoal::Thread t;
  t.start();
  CHECK_THROWS_AS(t.start(), shoal::InvalidStateError);
  t.join();
  CHECK_THROWS_AS(t.start(), shoal::InvalidStateError);
}

TEST_CASE("a thread joining itself throws InvalidStateError", "[thread]") {
  CHECK_THROWS_AS(shoal::current_thread().join(), shoal::InvalidStateError);
  CHECK_THROWS_AS(shoal::main_thread().join(10ms), shoal::InvalidStateError);
  std::atomic<int> result{-1};
  shoal::Thread t([&] {
    try {
      shoal::current_thread().join();
      result = 0;
    } catch (const shoal::InvalidStateError&) {
      result = 1;
    }
  });
  t.start();
  t.join();
  CHECK(result == 1);
}

TEST_CASE("joining a Thread that was not started throws InvalidStateError", "[thread]") {
  shoal::Thread t;
  CHECK_THROWS_AS(t.join(), shoal::InvalidStateError);
  CHECK_THROWS_AS(t.join(10ms), shoal::InvalidStateError);
}

TEST_CASE("the daemon flag of a started Thread cannot change", "[thread]") {
  shoal::Thread t;
  t.start();
  CHECK_THROWS_AS(t.set_daemon(true), shoal::InvalidStateError);
  t.join();
  CHECK_THROWS_AS(t.set_daemon(true), shoal::InvalidStateError);
  CHECK_FALSE(t.daemon());
}

// --- ThreadJoinOnShutdown -----------------------------------------------------------------

TEST_CASE("at exit the non-daemon threads are joined after the main thread is marked done", "[thread][exit]") {
  shoal::test::Watchdog dog(20s);
  auto [status, out] = run_child("join_on_shutdown");
  CHECK(status == 0);
  CHECK(out == "end of main\nend of thread\n");
}

TEST_CASE("at exit daemon threads are left running and do not hold the process back", "[thread][exit]") {
  shoal::test::Watchdog dog(20s);
  auto [status, out] = run_child("daemon_not_joined");
  CHECK(status == 0);
  CHECK(out.find("end of main\n") != std::string::npos);
  CHECK(out.find("worker done\n") != std::string::npos);
}

TEST_CASE("in a process forked by a Thread that Thread is the main and only thread", "[thread][exit]") {
  shoal::test::Watchdog dog(20s);
  // LeakSanitizer cannot scan the threads a forked child lost and reports their memory.
  auto [status, out] = run_child("fork_from_thread", {"ASAN_OPTIONS=detect_leaks=0"});
  CHECK(status == 0);
  CHECK(out == "child: forker main 1\nchild exited 0\n");
}
