#pragma once
/// \file
/// Outcome<T>: how one awaitable ended (value, exception, or cancelled), as collected by
/// gather_settled() (Python's gather(..., return_exceptions=True)).

#include <exception>
#include <variant>

#include "shoal/core/coro.hpp"
#include "shoal/core/error.hpp"

namespace shoal {

template <typename T = void>
class Outcome {
 public:
  using value_type = detail::value_t<T>;
  static Outcome of_value(value_type v) { return Outcome(std::move(v)); }
  static Outcome of_exception(std::exception_ptr e, bool cancelled) {
    Outcome o(std::move(e));
    o.cancelled_ = cancelled;
    return o;
  }

  /// True when it produced a value.
  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  /// True when it was cancelled (cancellation is not a failure).
  [[nodiscard]] bool cancelled() const noexcept { return cancelled_; }
  /// True when it raised an exception other than cancellation.
  [[nodiscard]] bool failed() const noexcept { return !ok() && !cancelled_; }
  /// The value; rethrows the exception (or CancelledError) when there is none.
  const value_type& value() const {
    if (!ok()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  /// The exception (a CancelledError when cancelled), or null.
  [[nodiscard]] std::exception_ptr exception() const noexcept {
    return ok() ? nullptr : std::get<1>(v_);
  }

 private:
  explicit Outcome(value_type v) : v_(std::in_place_index<0>, std::move(v)) {}
  explicit Outcome(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}
  std::variant<value_type, std::exception_ptr> v_;
  bool cancelled_ = false;
};

}  // namespace shoal
