#include "shoal/detail/state.hpp"

#include "shoal/sync/deadline.hpp"

#include <asio/post.hpp>
#include <cstdio>
#include <utility>
#include <semaphore>

namespace shoal::detail {

StateBase::~StateBase() {
  // A failure nobody looked at is reported, never silently dropped (Python logs "Task
  // exception was never retrieved").
  if (unretrieved_failure()) {
    std::fprintf(stderr, "shoal: exception never retrieved from a future or task: %s\n",
                 describe(error_).c_str());
  }
}

bool StateBase::add_waiter(Waiter* w) noexcept {
  std::lock_guard lock(mu_);
  if (is_done(phase_.load(std::memory_order_relaxed))) return false;
  w->next = nullptr;
  w->prev = tail_;
  if (tail_)
    tail_->next = w;
  else
    head_ = w;
  tail_ = w;
  return true;
}

bool StateBase::remove_waiter(Waiter* w) noexcept {
  std::lock_guard lock(mu_);
  // Once done, the list was handed to notify_all: w is no longer ours to unlink.
  if (is_done(phase_.load(std::memory_order_relaxed))) return false;
  if (w->prev)
    w->prev->next = w->next;
  else if (head_ == w)
    head_ = w->next;
  else
    return false;  // never registered
  if (w->next)
    w->next->prev = w->prev;
  else
    tail_ = w->prev;
  w->prev = w->next = nullptr;
  return true;
}

void StateBase::notify_all(Waiter* list) noexcept {
  while (list) {
    Waiter* next = list->next;  // read first: notify may free the node
    list->notify(list);
    list = next;
  }
}

bool StateBase::cancel() {
  Phase p = phase();
  if (p == Phase::finished) {
    // Python: cancelling a done future counts as looking at it (no "never retrieved").
    retrieved_.store(true, std::memory_order_relaxed);
    return false;
  }
  if (p != Phase::pending) return false;
  return try_set_cancelled();
}

bool StateBase::set_running_or_notify_cancel() {
  std::lock_guard lock(mu_);
  auto p = phase_.load(std::memory_order_relaxed);
  if (p == Phase::cancelled) return false;
  if (p != Phase::pending)
    throw InvalidStateError("set_running_or_notify_cancel() on a future that is already " +
                            std::string(p == Phase::running ? "running" : "finished"));
  phase_.store(Phase::running, std::memory_order_release);
  return true;
}

bool StateBase::try_set_exception(std::exception_ptr e) {
  return finish(Phase::finished, std::move(e), [] {});
}

bool StateBase::try_set_cancelled(std::exception_ptr why) {
  if (!why) why = std::make_exception_ptr(CancelledError());
  return finish(Phase::cancelled, std::move(why), [] {});
}

std::exception_ptr StateBase::exception_ptr() const noexcept {
  retrieved_.store(true, std::memory_order_relaxed);
  return error_;
}

void StateBase::rethrow_if_failed() const {
  retrieved_.store(true, std::memory_order_relaxed);
  if (error_) std::rethrow_exception(error_);
}

namespace {
struct BlockingWaiter : Waiter {
  std::binary_semaphore sem{0};
};

// The posted form of a callback: runs it once, or drops it if destroyed unrun.
struct PostedCallback {
  Callback* cb;
  explicit PostedCallback(Callback* c) noexcept : cb(c) {}
  PostedCallback(PostedCallback&& o) noexcept : cb(std::exchange(o.cb, nullptr)) {}
  PostedCallback& operator=(PostedCallback&&) = delete;
  ~PostedCallback() {
    if (cb) cb->drop(cb);
  }
  void operator()() noexcept {
    Callback* c = std::exchange(cb, nullptr);
    c->run(c);
  }
};
}  // namespace

void post_callback_to(const Executor& ex, Callback* cb) noexcept {
  try {
    asio::post(ex, PostedCallback(cb));  // whatever happens, the PostedCallback owns cb now
  } catch (...) {
    std::fputs("shoal: a done-callback was dropped: it could not be scheduled on its loop (out of memory)\n", stderr);
  }
}

BlockingHook*& blocking_hook() noexcept {
  thread_local BlockingHook* hook = nullptr;
  return hook;
}

bool StateBase::wait_blocking(std::optional<std::chrono::nanoseconds> timeout) noexcept {
  if (done()) return true;
  BlockingWaiter w;
  w.notify = [](Waiter* self) noexcept { static_cast<BlockingWaiter*>(self)->sem.release(); };
  if (!add_waiter(&w)) return true;
  struct Tell {
    BlockingHook* hook = blocking_hook();
    Tell() {
      if (hook) hook->blocking(true);
    }
    ~Tell() {
      if (hook) hook->blocking(false);
    }
  } tell;
  auto deadline = timeout ? deadline_after(*timeout) : SteadyClock::time_point::max();
  if (deadline == SteadyClock::time_point::max()) {  // none, or past what the clock counts
    w.sem.acquire();
    return true;
  }
  if (w.sem.try_acquire_until(deadline)) return true;
  if (remove_waiter(&w)) return false;
  // The state completed as we timed out: notify is on its way and w must outlive it.
  w.sem.acquire();
  return true;
}

}  // namespace shoal::detail
