#include "shoal/cluster/detail/shm_ring.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>
#include <utility>

#include "shoal/core/error.hpp"

namespace shoal::mp::detail {

namespace {

constexpr std::uint64_t kMagic = 0x5155514d2d4c4f53ull;  // "SOL-MQUQ" little-endian, arbitrary
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kPrefix = sizeof(std::uint64_t);     // a record's length prefix
constexpr std::size_t kMinCapacity = 64;

std::string errno_text(int err) { return std::generic_category().message(err); }

[[noreturn]] void sys_fail(const std::string& what, int err) {
  throw Error("mp::Queue: " + what + ": " + errno_text(err));
}

timespec to_timespec(ShmRing::TimePoint t) noexcept {
  // steady_clock is CLOCK_MONOTONIC on Linux, the clock of FUTEX_WAIT_BITSET.
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace

/// The start of the mapping. Everything below `mu` is guarded by it.
struct ShmRing::Header {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t header_size;  // sizeof(Header): a build with another layout is refused
  std::uint64_t capacity;     // ring bytes, which start at ring_offset()
  std::int64_t maxsize;
  std::uint64_t type_hash;
  char type_name[112];        // for error messages, NUL-terminated (truncated)
  pthread_mutex_t mu;  // robust and process-shared
  // Futex words, bumped under `mu` each time the ring gains an item (not_empty) or loses
  // one (not_full), and on a repair. Not condition variables: glibc's process-shared
  // pthread_cond_t keeps per-waiter state, and a waiter killed inside pthread_cond_wait
  // makes a later pthread_cond_broadcast wait for it forever (glibc 2.36). A futex waiter
  // leaves nothing behind.
  std::uint32_t not_empty;
  std::uint32_t not_full;
  // Byte counters that only grow (mod 2^64); a record starts at `head % capacity`.
  // Invariant: tail - head <= capacity, and [head, tail) is a sequence of whole records.
  // A put writes its record past tail and *then* stores tail, the commit point; count
  // follows. A get copies the record out, *then* stores head. A process that dies in
  // between leaves either no record or a whole one: repair() recounts.
  std::uint64_t head;
  std::uint64_t tail;
  std::uint64_t count;
  std::uint32_t getters_waiting;  // includes waiters that died while waiting
  std::uint32_t putters_waiting;
};

namespace {

constexpr std::size_t ring_offset() noexcept { return (sizeof(ShmRing::Header) + 63) / 64 * 64; }

/// Copies `n` bytes of the ring from byte counter `pos`, wrapping at `cap`.
void copy_out(const std::byte* ring, std::uint64_t cap, std::uint64_t pos, void* dst, std::size_t n) {
  const std::size_t off = pos % cap;
  const std::size_t first = std::min<std::size_t>(n, cap - off);
  std::memcpy(dst, ring + off, first);
  std::memcpy(static_cast<std::byte*>(dst) + first, ring, n - first);
}

/// Copies `n` bytes into the ring at byte counter `pos`, wrapping at `cap`.
void copy_in(std::byte* ring, std::uint64_t cap, std::uint64_t pos, const void* src, std::size_t n) {
  const std::size_t off = pos % cap;
  const std::size_t first = std::min<std::size_t>(n, cap - off);
  std::memcpy(ring + off, src, first);
  std::memcpy(ring, static_cast<const std::byte*>(src) + first, n - first);
}

std::atomic_ref<std::uint32_t> word(std::uint32_t& w) noexcept { return std::atomic_ref<std::uint32_t>(w); }

/// Bumps a futex word (the caller wakes its waiters).
void bump(std::uint32_t& w) noexcept { word(w).fetch_add(1, std::memory_order_seq_cst); }

/// Wakes every process waiting on `w` (shared futex: no FUTEX_PRIVATE_FLAG).
void wake_all(std::uint32_t& w) noexcept { ::syscall(SYS_futex, &w, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0); }

/// Sleeps while `w` == `seen`, until a wake, a signal or the absolute CLOCK_MONOTONIC
/// time `abs` (nullptr: none). Every outcome returns: the caller re-checks its condition.
void wait_while(std::uint32_t& w, std::uint32_t seen, const timespec* abs) noexcept {
  ::syscall(SYS_futex, &w, FUTEX_WAIT_BITSET, seen, abs, nullptr, FUTEX_BITSET_MATCH_ANY);
}

}  // namespace

/// Holds the robust mutex; repairs the ring when the previous owner died holding it, and
/// wakes every waiter after such a repair (the dead owner may have owed them a wakeup).
class ShmRing::Lock {
 public:
  explicit Lock(Header* h) : h_(h) { relock(); }
  ~Lock() {
    if (held_) unlock();
    if (repaired_) {
      wake_all(h_->not_empty);
      wake_all(h_->not_full);
    }
  }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  void unlock() noexcept {
    pthread_mutex_unlock(&h_->mu);
    held_ = false;
  }
  void relock() {
    const int r = pthread_mutex_lock(&h_->mu);
    if (r == 0) {
      held_ = true;
    } else if (r == EOWNERDEAD) {
      // We own the mutex, but its last owner died inside the critical section.
      held_ = true;
      repair();
      bump(h_->not_empty);
      bump(h_->not_full);
      pthread_mutex_consistent(&h_->mu);
      repaired_ = true;
    } else {
      sys_fail("cannot lock the queue", r);
    }
  }

 private:
  /// Recounts the records between head and tail. Never finds a torn record (see Header),
  /// but a ring whose counters make no sense is emptied rather than trusted.
  void repair() noexcept {
    const std::uint64_t cap = h_->capacity;
    std::uint64_t pos = h_->head, n = 0;
    const std::uint64_t tail = h_->tail;
    const auto* ring = reinterpret_cast<const std::byte*>(h_) + ring_offset();
    bool sound = tail - pos <= cap;
    while (sound && pos != tail) {
      if (tail - pos < kPrefix) {
        sound = false;
        break;
      }
      std::uint64_t len;
      copy_out(ring, cap, pos, &len, kPrefix);
      if (len > tail - pos - kPrefix) {
        sound = false;
        break;
      }
      pos += kPrefix + len;
      ++n;
    }
    if (!sound) {
      h_->head = h_->tail;
      n = 0;
    }
    h_->count = n;
  }

 private:
  Header* h_;
  bool held_ = false;
  bool repaired_ = false;
};

// ---- construction -----------------------------------------------------------------------

ShmRing::ShmRing(int fd, void* base, std::size_t map_size) noexcept
    : fd_(fd), base_(base), map_size_(map_size) {}

ShmRing::ShmRing(ShmRing&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      base_(std::exchange(o.base_, nullptr)),
      map_size_(std::exchange(o.map_size_, 0)),
      closed_(o.closed_.load()) {}

ShmRing& ShmRing::operator=(ShmRing&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    base_ = std::exchange(o.base_, nullptr);
    map_size_ = std::exchange(o.map_size_, 0);
    closed_.store(o.closed_.load());
  }
  return *this;
}

ShmRing::~ShmRing() { reset(); }

void ShmRing::reset() noexcept {
  if (base_) ::munmap(base_, map_size_);
  if (fd_ >= 0) ::close(fd_);
  base_ = nullptr;
  fd_ = -1;
}

ShmRing ShmRing::create(std::size_t capacity, std::ptrdiff_t maxsize, std::uint64_t type_hash,
                        std::string_view type_name) {
  if (capacity < kMinCapacity)
    throw ValueError("mp::Queue: buffer_bytes must be at least " + std::to_string(kMinCapacity) + ", not " +
                     std::to_string(capacity));
  const std::size_t size = ring_offset() + capacity;
  int fd = ::memfd_create("shoal-mp-queue", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) sys_fail("memfd_create", errno);
  if (::ftruncate(fd, static_cast<off_t>(size)) < 0) {
    const int e = errno;
    ::close(fd);
    sys_fail("cannot size the memfd to " + std::to_string(size) + " bytes", e);
  }
  // Sealed size: no process can truncate it under another's mapping (SIGBUS).
  ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    sys_fail("mmap", e);
  }
  ShmRing ring(fd, base, size);  // owns fd and mapping from here

  auto* h = static_cast<Header*>(base);  // zero-filled by the kernel
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  int r = pthread_mutex_init(&h->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  if (r) sys_fail("pthread_mutex_init", r);

  h->version = kVersion;
  h->header_size = sizeof(Header);
  h->capacity = capacity;
  h->maxsize = maxsize > 0 ? maxsize : 0;
  h->type_hash = type_hash;
  const std::size_t n = std::min(type_name.size(), sizeof h->type_name - 1);
  std::memcpy(h->type_name, type_name.data(), n);
  h->magic = kMagic;  // last: a half-built header never validates
  return ring;
}

ShmRing ShmRing::attach(int fd, std::uint64_t type_hash, std::string_view type_name) {
  struct stat st;
  if (::fstat(fd, &st) < 0) sys_fail("cannot attach fd " + std::to_string(fd), errno);
  const std::string what = "mp::Queue: fd " + std::to_string(fd) + " is not a queue";
  if (!S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) < ring_offset() + kMinCapacity)
    throw Error(what + " (" + std::to_string(st.st_size) + " bytes)");
  const auto size = static_cast<std::size_t>(st.st_size);
  int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (own < 0) sys_fail("cannot attach fd " + std::to_string(fd), errno);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, own, 0);
  if (base == MAP_FAILED) {
    const int e = errno;
    ::close(own);
    sys_fail("cannot map fd " + std::to_string(fd), e);
  }
  ShmRing ring(own, base, size);
  const auto* h = static_cast<const Header*>(base);
  if (h->magic != kMagic) throw Error(what + " (bad magic)");
  if (h->version != kVersion)
    throw Error(what + " of this version (version " + std::to_string(h->version) + ", expected " +
                std::to_string(kVersion) + ")");
  if (h->header_size != sizeof(Header) || h->capacity + ring_offset() != size || h->maxsize < 0)
    throw Error(what + " of this build (its header or sizes differ)");
  if (h->type_hash != type_hash) {
    std::string theirs(h->type_name, strnlen(h->type_name, sizeof h->type_name));
    throw TypeMismatch("mp::Queue: fd " + std::to_string(fd) + " is a queue of " + theirs + ", attached as " +
                       std::string(type_name));
  }
  return ring;
}

// ---- operations -------------------------------------------------------------------------

void ShmRing::check_open() const {
  if (closed()) throw ValueError("mp::Queue: the queue is closed");
}

bool ShmRing::put(std::span<const std::byte> item, Wait wait, TimePoint deadline) {
  auto* h = static_cast<Header*>(base_);
  const std::uint64_t cap = h->capacity;
  const std::uint64_t need = kPrefix + item.size();
  if (item.size() > cap || need > cap)
    throw ValueError("mp::Queue: an item of " + std::to_string(item.size()) + " bytes does not fit in a ring of " +
                     std::to_string(cap) + " bytes (8 of them per item are its length; see QueueOptions::buffer_bytes)");
  check_open();
  bool wake;
  {
    Lock lock(h);
    for (;;) {
      const bool room = cap - (h->tail - h->head) >= need &&
                        (h->maxsize == 0 || h->count < static_cast<std::uint64_t>(h->maxsize));
      if (room) break;
      if (wait == Wait::no) return false;
      if (wait == Wait::until && deadline != TimePoint::max() && shoal::detail::SteadyClock::now() >= deadline)
        return false;
      // A timeout needs no handling of its own: the deadline check above ends the loop.
      wait_for_change(lock, h->not_full, h->putters_waiting, wait, deadline);
    }
    auto* ring = static_cast<std::byte*>(base_) + ring_offset();
    const std::uint64_t len = item.size();
    copy_in(ring, cap, h->tail, &len, kPrefix);
    copy_in(ring, cap, h->tail + kPrefix, item.data(), item.size());
    h->tail += need;  // the commit point (see Header)
    ++h->count;
    bump(h->not_empty);
    wake = h->getters_waiting > 0;
  }
  // Every getter, not one: a woken waiter that then dies, times out or finds its handle
  // closed would swallow a single wakeup. TODO(perf): a herd when many getters wait.
  if (wake) wake_all(h->not_empty);
  return true;
}

std::optional<Bytes> ShmRing::get(Wait wait, TimePoint deadline) {
  auto* h = static_cast<Header*>(base_);
  check_open();
  Bytes out;
  bool wake;
  {
    Lock lock(h);
    while (h->count == 0) {
      if (wait == Wait::no) return std::nullopt;
      if (wait == Wait::until && deadline != TimePoint::max() && shoal::detail::SteadyClock::now() >= deadline)
        return std::nullopt;
      wait_for_change(lock, h->not_empty, h->getters_waiting, wait, deadline);
    }
    const std::uint64_t cap = h->capacity;
    const auto* ring = static_cast<const std::byte*>(base_) + ring_offset();
    std::uint64_t len;
    copy_out(ring, cap, h->head, &len, kPrefix);
    out = Bytes::build(len, [&](std::span<std::byte> dst) {
      copy_out(ring, cap, h->head + kPrefix, dst.data(), dst.size());
    });
    h->head += kPrefix + len;  // the commit point of a get
    --h->count;
    bump(h->not_full);
    wake = h->putters_waiting > 0;
  }
  if (wake) wake_all(h->not_full);
  return out;
}

std::size_t ShmRing::qsize() const {
  auto* h = static_cast<Header*>(base_);
  Lock lock(h);
  return h->count;
}

bool ShmRing::full() const {
  auto* h = static_cast<Header*>(base_);
  Lock lock(h);
  return h->maxsize > 0 && h->count >= static_cast<std::uint64_t>(h->maxsize);
}

std::ptrdiff_t ShmRing::maxsize() const noexcept { return static_cast<const Header*>(base_)->maxsize; }

std::size_t ShmRing::capacity() const noexcept { return static_cast<const Header*>(base_)->capacity; }

void ShmRing::close() noexcept {
  if (closed_.exchange(true, std::memory_order_seq_cst) || !base_) return;
  // After closed_: a waiter that read the word before this bump is woken (or does not
  // sleep), one that reads it after sees closed_ (see wait_for_change).
  auto* h = static_cast<Header*>(base_);
  bump(h->not_empty);
  bump(h->not_full);
  wake_all(h->not_empty);
  wake_all(h->not_full);
}

void ShmRing::wait_for_change(Lock& lock, std::uint32_t& w, std::uint32_t& waiters, Wait mode,
                              TimePoint deadline) {
  const std::uint32_t seen = word(w).load(std::memory_order_seq_cst);
  check_open();  // after reading `seen`: a close() from here on changes the word
  ++waiters;
  lock.unlock();
  timespec ts{};
  const bool bounded = mode == Wait::until && deadline != TimePoint::max();
  if (bounded) ts = to_timespec(deadline);
  wait_while(w, seen, bounded ? &ts : nullptr);
  lock.relock();  // throws only on a broken mutex; `waiters` then stays high, which is harmless
  --waiters;
  check_open();
}

// ---- test hooks -------------------------------------------------------------------------

void ShmRing::lock_for_test() {
  auto* h = static_cast<Header*>(base_);
  const int r = pthread_mutex_lock(&h->mu);
  if (r == EOWNERDEAD) pthread_mutex_consistent(&h->mu);
}

void ShmRing::put_and_die_for_test(std::span<const std::byte> item, CrashPoint at) {
  auto* h = static_cast<Header*>(base_);
  lock_for_test();
  const std::uint64_t cap = h->capacity;
  auto* ring = static_cast<std::byte*>(base_) + ring_offset();
  const std::uint64_t len = item.size();
  copy_in(ring, cap, h->tail, &len, kPrefix);
  copy_in(ring, cap, h->tail + kPrefix, item.data(), item.size());
  if (at == CrashPoint::after_tail) h->tail += kPrefix + len;  // committed, not counted
  ::raise(SIGKILL);
  ::_exit(127);  // not reached
}

std::uint32_t ShmRing::getters_waiting_for_test() const {
  auto* h = static_cast<Header*>(base_);
  Lock lock(h);
  return h->getters_waiting;
}

}  // namespace shoal::mp::detail
