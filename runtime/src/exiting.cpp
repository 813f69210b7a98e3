// When the program begins exiting, executors stop taking work (Python's
// concurrent.futures raises "cannot schedule new futures after interpreter shutdown"):
// work accepted then would run while static objects are being destroyed, or never.
//
// The start of exit() is seen through a thread_local object of the main thread: glibc's
// exit() destroys the calling thread's thread_local objects first (__call_tls_dtors),
// before any atexit handler or static destructor. An atexit handler registered at load
// time is the fallback for an exit() called from another thread (it runs last).

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "shoal/core/error.hpp"

namespace shoal::detail {

namespace {

std::atomic<bool> g_exiting{false};

void mark_exiting() noexcept { g_exiting.store(true, std::memory_order_release); }

struct MainThreadSentinel {
  ~MainThreadSentinel() { mark_exiting(); }
};

struct Install {
  Install() {
    std::atexit(mark_exiting);
    // Only the main thread's: any other thread's thread_local goes when that thread ends.
    if (::syscall(SYS_gettid) == ::getpid()) {
      thread_local MainThreadSentinel sentinel;
      (void)&sentinel;
    }
  }
};
const Install g_install;

}  // namespace

bool program_exiting() noexcept { return g_exiting.load(std::memory_order_acquire); }

void refuse_if_exiting(const char* executor) {
  if (program_exiting())
    throw InvalidStateError(std::string("cannot schedule new futures on a ") + executor +
                            " after the program began exiting");
}

}  // namespace shoal::detail
