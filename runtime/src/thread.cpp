// Thread and the threading module functions, after CPython's Lib/threading.py: a registry
// of live threads (Python's _active and _limbo), a main Thread, "Dummy" Threads for
// threads started elsewhere, and an exit handler that joins the non-daemon threads (Python's
// threading._shutdown).

#include "shoal/thread/thread.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "shoal/thread/local.hpp"

namespace shoal {

namespace detail {

class ThreadState : public std::enable_shared_from_this<ThreadState> {
 public:
  enum class Status { initial, starting, running, stopped };
  enum class Kind { thread, main, dummy };

  std::mutex mu;
  std::condition_variable cv;
  Status status = Status::initial;  // under mu
  Kind kind = Kind::thread;
  std::string name;                 // under mu
  bool daemon = false;              // under mu; fixed once started
  std::optional<std::uint64_t> ident;      // under mu
  std::optional<std::uint64_t> native_id;  // under mu
  std::unique_ptr<ThreadTarget> target;    // set before start, then only the thread touches it
};

}  // namespace detail

namespace {

using detail::ThreadState;
using Status = ThreadState::Status;
using Kind = ThreadState::Kind;

std::uint64_t native_tid() noexcept { return static_cast<std::uint64_t>(::syscall(SYS_gettid)); }
bool on_main_thread() noexcept { return ::syscall(SYS_gettid) == ::getpid(); }

/// Everything module-level. Leaked on purpose: daemon threads may still use it while the
/// process runs its static destructors.
struct Registry {
  std::mutex mu;
  std::vector<std::shared_ptr<ThreadState>> active;  // under mu; enumerate()'s order
  std::shared_ptr<ThreadState> main;
  std::atomic<std::uint64_t> counter{0};
  std::atomic<std::size_t> stack_size{0};
  std::mutex hook_mu;
  ExceptHook hook;  // under hook_mu; empty: default_excepthook
  std::once_flag atexit_once;

  Registry() : main(std::make_shared<ThreadState>()) {
    main->kind = Kind::main;
    main->name = "MainThread";
    main->status = Status::running;
    if (on_main_thread()) {
      main->ident = get_ident();
      main->native_id = native_tid();
    }
    active.push_back(main);
  }

  void add(std::shared_ptr<ThreadState> st) {
    std::lock_guard hold(mu);
    active.push_back(std::move(st));
  }
  void remove(const ThreadState* st) {
    std::lock_guard hold(mu);
    auto it = std::find_if(active.begin(), active.end(), [st](auto& p) { return p.get() == st; });
    if (it != active.end()) active.erase(it);
  }
};

void after_fork_in_child() noexcept;

Registry& registry() {
  static Registry* r = [] {
    auto* made = new Registry();
    ::pthread_atfork(nullptr, nullptr, after_fork_in_child);
    return made;
  }();
  return *r;
}

// Creates the registry, and with it the main Thread, during static initialization, which
// runs on the main thread.
[[maybe_unused]] const bool registry_made = (registry(), true);

thread_local ThreadState* t_current = nullptr;

/// Marks a thread stopped and wakes its joiners.
void mark_stopped(ThreadState& st) {
  {
    std::lock_guard hold(st.mu);
    st.status = Status::stopped;
  }
  st.cv.notify_all();
}

/// Owns the dummy Thread of a thread shoal did not start; it ends with the thread.
struct DummyHolder {
  std::shared_ptr<ThreadState> st;
  ~DummyHolder() {
    if (!st) return;
    registry().remove(st.get());
    mark_stopped(*st);
    t_current = nullptr;
  }
};

/// Python's threading._after_fork: in a child process only the thread that forked
/// exists. Every other Thread is marked stopped (so that nothing waits for it at exit) and
/// the forking thread becomes the main thread. The other threads may have held any of the
/// locks, so they are made anew.
void after_fork_in_child() noexcept {
  Registry& r = registry();
  new (&r.mu) std::mutex();
  new (&r.hook_mu) std::mutex();
  std::shared_ptr<ThreadState> me = t_current ? t_current->shared_from_this() : r.main;
  for (auto& st : r.active) {
    if (st == me) continue;
    new (&st->mu) std::mutex();
    new (&st->cv) std::condition_variable();
    st->status = Status::stopped;
  }
  if (me != r.main) {
    new (&r.main->mu) std::mutex();
    new (&r.main->cv) std::condition_variable();
    r.main->status = Status::stopped;
  }
  new (&me->mu) std::mutex();
  new (&me->cv) std::condition_variable();
  if (me->kind == Kind::dummy) {
    me->kind = Kind::main;
    me->name = "MainThread";
  }
  me->ident = get_ident();
  me->native_id = native_tid();
  me->status = Status::running;
  r.active.clear();
  r.active.push_back(me);
  r.main = me;
  t_current = me.get();
}

/// Python's threading._shutdown: the main thread is done, then every non-daemon thread is
/// joined (including those started meanwhile).
void join_at_exit() {
  Registry& r = registry();
  if (on_main_thread()) mark_stopped(*r.main);
  for (;;) {
    std::vector<std::shared_ptr<ThreadState>> waiting;
    {
      std::lock_guard hold(r.mu);
      for (auto& st : r.active)
        if (st->kind == Kind::thread && !st->daemon && st.get() != t_current) waiting.push_back(st);
    }
    if (waiting.empty()) return;
    for (auto& st : waiting) {
      std::unique_lock lock(st->mu);
      st->cv.wait(lock, [&] { return st->status == Status::stopped; });
    }
  }
}

void report_failure(ThreadState& st, std::exception_ptr e) noexcept {
  try {
    ExceptHookArgs args;
    args.exc_value = std::move(e);
    {
      std::lock_guard hold(st.mu);
      args.thread_name = st.name;
      args.thread_ident = st.ident.value_or(0);
    }
    args.thread = current_thread();
    excepthook(args);
  } catch (...) {
    std::fprintf(stderr, "Exception in threading.excepthook:\n%s\n",
                 describe(std::current_exception()).c_str());
    std::fflush(stderr);
  }
}

void* bootstrap(void* arg) {
  std::shared_ptr<ThreadState> st;
  {
    auto* p = static_cast<std::shared_ptr<ThreadState>*>(arg);
    st = std::move(*p);
    delete p;
  }
  t_current = st.get();
  std::string name;
  {
    std::lock_guard hold(st->mu);
    st->ident = get_ident();
    st->native_id = native_tid();
    st->status = Status::running;
    name = st->name;
  }
  st->cv.notify_all();  // start() returns
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());

