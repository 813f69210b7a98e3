#pragma once
/// \file
/// ShmRing: the untyped core of shoal::mp::Queue (internal to shoal). A ring of
/// length-prefixed byte records in a shared memfd mapping, guarded by a robust,
/// process-shared mutex, with two futex words to wait on (not condition variables: see
/// Header in shm_ring.cpp).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "shoal/codec/bytes.hpp"
#include "shoal/sync/deadline.hpp"

namespace shoal::mp::detail {

/// One mapping of a queue's memfd. Move-only; unmaps and closes its fd when destroyed
/// (the memory lives on while another process maps it).
class ShmRing {
 public:
  enum class Wait { no, forever, until };
  /// The shared layout at the start of the mapping (defined in shm_ring.cpp).
  struct Header;
  using TimePoint = shoal::detail::SteadyClock::time_point;

  /// A new ring of `capacity` bytes holding at most `maxsize` records (<= 0: no bound
  /// but the bytes). `type_hash` and `type_name` identify the item type for attach().
  /// shoal::Error when the memfd cannot be made; ValueError for a capacity below 64.
  static ShmRing create(std::size_t capacity, std::ptrdiff_t maxsize, std::uint64_t type_hash,
                        std::string_view type_name);
  /// Maps the ring in `fd` (which the caller keeps: it is duplicated). shoal::Error when
  /// `fd` is not such a ring (magic, version, layout, sizes); TypeMismatch when it was
  /// created for another item type.
  static ShmRing attach(int fd, std::uint64_t type_hash, std::string_view type_name);

  ShmRing(ShmRing&& other) noexcept;
  ShmRing& operator=(ShmRing&& other) noexcept;
  ShmRing(const ShmRing&) = delete;
  ShmRing& operator=(const ShmRing&) = delete;
  ~ShmRing();

  /// Appends one record. False when there was no room (wait == no, or the deadline
  /// passed). ValueError when the record can never fit, or this handle is closed.
  bool put(std::span<const std::byte> item, Wait wait, TimePoint deadline);
  /// Removes the oldest record; nullopt when there was none (wait == no, or the deadline
  /// passed). ValueError when this handle is closed.
  std::optional<Bytes> get(Wait wait, TimePoint deadline);

  /// Records in the ring.
  [[nodiscard]] std::size_t qsize() const;
  /// True when maxsize() > 0 and qsize() >= maxsize().
  [[nodiscard]] bool full() const;
  /// The record bound (<= 0: none).
  [[nodiscard]] std::ptrdiff_t maxsize() const noexcept;
  /// The ring's size in bytes; a record takes 8 bytes more than its payload.
  [[nodiscard]] std::size_t capacity() const noexcept;
  /// The memfd (CLOEXEC), owned by this object.
  [[nodiscard]] int fd() const noexcept { return fd_; }

  /// Makes later put()/get() through this handle throw ValueError, and wakes this
  /// handle's blocked callers so that they do too. Other handles are not affected.
  void close() noexcept;
  [[nodiscard]] bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // ---- test hooks: simulate a process that dies inside the critical section ----------
  /// Takes the lock and returns without releasing it (the caller then dies).
  void lock_for_test();
  /// Where put_and_die_for_test() stops.
  enum class CrashPoint { after_data, after_tail };
  /// Runs put() up to `at` under the lock, then SIGKILLs the calling process.
  [[noreturn]] void put_and_die_for_test(std::span<const std::byte> item, CrashPoint at);
  /// Callers blocked in get() (dead ones included), read under the lock.
  [[nodiscard]] std::uint32_t getters_waiting_for_test() const;

 private:
  class Lock;
  ShmRing(int fd, void* base, std::size_t map_size) noexcept;
  void reset() noexcept;
  void check_open() const;
  /// Releases `lock`, sleeps until futex word `w` changes (or `deadline` with mode until),
  /// and takes `lock` again; counts itself in `waiters` meanwhile. ValueError once closed.
  void wait_for_change(Lock& lock, std::uint32_t& w, std::uint32_t& waiters, Wait mode, TimePoint deadline);

  int fd_ = -1;
  void* base_ = nullptr;
  std::size_t map_size_ = 0;
  std::atomic<bool> closed_{false};
};

/// FNV-1a of `s`: a hash that is the same in every process and build.
constexpr std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace shoal::mp::detail
