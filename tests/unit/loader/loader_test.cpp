// The loader of task libraries (worker/include/shoal/worker/loader.hpp). This executable
// is linked like shoal-worker (shoal archives whole, -rdynamic), so the libraries it loads
// register into its own Registry::global().

#include <catch2/catch.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <string>
#include <tuple>
#include <vector>

#include <shoal/remote/registry.hpp>
#include <shoal/shoal.hpp>
#include <shoal/worker/loader.hpp>

#include "support/run.hpp"

namespace codec = shoal::codec;
namespace remote = shoal::remote;
using shoal::Bytes;
using shoal::worker::LoadError;
using shoal::worker::load_task_library;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

using Counts = std::map<std::string, std::int64_t>;

Bytes args(auto... a) { return codec::encode(std::make_tuple(a...)); }

/// Loads libshoal_examples.so (a no-op after the first time) and returns the entry `name`.
std::shared_ptr<const remote::FunctionEntry> example(const std::string& name) {
  load_task_library(SHOAL_EXAMPLES_LIB);
  return remote::Registry::global().get(name);
}

std::string data_file(const std::string& name) { return std::string(SHOAL_EXAMPLES_DATA_DIR) + "/" + name; }

/// The message of the LoadError that loading `path` throws ("" when it loads).
std::string load_failure(const std::string& path) {
  try {
    load_task_library(path);
  } catch (const LoadError& e) {
    CHECK(e.library() == path);
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
    return e.what();
  }
  return "";
}

/// Runs this test executable again with `test_spec` and returns its exit status: tests
/// that need a registry without libshoal_examples.so in it (the two libraries share
/// names) run in a fresh process.
int run_self(const std::string& test_spec) {
  std::string exe = std::filesystem::read_symlink("/proc/self/exe");
  std::vector<std::string> words{exe, test_spec};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

// ---- libshoal_examples.so ----

TEST_CASE("loading libshoal_examples.so registers its functions in the global registry", "[loader]") {
  auto loaded = load_task_library(SHOAL_EXAMPLES_LIB);
  auto& registry = remote::Registry::global();
  for (const char* name : {"add", "fib", "sleep_ms", "fail", "pi_chunk", "pi_reduce", "word_count", "merge_counts",
                           "top_words"})
    CHECK(registry.find(name) != nullptr);
  CHECK(registry.get("fib")->signature == "int64(int64)");
  CHECK(registry.get("add")->signature == "int64(int64,int64)");
  CHECK(registry.get("pi_reduce")->signature == "float64(list<int64>,int64)");
  CHECK(registry.get("word_count")->signature == "map<string,int64>(string)");
  CHECK(registry.get("sleep_ms")->is_coroutine);
  CHECK_FALSE(registry.get("fib")->is_coroutine);
  if (!loaded.functions.empty()) CHECK(loaded.functions.size() == 9);

  SECTION("and loading it again adds nothing") {
    auto again = load_task_library(SHOAL_EXAMPLES_LIB);
    CHECK(again.functions.empty());
    CHECK(again.actors.empty());
  }
}

TEST_CASE("fib from the loaded library computes through the registry and rejects out-of-range n", "[loader]") {
  auto fib = example("fib");
  CHECK(codec::decode<std::int64_t>(fib->invoke(codec::encode(std::tuple{std::int64_t{20}}))) == 6765);
  CHECK(codec::decode<std::int64_t>(fib->invoke(args(std::int64_t{1}))) == 1);
  CHECK_THROWS_AS(fib->invoke(args(std::int64_t{-1})), shoal::ValueError);
  CHECK_THROWS_WITH(fib->invoke(args(std::int64_t{93})), Contains("[0, 92]"));
  CHECK(codec::decode<std::int64_t>(example("add")->invoke(args(std::int64_t{2}, std::int64_t{40}))) == 42);
}

TEST_CASE("sleep_ms from the loaded library is a coroutine that returns the time slept", "[loader]") {
  auto sleep_ms = example("sleep_ms");
  const auto start = std::chrono::steady_clock::now();
  CHECK(codec::decode<std::int64_t>(sleep_ms->invoke(args(std::int64_t{20}))) == 20);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(20));

  // And on the caller's loop, through invoke_async.
  auto main = [](std::shared_ptr<const remote::FunctionEntry> e) -> shoal::Coro<std::int64_t> {
    Bytes in = codec::encode(std::tuple{std::int64_t{5}});
    codec::Reader r(in);
    Bytes out = co_await e->invoke_async(r);
    co_return codec::decode<std::int64_t>(out);
  };
  CHECK(shoal::test::run(main(sleep_ms)) == 5);
}

TEST_CASE("fail from the loaded library throws ValueError with the message given", "[loader]") {
  CHECK_THROWS_AS(example("fail")->invoke(args(std::string("boom"))), shoal::ValueError);
  CHECK_THROWS_WITH(example("fail")->invoke(args(std::string("boom"))), "boom");
}

