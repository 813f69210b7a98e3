#pragma once
// The data behind contextvars (core/contextvars.hpp): a context's values, where the
// current one is (the running task's, else the thread's), and the scopes that change it.

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "shoal/detail/ref.hpp"
#include "shoal/detail/task_executor.hpp"

namespace shoal::detail {

/// A context (Python's contextvars.Context): the values of the ContextVars set in it, by
/// the variable's id. Immutable once shared: setting a variable makes a new one.
struct ContextData final : RefCounted {
  std::vector<std::pair<std::uint64_t, std::shared_ptr<const void>>> values;  // sorted by id
};

/// The context of the task this thread runs, or this thread's own outside tasks.
Ref<ContextData>& current_context_slot() noexcept;

/// Makes `ctx` this thread's context for its lifetime (to_thread's call).
class ContextScope {
 public:
  explicit ContextScope(Ref<ContextData> ctx) noexcept;
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  Ref<ContextData> previous_;
};

/// A callback runs as Python runs one: as no task, in the context it was registered in
/// (a copy: what it sets is gone after it).
class CallbackScope {
 public:
  explicit CallbackScope(Ref<ContextData> ctx) noexcept : no_task_(nullptr), context_(std::move(ctx)) {}

 private:
  CurrentTaskScope no_task_;
  ContextScope context_;
};

}  // namespace shoal::detail
