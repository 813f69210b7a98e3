#pragma once
// TaskExecutor: the executor a task's coroutine runs on. It is its loop's executor, and
// it marks the thread as running that task around everything it executes, so that
// current_task() and the task's context (contextvars.hpp) are known wherever the
// coroutine resumes: after shoal's own awaits and after any raw Asio operation alike
// (Asio resumes an awaitable through its thread's executor, which is this one).

#include <asio/execution.hpp>
#include <asio/io_context.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>
#include <asio/require.hpp>

#include <atomic>
#include <type_traits>
#include <utility>

#include "shoal/detail/pool.hpp"
#include "shoal/detail/ref.hpp"

namespace shoal::detail {

class TaskCore;
class StateBase;

/// The task whose coroutine this thread runs now (null: none).
TaskCore*& current_task_slot() noexcept;

/// Marks this thread as running `task` for its lifetime.
class CurrentTaskScope {
 public:
  explicit CurrentTaskScope(TaskCore* task) noexcept : previous_(std::exchange(current_task_slot(), task)) {}
  ~CurrentTaskScope() { current_task_slot() = previous_; }
  CurrentTaskScope(const CurrentTaskScope&) = delete;
  CurrentTaskScope& operator=(const CurrentTaskScope&) = delete;

 private:
  TaskCore* previous_;
};

/// Which task a TaskExecutor stands for, while its coroutine runs: the task clears it when
/// its coroutine ends. Separate from the task, so that an executor copied out of a task
/// (a socket made with `this_coro::executor`, kept after the task) neither keeps the task
/// alive (a task returning such a socket would own itself) nor points at a freed one.
struct TaskMark final : RefCounted, Pooled {
  explicit TaskMark(TaskCore* t) noexcept : task(t) {}
  std::atomic<TaskCore*> task;
};

/// `Inner` (an io_context executor, with whatever properties were required of it) that
/// runs what it executes as the task its mark names (none once that task's coroutine
/// ended).
template <typename Inner>
class TaskExecutor {
 public:
  TaskExecutor(Inner inner, Ref<TaskMark> mark) noexcept : inner_(std::move(inner)), mark_(std::move(mark)) {}

  [[nodiscard]] const Inner& inner() const noexcept { return inner_; }
  [[nodiscard]] TaskCore* task() const noexcept { return mark_->task.load(std::memory_order_relaxed); }

  template <typename Property>
  auto query(const Property& p) const noexcept(asio::is_nothrow_query<const Inner&, Property>::value)
      -> decltype(asio::query(std::declval<const Inner&>(), p)) {
    return asio::query(inner_, p);
  }

  template <typename Property>
    requires asio::can_require<const Inner&, Property>::value
  auto require(const Property& p) const {
    using Next = std::decay_t<decltype(asio::require(inner_, p))>;
    return TaskExecutor<Next>(asio::require(inner_, p), mark_);
  }

  template <typename Property>
    requires asio::can_prefer<const Inner&, Property>::value
  auto prefer(const Property& p) const {
    using Next = std::decay_t<decltype(asio::prefer(inner_, p))>;
    return TaskExecutor<Next>(asio::prefer(inner_, p), mark_);
  }

  template <typename F>
  void execute(F&& f) const {
    // Run here when the io_context would (blocking.possibly, on its thread): no capture,
    // no reference counting; else the work carries a reference to the mark.
    // A view (a blocking.always call) must run before this returns: always here.
    if (std::is_same_v<std::decay_t<F>, asio::detail::executor_function_view> ||
        (asio::query(inner_, asio::execution::blocking) != asio::execution::blocking.never &&
         inner_.running_in_this_thread())) {
      std::decay_t<F> call(std::forward<F>(f));
      CurrentTaskScope scope(task());
      std::move(call)();
      return;
    }
    asio::execution::execute(inner_, [mark = mark_, call = std::decay_t<F>(std::forward<F>(f))]() mutable {
      CurrentTaskScope scope(mark->task.load(std::memory_order_relaxed));
      std::move(call)();
    });
  }

  friend bool operator==(const TaskExecutor& a, const TaskExecutor& b) noexcept {
    return a.inner_ == b.inner_ && a.mark_.get() == b.mark_.get();
  }
  friend bool operator!=(const TaskExecutor& a, const TaskExecutor& b) noexcept { return !(a == b); }

 private:
  template <typename>
  friend class TaskExecutor;
  Inner inner_;
  Ref<TaskMark> mark_;
};

using LoopTaskExecutor = TaskExecutor<asio::io_context::executor_type>;

}  // namespace shoal::detail
