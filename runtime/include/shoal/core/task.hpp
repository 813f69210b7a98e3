#pragma once
/// \file
/// Task<T> and create_task(): a coroutine running on a loop, Python's asyncio.Task.

#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/version.hpp>
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shoal/core/coro.hpp"
#include "shoal/core/future.hpp"
#include "shoal/detail/context_data.hpp"
#include "shoal/detail/pool.hpp"
#include "shoal/detail/task_executor.hpp"
#include "shoal/detail/spin_lock.hpp"

namespace shoal {

class Loop;
Loop& get_running_loop();

namespace detail {

/// `ex` without the task wrapper a task's `this_coro::executor` has (TaskExecutor).
inline Executor loop_executor(Executor ex) noexcept {
  if (auto* t = ex.target<LoopTaskExecutor>()) return Executor(t->inner());
  return ex;
}

/// The untyped part of a task: its cancellation and its place in its loop's task list.
/// Everything here is touched on the loop's thread only, except cancel_requests_ and
/// must_cancel_ (atomics).
class TaskCore {
 public:
  explicit TaskCore(Executor ex) : ex_(loop_executor(std::move(ex))), number_(next_task_number()) {}

  Executor ex_;
  // Its context: a copy of its creator's (Python's create_task copies the current one).
  Ref<ContextData> context_;
  asio::cancellation_signal signal_;
  Loop* loop_ = nullptr;  // set while registered
  TaskCore* prev_ = nullptr;
  TaskCore* next_ = nullptr;
  TaskCore* launch_next_ = nullptr;  // in its loop's queue of tasks to start
  bool launched_ = false;
  // cancel() came before the coroutine started. Atomic: cancel() from a thread off the
  // loop sets it too, so that a launch still queued finds it.
  std::atomic<bool> must_cancel_{false};
  std::atomic<int> cancel_requests_{0};
  // Python's Task-N: the default name, numbered in creation order.
  const std::uint64_t number_;
  // What its coroutine's executor names while the coroutine runs (TaskExecutor).
  Ref<TaskMark> mark_;
  /// Its coroutine ended: its executor, wherever it was copied to, names no task now.
  void unmark() noexcept {
    if (mark_) mark_->task.store(nullptr, std::memory_order_relaxed);
  }

  /// The task's name: the one given, or "Task-N" (any thread).
  [[nodiscard]] std::string name() const {
    std::lock_guard lock(extra_mu_);
    if (extra_ && extra_->name) return *extra_->name;
    return "Task-" + std::to_string(number_);
  }
  void set_name(std::string name) {
    std::lock_guard lock(extra_mu_);
    extra().name = std::move(name);
  }
  /// The message of the last cancel, if it had one.
  [[nodiscard]] std::optional<std::string> cancel_message() const {
    std::lock_guard lock(extra_mu_);
    if (extra_) return extra_->cancel_message;
    return std::nullopt;
  }
  void set_cancel_message(std::optional<std::string> msg) {
    std::lock_guard lock(extra_mu_);
    if (!msg && !extra_) return;  // nothing to clear: no allocation
    extra().cancel_message = std::move(msg);
  }

  /// Cancels the task's coroutine (on the loop thread).
  virtual void request_cancel() noexcept = 0;
  /// Task::cancel(msg), untyped (current_task()).
  virtual bool cancel_task(std::optional<std::string> msg) = 0;
  /// Starts the coroutine (on the loop thread); consumes the reference the queue held.
  virtual void launch() noexcept = 0;
  virtual StateBase& base() noexcept = 0;

 protected:
  ~TaskCore() = default;
  /// True when the calling thread runs the task's io_context.
  bool on_loop_thread() const noexcept {
    auto* io = ex_.target<asio::io_context::executor_type>();
    return io && io->running_in_this_thread();
  }

