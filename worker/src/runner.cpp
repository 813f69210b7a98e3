#include "runner.hpp"

#include "map_chunk.hpp"

#include <asio/post.hpp>

#include <thread>

#include "crash_report.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/remote/errors.hpp"
#include "shoal/remote/this_task.hpp"

namespace shoal::worker {

using link::steady_ns;

namespace {
constexpr double kInlineBelowNs = 20'000;   // a plain function this fast runs on the loop
constexpr std::uint64_t kDemoteAboveNs = 1'000'000;  // an inline call this slow sends it back
// The result of a plain job shorter than kHoldBelowNs, with more queued behind it, waits
// up to kHoldNs to leave with the next ones (Dask's worker batches its messages every
// 2 ms likewise): on 2 busy cores every result sent alone woke this worker's loop, the
// coordinator and the client, each taking the core from a computing thread (B6s).
constexpr std::uint64_t kHoldBelowNs = 1'000'000;
constexpr auto kHoldNs = std::chrono::milliseconds(2);

// This thread runs plain jobs for a Runner (drain()).
thread_local bool in_drain = false;
}  // namespace

// While a plain job waits on a future (its own child tasks, through Client::current()),
// its place in the pool is lent: the next job starts on a new thread, and the coordinator
// is told (Blocked) so that it sends more.
struct Runner::BlockHook final : shoal::detail::BlockingHook {
  Runner* runner;
  std::uint64_t task;
  shoal::detail::BlockingHook* previous;
  BlockHook(Runner* r, std::uint64_t t) : runner(r), task(t), previous(shoal::detail::blocking_hook()) {
    shoal::detail::blocking_hook() = this;
  }
  ~BlockHook() { shoal::detail::blocking_hook() = previous; }
  void blocking(bool on) noexcept override {
    runner->plain_lent_.fetch_add(on ? 1 : -1, std::memory_order_acq_rel);
    if (on) try {
        runner->pump();  // a place is lent: another job may start
      } catch (...) {    // no thread for it now: the next pump (the next job) starts one
      }
    asio::post(runner->ex_, [self = runner->shared_from_this(), task = task, on] {
      if (self->callbacks_.blocked) self->callbacks_.blocked(task, on);
    });
  }
};

Runner::Runner(asio::any_io_executor ex, unsigned threads, remote::Registry& registry, Callbacks callbacks)
    : ex_(std::move(ex)),
      threads_(threads),
      registry_(registry),
      callbacks_(std::move(callbacks)),
      // Up to 256 threads more than `threads`, started only for jobs that start while
      // others are blocked on their children (the pool starts threads on demand).
      pool_(std::make_unique<ThreadPoolExecutor>(threads + 256)) {}

Runner::~Runner() = default;

Runner::FnStats& Runner::stats_of(const remote::FunctionEntry* e) {
  std::lock_guard lock(stats_mu_);
  auto& p = stats_[e];
  if (!p) p = std::make_unique<FnStats>();
  return *p;
}

void Runner::observe(FnStats& st, std::uint64_t run_ns) {
  double m = st.mean_ns.load(std::memory_order_relaxed);
  st.mean_ns.store(m < 0 ? double(run_ns) : 0.9 * m + 0.1 * double(run_ns), std::memory_order_relaxed);
}

void Runner::pump() {
  std::lock_guard lock(fifo_mu_);
  if (fifo_closed_) return;
  int limit = static_cast<int>(threads_) + plain_lent_.load(std::memory_order_acquire);
  for (int queued_jobs = static_cast<int>(plain_fifo_.size()); queued_jobs > 0 && plain_running_ < limit; --queued_jobs) {
    (void)pool_->submit([self = shared_from_this()] { self->drain(); });
    ++plain_running_;  // only once a thread will hold it (submit may throw)
  }
}

void Runner::drain() {
  // This thread holds one of the plain_running_ places: it runs jobs from the FIFO, one
  // after another, while there are some and the places are not over the limit (a blocked
  // job that went on takes its lent place back). A job that ends does not wait for the
  // loop to hand out the next one: on a busy machine that wake-up costs more than a
  // short job (B6s). It gives its place back in the same critical section that finds
  // nothing left for it: a pump() in between must not count a thread that is leaving (the
  // job it queued would wait with no thread to run it), nor may two leaving threads both
  // see the places over the limit.
  for (;;) {
    std::function<void()> job;
    {
      std::lock_guard lock(fifo_mu_);
      int limit = static_cast<int>(threads_) + plain_lent_.load(std::memory_order_acquire);
      if (plain_fifo_.empty() || plain_running_ > limit) {
        --plain_running_;
        return;
      }
      job = std::move(plain_fifo_.front());
      plain_fifo_.pop_front();
    }
    in_drain = true;
    try {
      job();  // reports its own outcome, its failures included
    } catch (...) {  // what escapes it (no memory to report) costs that job, not this place
    }
    in_drain = false;
  }
}

// ---- outcomes ----

void Runner::report(Outcome r) {
  bool hold = false;
  if (in_drain && r.kind == Outcome::value && r.run_ns < kHoldBelowNs && holding_.load(std::memory_order_acquire)) {
    std::lock_guard lock(fifo_mu_);
    hold = !plain_fifo_.empty();  // the last of a run leaves at once, with those held
  }
  std::lock_guard lock(sink_mu_);
  if (closed_) return;  // after shutdown(): nobody reads it, and the loop may be gone
  sink_.push_back(std::move(r));
  if (!sink_posted_ && !hold) {
    sink_posted_ = true;
    asio::post(ex_, [self = shared_from_this()] {
      {
        std::lock_guard lock(self->sink_mu_);
        self->sink_posted_ = false;
      }
      if (self->callbacks_.outcomes_ready) self->callbacks_.outcomes_ready();
    });
  }
}

void Runner::hand_back(const Job& j) {
  Outcome r;
  r.id = j.id;
  r.kind = Outcome::handed_back;
  r.attempt = j.attempt;
  report(std::move(r));
}

void Runner::report_error(const Job& j, std::exception_ptr e, std::uint64_t run_ns) {
  Outcome r;
  r.id = j.id;
  r.attempt = j.attempt;
  r.run_ns = run_ns;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    if (j.timed_out.load()) {
      r.kind = Outcome::failure;
      r.error = codec::describe_error(
          std::make_exception_ptr(TimeoutError("the task ran past its timeout of " + std::to_string(j.timeout_ms) + " ms")),
          j.function, j.id);
    } else {
      r.kind = Outcome::cancelled;
    }
  } catch (...) {
    r.kind = Outcome::failure;
    r.error = codec::describe_error(std::current_exception(), j.function, j.id);
  }
  report(std::move(r));
}

