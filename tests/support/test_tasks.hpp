#pragma once
// Declarations of libshoal_test_tasks.so's functions and actor, for tests that link
// test_tasks.cpp themselves (so that typed submit(&fn, ...) and spawn<Counter> work).

#include <cstdint>
#include <string>
#include <vector>

#include <shoal/codec/bytes.hpp>
#include <shoal/core/coro.hpp>

namespace shoal_test_tasks {

std::int64_t noop(std::int64_t x);
std::int64_t add(std::int64_t a, std::int64_t b);
std::int64_t square(std::int64_t x);
shoal::Coro<std::int64_t> sleep_ms(std::int64_t ms);
std::int64_t block_ms(std::int64_t ms);
std::string blob(std::int64_t n);
std::int64_t total_size(std::string a, std::string b);
shoal::Bytes echo_bytes(shoal::Bytes b);
shoal::Bytes pattern_bytes(std::int64_t n);
std::int64_t pattern_errors(shoal::Bytes b);
std::int64_t object_inode(shoal::Bytes b);
std::int64_t grow_memory(std::int64_t mb);
std::int64_t print_lines(std::string tag, std::int64_t lines, std::int64_t ms);
std::int64_t print_bytes(std::int64_t n);
std::int64_t print_then_fail_once(std::string path);
/// Byte i of pattern_bytes(n).
inline std::byte pattern_byte(std::size_t i) noexcept { return static_cast<std::byte>((i * 131 + (i >> 12)) >> 3); }

/// An actor holding a number: Counter(start), add(k) -> the new value, get().
class Counter {
 public:
  explicit Counter(std::int64_t start) : n_(start) {}
  std::int64_t add(std::int64_t k) { return n_ += k; }
  std::int64_t get() const { return n_; }

 private:
  std::int64_t n_;
};

/// An actor for restarts, names and concurrency: Tracker(start); add_slowly(k, ms) blocks
/// ms then adds; pid() says where it lives; gate(n), a coroutine, waits (up to 10 s) until
/// n calls of it are inside at once and returns how many were at most.
class Tracker {
 public:
  explicit Tracker(std::int64_t start) : n_(start) {}
  std::int64_t add_slowly(std::int64_t k, std::int64_t ms);
  std::int64_t pid();
  shoal::Coro<std::int64_t> gate(std::int64_t n);

 private:
  std::int64_t n_;
  std::int64_t inside_ = 0, most_ = 0;
};

}  // namespace shoal_test_tasks
