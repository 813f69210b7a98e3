#pragma once
/// \file
/// aio::PriorityQueue<T>: Python's asyncio.PriorityQueue, an aio::Queue that returns the
/// lowest item first.

#include <algorithm>
#include <cstddef>
#include <functional>
#include <utility>

#include "shoal/aio/queue.hpp"

namespace shoal::aio {

/// An aio::Queue that returns the lowest item first, per `Compare` (std::less: smallest
/// first, as Python's heapq). Items that compare equal come out in no particular order;
/// put `std::pair{priority, sequence}` or a tuple to make it stable. Everything else
/// (waiting, cancellation, task_done, join, shutdown) is Queue's.
///     shoal::aio::PriorityQueue<std::pair<int, std::string>> jobs;
///     co_await jobs.put({1, "urgent"});
template <typename T, typename Compare = std::less<T>>
class PriorityQueue : public Queue<T> {
 public:
  /// A priority queue holding at most `maxsize` items; 0 (the default) means no limit.
  explicit PriorityQueue(std::size_t maxsize = 0, Compare compare = Compare())
      : Queue<T>(maxsize), compare_(std::move(compare)) {}

 protected:
  // A heap in the queue's deque (random access): the std heap algorithms keep the
  // greatest first per their comparator, so they get Compare with its arguments swapped.
  void put_item(T&& item) override {
    this->items_.push_back(std::move(item));
    std::push_heap(this->items_.begin(), this->items_.end(), Later{&compare_});
  }
  T take_item() override {
    std::pop_heap(this->items_.begin(), this->items_.end(), Later{&compare_});
    T item = std::move(this->items_.back());
    this->items_.pop_back();
    return item;
  }
  [[nodiscard]] const char* type_name() const noexcept override { return "PriorityQueue"; }

 private:
  struct Later {
    const Compare* c;
    bool operator()(const T& a, const T& b) const { return (*c)(b, a); }
  };
  Compare compare_;
};

}  // namespace shoal::aio