TEST_CASE("pi_chunk is deterministic per seed and pi_reduce estimates pi", "[loader]") {
  auto chunk = example("pi_chunk");
  constexpr std::int64_t samples = 200'000;
  auto hits = [&](std::int64_t seed) { return codec::decode<std::int64_t>(chunk->invoke(args(samples, seed))); };
  const std::int64_t a = hits(1);
  CHECK(hits(1) == a);
  CHECK(hits(2) != a);
  // The standard deviation of the count is sqrt(n p (1 - p)) ~ 184: allow ~5 of them.
  CHECK(std::abs(static_cast<double>(a) - std::numbers::pi * samples / 4) < 1000);
  CHECK(hits(0) == codec::decode<std::int64_t>(chunk->invoke(args(samples, std::int64_t{0}))));
  CHECK_THROWS_AS(chunk->invoke(args(std::int64_t{-1}, std::int64_t{1})), shoal::ValueError);

  std::vector<std::int64_t> all{a, hits(2), hits(3), hits(4)};
  const double pi = codec::decode<double>(example("pi_reduce")->invoke(args(all, samples)));
  CHECK(std::abs(pi - std::numbers::pi) < 0.02);
  CHECK_THROWS_AS(example("pi_reduce")->invoke(args(std::vector<std::int64_t>{}, samples)), shoal::ValueError);
}

TEST_CASE("word_count, merge_counts and top_words count the words of the example data", "[loader]") {
  auto word_count = example("word_count");
  auto count = [&](const std::string& file) { return codec::decode<Counts>(word_count->invoke(args(data_file(file)))); };
  Counts harbour = count("harbour.txt");
  CHECK(harbour["the"] == 33);
  CHECK(harbour["harbour"] == 4);
  CHECK(harbour["night's"] == 1);  // apostrophes inside a word stay
  CHECK(harbour.count("The") == 0);  // lowercased
  std::int64_t words = 0;
  for (auto& [w, n] : harbour) words += n;
  CHECK(words == 232);

  std::vector<Counts> parts{harbour, count("orchard.txt"), count("lighthouse.txt"), count("river.txt")};
  Counts total = codec::decode<Counts>(example("merge_counts")->invoke(args(parts)));
  CHECK(total["the"] == 33 + 42 + 33 + 28);
  CHECK(total["harbour"] == 4);

  using Row = std::tuple<std::string, std::int64_t>;  // WordCount{word, count} travels as a tuple
  auto top = codec::decode<std::vector<Row>>(example("top_words")->invoke(args(total, std::int64_t{2})));
  REQUIRE(top.size() == 2);
  CHECK(top[0] == Row{"the", 136});
  CHECK(std::get<0>(top[1]) == "and");
  CHECK(example("top_words")->signature == "list<WordCount{word:string,count:int64}>(map<string,int64>,int64)");
}

TEST_CASE("word_count of a missing file throws an Error naming the path", "[loader]") {
  const std::string missing = data_file("no-such-file.txt");
  CHECK_THROWS_AS(example("word_count")->invoke(args(missing)), shoal::Error);
  CHECK_THROWS_WITH(example("word_count")->invoke(args(missing)), Contains(missing));
}

// ---- libraries the loader refuses ----

TEST_CASE("loading a missing library throws LoadError naming it", "[loader]") {
  const std::string path = "/nonexistent/libshoal_nothing.so";
  std::string message = load_failure(path);
  CHECK_THAT(message, StartsWith("cannot load " + path + ": "));
  CHECK_THAT(message, Contains("No such file or directory"));
}

TEST_CASE("loading a library with an undefined symbol throws LoadError with dlerror's cause", "[loader]") {
  const std::string path = SHOAL_FIXTURE_BAD_SYMBOL_LIB;
  std::string message = load_failure(path);
  CHECK_THAT(message, StartsWith("cannot load " + path + ": undefined symbol: shoal_missing_symbol"));
  CHECK(remote::Registry::global().find("calls_missing") == nullptr);
}

TEST_CASE("loading a library that registers a taken name for another function throws LoadError naming it",
          "[loader]") {
  auto add = example("add");
  const std::string path = SHOAL_FIXTURE_DUP_NAME_LIB;
  std::string message = load_failure(path);
  CHECK_THAT(message, StartsWith("cannot load " + path + ": "));
  CHECK_THAT(message, Contains("'add' is registered twice (int64(int64,int64) and int32(int32,int32))"));
  // The first registration stands; the library's other functions did register.
  CHECK(remote::Registry::global().get("add") == add);
  CHECK(codec::decode<std::int64_t>(add->invoke(args(std::int64_t{1}, std::int64_t{2}))) == 3);

  SECTION("and loading it again fails the same way") { CHECK(load_failure(path) == message); }
  SECTION("and a library loaded after it is not blamed for it") {
    CHECK(load_task_library(SHOAL_FIXTURE_CLEAN_LIB).functions == std::vector<std::string>{"clean_fn"});
    CHECK(codec::decode<std::int64_t>(remote::Registry::global().get("clean_fn")->invoke(args(std::int64_t{1}))) == 2);
  }
}

