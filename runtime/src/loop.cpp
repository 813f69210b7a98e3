#include "shoal/core/loop.hpp"

#include <asio/dispatch.hpp>
#include <asio/steady_timer.hpp>
#include <algorithm>
#include <cstdio>
#include <thread>

namespace shoal {

namespace {
thread_local Loop* t_running = nullptr;
}

namespace detail {

Loop* running_loop() noexcept { return t_running; }

void report_callback_exception(std::exception_ptr e) noexcept {
  std::fprintf(stderr, "shoal: exception in a done-callback or a scheduled callback (ignored): %s\n", describe(e).c_str());
}

void report_unretrieved(const std::string& task_name, std::exception_ptr e) noexcept {
  try {
    std::fprintf(stderr, "shoal: exception never retrieved from task '%s': %s\n", task_name.c_str(),
                 describe(e).c_str());
  } catch (...) {
    std::fprintf(stderr, "shoal: exception never retrieved from task '%s'\n", task_name.c_str());
  }
}

void register_task(TaskCore* t) noexcept {
  if (Loop* loop = t_running) loop->register_task(t);
}

bool enqueue_launch(const Executor& ex, TaskCore* t) noexcept {
  Loop* loop = t_running;
  if (!loop || loop_executor(ex) != loop->get_executor()) return false;
  loop->enqueue_launch(t);
  return true;
}

bool running_loop_home(Executor& ex, std::weak_ptr<void>& ctx) noexcept {
  Loop* loop = t_running;
  if (!loop) return false;
  ex = loop->get_executor();
  ctx = loop->context_weak();
  return true;
}

std::weak_ptr<void> running_loop_context(const Executor& ex) noexcept {
  Loop* loop = t_running;
  if (!loop || loop_executor(ex) != loop->get_executor()) return {};  // a task's executor names its loop
  return loop->context_weak();
}

bool loop_closing() noexcept { return t_running && t_running->closing(); }

void unregister_task(TaskCore* t) noexcept {
  if (t->loop_) t->loop_->unregister_task(t);
}

struct TimerState {
  TimerState(std::function<void()> f, SteadyClock::time_point at, std::weak_ptr<asio::io_context> c)
      : fn(std::move(f)), when(at), ctx(std::move(c)) {}

  std::function<void()> fn;  // the loop's thread only; released once run
  std::atomic<bool> cancelled{false};
  const SteadyClock::time_point when;
  const std::weak_ptr<asio::io_context> ctx;
  // Owned by its own pending wait (the handler holds it), so that a handle kept past
  // the loop never destroys a timer after its io_context. The loop's thread only.
  std::weak_ptr<asio::steady_timer> timer;

