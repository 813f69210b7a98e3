#pragma once
/// \file
/// shoal::mp::Queue<T>: Python's multiprocessing.Queue. A FIFO between processes: a ring
/// buffer in shared memory (a memfd), items encoded with shoal's codec. Producers and
/// consumers in any process that maps it; blocking put()/get() with timeouts, as
/// shoal::Queue.
///
///     shoal::mp::Queue<std::string> q(100);           // at most 100 items waiting
///     // hand q.fd() to a child (SpawnOptions::fds, or fork); there:
///     auto q = shoal::mp::Queue<std::string>::attach(3);
///     q.put("done");                                   // child
///     std::string s = q.get(std::chrono::seconds(5));  // parent; Empty after 5 s
///
/// A process that dies at any point, even while it holds the queue's lock, leaves the
/// queue usable: the lock is a robust mutex and an item counts only once it is whole.
/// Unlike Python's, put() writes the item before it returns (there is no feeder thread),
/// and items are not pickled but codec-encoded: T must be Encodable and Decodable.

#include <chrono>
#include <cstddef>
#include <optional>
#include <utility>

#include "shoal/cluster/detail/shm_ring.hpp"
#include "shoal/codec/codec.hpp"
#include "shoal/core/error.hpp"
#include "shoal/sync/deadline.hpp"

namespace shoal::mp {

namespace detail {
struct QueueTestAccess;
}  // namespace detail

/// Sizes of a new mp::Queue.
struct QueueOptions {
  /// The ring's size. Each item takes its encoded size plus 8 bytes; an item bigger than
  /// the ring is a ValueError. The memory is touched only as items pass through it.
  std::size_t buffer_bytes = std::size_t{8} << 20;
};

/// A process-shared FIFO queue of T (Python's multiprocessing.Queue). Move-only; each
/// object is one mapping of the shared ring, unmapped by its destructor (the ring lives
/// while any process maps it). Thread-safe: threads of one process may share an object.
template <typename T>
  requires codec::Encodable<T> && codec::Decodable<T>
class Queue {
 public:
  using value_type = T;

  /// A new queue holding at most `maxsize` items (0 or below: bounded only by the ring's
  /// bytes). shoal::Error when the shared memory cannot be made.
  explicit Queue(std::ptrdiff_t maxsize = 0, QueueOptions options = {})
      : ring_(detail::ShmRing::create(options.buffer_bytes, maxsize, type_hash(), codec::type_schema<T>())) {}

  /// Maps the queue whose memfd is `fd` (inherited from the process that made it; this
  /// process keeps its own `fd`, which attach duplicates). shoal::Error when `fd` is not
  /// an mp::Queue of this version and build; TypeMismatch when its items are not T.
  static Queue attach(int fd) {
    return Queue(detail::ShmRing::attach(fd, type_hash(), codec::type_schema<T>()));
  }

  Queue(Queue&&) noexcept = default;
  Queue& operator=(Queue&&) noexcept = default;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  ~Queue() = default;

  /// Puts `item`, blocking while the queue is full (maxsize items, or too few free bytes)
  /// for at most `timeout` (nullopt: no bound); Full when it passed. With block=false,
  /// Full at once (the timeout is ignored, as in Python). ValueError for a negative
  /// timeout, an item bigger than the ring, or after close().
  void put(const T& item, bool block = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    const Bytes b = codec::encode(item);
    if (!ring_.put(b.span(), wait_mode(block, timeout), deadline(block, timeout))) throw Full();
  }
  /// put(item, true, timeout), for any duration type.
  template <typename Rep, typename Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    put(item, true, checked(timeout));
  }
  /// put(item, false).
  void put_nowait(const T& item) { put(item, false); }

  /// Removes and returns the oldest item, blocking while the queue is empty for at most
  /// `timeout` (nullopt: no bound); Empty when it passed. With block=false, Empty at once.
  /// ValueError for a negative timeout or after close(); the codec's DecodeError or
  /// TypeMismatch when the bytes are not a T (the item is gone then).
  T get(bool block = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    std::optional<Bytes> b = ring_.get(wait_mode(block, timeout), deadline(block, timeout));
    if (!b) throw Empty();
    return codec::decode<T>(*b);
  }
  /// get(true, timeout), for any duration type.
  template <typename Rep, typename Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return get(true, checked(timeout));
  }
  /// get(false).
  T get_nowait() { return get(false); }

  /// The number of items (stale when it returns, as in Python).
  [[nodiscard]] std::size_t qsize() const { return ring_.qsize(); }
  /// qsize() == 0.
  [[nodiscard]] bool empty() const { return qsize() == 0; }
  /// True when bounded and qsize() >= maxsize(). An unbounded queue is never full(), even
  /// when its ring has no room for the next item.
  [[nodiscard]] bool full() const { return ring_.full(); }
  /// The bound given at creation; 0 means unbounded.
  [[nodiscard]] std::ptrdiff_t maxsize() const noexcept { return ring_.maxsize(); }

  /// Python's close(): this process is done with this object. Later put() and get() on it
  /// raise ValueError, and calls of it blocked in other threads wake up and raise too.
  /// Other processes, and other objects attached to the same ring, are not affected:
  /// items already put stay readable there. The mapping is kept until destruction.
  void close() noexcept { ring_.close(); }

  /// The queue's memfd (CLOEXEC), owned by this object: pass it to a child (SpawnOptions::
  /// fds, or fork) which calls attach() on its number.
  [[nodiscard]] int fd() const noexcept { return ring_.fd(); }

 private:
  friend struct detail::QueueTestAccess;
  explicit Queue(detail::ShmRing ring) : ring_(std::move(ring)) {}

  static std::uint64_t type_hash() { return detail::fnv1a(codec::type_schema<T>()); }

  template <typename Rep, typename Period>
  static std::chrono::nanoseconds checked(std::chrono::duration<Rep, Period> timeout) {
    if (shoal::detail::is_negative(timeout)) throw ValueError("'timeout' must be a non-negative number");
    return shoal::detail::saturate_ns(timeout);
  }
  static detail::ShmRing::Wait wait_mode(bool block, const std::optional<std::chrono::nanoseconds>& timeout) {
    if (!block) return detail::ShmRing::Wait::no;
    if (!timeout) return detail::ShmRing::Wait::forever;
    if (*timeout < std::chrono::nanoseconds::zero()) throw ValueError("'timeout' must be a non-negative number");
    return detail::ShmRing::Wait::until;
  }
  static detail::ShmRing::TimePoint deadline(bool block, const std::optional<std::chrono::nanoseconds>& timeout) {
    if (!block || !timeout) return {};
    return shoal::detail::deadline_after(*timeout);
  }

  detail::ShmRing ring_;
};

namespace detail {
/// Reaches a queue's ring from the tests (lock_for_test, put_and_die_for_test).
struct QueueTestAccess {
  template <typename T>
  static ShmRing& ring(Queue<T>& q) noexcept {
    return q.ring_;
  }
};
}  // namespace detail

}  // namespace shoal::mp
