#include "shoal/detail/wait_set.hpp"

#include <asio/this_coro.hpp>
#include <semaphore>

#include "shoal/core/error.hpp"
#include "shoal/core/loop.hpp"

namespace shoal::detail {

WaitSet::WaitSet(std::size_t n) : nodes_(n) {
  ready_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    nodes_[i].owner = this;
    nodes_[i].index = static_cast<std::uint32_t>(i);
    nodes_[i].notify = [](Waiter* w) noexcept {
      auto* node = static_cast<Node*>(w);
      WaitSet* owner = node->owner;
      owner->on_ready(node->index);
      owner->release();  // the reference the registration held
    };
  }
}

WaitSet::~WaitSet() {
  for (auto& n : nodes_)
    if (n.state) n.state->release();
}

void WaitSet::watch(std::size_t i, StateBase* s) {
  Node& n = nodes_[i];
  s->add_ref();
  n.state = s;
  if (s->done()) {  // fast path: no registration to make or undo
    on_ready(n.index, true);
    return;
  }
  add_ref();  // held by the registration until notify or unwatch
  if (!s->add_waiter(&n)) {
    release();
    on_ready(n.index, true);
  }
}

void WaitSet::unwatch() noexcept {
  {
    std::lock_guard lock(mu_);
    if (ready_.size() == nodes_.size()) return;  // every registration has fired
  }
  for (auto& n : nodes_) {
    {
      std::lock_guard lock(mu_);
      if (n.fired) continue;
    }
    if (n.state && n.state->remove_waiter(&n)) release();
  }
}

bool WaitSet::has_failure() const noexcept {
  std::lock_guard lock(mu_);
  return failures_ > 0;
}

std::vector<std::uint32_t> WaitSet::ready() const {
  std::lock_guard lock(mu_);
  return ready_;
}

long WaitSet::take_next() noexcept {
  std::lock_guard lock(mu_);
  while (taken_ < ready_.size()) {
    std::size_t k = taken_++;
    if (late_.empty() || !late_[k]) return ready_[k];  // a late one is skipped for good
  }
  return -1;
}

// O(1): counted in on_ready, so that a gather of n futures costs O(n), not O(n^2).
bool WaitSet::all_or_first_failure(const WaitSet& ws) noexcept {
  return ws.failures_ > 0 || all_ready(ws);
}

bool WaitSet::all_or_first_exception(const WaitSet& ws) noexcept {
  return ws.exceptions_ > 0 || all_ready(ws);
}

void WaitSet::on_ready(std::uint32_t i, bool at_watch) noexcept {
  Sleeper* wake = nullptr;
  {
    std::lock_guard lock(mu_);
    ready_.push_back(i);
    // Done when watched: on time, whatever the cutoff (as_completed(fs, 0s) hands out
    // what was already done).
    if (cutoff_) late_.push_back(!at_watch && Clock::now() > *cutoff_);
    nodes_[i].fired = true;
    const StateBase& s = *nodes_[i].state;
    if (s.failed()) ++exceptions_;
    if (s.failed() || s.cancelled()) ++failures_;
    if (sleeper_ && cond_(*this)) wake = std::exchange(sleeper_, nullptr);
  }
  if (wake) {
    wake->fire(Wake::ready);
    wake->release();
  }
}

bool WaitSet::arm(Sleeper* s, Condition cond) noexcept {
  std::lock_guard lock(mu_);
  cond_ = cond;
  if (cond_(*this)) return false;
  s->add_ref();
  sleeper_ = s;
  return true;
}

void WaitSet::disarm(Sleeper* s) noexcept {
  Sleeper* drop = nullptr;
  {
    std::lock_guard lock(mu_);
    if (sleeper_ == s) drop = std::exchange(sleeper_, nullptr);
  }
  if (drop) drop->release();
}

bool WaitSet::forward_cancel() noexcept {
  {
    // Wait for every member from now on, before cancelling: a plain future cancelled
    // synchronously below must not meet the original condition (gather's first failure)
    // and wake the sleeper while tasks are still finishing their cancellation.
    std::lock_guard lock(mu_);
    cond_ = all_ready;
  }
  bool refused = false;
  // No lock while cancelling: a plain future completes synchronously and calls on_ready.
  for (auto& n : nodes_) {
    if (!n.state || n.state->done()) continue;
    bool accepted = false;
    try {
      accepted = n.state->cancel();
    } catch (...) {
    }
    if (!accepted && !n.state->done() && !n.state->is_task()) refused = true;
  }
  if (refused) return false;
  Sleeper* wake = nullptr;
  {
    std::lock_guard lock(mu_);
    if (sleeper_ && cond_(*this)) wake = std::exchange(sleeper_, nullptr);
  }
  if (wake) {
    wake->fire(Wake::ready);
    wake->release();
  }
  return true;
}