 private:
  // What most tasks never have, kept out of line: one pointer per task.
  struct Extra {
    std::optional<std::string> name;
    std::optional<std::string> cancel_message;
  };
  Extra& extra() {
    if (!extra_) extra_ = std::make_unique<Extra>();
    return *extra_;
  }
  static std::uint64_t next_task_number() noexcept {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  mutable SpinLock extra_mu_;
  std::unique_ptr<Extra> extra_;
};

void register_task(TaskCore* t) noexcept;
/// Prints "exception never retrieved" for the named task (Python's "Task exception was
/// never retrieved", which names the task).
void report_unretrieved(const std::string& task_name, std::exception_ptr e) noexcept;
/// True when the loop running this thread is shutting down.
bool loop_closing() noexcept;
/// Queues `t` (holding a reference) to be launched by the loop running this thread, if it
/// runs `ex`; false when it does not (the caller then posts the launch itself).
bool enqueue_launch(const Executor& ex, TaskCore* t) noexcept;
void unregister_task(TaskCore* t) noexcept;

template <typename T>
class TaskState;


/// True when the coroutine was cancelled and no await has delivered the cancellation
/// (shoal's awaits reset the state when they deliver it).
inline bool undelivered(const asio::cancellation_state& cs) noexcept {
  return cs.cancelled() != asio::cancellation_type::none;
}

template <typename T>
class TaskState final : public State<T>, public TaskCore, public Pooled {
 public:
  TaskState(Executor ex, Coro<T> body) : TaskCore(std::move(ex)), body_(std::move(body)) {}

  bool cancel() override { return cancel_with(std::nullopt); }
  bool cancel_task(std::optional<std::string> msg) override { return cancel_with(std::move(msg)); }
  /// cancel(), the CancelledError carrying `msg` (none: a plain one). Every cancel sets
  /// the message, as Python's cancel(msg=None) does.
  bool cancel_with(std::optional<std::string> msg) {
    if (this->done()) return false;
    set_cancel_message(std::move(msg));
    cancel_requests_.fetch_add(1, std::memory_order_relaxed);
    if (on_loop_thread()) {
      request_cancel();
    } else {
      // The launch may still be queued ahead of the post below: it must find the request
      // and never start the coroutine (Python's semantics). Once launched, the post
      // delivers it.
      must_cancel_.store(true, std::memory_order_relaxed);
      asio::post(ex_, [self = Ref<TaskState>(this)] { self->request_cancel(); });
    }
    return true;
  }
  [[nodiscard]] bool is_task() const noexcept override { return true; }
  // A task completes on its loop's thread: its callbacks are posted there. Added to a done
  // task from another thread (whose loop may be gone), one runs on that thread.
  bool post_callback(Callback* cb) noexcept override {
    if (!on_loop_thread()) return false;
    post_callback_to(ex_, cb);
    return true;
  }

  void request_cancel() noexcept override {
    if (this->done()) return;
    if (!launched_) {
      must_cancel_.store(true, std::memory_order_relaxed);
      return;
    }
    signal_.emit(asio::cancellation_type::terminal);
  }
  StateBase& base() noexcept override { return *this; }

  void launch() noexcept override {
    auto self = Ref<TaskState>::adopt(this);
    if (must_cancel_.load(std::memory_order_relaxed) || loop_closing()) {
      // Cancelled before it started: the coroutine never runs (Python's semantics).
      // Destroy the coroutine frame now. Not `body_ = Coro<T>()`: Asio 1.22's move
      // assignment drops the old frame without destroying it (a leak).
      { Coro<T> drop(std::move(body_)); }
      set_cancelled(nullptr);
      return;
    }
    launched_ = true;
    register_task(this);
    spawn(std::move(self));
  }

  template <typename... A>
  void complete_value(A&&... a) {
    unregister_task(this);
    unmark();
    this->try_set_value(std::forward<A>(a)...);
  }
  void complete_error(std::exception_ptr e) noexcept {
    unregister_task(this);
    unmark();
    // A CancelledError escaping the coroutine cancels the task, as in Python; so does
    // Asio's operation_aborted when the task was asked to stop (a raw Asio operation
    // interrupted by the cancellation).
    bool cancelled_error = is_cancelled_error(e);
    if (cancelled_error || (cancel_requests_.load(std::memory_order_relaxed) > 0 && is_cancellation(e)))
      set_cancelled(cancelled_error ? e : nullptr);
    else
      this->try_set_exception(std::move(e));
  }

  /// Ends the task cancelled. As in Python, the CancelledError its result() raises
  /// carries the message of cancel(msg) when the coroutine's own error has none.
  bool set_cancelled(std::exception_ptr why) {
    if (auto msg = cancel_message()) {
      bool plain = !why;
      if (why) {
        try {
          std::rethrow_exception(why);
        } catch (const CancelledError& c) {
          plain = std::string_view(c.what()) == CancelledError().what();
        } catch (...) {
        }
      }
      if (plain) why = std::make_exception_ptr(CancelledError(*msg));
    }
    return this->try_set_cancelled(std::move(why));
  }

