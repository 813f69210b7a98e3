#include "shoal/codec/shm.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace shoal::codec::shm {

namespace {

constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

struct Registry {
  std::mutex mu;
  std::map<const std::byte*, std::weak_ptr<const Segment>, std::less<>> live;  // by first byte
  // Adopted segments by the memfd's identity: the same object passed again (a put read by
  // many tasks) maps once, and pages already faulted in stay so.
  std::map<std::pair<dev_t, ino_t>, std::weak_ptr<const Segment>> adopted;
};

Registry& registry() {
  static auto* r = new Registry;  // never destroyed: segments may outlive static destruction
  return *r;
}

std::atomic<std::uint64_t> g_live_bytes{0}, g_created{0}, g_adopted{0};

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

[[noreturn]] void fail(const char* what) {
  int e = errno;
  bool short_of_memory = e == ENOMEM || e == ENOSPC || e == EFBIG || e == EMFILE || e == ENFILE;
  throw Error("shared memory: " + errno_text(what), short_of_memory ? ErrorKind::overloaded : ErrorKind::failed);
}

std::shared_ptr<const Segment> map_sealed(int fd, std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    ::close(fd);
    errno = e;
    fail("mmap");
  }
  auto seg = std::make_shared<Segment>(fd, static_cast<const std::byte*>(p), size);
  auto& r = registry();
  {
    std::lock_guard lock(r.mu);
    r.live[seg->data()] = seg;
  }
  g_live_bytes.fetch_add(size, std::memory_order_relaxed);
  return seg;
}

}  // namespace

Segment::~Segment() {
  {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    r.live.erase(data_);
  }
  g_live_bytes.fetch_sub(size_, std::memory_order_relaxed);
  ::munmap(const_cast<std::byte*>(data_), size_);
  ::close(fd_);
}

std::shared_ptr<const Segment> Segment::adopt(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ValueError("a shared-memory value that is not a regular file");
  }
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & kSeals) != kSeals) {
    ::close(fd);
    throw ValueError("a shared-memory value that is not sealed (its sender could change or shrink it)");
  }
  if (st.st_size <= 0) {
    ::close(fd);
    throw ValueError("an empty shared-memory value");
  }
  auto key = std::make_pair(st.st_dev, st.st_ino);
  auto& r = registry();
  {
    std::lock_guard lock(r.mu);
    if (auto it = r.adopted.find(key); it != r.adopted.end()) {
      if (auto seg = it->second.lock(); seg && seg->size() == static_cast<std::size_t>(st.st_size)) {
        ::close(fd);  // mapped already (sealed: the same bytes)
        return seg;
      }
      r.adopted.erase(it);
    }
    // Forget the ones gone (a cheap sweep, bounded by what is adopted at once).
    if (r.adopted.size() > 64)
      std::erase_if(r.adopted, [](const auto& kv) { return kv.second.expired(); });
  }
  auto seg = map_sealed(fd, static_cast<std::size_t>(st.st_size));
  {
    std::lock_guard lock(r.mu);
    r.adopted[key] = seg;
  }
  g_adopted.fetch_add(1, std::memory_order_relaxed);
  return seg;
}

std::shared_ptr<const Segment> Segment::copy_of(std::span<const std::byte> data) {
  SegmentWriter w(data.size());
  w.write(data);
  return w.finish();
}

Bytes Segment::bytes(std::uint64_t offset, std::uint64_t size) const {
  if (offset > size_ || size > size_ - offset)
    throw ValueError("a shared-memory value of " + std::to_string(size) + " bytes at offset " + std::to_string(offset) +
                     " is outside its segment of " + std::to_string(size_) + " bytes");
  return Bytes::alias(shared_from_this(), data_ + offset, static_cast<std::size_t>(size));
}

Location locate(const std::byte* data, std::size_t size) {
  if (!data || size < kSharedAtBytes) return {};
  auto& r = registry();
  std::shared_ptr<const Segment> seg;
  {
    std::lock_guard lock(r.mu);
    auto it = r.live.upper_bound(data);  // the first segment starting after data
    if (it == r.live.begin()) return {};
    seg = std::prev(it)->second.lock();
  }
  if (!seg || data < seg->data() || data + size > seg->data() + seg->size()) return {};
  return {seg, static_cast<std::size_t>(data - seg->data())};
}

Location locate(const Bytes& b) { return locate(b.data(), b.size()); }

std::shared_ptr<const Segment> segment_of(const Bytes& b) {
  auto at = locate(b);
  if (!at.segment || at.offset != 0 || at.segment->size() != b.size()) return nullptr;
  return at.segment;
}

std::uint64_t live_bytes() noexcept { return g_live_bytes.load(std::memory_order_relaxed); }
std::uint64_t segments_created() noexcept { return g_created.load(std::memory_order_relaxed); }
std::uint64_t segments_adopted() noexcept { return g_adopted.load(std::memory_order_relaxed); }

SegmentWriter::SegmentWriter(std::size_t size_hint) {
  fd_ = ::memfd_create("shoal-value", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd_ < 0) fail("memfd_create");
  if (size_hint && ::ftruncate(fd_, static_cast<off_t>(size_hint)) != 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    errno = e;
    fail("ftruncate");
  }
}

SegmentWriter::~SegmentWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void SegmentWriter::write(std::span<const std::byte> data) {
  const auto* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    auto n = ::pwrite(fd_, p, left, static_cast<off_t>(size_));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("pwrite");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
    size_ += static_cast<std::size_t>(n);
  }
}

std::shared_ptr<const Segment> SegmentWriter::finish() {
  if (size_ == 0) throw ValueError("an empty shared-memory value");
  // The reserve may have been larger than what was written.
  if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) fail("ftruncate");
  // EBUSY: the kernel still sees extra references on pages just written (pages pwrite
  // filled can sit in another CPU's LRU batch for a moment, and the seal refuses while they
  // do; seen once every few runs of bench_wire_codec). They drain on their own: retry for
  // up to ~100 ms before giving up.
  for (int attempt = 0;; ++attempt) {
    if (::fcntl(fd_, F_ADD_SEALS, kSeals | F_SEAL_SEAL) == 0) break;
    if (errno != EBUSY || attempt == 100) fail("sealing a memfd");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  int fd = std::exchange(fd_, -1);
  auto seg = map_sealed(fd, size_);
  g_created.fetch_add(1, std::memory_order_relaxed);
  return seg;
}

}  // namespace shoal::codec::shm
