#pragma once
/// \file
/// aio::BoundedSemaphore: Python's asyncio.BoundedSemaphore, a semaphore that refuses to
/// be released more often than it was acquired.

#include <cstddef>

#include "shoal/aio/semaphore.hpp"

namespace shoal::aio {

/// A Semaphore whose release() throws ValueError instead of raising the counter past its
/// initial value: it catches a release without a matching acquire.
///     shoal::aio::BoundedSemaphore slots(2);
///     auto held = co_await slots.scoped();
class BoundedSemaphore : public Semaphore {
 public:
  /// A semaphore with counter and bound `value` (1 by default); ValueError when negative.
  explicit BoundedSemaphore(std::ptrdiff_t value = 1) : Semaphore(value, value) {}
};

}  // namespace shoal::aio
