#pragma once
/// \file
/// BoundedSemaphore: Python's threading.BoundedSemaphore, a Semaphore that refuses to be
/// released above its initial value.

#include <cstdint>

#include "shoal/sync/semaphore.hpp"

namespace shoal {

/// A Semaphore that may not be released above its initial value (Python's
/// threading.BoundedSemaphore): such a release throws ValueError, catching an unpaired
/// release.
class BoundedSemaphore : public Semaphore {
 public:
  /// A bounded semaphore at `value`, which is also its bound; ValueError when negative.
  explicit BoundedSemaphore(std::int64_t value = 1) : Semaphore(value, true) {}
};

}  // namespace shoal
