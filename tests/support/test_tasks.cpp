// The task library of the daemon tests (libshoal_test_tasks.so): small functions with
// predictable timing and failure, to load into workers with `shoal-worker --load`.
// Several names (add, sleep_ms, fail) are also in libshoal_examples.so: load one of the
// two into a worker, not both (the second load fails: a name registered twice).

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <shoal/codec/shm.hpp>
#include <shoal/core/coro.hpp>
#include <shoal/core/error.hpp>
#include <shoal/core/sleep.hpp>
#include <shoal/compose/gather.hpp>
#include <shoal/remote/client.hpp>
#include <shoal/remote/registry.hpp>
#include <shoal/remote/this_task.hpp>

#include "test_tasks.hpp"

namespace shoal_test_tasks {

/// `n` bytes of 'x': a result of any size.
std::string blob(std::int64_t n) { return std::string(static_cast<std::size_t>(n), 'x'); }
SHOAL_REMOTE(blob)

/// Returns its argument: large values there and back (shared memory, streams).
shoal::Bytes echo_bytes(shoal::Bytes b) { return b; }
SHOAL_REMOTE(echo_bytes)

/// `n` bytes of a pattern (pattern_byte(i)): a large Bytes result.
shoal::Bytes pattern_bytes(std::int64_t n) {
  return shoal::Bytes::build(static_cast<std::size_t>(n), [](std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = pattern_byte(i);
  });
}
SHOAL_REMOTE(pattern_bytes)

/// How many bytes of `b` differ from the pattern (0: all as pattern_bytes made them).
std::int64_t pattern_errors(shoal::Bytes b) {
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < b.size(); ++i) bad += b[i] != pattern_byte(i);
  return bad;
}
SHOAL_REMOTE(pattern_errors)

/// The inode of the shared-memory segment `b` lies in (-1: it is not in one): tasks given
/// the same stored object see the same inode, whichever worker runs them.
std::int64_t object_inode(shoal::Bytes b) {
  auto at = shoal::codec::shm::locate(b);
  struct stat st{};
  if (!at.segment || ::fstat(at.segment->fd(), &st) != 0) return -1;
  return static_cast<std::int64_t>(st.st_ino);
}
SHOAL_REMOTE(object_inode)

/// The sum of two strings' sizes: a task whose dependencies' values can be large.
std::int64_t total_size(std::string a, std::string b) { return static_cast<std::int64_t>(a.size() + b.size()); }
SHOAL_REMOTE(total_size)

/// Returns its argument: the cheapest possible task, for round-trip and throughput tests.
std::int64_t noop(std::int64_t x) { return x; }
SHOAL_REMOTE(noop)

/// a + b.
std::int64_t add(std::int64_t a, std::int64_t b) { return a + b; }
SHOAL_REMOTE(add)

/// x * x.
std::int64_t square(std::int64_t x) { return x * x; }
SHOAL_REMOTE(square)

/// A coroutine: sleeps `ms` on the worker's loop (holding no thread) and returns `ms`.
/// CancelledError when cancelled during the sleep.
shoal::Coro<std::int64_t> sleep_ms(std::int64_t ms) {
  co_await shoal::sleep(std::chrono::milliseconds(ms));
  co_return ms;
}
SHOAL_REMOTE(sleep_ms)

/// A coroutine holding a large value for `ms` (sleeping), then returning its size.
shoal::Coro<std::int64_t> hold_bytes_ms(shoal::Bytes b, std::int64_t ms) {
  co_await shoal::sleep(std::chrono::milliseconds(ms));
  co_return static_cast<std::int64_t>(b.size());
}
SHOAL_REMOTE(hold_bytes_ms)

