#include "shoal/compose/task_group.hpp"
#include "shoal/detail/awaitables.hpp"

namespace shoal {

namespace detail {

void rethrow_first_failure(const WaitSet& ws) {
  if (!ws.has_failure()) return;
  for (auto i : ws.ready()) {
    StateBase& s = ws.state(i);
    if (s.failed() || s.cancelled()) s.rethrow_if_failed();
  }
}

namespace {
struct ChildDone : Waiter {
  Ref<GroupState> group;
  Ref<StateBase> child;
};
}  // namespace

void GroupState::adopt(StateBase* child) {
  children.emplace_back(child);
  auto* node = new ChildDone;
  node->group = Ref<GroupState>(this);
  node->child = Ref<StateBase>(child);
  node->notify = [](Waiter* w) noexcept {
    auto* n = static_cast<ChildDone*>(w);
    GroupState& g = *n->group;
    if (n->child->failed()) {
      g.failed.push_back(n->child);
      g.abort();
    }
    delete n;
  };
  if (!child->add_waiter(node)) node->notify(node);
}

void GroupState::abort() noexcept {
  if (aborting) return;
  aborting = true;
  // Copy: a cancellation may complete children synchronously.
  auto snapshot = children;
  for (auto& c : snapshot) {
    try {
      c->cancel();
    } catch (...) {
    }
  }
}

}  // namespace detail

TaskGroup::TaskGroup() : loop_(get_running_loop()), g_(detail::make_ref<detail::GroupState>()) {}

TaskGroup::~TaskGroup() {
  if (!g_->closed) g_->abort();
}

Coro<void> TaskGroup::join_impl(detail::Ref<detail::GroupState> g) {
  bool cancelled = false;
  std::size_t watched = 0;
  while (watched < g->children.size()) {
    std::size_t n = g->children.size() - watched;
    auto ws = detail::make_ref<detail::WaitSet>(n);
    for (std::size_t i = 0; i < n; ++i) ws->watch(i, g->children[watched + i].get());
    watched += n;
    detail::Unwatch guard(*ws);
    auto r = co_await detail::suspend_on(ws, detail::WaitSet::all_ready, std::nullopt,
                                         detail::OnCancel::forward);
    if (r.cancel_seen) {
      cancelled = true;
      g->abort();
    }
  }
  g->closed = true;
  if (!g->failed.empty()) {
    std::vector<std::exception_ptr> errors;
    for (auto& c : g->failed) errors.push_back(c->exception_ptr());
    throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors));
  }
  if (cancelled) throw CancelledError("the task awaiting TaskGroup::join() was cancelled");
}

}  // namespace shoal