std::vector<Outcome> Runner::take_outcomes() {
  std::vector<Outcome> out;
  {
    std::lock_guard lock(sink_mu_);
    out.swap(sink_);
  }
  // Short plain jobs ended and more wait: the next results are held (report()) until the
  // hold timer sends them together.
  bool short_ones = false;
  for (const auto& o : out) short_ones = short_ones || (o.kind == Outcome::value && o.run_ns < kHoldBelowNs);
  if (short_ones && !holding_.load(std::memory_order_relaxed) && !shut_down_) {
    bool more;
    {
      std::lock_guard lock(fifo_mu_);
      more = !plain_fifo_.empty();
    }
    if (more) {
      if (!hold_timer_) hold_timer_ = std::make_unique<link::Timer>(ex_);
      holding_.store(true, std::memory_order_release);
      hold_timer_->expires_after(kHoldNs);
      hold_timer_->async_wait([weak = weak_from_this()](std::error_code ec) {
        auto self = weak.lock();
        if (!self) return;
        self->holding_.store(false, std::memory_order_release);
        if (ec) return;
        if (self->has_outcomes() && self->callbacks_.outcomes_ready) self->callbacks_.outcomes_ready();
      });
    }
  }
  return out;
}

bool Runner::has_outcomes() {
  std::lock_guard lock(sink_mu_);
  return !sink_.empty();
}

// ---- running ----

void Runner::start(const std::shared_ptr<Job>& j) {
  std::shared_ptr<const remote::FunctionEntry> entry;
  FnStats* stp = nullptr;
  if (last_entry_ && last_entry_->name == j->function && last_entry_->signature_hash == j->hash) {
    entry = last_entry_;
    stp = last_stats_;
  } else {
    try {
      entry = registry_.get(j->function, j->hash);
    } catch (...) {
      j->phase = reported;
      report_error(*j, std::current_exception(), 0);
      return;
    }
    stp = &stats_of(entry.get());
    last_entry_ = entry;
    last_stats_ = stp;
  }
  arm_timeout(j);
  if (j->map) return start_map(j, entry);
  if (entry->is_coroutine) {
    run_coroutine(j, [entry](codec::Reader& r) { return entry->invoke_async(r); }, {});
    return;
  }
  auto& st = *stp;
  double mean = st.mean_ns.load(std::memory_order_relaxed);
  if (mean >= 0 && mean < kInlineBelowNs && !j->timeout_ms && st.demoted.load(std::memory_order_relaxed) == 0)
    return run_inline(j, *entry, st);
  if (auto d = st.demoted.load(std::memory_order_relaxed)) st.demoted.store(d - 1, std::memory_order_relaxed);
  run_plain(
      j,
      [entry, &st](codec::Reader& args) {
        auto t0 = steady_ns();
        auto out = entry->invoke(args);
        args.expect_end();
        observe(st, steady_ns() - t0);
        return out;
      },
      {});
}