  if (st->target) {
    try {
      st->target->run();
    } catch (...) {
      report_failure(*st, std::current_exception());
    }
    // The call and its arguments die here, in the thread, as Python drops its references.
    st->target.reset();
  }
  detail::clear_thread_locals();
  registry().remove(st.get());
  mark_stopped(*st);
  t_current = nullptr;
  return nullptr;
}

std::string new_name(const char* prefix) {
  return prefix + std::to_string(registry().counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

}  // namespace

// --- Thread -------------------------------------------------------------------------------

Thread::Thread() : Thread(TargetTag{}, ThreadOptions{}, nullptr) {}

Thread::Thread(ThreadOptions options) : Thread(TargetTag{}, std::move(options), nullptr) {}

Thread::Thread(TargetTag, ThreadOptions options, std::unique_ptr<detail::ThreadTarget> target)
    : st_(std::make_shared<ThreadState>()) {
  st_->name = options.name.empty() ? new_name("Thread-") : std::move(options.name);
  st_->daemon = options.daemon ? *options.daemon : current_thread().daemon();
  st_->target = std::move(target);
}

void Thread::start() {
  ThreadState& st = *st_;
  bool daemon = false;
  {
    std::lock_guard hold(st.mu);
    if (st.status != Status::initial) throw InvalidStateError("threads can only be started once");
    st.status = Status::starting;
    daemon = st.daemon;
  }
  Registry& r = registry();
  if (!daemon) std::call_once(r.atexit_once, [] { std::atexit(join_at_exit); });
  r.add(st_);  // counted from now on, as Python's _limbo

  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (std::size_t size = r.stack_size.load(std::memory_order_relaxed)) ::pthread_attr_setstacksize(&attr, size);
  auto* arg = new std::shared_ptr<ThreadState>(st_);
  pthread_t handle;
  const int rc = ::pthread_create(&handle, &attr, bootstrap, arg);
  ::pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete arg;
    r.remove(&st);
    {
      std::lock_guard hold(st.mu);
      st.status = Status::initial;
    }
    throw Error(std::string("can't start new thread: ") + std::strerror(rc), ErrorKind::overloaded);
  }
  std::unique_lock lock(st.mu);
  st.cv.wait(lock, [&] { return st.status != Status::starting; });
}

void Thread::join() { join_until(detail::SteadyClock::time_point::max()); }

bool Thread::join_until(detail::SteadyClock::time_point deadline) {
  ThreadState& st = *st_;
  std::unique_lock lock(st.mu);
  if (st.status == Status::initial) throw InvalidStateError("cannot join thread before it is started");
  if (st.kind == Kind::dummy) throw InvalidStateError("cannot join a dummy thread");
  if (st.status == Status::running && st.ident == get_ident())
    throw InvalidStateError("cannot join current thread");
  auto done = [&] { return st.status == Status::stopped; };
  if (deadline == detail::SteadyClock::time_point::max()) {
    st.cv.wait(lock, done);
    return true;
  }
  return st.cv.wait_until(lock, deadline, done);
}

bool Thread::is_alive() const {
  std::lock_guard hold(st_->mu);
  return st_->status == Status::running;
}

std::optional<std::uint64_t> Thread::ident() const {
  std::lock_guard hold(st_->mu);
  return st_->ident;
}

std::optional<std::uint64_t> Thread::native_id() const {
  std::lock_guard hold(st_->mu);
  return st_->native_id;
}

std::string Thread::name() const {
  std::lock_guard hold(st_->mu);
  return st_->name;
}

void Thread::set_name(std::string name) {
  std::lock_guard hold(st_->mu);
  st_->name = std::move(name);
}

bool Thread::daemon() const {
  std::lock_guard hold(st_->mu);
  return st_->daemon;
}

void Thread::set_daemon(bool daemon) {
  std::lock_guard hold(st_->mu);
  if (st_->status != Status::initial) throw InvalidStateError("cannot set daemon status of active thread");
  st_->daemon = daemon;
}

std::string Thread::repr() const {
  std::lock_guard hold(st_->mu);
  const char* cls = st_->kind == Kind::main ? "_MainThread" : st_->kind == Kind::dummy ? "_DummyThread" : "Thread";
  std::string status = st_->status == Status::initial   ? "initial"
                       : st_->status == Status::stopped ? "stopped"
                                                        : "started";
  if (st_->daemon) status += " daemon";
  if (st_->ident) status += " " + std::to_string(*st_->ident);
  return std::string("<") + cls + "(" + st_->name + ", " + status + ")>";
}

// --- module functions ---------------------------------------------------------------------

Thread current_thread() {
  if (t_current) return Thread(t_current->shared_from_this());
  Registry& r = registry();
  if (on_main_thread()) {
    {
      std::lock_guard hold(r.main->mu);
      if (!r.main->ident) {  // the registry was made on another thread (a late dlopen)
        r.main->ident = get_ident();
        r.main->native_id = native_tid();
      }
    }
    t_current = r.main.get();
    return Thread(r.main);
  }
  // A thread shoal did not start: a dummy Thread stands for it until it ends.
  static thread_local DummyHolder holder;
  auto st = std::make_shared<ThreadState>();
  st->kind = Kind::dummy;
  st->name = new_name("Dummy-");
  st->daemon = true;
  st->status = Status::running;
  st->ident = get_ident();
  st->native_id = native_tid();
  r.add(st);
  holder.st = st;
  t_current = st.get();
  return Thread(std::move(st));
}

Thread main_thread() { return Thread(registry().main); }

std::vector<Thread> enumerate() {
  Registry& r = registry();
  std::lock_guard hold(r.mu);
  std::vector<Thread> out;
  out.reserve(r.active.size());
  for (auto& st : r.active) out.push_back(Thread(st));
  return out;
}

std::size_t active_count() {
  Registry& r = registry();
  std::lock_guard hold(r.mu);
  return r.active.size();
}

std::uint64_t get_ident() noexcept {
  static_assert(std::is_integral_v<pthread_t> || std::is_pointer_v<pthread_t>);
  if constexpr (std::is_pointer_v<pthread_t>)
    return reinterpret_cast<std::uintptr_t>(::pthread_self());
  else
    return static_cast<std::uint64_t>(::pthread_self());
}

std::uint64_t get_native_id() noexcept { return native_tid(); }

std::size_t stack_size() noexcept { return registry().stack_size.load(std::memory_order_relaxed); }

std::size_t stack_size(std::size_t size) {
  if (size != 0) {
    if (size < 32 * 1024) throw ValueError("size not valid: " + std::to_string(size) + " bytes (the minimum is 32 KiB)");
    pthread_attr_t attr;
    ::pthread_attr_init(&attr);
    const int rc = ::pthread_attr_setstacksize(&attr, size);
    ::pthread_attr_destroy(&attr);
    if (rc != 0) throw ValueError("size not valid: " + std::to_string(size) + " bytes");
  }
  return registry().stack_size.exchange(size, std::memory_order_relaxed);
}

// --- excepthook ---------------------------------------------------------------------------

ExceptHook set_excepthook(ExceptHook hook) {
  Registry& r = registry();
  std::lock_guard hold(r.hook_mu);
  ExceptHook old = std::exchange(r.hook, std::move(hook));
  if (!old) old = default_excepthook;
  return old;
}

void excepthook(const ExceptHookArgs& args) {
  ExceptHook hook;
  {
    Registry& r = registry();
    std::lock_guard hold(r.hook_mu);
    hook = r.hook;
  }
  if (hook)
    hook(args);
  else
    default_excepthook(args);
}

void default_excepthook(const ExceptHookArgs& args) {
  std::string who = !args.thread_name.empty() ? args.thread_name
                    : args.thread                ? args.thread->name()
                                                 : std::to_string(get_ident());
  std::fprintf(stderr, "Exception in thread %s:\n%s\n", who.c_str(), describe(args.exc_value).c_str());
  std::fflush(stderr);
}

}  // namespace shoal
