#pragma once
/// \file
/// aio::LifoQueue<T>: Python's asyncio.LifoQueue, an aio::Queue that returns the most
/// recently added item first.

#include <cstddef>
#include <utility>

#include "shoal/aio/queue.hpp"

namespace shoal::aio {

/// An aio::Queue in last-in, first-out order; everything else (waiting, cancellation,
/// task_done, join, shutdown) is Queue's.
///     shoal::aio::LifoQueue<int> stack;
template <typename T>
class LifoQueue : public Queue<T> {
 public:
  /// A stack holding at most `maxsize` items; 0 (the default) means no limit.
  explicit LifoQueue(std::size_t maxsize = 0) : Queue<T>(maxsize) {}

 protected:
  T take_item() override {
    T item = std::move(this->items_.back());
    this->items_.pop_back();
    return item;
  }
  [[nodiscard]] const char* type_name() const noexcept override { return "LifoQueue"; }
};

}  // namespace shoal::aio
