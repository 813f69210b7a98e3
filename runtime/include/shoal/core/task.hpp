#pragma once
/// \file
/// Task<T> and create_task(): a coroutine running on a loop, Python's asyncio.Task.

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <atomic>

#include "shoal/core/coro.hpp"
#include "shoal/core/future.hpp"

namespace shoal {

class Loop;
Loop& get_running_loop();

namespace detail {

/// The untyped part of a task: its cancellation and its place in its loop's task list.
/// Everything here is touched on the loop's thread only, except cancel_requests.
class TaskCore {
 public:
  explicit TaskCore(Executor ex) : ex_(std::move(ex)) {}

  Executor ex_;
  asio::cancellation_signal signal_;
  Loop* loop_ = nullptr;  // set while registered
  TaskCore* prev_ = nullptr;
  TaskCore* next_ = nullptr;
  bool launched_ = false;
  bool must_cancel_ = false;  // cancel() came before the coroutine started
  std::atomic<int> cancel_requests_{0};

  /// Cancels the task's coroutine (on the loop thread).
  virtual void request_cancel() noexcept = 0;
  virtual StateBase& base() noexcept = 0;

 protected:
  ~TaskCore() = default;
  /// True when the calling thread runs the task's io_context.
  bool on_loop_thread() const noexcept {
    auto* io = ex_.target<asio::io_context::executor_type>();
    return io && io->running_in_this_thread();
  }
};

void register_task(TaskCore* t) noexcept;
/// True when the loop running this thread is shutting down.
bool loop_closing() noexcept;
void unregister_task(TaskCore* t) noexcept;

template <typename T>
class TaskState final : public State<T>, public TaskCore {
 public:
  explicit TaskState(Executor ex) : TaskCore(std::move(ex)) {}

  bool cancel() override {
    if (this->done()) return false;
    cancel_requests_.fetch_add(1, std::memory_order_relaxed);
    if (on_loop_thread())
      request_cancel();
    else
      asio::post(ex_, [self = Ref<TaskState>(this)] { self->request_cancel(); });
    return true;
  }
  [[nodiscard]] bool is_task() const noexcept override { return true; }

  void request_cancel() noexcept override {
    if (this->done()) return;
    if (!launched_) {
      must_cancel_ = true;
      return;
    }
    signal_.emit(asio::cancellation_type::terminal);
  }
  StateBase& base() noexcept override { return *this; }

  template <typename... A>
  void complete_value(A&&... a) {
    unregister_task(this);
    this->try_set_value(std::forward<A>(a)...);
  }
  void complete_error(std::exception_ptr e) noexcept {
    unregister_task(this);
    // A CancelledError escaping the coroutine cancels the task, as in Python; so does
    // Asio's operation_aborted when the task was asked to stop (a raw Asio operation
    // interrupted by the cancellation).
    if (is_cancellation(e) && (cancel_requests_.load(std::memory_order_relaxed) > 0 ||
                               is_cancelled_error(e)))
      this->try_set_cancelled(is_cancelled_error(e) ? e : nullptr);
    else
      this->try_set_exception(std::move(e));
  }

 private:
  static bool is_cancelled_error(const std::exception_ptr& e) noexcept {
    try {
      std::rethrow_exception(e);
    } catch (const CancelledError&) {
      return true;
    } catch (...) {
      return false;
    }
  }
};

template <typename T>
Coro<void> task_main(Ref<TaskState<T>> st, Coro<T> body) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
      st->complete_value();
    } else {
      st->complete_value(co_await std::move(body));
    }
  } catch (...) {
    st->complete_error(std::current_exception());
  }
}

/// The co_spawn completion: task_main catches everything, so there is nothing to deliver.
struct TaskDone {
  void operator()(std::exception_ptr) const noexcept {}
};

template <typename T>
struct TaskLaunch {
  Ref<TaskState<T>> st;
  Coro<T> body;
  void operator()() {
    if (st->must_cancel_ || loop_closing()) {
      // Cancelled before it started: the coroutine never runs (Python's semantics).
      st->try_set_cancelled();
      return;
    }
    st->launched_ = true;
    register_task(st.get());
    Executor ex = st->ex_;
    auto slot = st->signal_.slot();
    asio::co_spawn(ex, task_main<T>(std::move(st), std::move(body)),
                   asio::bind_cancellation_slot(slot, TaskDone{}));
  }
};

}  // namespace detail

/// A coroutine scheduled on a loop: a Future<T> that can also be cancelled while it runs.
/// Obtained from create_task(). Destroying the handle does not stop the task: its loop
/// owns it (and cancels it at shutdown).
template <typename T = void>
class [[nodiscard]] Task : public Future<T> {
 public:
  /// Requests cancellation: CancelledError is raised inside the coroutine at its next
  /// await (and cancels what it awaits). Returns false when the task is already done. A
  /// task that catches the CancelledError and returns normally is not cancelled.
  bool cancel() { return this->st_->cancel(); }
  /// How many cancellations were requested (Python's Task.cancelling()).
  [[nodiscard]] int cancelling() const noexcept {
    return static_cast<detail::TaskState<T>*>(this->st_.get())->cancel_requests_.load(std::memory_order_relaxed);
  }

  // A task's result comes from its coroutine only (Python raises RuntimeError).
  template <typename... A>
  void set_result(A&&...) = delete;
  void set_exception(std::exception_ptr) = delete;

 private:
  explicit Task(detail::Ref<detail::TaskState<T>> st) noexcept : Future<T>(std::move(st)) {}
  template <typename U>
  friend Task<U> create_task(Executor ex, Coro<U> coro);
};

/// Schedules `coro` to run on the executor's loop and returns its task. It starts when the
/// loop next runs (not inside this call), whether or not anyone awaits it.
template <typename T>
Task<T> create_task(Executor ex, Coro<T> coro) {
  auto st = detail::Ref<detail::TaskState<T>>::adopt(new detail::TaskState<T>(ex));
  Task<T> task(st);
  asio::post(ex, detail::TaskLaunch<T>{std::move(st), std::move(coro)});
  return task;
}

/// create_task on the loop running on this thread (InvalidStateError when none runs).
///     auto t = shoal::create_task(fetch(url));  ...  auto body = co_await t.wait();
template <typename T>
Task<T> create_task(Coro<T> coro);

/// create_task on `loop`, from any thread (Python's run_coroutine_threadsafe: the
/// returned task is a Future the calling thread can block on or cancel).
template <typename T>
Task<T> create_task(Loop& loop, Coro<T> coro);

/// Python's asyncio.run_coroutine_threadsafe(coro, loop).
template <typename T>
Future<T> run_coroutine_threadsafe(Coro<T> coro, Loop& loop) {
  return create_task(loop, std::move(coro));
}

}  // namespace shoal

#include "shoal/core/loop.hpp"
