#pragma once
/// \file
/// current_task() and task-local context: Python's asyncio.current_task() and contextvars.
///
///     shoal::ContextVar<std::string> request_id("request_id", "-");
///
///     shoal::Coro<void> handle(std::string id) {
///       request_id.set(id);              // seen by this task and the tasks it creates
///       co_await shoal::create_task(log_later()).wait();
///     }
///     shoal::Coro<void> log_later() {
///       co_await shoal::sleep(10ms);
///       std::cout << request_id.get();   // the id of the task that created this one
///     }
///
/// A task created with create_task starts with a copy of its creator's context (the
/// creating task's, or the creating thread's outside any task): what it sets afterwards is
/// its own, and what its creator sets afterwards it does not see. to_thread runs its
/// function in a copy of the caller's context, as asyncio.to_thread does; a done-callback
/// and a loop callback (call_soon, call_later) run as no task, in a copy of the context
/// they were registered in. The current task is known wherever its coroutine runs, after
/// shoal's awaits and raw Asio operations alike.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "shoal/core/error.hpp"
#include "shoal/core/task.hpp"

namespace shoal {

/// An untyped handle of a task (what current_task() returns): Task<T>'s name, cancel and
/// state without its result type.
class TaskRef {
 public:
  [[nodiscard]] std::string get_name() const { return core_->name(); }
  void set_name(std::string name) { core_->set_name(std::move(name)); }
  /// Task::cancel(msg).
  bool cancel(std::optional<std::string> msg = std::nullopt) { return core_->cancel_task(std::move(msg)); }
  [[nodiscard]] int cancelling() const noexcept { return core_->cancel_requests_.load(std::memory_order_relaxed); }
  [[nodiscard]] bool done() const noexcept { return state_->done(); }
  [[nodiscard]] bool cancelled() const noexcept { return state_->cancelled(); }
  /// Whether `t` is this task.
  template <typename T>
  [[nodiscard]] bool is(const Task<T>& t) const noexcept {
    return t.state() == state_.get();
  }
  friend bool operator==(const TaskRef& a, const TaskRef& b) noexcept { return a.core_ == b.core_; }

 private:
  friend std::optional<TaskRef> current_task() noexcept;
  TaskRef(detail::Ref<detail::StateBase> state, detail::TaskCore* core) noexcept
      : state_(std::move(state)), core_(core) {}
  detail::Ref<detail::StateBase> state_;
  detail::TaskCore* core_;
};

/// The task whose coroutine is running on this thread (Python's asyncio.current_task());
/// none outside a task (in a plain callback of the loop, on another thread).
[[nodiscard]] std::optional<TaskRef> current_task() noexcept;

namespace detail {
std::uint64_t next_context_var_id() noexcept;
/// The value `id` has in the current context, or null.
std::shared_ptr<const void> context_get(std::uint64_t id) noexcept;
/// Sets `id` to `value` (null: unset) in the current context; returns its value before.
std::shared_ptr<const void> context_set(std::uint64_t id, std::shared_ptr<const void> value);
}  // namespace detail

/// A context variable (Python's contextvars.ContextVar): a value per context, so per task.
/// Variables are meant to live for the program (globals, as in Python).
template <typename T>
class ContextVar {
 public:
  /// What set() returns: reset(token) restores the value the variable had before.
  class Token {
   public:
    [[nodiscard]] const ContextVar& var() const noexcept { return *var_; }

   private:
    friend class ContextVar;
    Token(const ContextVar* v, std::shared_ptr<const void> old) : var_(v), old_(std::move(old)) {}
    const ContextVar* var_;
    std::shared_ptr<const void> old_;
    bool used_ = false;
  };

  explicit ContextVar(std::string name) : name_(std::move(name)) {}
  ContextVar(std::string name, T default_value)
      : name_(std::move(name)), default_(std::make_shared<const T>(std::move(default_value))) {}
  ContextVar(const ContextVar&) = delete;
  ContextVar& operator=(const ContextVar&) = delete;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// The value in the current context, else the default; LookupError when it has neither.
  [[nodiscard]] T get() const {
    if (auto v = detail::context_get(id_)) return *static_cast<const T*>(v.get());
    if (default_) return *default_;
    throw LookupError("ContextVar '" + name_ + "' has no value in this context");
  }
  /// The value in the current context, else `fallback`.
  [[nodiscard]] T get(T fallback) const {
    if (auto v = detail::context_get(id_)) return *static_cast<const T*>(v.get());
    return fallback;
  }
  /// Sets the value in the current context (the running task's, or this thread's).
  Token set(T value) { return Token(this, detail::context_set(id_, std::make_shared<const T>(std::move(value)))); }
  /// Restores the value before set() returned `token` (ValueError: another variable's
  /// token, or one used already).
  void reset(Token& token) {
    if (token.var_ != this) throw ValueError("this token was made by another ContextVar");
    if (token.used_) throw InvalidStateError("this token has already been used once");
    token.used_ = true;
    (void)detail::context_set(id_, token.old_);
  }

 private:
  std::string name_;
  std::shared_ptr<const T> default_;
  const std::uint64_t id_ = detail::next_context_var_id();
};

}  // namespace shoal