void Runner::start_map(const std::shared_ptr<Job>& j, const std::shared_ptr<const remote::FunctionEntry>& entry) {
  auto id = j->id;
  if (entry->is_coroutine)
    return run_coroutine(j, [entry, id](codec::Reader& r) { return run_map_chunk_async(entry, r, id); }, {});
  run_plain(j, [entry, j](codec::Reader& r) { return run_map_chunk(*entry, r, j->id, j->stop.get_token()); }, {});
}

void Runner::arm_timeout(const std::shared_ptr<Job>& j) {
  if (!j->timeout_ms) return;
  // The coordinator refuses more than kMaxTimeoutMs; clamped again here, so that now +
  // timeout can never overflow whatever a peer sends.
  auto ms = std::chrono::milliseconds(
      std::min<std::uint64_t>(j->timeout_ms, static_cast<std::uint64_t>(link::kMaxTimeoutMs)));
  j->timer = std::make_unique<link::Timer>(ex_, ms);
  j->timer->async_wait([self = shared_from_this(), weak = std::weak_ptr<Job>(j)](std::error_code ec) {
    auto j = weak.lock();
    if (ec || !j) return;
    j->timed_out = true;
    self->cancel(*j);
  });
}

void Runner::run_coroutine(const std::shared_ptr<Job>& j, std::function<Coro<Bytes>(codec::Reader&)> make,
                           std::function<void()> then) {
  Coro<Bytes> coro;
  try {
    codec::Reader r = j->reader();
    coro = make(r);
  } catch (...) {
    j->phase = reported;
    report_error(*j, std::current_exception(), 0);
    if (then) then();
    return;
  }
  j->phase = JobPhase::running;
  started_.fetch_add(1, std::memory_order_relaxed);
  auto after = std::make_shared<std::function<void()>>(std::move(then));
  j->after = after;
  auto body = [](std::shared_ptr<Runner> self, std::shared_ptr<Job> j, Coro<Bytes> coro,
                 std::shared_ptr<std::function<void()>> after) -> Coro<void> {
    j->began = true;
    this_task::set_coroutine_id(j->id);  // in this task's context: what it submits are its children
    auto t0 = steady_ns();
    std::exception_ptr error;
    Bytes value;
    try {
      value = co_await std::move(coro);
    } catch (...) {
      error = std::current_exception();
    }
    self->finished(*j, error, std::move(value), steady_ns() - t0);
    if (j->timer) j->timer->cancel();
    run_once(*after);
  };
  // A fresh, empty context: not that of whatever runs this (an actor's previous call ends
  // by starting the next one from inside its task).
  shoal::detail::CallbackScope fresh{shoal::detail::Ref<shoal::detail::ContextData>()};
  j->coro.emplace(create_task(ex_, body(shared_from_this(), j, std::move(coro), std::move(after))));
}

void Runner::run_plain(const std::shared_ptr<Job>& j, std::function<Bytes(codec::Reader&)> call,
                       std::function<void()> then) {
  auto self = shared_from_this();
  auto job = [self, j, call = std::move(call), then = std::move(then)]() mutable {
    int expected = queued;
    if (!j->phase.compare_exchange_strong(expected, JobPhase::running)) {
      if (then) asio::post(self->ex_, std::move(then));
      return;  // cancelled or handed back before it started: already reported
    }
    self->running_now_.fetch_add(1, std::memory_order_relaxed);
    self->started_.fetch_add(1, std::memory_order_relaxed);
    auto t0 = steady_ns();
    std::exception_ptr error;
    Bytes value;
    {
      this_task::StopScope scope(j->stop.get_token());
      this_task::OutputScope output(self->output_sink_.get(), j->id);
      crash::TaskScope crash_scope(j->id);
      BlockHook hook(self.get(), j->id);
      try {
        codec::Reader r = j->reader();
        value = call(r);
      } catch (...) {
        error = std::current_exception();
      }
    }
    auto run_ns = steady_ns() - t0;
    self->running_now_.fetch_sub(1, std::memory_order_relaxed);
    self->finished(*j, error, std::move(value), run_ns);
    if (j->timer) asio::post(self->ex_, [j] { j->timer->cancel(); });
    if (then) asio::post(self->ex_, std::move(then));
  };
  {
    std::lock_guard lock(fifo_mu_);
    if (fifo_closed_) return;  // after shutdown(): never run (`job` goes out of scope unlocked)
    plain_fifo_.emplace_back(std::move(job));
  }
  pump();
}