TEST_CASE("loading a library linked with shoal::remote throws LoadError: its own copy of shoal", "[loader]") {
  const std::string path = SHOAL_FIXTURE_OWN_COPY_LIB;
  std::string message = load_failure(path);
  CHECK_THAT(message, StartsWith(path + " contains its own copy of shoal: link it with shoal_add_task_library"));
  CHECK_THAT(message, Contains("not shoal::remote"));
}

// ---- libshoal_test_tasks.so, in a process of its own ----

TEST_CASE("libshoal_test_tasks.so loads and its functions and Counter actor work", "[loader]") {
  // It shares names (add, sleep_ms, fail) with libshoal_examples.so, loaded in this process.
  CHECK(run_self("[loader_test_tasks_child]") == 0);
}

TEST_CASE("child: libshoal_test_tasks.so registers what the daemon tests use", "[.][loader_test_tasks_child]") {
  auto loaded = load_task_library(SHOAL_TEST_TASKS_LIB);
  CHECK(loaded.functions == std::vector<std::string>{"add", "append_line", "blob", "block_ms", "burn_ms", "crash",
                                                      "echo_bytes", "echo_string", "fail", "fail_sizes", "fan_out", "fan_out_async", "flaky", "grow_memory", "hold_bytes_ms",
                                                      "marker_on_cancel", "nested_blocking", "nested_sum", "noop",
                                                      "object_inode", "pattern_bytes", "pattern_errors", "print_bytes", "print_lines", "print_then_fail_once", "segfault",
                                                      "sleep_ms", "spin_until_stopped", "square", "sum_list",
                                                      "throw_std", "total_size", "where_when"});
  CHECK(loaded.actors == std::vector<std::string>{"Counter", "Tracker"});
  auto& registry = remote::Registry::global();
  auto call = [&](const char* name, const Bytes& a) { return registry.get(name)->invoke(a); };
  CHECK(codec::decode<std::int64_t>(call("noop", args(std::int64_t{7}))) == 7);
  CHECK(codec::decode<std::int64_t>(call("add", args(std::int64_t{2}, std::int64_t{3}))) == 5);
  CHECK(codec::decode<std::int64_t>(call("square", args(std::int64_t{9}))) == 81);
  CHECK(codec::decode<std::int64_t>(call("sleep_ms", args(std::int64_t{2}))) == 2);
  CHECK(codec::decode<std::int64_t>(call("block_ms", args(std::int64_t{2}))) == 2);
  CHECK_THROWS_WITH(call("fail", args(std::string("nope"))), "nope");
  CHECK(codec::decode<std::string>(call("echo_string", args(std::string("hi")))) == "hi");
  CHECK(codec::decode<std::int64_t>(call("sum_list", args(std::vector<std::int64_t>{1, 2, 3}))) == 6);
  CHECK(codec::decode<bool>(call("spin_until_stopped", args(std::int64_t{3}))) == false);
  CHECK(registry.get("crash")->signature == "none()");
  CHECK(registry.get("marker_on_cancel")->signature == "none(string,int64)");
  CHECK(registry.get("marker_on_cancel")->is_coroutine);

  auto counter = remote::ActorInstance::create(registry.get_actor("Counter"), args(std::int64_t{10}));
  CHECK(codec::decode<std::int64_t>(counter.invoke("add", args(std::int64_t{5}))) == 15);
  CHECK(codec::decode<std::int64_t>(counter.invoke("get", args())) == 15);
}

TEST_CASE("child: marker_on_cancel writes its marker file when cancelled", "[.][loader_test_tasks_child]") {
  load_task_library(SHOAL_TEST_TASKS_LIB);
  const std::string marker =
      (std::filesystem::temp_directory_path() / ("shoal-marker-" + std::to_string(getpid()))).string();
  std::filesystem::remove(marker);
  auto main = [](std::string path) -> shoal::Coro<bool> {
    Bytes in = codec::encode(std::tuple{path, std::int64_t{10'000}});
    codec::Reader r(in);
    auto task = shoal::create_task(remote::Registry::global().get("marker_on_cancel")->invoke_async(r));
    co_await shoal::sleep(std::chrono::milliseconds(20));
    task.cancel();
    bool cancelled = false;
    try {
      co_await task.wait();
    } catch (const shoal::CancelledError&) {
      cancelled = true;
    }
    co_return cancelled;
  };
  CHECK(shoal::test::run(main(marker)));
  std::ifstream in(marker);
  std::string line;
  CHECK(std::getline(in, line));
  CHECK(line == "cancelled");
  std::filesystem::remove(marker);
}
