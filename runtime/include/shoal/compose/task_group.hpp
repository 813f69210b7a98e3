#pragma once
/// \file
/// TaskGroup: Python's asyncio.TaskGroup. Owns its tasks: join() waits for all of them,
/// the first failure cancels the rest, and the failures are reported together.

#include <vector>

#include "shoal/detail/awaitables.hpp"

namespace shoal {

namespace detail {
/// The group's shared state; tasks' completions reach it even after the TaskGroup object
/// is gone. Loop thread only.
class GroupState : public RefCounted {
 public:
  void adopt(StateBase* child);
  void abort() noexcept;  // cancels every child not done

  std::vector<Ref<StateBase>> children;
  // Children that failed, in the order they failed. Their exceptions are retrieved by
  // join() only: a group destroyed without join() leaves them to be reported as never
  // retrieved instead of dropping them silently.
  std::vector<Ref<StateBase>> failed;
  bool aborting = false;
  bool closed = false;
};
}  // namespace detail

/// A scope that owns tasks.
///     shoal::TaskGroup tg;
///     auto a = tg.create_task(fetch(x));
///     auto b = tg.create_task(fetch(y));
///     co_await tg.join();   // Python's `async with` exit
/// Differences from Python, because C++ has no async destructor: join() is the exit and
/// must be awaited; a failing child cancels its siblings but does not interrupt the code
/// between create_task and join(); a TaskGroup destroyed without join() cancels its
/// children (without waiting for them), and their failures, which no join() will raise,
/// are reported as never retrieved.
class TaskGroup {
 public:
  /// A group on the running loop.
  TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup();

  /// Starts `coro` as a task owned by the group. Throws InvalidStateError when the group
  /// is shutting down (a child failed) or has been joined; the coroutine then never runs.
  template <typename T>
  Task<T> create_task(Coro<T> coro) {
    if (g_->closed) throw InvalidStateError("TaskGroup has finished: create tasks before join() completes");
    if (g_->aborting) throw InvalidStateError("TaskGroup is shutting down because a task failed");
    Task<T> t = shoal::create_task(loop_.get_executor(), std::move(coro));
    g_->adopt(t.state());
    return t;
  }

  /// Waits for every task, including those created while waiting. Throws ExceptionGroup
  /// holding every failure (cancellations are not failures), else CancelledError when the
  /// awaiting task was cancelled (which cancels every child first, and waits for them).
  Coro<void> join() { return join_impl(g_); }

  /// Tasks created so far.
  [[nodiscard]] std::size_t size() const noexcept { return g_->children.size(); }

 private:
  static Coro<void> join_impl(detail::Ref<detail::GroupState> g);
  Loop& loop_;
  detail::Ref<detail::GroupState> g_;
};

}  // namespace shoal
