#pragma once
// Per-thread free lists for the objects every task allocates (its state). A burst of
// 200,000 tasks keeps that many states alive at once, which sends glibc's malloc to its
// slow paths; a free list turns each allocation into a pointer pop. Blocks freed on
// another thread join that thread's list. Each list keeps at most kMaxCached blocks.

#include <cstddef>
#include <new>

namespace shoal::detail {

class BlockPool {
 public:
  static constexpr std::size_t kGranule = 64;
  static constexpr std::size_t kClasses = 8;  // blocks up to 512 bytes
  static constexpr std::size_t kMaxCached = 1 << 16;

  static void* allocate(std::size_t size) {
    std::size_t c = (size + kGranule - 1) / kGranule;
    if (c == 0 || c > kClasses) return ::operator new(size);
    Lists& l = lists();
    if (Node* n = l.head[c - 1]) {
      l.head[c - 1] = n->next;
      --l.count[c - 1];
      return n;
    }
    return ::operator new(c * kGranule);
  }

  static void deallocate(void* p, std::size_t size) noexcept {
    std::size_t c = (size + kGranule - 1) / kGranule;
    if (c == 0 || c > kClasses) {
      ::operator delete(p);
      return;
    }
    Lists& l = lists();
    if (l.count[c - 1] >= kMaxCached) {
      ::operator delete(p);
      return;
    }
    auto* n = static_cast<Node*>(p);
    n->next = l.head[c - 1];
    l.head[c - 1] = n;
    ++l.count[c - 1];
  }

 private:
  struct Node {
    Node* next;
  };
  struct Lists {
    Node* head[kClasses] = {};
    std::size_t count[kClasses] = {};
    ~Lists() {
      for (auto* h : head)
        while (h) {
          Node* next = h->next;
          ::operator delete(h);
          h = next;
        }
    }
  };
  static Lists& lists() noexcept {
    thread_local Lists l;
    return l;
  }
};

/// Derive from this to allocate a class from the BlockPool.
struct Pooled {
  static void* operator new(std::size_t size) { return BlockPool::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { BlockPool::deallocate(p, size); }
};

}  // namespace shoal::detail
