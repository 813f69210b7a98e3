#pragma once
/// \file
/// MapResults: what an Executor.map returns (ThreadPoolExecutor, ProcessPoolExecutor,
/// Client): the results in input order, each waited for as it is read, its exception
/// thrown at its item; an overall timeout; dropping the results once an item was read
/// cancels what has not started (Python's map generator being closed).

#include <chrono>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "shoal/core/future.hpp"

namespace shoal {

/// The results of a map, in input order.
template <typename R>
class MapResults {
 public:
  MapResults(std::vector<Future<R>> fs, std::optional<std::chrono::nanoseconds> timeout)
      : fs_(std::move(fs)) {
    if (timeout) deadline_ = detail::deadline_in(*timeout);
  }
  MapResults(MapResults&&) noexcept = default;
  ~MapResults() {
    // Python's map: closing an iteration that has begun cancels the rest; results never
    // iterated leave every call to run (bpo-11777: map() submits without iteration).
    if (started_)
      for (auto& f : fs_) f.cancel();
  }

  class iterator {
   public:
    using value_type = detail::value_t<R>;
    using difference_type = std::ptrdiff_t;
    iterator(MapResults* owner, std::size_t i) : owner_(owner), i_(i) {}
    /// Blocks until item i is ready; rethrows its exception.
    value_type operator*() const { return owner_->get(i_); }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

   private:
    MapResults* owner_;
    std::size_t i_;
  };
  iterator begin() { return {this, 0}; }
  iterator end() { return {this, fs_.size()}; }
  [[nodiscard]] std::size_t size() const noexcept { return fs_.size(); }
  /// The items' futures, in input order.
  [[nodiscard]] const std::vector<Future<R>>& futures() const noexcept { return fs_; }

  /// Every result, in order (blocks).
  std::vector<detail::value_t<R>> to_vector() {
    std::vector<detail::value_t<R>> out;
    out.reserve(fs_.size());
    for (std::size_t i = 0; i < fs_.size(); ++i) out.push_back(get(i));
    return out;
  }

 private:
  detail::value_t<R> get(std::size_t i) {
    started_ = true;
    Future<R>& f = fs_[i];
    if (deadline_) {
      auto left = *deadline_ - std::chrono::steady_clock::now();
      if (left < std::chrono::nanoseconds::zero()) left = std::chrono::nanoseconds::zero();
      f.result(left);  // throws TimeoutError or the call's exception
    } else {
      f.result();
    }
    if constexpr (std::is_void_v<R>)
      return {};
    else
      return Future<R>::take(f.state_ref());  // copied, or moved out when move-only
  }

  std::vector<Future<R>> fs_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  bool started_ = false;  // an item was reached: dropping the results cancels the rest
};

namespace detail {
template <typename T>
struct is_duration : std::false_type {};
template <typename Rep, typename Period>
struct is_duration<std::chrono::duration<Rep, Period>> : std::true_type {};
}  // namespace detail

}  // namespace shoal