  ~TaskState() {
    unmark();  // a coroutine destroyed unfinished (its loop closed) ends here
    // Report a failure nobody looked at here, where the task's name is still known.
    if (this->unretrieved_failure()) {
      try {
        report_unretrieved(name(), this->exception_ptr());
      } catch (...) {  // no memory for the name: the base reports it without one
      }
    }
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

  // Asio 1.22 (Debian 12): start the coroutine as co_spawn does, minus what a task does
  // not need: the completion handler and its post, the work guards (a suspended task's
  // wait holds work itself) and the proxy cancellation state. This took B1 from ~1000 to
  // ~160 ns per task (docs/design.md). It uses asio::detail, hence the version check.
  static_assert(ASIO_VERSION >= 102200 && ASIO_VERSION < 102300,
                "shoal starts tasks on Asio 1.22's awaitable_thread: port TaskState::spawn "
                "(or start it with asio::co_spawn) for this Asio version");

  static asio::awaitable<asio::detail::awaitable_thread_entry_point, Executor> entry(
      Ref<TaskState> st) {
    // A cancellation that arrives while the coroutine runs (it cancelled itself, or code
    // it called did) can only mark the cancellation state. With Asio's default, the next
    // co_await of any awaitable would then throw Asio's operation_aborted, before shoal
    // could raise CancelledError or cancel what is awaited (Python's
    // test_cancel_awaited_task). Instead shoal's own awaits act on the mark (suspend_on,
    // sleep, SHOAL_DETAIL_DELIVER_CANCELLATION), like Python's Task._must_cancel.
    co_await asio::this_coro::throw_if_cancelled(false);
    Coro<T> body = std::move(st->body_);
    std::exception_ptr error;
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(body);
        if (!undelivered(co_await asio::this_coro::cancellation_state)) {
          st->complete_value();
          co_return;
        }
      } else {
        auto value = co_await std::move(body);
        if (!undelivered(co_await asio::this_coro::cancellation_state)) {
          st->complete_value(std::move(value));
          co_return;
        }
      }
      // The coroutine returned with a cancellation that no await delivered: as in Python
      // (test_cancel_at_end), the task ends cancelled rather than finished.
      error = std::make_exception_ptr(CancelledError());
    } catch (...) {
      error = std::current_exception();
    }
    st->complete_error(std::move(error));
  }
  void spawn(Ref<TaskState> self) noexcept {
    asio::cancellation_slot slot = signal_.slot();
    // On its loop, the coroutine runs through a TaskExecutor: wherever it resumes, the
    // thread knows which task runs (current_task(), its context).
    Executor ex = ex_;
    if (auto* io = ex_.target<asio::io_context::executor_type>()) {
      mark_ = Ref<TaskMark>::adopt(new TaskMark(this));
      ex = LoopTaskExecutor(*io, mark_);
    }
    CurrentTaskScope scope(this);  // its first steps run here, not through the executor
    asio::detail::awaitable_handler<Executor, void>(entry(Ref<TaskState>(self)), ex, slot,
                                                    asio::cancellation_state(slot))
        .launch();
    // A task that finished without suspending no longer needs its cancellation state:
    // free it now, into Asio's per-thread cache, for the next task to reuse.
    if (this->done()) signal_.slot().clear();
  }

