// excepthook, ported from CPython's Lib/test/test_threading.py (ExceptHookTests and
// ThreadingExceptionTests.test_print_exception).

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "support/stderr_capture.hpp"
#include "unit/thread/helpers.hpp"

#include <shoal/thread/thread.hpp>

namespace {

/// Python's ThreadRunFail: a thread whose call raises ValueError("run failed").
std::string run_failing_thread(const std::string& name = "") {
  return shoal::test::capture_stderr([&] {
    shoal::Thread t({.name = name}, [] { throw shoal::ValueError("run failed"); });
    t.start();
    t.join();
  });
}

/// Restores the default hook when the test ends, whatever happens.
struct DefaultHook {
  DefaultHook() { shoal::set_excepthook({}); }
  ~DefaultHook() { shoal::set_excepthook({}); }
};

}  // namespace

TEST_CASE("an exception escaping a Thread is printed to stderr with the thread's name", "[thread][excepthook]") {
  DefaultHook restore;
  const std::string err = run_failing_thread("excepthook thread");
  CHECK(err.find("Exception in thread excepthook thread:\n") != std::string::npos);
  CHECK(err.find("ValueError: run failed") != std::string::npos);
}

TEST_CASE("the default excepthook called without a thread names the caller's ident", "[thread][excepthook]") {
  const std::string err = shoal::test::capture_stderr([] {
    shoal::ExceptHookArgs args;
    args.exc_value = std::make_exception_ptr(shoal::ValueError("bug"));
    shoal::default_excepthook(args);
  });
  CHECK(err.find("Exception in thread " + std::to_string(shoal::get_ident()) + ":\n") != std::string::npos);
  CHECK(err.find("ValueError: bug") != std::string::npos);
}

TEST_CASE("a custom excepthook receives the exception and the Thread that raised it", "[thread][excepthook]") {
  DefaultHook restore;
  shoal::ExceptHookArgs seen;
  shoal::set_excepthook([&](const shoal::ExceptHookArgs& args) { seen = args; });
  shoal::Thread t({.name = "failing"}, [] { throw shoal::ValueError("run failed"); });
  const std::string err = shoal::test::capture_stderr([&] {
    t.start();
    t.join();
  });
  CHECK(err.empty());
  REQUIRE(seen.exc_value);
  CHECK_THROWS_WITH(std::rethrow_exception(seen.exc_value), "run failed");
  CHECK_THROWS_AS(std::rethrow_exception(seen.exc_value), shoal::ValueError);
  REQUIRE(seen.thread);
  CHECK(*seen.thread == t);
  CHECK(seen.thread_name == "failing");
  CHECK(seen.thread_ident == t.ident());
}

TEST_CASE("an excepthook that throws is reported on stderr", "[thread][excepthook]") {
  DefaultHook restore;
  shoal::set_excepthook([](const shoal::ExceptHookArgs&) { throw shoal::ValueError("threading_hook failed"); });
  const std::string err = run_failing_thread();
  CHECK(err.find("Exception in threading.excepthook:\n") != std::string::npos);
  CHECK(err.find("threading_hook failed") != std::string::npos);
}

TEST_CASE("set_excepthook returns the previous hook and an empty hook restores the default",
          "[thread][excepthook]") {
  DefaultHook restore;
  const std::string default_output = run_failing_thread("excepthook thread");
  auto previous = shoal::set_excepthook([](const shoal::ExceptHookArgs&) {
    std::fputs("Running a thread failed\n", stderr);
  });
  CHECK(previous);  // the default, as a callable
  const std::string custom_output = run_failing_thread("excepthook thread");
  shoal::set_excepthook({});
  const std::string recovered_output = run_failing_thread("excepthook thread");
  CHECK(default_output == recovered_output);
  CHECK(default_output != custom_output);
  CHECK(custom_output == "Running a thread failed\n");
}

TEST_CASE("excepthook calls the installed hook", "[thread][excepthook]") {
  DefaultHook restore;
  int calls = 0;
  shoal::set_excepthook([&](const shoal::ExceptHookArgs&) { ++calls; });
  shoal::excepthook(shoal::ExceptHookArgs{});
  CHECK(calls == 1);
}

TEST_CASE("an exception not derived from std::exception escaping a Thread is reported too",
          "[thread][excepthook]") {
  DefaultHook restore;
  const std::string err = shoal::test::capture_stderr([] {
    shoal::Thread t({.name = "odd"}, [] { throw 42; });
    t.start();
    t.join();
  });
  CHECK(err.find("Exception in thread odd:\n") != std::string::npos);
}
