// Executors refuse new work once the program is exiting (issue 15): Python's
// concurrent.futures raises RuntimeError "cannot schedule new futures after interpreter
// shutdown". A forked child exits; an atexit handler (which runs after exit() began)
// submits to a pool that is still alive and reports what happened in its exit status.

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include <shoal/shoal.hpp>

using namespace std::chrono_literals;

namespace {

shoal::ThreadPoolExecutor* g_pool = nullptr;

void submit_during_exit() {
  try {
    (void)g_pool->submit([] { return 1; });
  } catch (const shoal::InvalidStateError& e) {
    std::string what = e.what();
    ::_exit(what.find("exiting") != std::string::npos ? 42 : 2);
  } catch (...) {
    ::_exit(3);
  }
  ::_exit(1);  // accepted: the bug
}

int child_status(void (*child)()) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    child();
    ::_exit(99);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("a ThreadPoolExecutor refuses work submitted once exit() has begun", "[exec][exit]") {
  CHECK(child_status([] {
    g_pool = new shoal::ThreadPoolExecutor(1);  // never destroyed: still alive during exit
    (void)g_pool->submit([] { return 0; }).result(10s);  // it works before exit
    CHECK_FALSE(shoal::detail::program_exiting());
    std::atexit(submit_during_exit);
    std::exit(0);
  }) == 42);
}

TEST_CASE("before exit, submitting works and program_exiting() is false", "[exec][exit]") {
  CHECK_FALSE(shoal::detail::program_exiting());
  shoal::ThreadPoolExecutor pool(1);
  CHECK(pool.submit([] { return 5; }).result(10s) == 5);
}