  Coro<T> body_;
};

/// Launches a task created off its loop's thread; if the loop never runs it, the
/// reference is dropped and the task stays pending.
template <typename S>
struct PostedLaunch {
  Ref<S> st;
  void operator()() noexcept { st.leak()->launch(); }
};

}  // namespace detail

template <typename T = void>
class Task;

/// create_task's options (Python's keyword arguments): `create_task(c, {.name = "fetch"})`.
struct CreateTaskOptions {
  /// The task's name (get_name()); "Task-N" when empty.
  std::optional<std::string> name{};
};

/// Schedules `coro` to run on the executor's loop and returns its task. It starts when the
/// loop next runs (not inside this call), whether or not anyone awaits it.
template <typename T>
Task<T> create_task(Executor ex, Coro<T> coro, CreateTaskOptions opts = {});

/// A coroutine scheduled on a loop: a Future<T> that can also be cancelled while it runs.
/// Obtained from create_task(). Destroying the handle does not stop the task: its loop
/// owns it (and cancels it at shutdown).
template <typename T>
class [[nodiscard]] Task : public Future<T> {
 public:
  /// Requests cancellation: CancelledError is raised inside the coroutine at its next
  /// await (and cancels what it awaits). Returns false when the task is already done. A
  /// task that catches the CancelledError and returns normally is not cancelled.
  bool cancel() { return core().cancel_with(std::nullopt); }
  /// cancel() with a message: the CancelledError the task ends with carries it (Python's
  /// Task.cancel(msg); as there, the last cancel's message is the one kept).
  bool cancel(std::string msg) { return core().cancel_with(std::move(msg)); }
  /// How many cancellations were requested and not withdrawn by uncancel() (Python 3.11's
  /// Task.cancelling()).
  [[nodiscard]] int cancelling() const noexcept {
    return core().cancel_requests_.load(std::memory_order_relaxed);
  }
  /// Withdraws one cancellation request and returns how many remain (Python 3.11's
  /// Task.uncancel(), for code that catches a CancelledError it caused itself, such as a
  /// timeout). As in 3.11 it only counts: a cancellation already requested still arrives.
  int uncancel() noexcept {
    auto& n = core().cancel_requests_;
    int v = n.load(std::memory_order_relaxed);
    while (v > 0 && !n.compare_exchange_weak(v, v - 1, std::memory_order_relaxed)) {
    }
    return v > 0 ? v - 1 : 0;
  }

  /// The task's name: the one given to create_task or set_name, else "Task-N" (N counts
  /// the tasks created in this process, as in Python).
  [[nodiscard]] std::string get_name() const { return core().name(); }
  void set_name(std::string name) { core().set_name(std::move(name)); }
  /// Python's repr of a task: `<Task name='fetch' pending>` (or finished, cancelled,
  /// failed: what()).
  [[nodiscard]] std::string describe() const {
    std::string s = "<Task name='" + get_name() + "' ";
    if (!this->done()) return s + "pending>";
    if (this->cancelled()) return s + "cancelled>";
    if (this->st_->failed()) return s + "failed: " + shoal::describe(this->st_->peek_exception()) + ">";
    return s + "finished>";
  }

  // A task's result comes from its coroutine only (Python raises RuntimeError).
  template <typename... A>
  void set_result(A&&...) = delete;
  void set_exception(std::exception_ptr) = delete;

 private:
  explicit Task(detail::Ref<detail::TaskState<T>> st) noexcept : Future<T>(std::move(st)) {}
  detail::TaskState<T>& core() const noexcept { return *static_cast<detail::TaskState<T>*>(this->st_.get()); }
  template <typename U>
  friend Task<U> create_task(Executor ex, Coro<U> coro, CreateTaskOptions opts);
};

template <typename T>
Task<T> create_task(Executor ex, Coro<T> coro, CreateTaskOptions opts) {
  ex = detail::loop_executor(std::move(ex));  // a task's this_coro::executor names its loop
  auto* st = new detail::TaskState<T>(ex, std::move(coro));  // this reference: the launch's
  st->context_ = detail::current_context_slot();  // a copy of its creator's context
  if (opts.name) st->set_name(std::move(*opts.name));
  Task<T> task{detail::Ref<detail::TaskState<T>>(st)};
  if (!detail::enqueue_launch(ex, st))
    asio::post(ex, detail::PostedLaunch<detail::TaskState<T>>{detail::Ref<detail::TaskState<T>>::adopt(st)});
  return task;
}

/// create_task on the loop running on this thread (InvalidStateError when none runs).
///     auto t = shoal::create_task(fetch(url));  ...  auto body = co_await t.wait();
template <typename T>
Task<T> create_task(Coro<T> coro, CreateTaskOptions opts = {});

/// create_task on `loop`, from any thread (Python's run_coroutine_threadsafe: the
/// returned task is a Future the calling thread can block on or cancel).
template <typename T>
Task<T> create_task(Loop& loop, Coro<T> coro, CreateTaskOptions opts = {});

/// Python's asyncio.run_coroutine_threadsafe(coro, loop).
template <typename T>
Future<T> run_coroutine_threadsafe(Coro<T> coro, Loop& loop) {
  return create_task(loop, std::move(coro));
}

}  // namespace shoal

#include "shoal/core/loop.hpp"