/// A plain function that blocks its thread for `ms` (std::this_thread::sleep_for) and
/// returns `ms`: occupies a worker slot; cannot be interrupted.
std::int64_t block_ms(std::int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
SHOAL_REMOTE(block_ms)

/// Always throws shoal::ValueError(message).
std::int64_t fail(std::string message) { throw shoal::ValueError(message); }
SHOAL_REMOTE(fail)

/// Throws shoal::ValueError naming the total size of its six arguments (a task whose
/// dependencies' values together pass a frame's inline budget).
std::int64_t fail_sizes(std::string a, std::string b, std::string c, std::string d, std::string e, std::string f) {
  throw shoal::ValueError(std::to_string(a.size() + b.size() + c.size() + d.size() + e.size() + f.size()) + " bytes");
}
SHOAL_REMOTE(fail_sizes)

/// Returns `s` unchanged.
std::string echo_string(std::string s) { return s; }
SHOAL_REMOTE(echo_string)

/// The sum of `xs` (0 for an empty list).
std::int64_t sum_list(std::vector<std::int64_t> xs) {
  std::int64_t total = 0;
  for (std::int64_t x : xs) total += x;
  return total;
}
SHOAL_REMOTE(sum_list)

/// Kills the worker running it at once: std::_Exit(42), no destructors, no reply. For
/// the tests of a worker dying mid-task (retries, respawn).
[[noreturn]] void crash() { std::_Exit(42); }
SHOAL_REMOTE(crash)

/// Burns its core for `ms` without ever looking at its stop token (a plain task that
/// cancel cannot stop; cancel --force replaces its worker). Returns `ms`. When `started`
/// is not empty it first creates that file: a test then knows the task runs on a thread,
/// not merely that the coordinator assigned it.
std::int64_t burn_ms(std::string started, std::int64_t ms) {
  if (!started.empty()) std::ofstream(started) << "started\n";
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  volatile std::uint64_t spins = 0;
  while (std::chrono::steady_clock::now() < until) spins = spins + 1;
  return ms;
}
SHOAL_REMOTE(burn_ms)

/// Dies of SIGSEGV on the thread running it (as a bad pointer would): the worker's crash
/// report names this task.
void segfault() { std::raise(SIGSEGV); }
SHOAL_REMOTE(segfault)

using shoal::this_task::stop_requested;

/// A plain function that polls the task's stop flag every millisecond for up to
/// `max_ms`: true as soon as a stop is requested, false when max_ms passed first.
bool spin_until_stopped(std::int64_t max_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (stop_requested()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return stop_requested();
}
SHOAL_REMOTE(spin_until_stopped)

/// A coroutine that sleeps `ms` and returns; when cancelled during the sleep it writes
/// "cancelled\n" to the file at `path` before letting CancelledError go on, so a test can
/// see from outside the worker that the cancellation reached the coroutine.
shoal::Coro<void> marker_on_cancel(std::string path, std::int64_t ms) {
  try {
    co_await shoal::sleep(std::chrono::milliseconds(ms));
  } catch (const shoal::CancelledError&) {
    std::ofstream(path) << "cancelled\n";
    throw;
  }
}
SHOAL_REMOTE(marker_on_cancel)

/// Nested tasks: submits square(1..n) through the worker's own client and sums them.
shoal::Coro<std::int64_t> nested_sum(std::int64_t n) {
  auto& client = shoal::Client::current();
  std::vector<shoal::Future<std::int64_t>> parts;
  for (std::int64_t i = 1; i <= n; ++i) parts.push_back(client.submit<std::int64_t(std::int64_t)>("square", i));
  auto values = co_await shoal::gather(parts);
  std::int64_t sum = 0;
  for (auto v : values) sum += v;
  co_return sum;
}
SHOAL_REMOTE(nested_sum)

/// Nested, blocking: a plain task that waits on a child task's result with result().
std::int64_t nested_blocking(std::int64_t x) {
  return shoal::Client::current().submit<std::int64_t(std::int64_t)>("square", x).result() + 1;
}
SHOAL_REMOTE(nested_blocking)

/// Recursive cancel: submits n sleep_ms(60000) children and waits for them all (a plain
/// task, blocked in result()); returns how many finished.
std::int64_t fan_out(std::int64_t n) {
  auto& client = shoal::Client::current();
  std::vector<shoal::Future<std::int64_t>> children;
  for (std::int64_t i = 0; i < n; ++i)
    children.push_back(client.submit<std::int64_t(std::int64_t)>("sleep_ms", std::int64_t{60000}));
  for (auto& c : children) (void)c.result();
  return n;
}
SHOAL_REMOTE(fan_out)

/// fan_out as a coroutine task; the children are submitted from a task it creates (a
/// grandchild of the worker's task, in its context).
shoal::Coro<std::int64_t> fan_out_async(std::int64_t n) {
  auto submit_all = [](std::int64_t n) -> shoal::Coro<std::vector<shoal::Future<std::int64_t>>> {
    auto& client = shoal::Client::current();
    std::vector<shoal::Future<std::int64_t>> children;
    for (std::int64_t i = 0; i < n; ++i)
      children.push_back(client.submit<std::int64_t(std::int64_t)>("sleep_ms", std::int64_t{60000}));
    co_return children;
  };
  auto children = co_await shoal::create_task(submit_all(n)).wait();
  (void)co_await shoal::gather(children);
  co_return n;
}
SHOAL_REMOTE(fan_out_async)

/// Throws a standard exception shoal has no mapping for: callers get a RemoteError.
std::int64_t throw_std(std::string message) { throw std::out_of_range(message); }
SHOAL_REMOTE(throw_std)

/// Appends `line` to the file at `path` and returns it (to observe that a task ran).
std::int64_t append_line(std::string path, std::int64_t line) {
  std::ofstream(path, std::ios::app) << line << "\n";
  return line;
}
SHOAL_REMOTE(append_line)

/// Blocks its thread `ms`, then says where and when it ran: {pid, start, end} (wall ns),
/// to check which worker ran it and that two never overlapped.
std::vector<std::int64_t> where_when(std::int64_t ms) {
  auto wall = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::int64_t start = wall();
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return {static_cast<std::int64_t>(::getpid()), start, wall()};
}
SHOAL_REMOTE(where_when)

/// Appends a line with the wall clock (ns) to `path` at each run; fails with ValueError
/// while the file has at most `failures` lines, then returns how many runs there were.
std::int64_t flaky(std::string path, std::int64_t failures) {
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch());
  std::ofstream(path, std::ios::app) << now.count() << "\n";
  std::ifstream in(path);
  std::int64_t runs = 0;
  for (std::string line; std::getline(in, line);) ++runs;
  if (runs <= failures) throw shoal::ValueError("flaky: run " + std::to_string(runs));
  return runs;
}
SHOAL_REMOTE(flaky)

/// Allocates `mb` MiB, touches every page and keeps it for the worker's life: grows its
/// resident size (for --max-memory). Returns the MiB it holds in all.
std::int64_t grow_memory(std::int64_t mb) {
  static std::vector<std::unique_ptr<char[]>> kept;
  static std::int64_t held = 0;
  auto block = std::make_unique<char[]>(static_cast<std::size_t>(mb) << 20);
  for (std::size_t i = 0; i < (static_cast<std::size_t>(mb) << 20); i += 4096) block[i] = 1;
  kept.push_back(std::move(block));
  return held += mb;
}
SHOAL_REMOTE(grow_memory)

/// Prints `lines` lines "TAG out I" (std::cout), "TAG printf I" (printf) and "TAG err I"
/// (std::cerr) in turn, `ms` apart, flushing each (a task's captured output). Returns lines.
std::int64_t print_lines(std::string tag, std::int64_t lines, std::int64_t ms) {
  for (std::int64_t i = 0; i < lines; ++i) {
    if (i % 3 == 0) std::cout << tag << " out " << i << std::endl;
    if (i % 3 == 1) std::printf("%s printf %lld\n", tag.c_str(), static_cast<long long>(i));
    if (i % 3 == 2) std::cerr << tag << " err " << i << std::endl;
    if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  return lines;
}
SHOAL_REMOTE(print_lines)

/// Writes `n` bytes ('x', a newline every 100) to std::cerr (the daemon tests read a
/// worker's stdout only for its first line: a pipe nobody drains would stall it). Returns n.
std::int64_t print_bytes(std::int64_t n) {
  std::string line(99, 'x');
  for (std::int64_t i = 0; i < n; i += 100) std::cerr << line << '\n';
  return n;
}
SHOAL_REMOTE(print_bytes)

/// Prints "run N" (N: the runs so far, counted as lines in `path`) and fails on the first
/// run (ValueError), returning N after: a task whose retry prints too.
std::int64_t print_then_fail_once(std::string path) {
  { std::ofstream(path, std::ios::app) << "x\n"; }
  std::ifstream in(path);
  std::int64_t runs = 0;
  for (std::string line; std::getline(in, line);) ++runs;
  std::cout << "run " << runs << std::endl;
  if (runs == 1) throw shoal::ValueError("the first run fails");
  return runs;
}
SHOAL_REMOTE(print_then_fail_once)

SHOAL_ACTOR(Counter, shoal::init<std::int64_t>, &Counter::add, &Counter::get)

std::int64_t Tracker::add_slowly(std::int64_t k, std::int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return n_ += k;
}

std::int64_t Tracker::pid() { return ::getpid(); }

shoal::Coro<std::int64_t> Tracker::gate(std::int64_t n) {
  ++inside_;
  most_ = std::max(most_, inside_);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (inside_ < n && std::chrono::steady_clock::now() < until) co_await shoal::sleep(std::chrono::milliseconds(1));
  auto most = most_;
  --inside_;
  co_return most;
}

SHOAL_ACTOR(Tracker, shoal::init<std::int64_t>, &Tracker::add_slowly, &Tracker::pid, &Tracker::gate)

}  // namespace shoal_test_tasks
