#pragma once
/// \file
/// The exceptions shoal throws. Every failure derives from shoal::Error; its kind()
/// tells the caller whether retrying can help.

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace shoal {

/// What a caller can do about an error (after KJ's exception kinds).
enum class ErrorKind {
  failed,        ///< a bug or a bad input: retrying the same thing fails again
  cancelled,     ///< the operation was cancelled: not a failure
  timeout,       ///< a deadline passed: retrying with more time may help
  invalid_state, ///< the object was used in a state that forbids the call
  overloaded,    ///< temporarily out of capacity: retry later
  disconnected,  ///< a peer went away: retry elsewhere
};

/// The root of every exception shoal throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ErrorKind kind = ErrorKind::failed)
      : std::runtime_error(what), kind_(kind) {}
  /// Whether retrying can help; see ErrorKind.
  [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

/// Raised inside a task at its next await after cancel(), and by result() of a
/// cancelled task or future. Cancellation is its own outcome, never counted as a failure.
class CancelledError : public Error {
 public:
  explicit CancelledError(const std::string& what = "the operation was cancelled")
      : Error(what, ErrorKind::cancelled) {}
};

/// A deadline passed (wait_for, result(timeout), as_completed(timeout), ...).
class TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string& what = "the operation timed out")
      : Error(what, ErrorKind::timeout) {}
};

/// A call the object's state forbids: result() of a pending future, set_result() twice.
class InvalidStateError : public Error {
 public:
  explicit InvalidStateError(const std::string& what) : Error(what, ErrorKind::invalid_state) {}
};

/// An argument that can never be valid (an empty set passed to wait(), a negative size).
class ValueError : public Error {
 public:
  explicit ValueError(const std::string& what) : Error(what, ErrorKind::failed) {}
};

/// A key or a variable with no value (Python's LookupError): ContextVar::get() of a variable
/// with neither a value in the context nor a default.
class LookupError : public Error {
 public:
  explicit LookupError(const std::string& what) : Error(what, ErrorKind::failed) {}
};

/// An executor can run nothing more: its initializer failed (work already submitted fails
/// with this too), or it was shut down.
class BrokenExecutor : public Error {
 public:
  explicit BrokenExecutor(const std::string& what) : Error(what, ErrorKind::failed) {}
};

/// A Promise was destroyed without setting a result: the work behind it was lost.
class BrokenPromise : public Error {
 public:
  explicit BrokenPromise(
      const std::string& what = "the promise was destroyed without a result being set")
      : Error(what, ErrorKind::failed) {}
};

/// A Barrier was broken (abort(), reset() while threads waited, a timeout, or a failing
/// action): Python's threading.BrokenBarrierError. reset() makes the barrier usable again.
class BrokenBarrierError : public Error {
 public:
  explicit BrokenBarrierError(const std::string& what = "the barrier is broken")
      : Error(what, ErrorKind::invalid_state) {}
};

/// put_nowait() on a full queue, or put(item, timeout) that timed out: Python's queue.Full.
class Full : public Error {
 public:
  explicit Full(const std::string& what = "the queue is full") : Error(what, ErrorKind::overloaded) {}
};

/// get_nowait() on an empty queue, or get(timeout) that timed out: Python's queue.Empty.
class Empty : public Error {
 public:
  explicit Empty(const std::string& what = "the queue is empty") : Error(what, ErrorKind::timeout) {}
};

/// put() on a queue after shutdown(), or get() once it is also empty: Python's
/// queue.ShutDown (3.13).
class ShutDown : public Error {
 public:
  explicit ShutDown(const std::string& what = "the queue was shut down")
      : Error(what, ErrorKind::invalid_state) {}
};

/// A value or a call whose types do not match what the receiver expects: a decode of the
/// wrong type ("expected int32, received string"), an integer out of the target's range, a
/// call with the wrong arity or argument types (naming the function and both signatures).
/// Fix the caller's types; retrying the same call fails again.
class TypeMismatch : public Error {
 public:
  explicit TypeMismatch(const std::string& what) : Error(what, ErrorKind::failed) {}
};

/// Bytes that are not a valid shoal::codec encoding: truncated, garbage, a length beyond
/// the input, nesting or allocation beyond the reader's limits. The sender has a bug (or
/// is hostile); retrying the same bytes fails again.
class DecodeError : public Error {
 public:
  explicit DecodeError(const std::string& what) : Error("decode error: " + what, ErrorKind::failed) {}
};

/// A remote function or actor name that is not registered where it was asked for.
/// Register it with SHOAL_REMOTE / SHOAL_ACTOR in a library the worker loads.
class NotRegistered : public Error {
 public:
  /// `function`: the name asked for; `asked`: who was asked ("this process", a worker list).
  explicit NotRegistered(std::string function, std::string asked = "this process")
      : Error("'" + function + "' is not registered (asked: " + asked +
                  "): register it with SHOAL_REMOTE or SHOAL_ACTOR in a library the worker loads",
              ErrorKind::failed),
        function_(std::move(function)),
        asked_(std::move(asked)) {}
  /// The function, actor or method name that was asked for.
  [[nodiscard]] const std::string& function() const noexcept { return function_; }
  /// Who was asked.
  [[nodiscard]] const std::string& asked() const noexcept { return asked_; }

 private:
  std::string function_;
  std::string asked_;
};

/// Several failures reported together (TaskGroup), like Python's ExceptionGroup.
class ExceptionGroup : public Error {
 public:
  ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions);
  /// The message given at construction, without the summary of the members.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  /// The member exceptions, in the order they happened.
  [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept {
    return exceptions_;
  }

 private:
  std::string message_;
  std::vector<std::exception_ptr> exceptions_;
};

/// True when `e` holds a CancelledError or an Asio operation_aborted error (what a raw
/// Asio operation throws when the task awaiting it is cancelled).
[[nodiscard]] bool is_cancellation(const std::exception_ptr& e) noexcept;

/// Implemented by exceptions raised in another process and rebuilt here (shoal::RemoteError,
/// and shoal's own error types as a remote task's future throws them): their what() is the
/// original message, and this says what they were and where they happened.
class ErrorOrigin {
 public:
  /// The exception's type where it was raised ("shoal::ValueError", "std::out_of_range").
  [[nodiscard]] virtual std::string origin_type() const = 0;
  /// Where it was raised: "fib, task 12 on host-a, pid 4242".
  [[nodiscard]] virtual std::string origin_place() const = 0;

 protected:
  ~ErrorOrigin() = default;
};

/// A one-line description of an exception: its type (for shoal and std errors) and what(),
/// and for one raised in another process, where ("shoal::ValueError: n < 0 (fib, task 12
/// on host-a, pid 4242)").
[[nodiscard]] std::string describe(const std::exception_ptr& e);

}  // namespace shoal