// A tiny plain function, measured under 20 us: run it here, on the loop thread. One that
// turns out slow (over 1 ms) goes back to the pool for its next 1,000 calls.
void Runner::run_inline(const std::shared_ptr<Job>& j, const remote::FunctionEntry& entry, FnStats& st) {
  j->phase = JobPhase::running;
  started_.fetch_add(1, std::memory_order_relaxed);
  auto t0 = steady_ns();
  Bytes value;
  std::exception_ptr error;
  {
    this_task::StopScope scope(j->stop.get_token());
    this_task::OutputScope output(output_sink_.get(), j->id);
    crash::TaskScope crash_scope(j->id);
    try {
      codec::Reader r = j->reader();
      value = entry.invoke(r);
      r.expect_end();
    } catch (...) {
      error = std::current_exception();
    }
  }
  auto run_ns = steady_ns() - t0;
  observe(st, run_ns);
  if (run_ns > kDemoteAboveNs) st.demoted.store(1000, std::memory_order_relaxed);
  finished(*j, error, std::move(value), run_ns);
}

// A running job ended (any thread): report its outcome unless a cancellation or a
// timeout reported it already. A job that timed out reports TimeoutError.
void Runner::finished(Job& j, std::exception_ptr error, Bytes value, std::uint64_t run_ns) {
  int expected = JobPhase::running;
  if (!j.phase.compare_exchange_strong(expected, reported)) return;
  if (!error && j.timed_out) error = std::make_exception_ptr(CancelledError());
  if (error) return report_error(j, error, run_ns);
  Outcome r;
  r.id = j.id;
  r.bytes = std::move(value);
  r.attempt = j.attempt;
  r.run_ns = run_ns;
  report(std::move(r));
}

void Runner::run_once(std::function<void()>& f) {
  if (!f) return;
  auto run = std::move(f);
  f = nullptr;
  run();
}

void Runner::cancel(Job& j) {
  int expected = queued;
  if (j.phase.compare_exchange_strong(expected, reported)) {
    // Not started: report it now (a timed-out one as a timeout).
    report_error(j, std::make_exception_ptr(CancelledError()), 0);
    return;
  }
  if (j.coro) {
    j.coro->cancel();
    if (!j.began) {
      // Cancelled before its task started (an assign and its cancel read in one turn):
      // the coroutine never runs (Python's semantics), so nothing in it reports the job
      // or starts an actor's next call. Done here, or the job is held for ever: reported
      // in every registration, its slot and resources never free, its actor stalled.
      // (Found by the simulation with real workers: docs/simulation.md.)
      finished(j, std::make_exception_ptr(CancelledError()), {}, 0);
      if (j.timer) j.timer->cancel();
      if (auto after = j.after.lock()) run_once(*after);
    }
    return;
  }
  j.stop.request_stop();
  if (j.timed_out) {
    // A plain function that ignores its stop token: the timeout is reported now.
    expected = JobPhase::running;
    if (j.phase.compare_exchange_strong(expected, reported))
      report_error(j, std::make_exception_ptr(CancelledError()), 0);
  }
}

bool Runner::shutdown() {
  if (shut_down_) return *shut_down_;
  {
    // From here nothing posts to the loop: what a pool thread still reports is dropped.
    std::lock_guard lock(sink_mu_);
    closed_ = true;
  }
  {
    std::lock_guard lock(fifo_mu_);
    fifo_closed_ = true;
    plain_fifo_.clear();  // never started (they hold the runner)
  }
  holding_.store(false, std::memory_order_release);
  if (hold_timer_) hold_timer_->cancel();
  if (running_now_.load() == 0) {
    // Join the pool threads here: their closures hold the runner, which must not be
    // destroyed on one of them after the loop is gone.
    pool_->shutdown(true, true);
    shut_down_ = true;
    return true;
  }
  // A plain job that ignores its stop token: the loop does not wait for it. A detached
  // thread destroys the pool (joining its threads) once the job returns; if the process
  // exits first, nothing waits for it. (Not leaked: a pool never joined is a leak to the
  // sanitizers, and its finished threads a thread leak.)
  pool_->shutdown(false, true);
  std::thread([pool = std::move(pool_)]() mutable { pool.reset(); }).detach();
  shut_down_ = false;
  return false;
}

}  // namespace shoal::worker
