#pragma once
/// \file
/// Acquired<L>: what `co_await x.scoped()` returns for an aio Lock, Condition or Semaphore;
/// it releases on scope exit, Python's `async with lock:`.

#include <utility>

namespace shoal::aio {

/// Holds one acquisition of `L` (aio::Lock, aio::Condition, aio::Semaphore,
/// aio::BoundedSemaphore) and releases it when destroyed, or earlier with release().
/// Move-only. Obtained from `co_await x.scoped()`:
///     {
///       auto held = co_await lock.scoped();   // async with lock:
///       ...                                   // released here, also on an exception
///     }
/// As in Python, a lock belongs to no task: the guard may be moved to another coroutine
/// on the same loop. Destroying it calls L::release(), which must not fail: do not release
/// the primitive behind the guard's back.
template <typename L>
class [[nodiscard]] Acquired {
 public:
  /// Adopts an acquisition of `l` that the caller already made.
  explicit Acquired(L& l) noexcept : l_(&l) {}
  Acquired(Acquired&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
  Acquired& operator=(Acquired&& o) noexcept {
    if (this != &o) {
      reset();
      l_ = std::exchange(o.l_, nullptr);
    }
    return *this;
  }
  Acquired(const Acquired&) = delete;
  Acquired& operator=(const Acquired&) = delete;
  ~Acquired() { reset(); }

  /// Releases now instead of at scope exit; then does nothing more.
  void release() {
    if (l_) std::exchange(l_, nullptr)->release();
  }
  /// True until released.
  [[nodiscard]] bool owns() const noexcept { return l_ != nullptr; }

 private:
  void reset() noexcept {
    if (l_) std::exchange(l_, nullptr)->release();
  }
  L* l_;
};

}  // namespace shoal::aio
