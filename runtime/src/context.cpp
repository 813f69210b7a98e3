// current_task() and the task-local contexts (core/contextvars.hpp).

#include "shoal/core/contextvars.hpp"

#include <algorithm>

namespace shoal {

namespace detail {

namespace {
thread_local TaskCore* t_task = nullptr;
thread_local Ref<ContextData> t_context;  // this thread's context, outside tasks
}  // namespace

TaskCore*& current_task_slot() noexcept { return t_task; }

Ref<ContextData>& current_context_slot() noexcept {
  if (auto* t = t_task) return t->context_;
  return t_context;
}

std::uint64_t next_context_var_id() noexcept {
  static std::atomic<std::uint64_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::shared_ptr<const void> context_get(std::uint64_t id) noexcept {
  const auto& ctx = current_context_slot();
  if (!ctx) return nullptr;
  const auto& v = ctx->values;
  auto it = std::lower_bound(v.begin(), v.end(), id, [](const auto& e, std::uint64_t k) { return e.first < k; });
  return it != v.end() && it->first == id ? it->second : nullptr;
}

std::shared_ptr<const void> context_set(std::uint64_t id, std::shared_ptr<const void> value) {
  auto& slot = current_context_slot();
  // Copy on write: tasks that copied this context keep theirs as it was.
  auto next = Ref<ContextData>::adopt(new ContextData());
  if (slot) next->values = slot->values;
  auto& v = next->values;
  auto it = std::lower_bound(v.begin(), v.end(), id, [](const auto& e, std::uint64_t k) { return e.first < k; });
  std::shared_ptr<const void> old;
  if (it != v.end() && it->first == id) {
    old = std::move(it->second);
    if (value)
      it->second = std::move(value);
    else
      v.erase(it);
  } else if (value) {
    v.insert(it, {id, std::move(value)});
  }
  slot = std::move(next);
  return old;
}

ContextScope::ContextScope(Ref<ContextData> ctx) noexcept : previous_(std::exchange(t_context, std::move(ctx))) {}

ContextScope::~ContextScope() { t_context = std::move(previous_); }

}  // namespace detail

std::optional<TaskRef> current_task() noexcept {
  auto* t = detail::t_task;
  if (!t) return std::nullopt;
  return TaskRef(detail::Ref<detail::StateBase>(&t->base()), t);
}

}  // namespace shoal