  void run() noexcept {
    auto f = std::move(fn);
    fn = nullptr;
    if (!f || cancelled.load(std::memory_order_acquire)) return;
    try {
      f();
    } catch (...) {
      report_callback_exception(std::current_exception());
    }
  }
};

}  // namespace detail

void TimerHandle::cancel() noexcept {
  if (!st_ || st_->cancelled.exchange(true, std::memory_order_acq_rel)) return;
  // Wake the pending wait now, so that the loop does not keep it (and its function) until
  // it is due. Held through the post: the loop cannot be destroyed under it.
  if (auto ctx = st_->ctx.lock()) {
    try {
      asio::post(*ctx, [st = st_] {
        if (auto t = st->timer.lock()) t->cancel();
        st->fn = nullptr;
      });
    } catch (...) {  // out of memory: the due time finds it cancelled instead
    }
  }
}

bool TimerHandle::cancelled() const noexcept { return st_ && st_->cancelled.load(std::memory_order_acquire); }

TimerHandle::Clock::time_point TimerHandle::when() const noexcept { return st_ ? st_->when : Clock::time_point{}; }

namespace {
// A loop callback runs as no task, in a copy of the context it was scheduled from.
std::function<void()> in_context(std::function<void()> fn) {
  return [ctx = detail::current_context_slot(), fn = std::move(fn)]() mutable {
    detail::CallbackScope scope(std::move(ctx));
    fn();
  };
}
}  // namespace

TimerHandle Loop::call_soon(std::function<void()> fn) {
  auto st = std::make_shared<detail::TimerState>(in_context(std::move(fn)), detail::SteadyClock::now(), ctx_);
  asio::post(*ctx_, [st] { st->run(); });
  return TimerHandle(std::move(st));
}

TimerHandle Loop::call_at(std::chrono::steady_clock::time_point when, std::function<void()> fn) {
  auto st = std::make_shared<detail::TimerState>(in_context(std::move(fn)), when, ctx_);
  // The timer is made and armed on the loop's thread: callable from any thread.
  asio::dispatch(*ctx_, [st, ctx = ctx_.get()] {
    if (st->cancelled.load(std::memory_order_acquire)) return st->run();  // releases fn
    auto timer = std::make_shared<asio::steady_timer>(*ctx, st->when);
    st->timer = timer;
    timer->async_wait([st, timer](const asio::error_code&) { st->run(); });
  });
  return TimerHandle(std::move(st));
}

Loop::Loop() = default;

Loop::~Loop() {
  try {
    shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shoal: error while shutting down a loop: %s\n", e.what());
  }
}

Loop::Running::Running(Loop& loop) : loop_(loop), outer_(t_running) {
  if (outer_) throw InvalidStateError("this thread is already running an event loop: await instead of calling run()");
  if (loop.running_.exchange(true, std::memory_order_acq_rel))
    throw InvalidStateError("this loop is already running on another thread");
  t_running = &loop;
}

Loop::Running::~Running() {
  loop_.running_ = false;
  t_running = outer_;
}

Loop& get_running_loop() {
  if (!t_running) throw InvalidStateError("no running event loop: call this from a coroutine run by shoal::run()");
  return *t_running;
}

void Loop::register_task(detail::TaskCore* t) noexcept {
  t->loop_ = this;
  t->prev_ = nullptr;
  t->next_ = tasks_;
  if (tasks_) tasks_->prev_ = t;
  tasks_ = t;
  ++task_count_;
}

void Loop::unregister_task(detail::TaskCore* t) noexcept {
  if (t->loop_ != this) return;
  if (t->prev_)
    t->prev_->next_ = t->next_;
  else
    tasks_ = t->next_;
  if (t->next_) t->next_->prev_ = t->prev_;
  t->prev_ = t->next_ = nullptr;
  t->loop_ = nullptr;
  --task_count_;
}

void Loop::enqueue_launch(detail::TaskCore* t) noexcept {
  t->launch_next_ = nullptr;
  if (launch_tail_) {
    launch_tail_->launch_next_ = t;
    launch_tail_ = t;
    return;
  }
  launch_head_ = launch_tail_ = t;
  asio::post(*ctx_, [this]() noexcept { drain_launches(); });
}

void Loop::drain_launches() noexcept {
  // Start the tasks queued so far, in creation order. Those their bodies create go to a
  // fresh queue and a fresh drain: they start after, as in Python.
  detail::TaskCore* t = std::exchange(launch_head_, nullptr);
  launch_tail_ = nullptr;
  while (t) {
    detail::TaskCore* next = t->launch_next_;
    t->launch();
    t = next;
  }
}

void Loop::cancel_all_tasks() {
  // Collect first: cancelling may complete tasks and unlink them.
  std::vector<detail::Ref<detail::StateBase>> live;
  for (auto* t = tasks_; t; t = t->next_) live.emplace_back(&t->base());
  for (auto* t = launch_head_; t; t = t->launch_next_) live.emplace_back(&t->base());
  for (auto& s : live) s->cancel();
}

std::size_t Loop::poll() {
  if (shut_down_) throw InvalidStateError("poll() on a loop that was shut down");
  Running guard(*this);
  if (ctx_->stopped()) ctx_->restart();
  return ctx_->poll();
}

void Loop::shutdown() {
  if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
  {
    Running guard(*this);
    cancel_all_tasks();
    ctx_->restart();
    // Also runs tasks whose launch was posted but not run yet: they end cancelled.
    while (task_count_ > 0 && ctx_->run_one() > 0) {
    }
    ctx_->poll();
  }
  if (pool_) pool_->join();
}

asio::thread_pool& Loop::default_executor() {
  std::call_once(pool_once_, [this] {
    // Python's default: min(32, cpu_count + 4) threads.
    auto n = std::min<unsigned>(32, std::max(1u, std::thread::hardware_concurrency()) + 4);
    pool_ = std::make_unique<asio::thread_pool>(n);
  });
  return *pool_;
}

}  // namespace shoal