void Sleeper::fire(Wake w) noexcept {
  if (woken_.exchange(true, std::memory_order_acq_rel)) return;
  // Break the WaitSet -> Sleeper link now: the coroutine owns the WaitSet.
  if (w != Wake::ready) ws_->disarm(this);
  if (!on_loop_) {
    post_resume(w);  // not a shoal Loop: the executor's owner keeps it alive
    return;
  }
  // Holding the io_context through the post: see loop_. If the loop is already gone,
  // nothing can resume the coroutine; its frame goes with this Sleeper's handler.
  if (std::shared_ptr<void> keep = loop_.lock()) post_resume(w);
}

void Sleeper::on_cancel() noexcept {
  if (woken_.load(std::memory_order_acquire)) return;  // too late: delivered at resume
  if (forwarding_) {
    // Forwarding this cancellation came back to this very wait: the coroutine awaits its
    // own task, which can never finish while it waits. Stop waiting (no recursion).
    fire(Wake::cancelled);
    return;
  }
  cancel_seen_ = true;
  if (policy_ == OnCancel::abandon) {
    fire(Wake::cancelled);
    return;
  }
  forwarding_ = true;
  bool forwarded = ws_->forward_cancel();
  forwarding_ = false;
  if (!forwarded) fire(Wake::cancelled);
}

Coro<SuspendResult> suspend_on(Ref<WaitSet> ws, WaitSet::Condition cond,
                               std::optional<Clock::time_point> deadline, OnCancel policy) {
  // A cancellation that came while the coroutine ran (a task cancelling itself) found no
  // wait to act on: act on it now as on_cancel() would, before suspending.
  bool cancelled_before = false;
  if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
    co_await asio::this_coro::reset_cancellation_state();
    if (policy == OnCancel::abandon || !ws->forward_cancel()) throw CancelledError();
    cond = WaitSet::all_ready;  // forwarded: wait until every member is done
    cancelled_before = true;
  }
  SuspendResult r = co_await async_suspend(std::move(ws), cond, deadline, policy, use_coro);
  if (cancelled_before) r.cancel_seen = true;
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none) {
    co_await asio::this_coro::reset_cancellation_state();
    if (!r.cancel_seen) throw CancelledError();
  }
  if (r.wake == Wake::cancelled) throw CancelledError();
  co_return r;
}

namespace {
class BlockingSleeper final : public Sleeper {
 public:
  explicit BlockingSleeper(Ref<WaitSet> ws) : Sleeper(std::move(ws), OnCancel::abandon) {}
  std::binary_semaphore sem{0};
  Wake wake = Wake::ready;

 private:
  void post_resume(Wake w) noexcept override {
    wake = w;
    sem.release();
  }
  void resume(Wake) noexcept override {}
};
}  // namespace

Wake block_on(const Ref<WaitSet>& ws, WaitSet::Condition cond,
              std::optional<Clock::time_point> deadline) {
  auto s = make_ref<BlockingSleeper>(ws);
  if (!ws->arm(s.get(), cond)) return Wake::ready;
  if (running_loop()) {
    // Blocking here would stop the loop that has to complete what is awaited: for the
    // whole timeout, or for ever (Future::result() refuses the same way).
    ws->disarm(s.get());
    throw InvalidStateError(
        "a blocking wait on an event loop's thread would block the loop: co_await it instead");
  }
  if (!deadline) {
    s->sem.acquire();
    return s->wake;
  }
  if (s->sem.try_acquire_until(*deadline)) return s->wake;
  s->fire(Wake::timeout);  // loses to a completion already under way, which releases sem
  s->sem.acquire();
  return s->wake;
}

Ref<WaitSet> watch_one(StateBase* s) {
  auto ws = make_ref<WaitSet>(1);
  ws->watch(0, s);
  return ws;
}

}  // namespace shoal::detail
