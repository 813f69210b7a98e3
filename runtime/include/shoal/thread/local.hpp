#pragma once
/// \file
/// local<T>: Python's threading.local, data that each thread sees its own copy of.

#include <cstdint>
#include <functional>
#include <unordered_set>
#include <utility>

namespace shoal {

namespace detail {

struct LocalSlot;
struct ThreadLocals;

/// The type-erased part of local<T>: which thread holds which value.
class LocalBase {
 public:
  LocalBase(const LocalBase&) = delete;
  LocalBase& operator=(const LocalBase&) = delete;

 protected:
  LocalBase();
  /// Destroys the values of every thread.
  ~LocalBase();
  /// This thread's value, or null. Lock-free.
  [[nodiscard]] void* find() const noexcept;
  /// Stores `value` as this thread's (taking ownership; destroy(value) frees it).
  void emplace(void* value, void (*destroy)(void*) noexcept);
  /// Destroys this thread's value, if any.
  void erase() noexcept;

 private:
  friend struct ThreadLocals;
  std::uint64_t id_;                      // never reused, unlike an address
  std::unordered_set<LocalSlot*> slots_;  // one per thread holding a value; under a global lock
};

/// Destroys the calling thread's values of every local (a shoal Thread does it as its call
/// returns, before join() returns; other threads at thread exit).
void clear_thread_locals() noexcept;

}  // namespace detail

/// Per-object, per-thread data (Python's threading.local): each thread that calls get()
/// gets its own T, made on first use, destroyed when the thread ends or the local is
/// destroyed, whichever comes first.
///     shoal::local<std::vector<int>> scratch;      // e.g. a member or a global
///     scratch->push_back(1);                        // this thread's vector
///     shoal::local<int> counter([] { return 10; }); // each thread starts at 10
/// Destroying a local while other threads are still using their values is a data race.
template <typename T>
class local : private detail::LocalBase {
 public:
  /// Each thread's value starts value-initialized: T().
  local() = default;
  /// Each thread's value starts as init() (called in that thread, on first use; may be
  /// called concurrently by several threads).
  explicit local(std::function<T()> init) : init_(std::move(init)) {}

  /// This thread's value, made now if this thread has none.
  T& get() {
    if (void* p = find()) return *static_cast<T*>(p);
    return make();
  }
  T* operator->() { return &get(); }
  T& operator*() { return get(); }
  /// True when this thread has a value already.
  [[nodiscard]] bool has_value() const noexcept { return find() != nullptr; }
  /// Destroys this thread's value (Python's `del mydata.x`); the next get() makes another.
  void reset() noexcept { erase(); }

 private:
  T& make() {
    T* v = init_ ? new T(init_()) : new T();
    emplace(v, [](void* p) noexcept { delete static_cast<T*>(p); });
    return *v;
  }

  std::function<T()> init_;
};

}  // namespace shoal
