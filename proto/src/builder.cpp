#include "shoal/proto/builder.hpp"

#include <array>
#include <cstdlib>
#include <new>
#include <vector>

namespace shoal::proto::detail {

namespace {

constexpr int kClasses = 7;  // up to 1024 << 6 words (512 KiB); larger ones are not kept
constexpr std::size_t class_words(int c) { return ScratchLease::kSmallestWords << c; }

// Set once this thread's pool is destroyed (thread exit, or the main thread's exit before
// its statics): a builder made or ended after that allocates and frees its own segment.
// Trivially destructible, so it can still be read then.
thread_local bool pool_gone = false;

// The segments a thread's builders gave back, zeroed (capnp zeroed what they used), by
// size class. A few of each are enough: builders nest rarely and not deeply; past
// kept(c) they are freed (fewer of the large ones).
struct Pool {
  static constexpr std::size_t kept(int c) { return c == 0 ? 8 : c < 5 ? 4 : 1; }
  std::array<std::vector<capnp::word*>, kClasses> free;
  Pool() {
    for (int c = 0; c < kClasses; ++c) free[static_cast<std::size_t>(c)].reserve(kept(c));  // giving back never allocates
  }
  ~Pool() {
    pool_gone = true;
    for (auto& list : free)
      for (auto* w : list) std::free(w);
  }
};

Pool* pool() {
  if (pool_gone) return nullptr;
  thread_local Pool p;
  return &p;
}

}  // namespace

ScratchLease::ScratchLease(std::size_t words) : size_(words), size_class_(-1) {
  for (int c = 0; c < kClasses; ++c)
    if (words <= class_words(c)) {
      size_class_ = c;
      size_ = class_words(c);
      break;
    }
  if (auto* p = size_class_ >= 0 ? pool() : nullptr) {
    auto& list = p->free[static_cast<std::size_t>(size_class_)];
    if (!list.empty()) {
      words_ = list.back();
      list.pop_back();
      return;
    }
  }
  words_ = static_cast<capnp::word*>(std::calloc(size_, sizeof(capnp::word)));
  if (!words_) throw std::bad_alloc();
}

ScratchLease::~ScratchLease() {
  if (auto* p = size_class_ >= 0 ? pool() : nullptr) {
    auto& list = p->free[static_cast<std::size_t>(size_class_)];
    if (list.size() < Pool::kept(size_class_)) {
      list.push_back(words_);
      return;
    }
  }
  std::free(words_);
}

}  // namespace shoal::proto::detail
