#pragma once
/// \file
/// Thread and the module functions of Python's threading module: current_thread(),
/// main_thread(), enumerate(), active_count(), get_ident(), get_native_id(),
/// stack_size() and excepthook.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "shoal/core/error.hpp"
#include "shoal/sync/deadline.hpp"

namespace shoal {

/// How a Thread is created (Python's Thread(name=..., daemon=...)).
struct ThreadOptions {
  /// The thread's name; empty gives "Thread-N". The OS sees its first 15 bytes.
  std::string name = {};
  /// A daemon thread is not waited for at process exit; nullopt inherits the creating
  /// thread's flag (Python's default).
  std::optional<bool> daemon = std::nullopt;
};

namespace detail {

class ThreadState;
struct ThreadTargetTag {};

/// The call a Thread makes: type-erased and move-only, so arguments may be move-only.
class ThreadTarget {
 public:
  virtual ~ThreadTarget() = default;
  virtual void run() = 0;
};

template <typename F, typename... A>
class ThreadCall final : public ThreadTarget {
 public:
  template <typename G, typename... B>
  explicit ThreadCall(G&& fn, B&&... args)
      : fn_(std::forward<G>(fn)), args_(std::forward<B>(args)...) {}
  // The arguments are handed over as rvalues, as std::thread does.
  void run() override {
    std::apply([this](A&... a) { std::invoke(std::move(fn_), std::move(a)...); }, args_);
  }

 private:
  F fn_;
  std::tuple<A...> args_;
};

}  // namespace detail

/// A thread of control (Python's threading.Thread). The handle is cheap to copy: copies
/// name the same thread, and destroying every handle does not stop or detach anything,
/// since the thread keeps running, as in Python.
///     shoal::Thread t(work, 1, "two");            // or Thread({.name = "io"}, work, ...)
///     t.start();
///     if (!t.join(50ms)) { /* still running */ }
/// An exception escaping the call goes to excepthook (by default printed to stderr).
/// At process exit (std::exit or returning from main) the non-daemon threads are joined,
/// as Python does before it finalizes; daemon threads are left running.
class Thread {
 public:
  /// A thread that runs nothing (Python's Thread() with no target), named "Thread-N".
  Thread();
  /// A thread that will call fn(args...) (decay-copied or moved in, as std::thread does).
  template <typename F, typename... A>
    requires(!std::is_same_v<std::remove_cvref_t<F>, ThreadOptions> &&
             !std::is_same_v<std::remove_cvref_t<F>, Thread> &&
             !std::is_same_v<std::remove_cvref_t<F>, detail::ThreadTargetTag>)
  explicit Thread(F&& fn, A&&... args)
      : Thread(ThreadOptions{}, std::forward<F>(fn), std::forward<A>(args)...) {}
  /// As Thread(fn, args...), with a name and a daemon flag.
  template <typename F, typename... A>
  Thread(ThreadOptions options, F&& fn, A&&... args)
      : Thread(detail::ThreadTargetTag{}, std::move(options),
               make_target(std::forward<F>(fn), std::forward<A>(args)...)) {}
  /// A thread with options that runs nothing.
  explicit Thread(ThreadOptions options);

  /// Starts the thread and returns once it is running (ident() is then set).
  /// InvalidStateError when it was started before; Error when the OS refuses a thread.
  void start();
  /// Waits until the thread has finished. InvalidStateError when it was not started or is
  /// the calling thread (a deadlock), or is a thread shoal did not start.
  void join();
  /// Waits at most `timeout` (a negative one polls); true when the thread has finished.
  template <typename Rep, typename Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(detail::deadline_after(timeout));
  }
  /// True from start() until the call has returned.
  [[nodiscard]] bool is_alive() const;
  /// Its get_ident() once started (kept after it ends; the OS may reuse it then).
  [[nodiscard]] std::optional<std::uint64_t> ident() const;
  /// Its get_native_id() (the kernel's thread id) once started.
  [[nodiscard]] std::optional<std::uint64_t> native_id() const;
  /// Its name (only for identification; several threads may share one).
  [[nodiscard]] std::string name() const;
  /// Renames it; a running thread keeps the OS name it started with.
  void set_name(std::string name);
  /// True for a daemon thread (not waited for at exit).
  [[nodiscard]] bool daemon() const;
  /// Sets the daemon flag; InvalidStateError once started.
  void set_daemon(bool daemon);
  /// Python's repr: "<Thread(worker, started daemon 1403)>".
  [[nodiscard]] std::string repr() const;

  /// Handles are equal when they name the same thread.
  friend bool operator==(const Thread& a, const Thread& b) noexcept { return a.st_ == b.st_; }

 private:
  friend Thread current_thread();
  friend Thread main_thread();
  friend std::vector<Thread> enumerate();

  template <typename F, typename... A>
  static std::unique_ptr<detail::ThreadTarget> make_target(F&& fn, A&&... args) {
    static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>,
                  "shoal::Thread: the callable cannot be called with these arguments");
    return std::make_unique<detail::ThreadCall<std::decay_t<F>, std::decay_t<A>...>>(
        std::forward<F>(fn), std::forward<A>(args)...);
  }
  using TargetTag = detail::ThreadTargetTag;
  Thread(TargetTag, ThreadOptions options, std::unique_ptr<detail::ThreadTarget> target);
  explicit Thread(std::shared_ptr<detail::ThreadState> st) noexcept : st_(std::move(st)) {}
  bool join_until(detail::SteadyClock::time_point deadline);

  std::shared_ptr<detail::ThreadState> st_;
};

/// The Thread of the caller. For a thread shoal did not start (a std::thread, a pool
/// worker) it is a "Dummy-N" daemon Thread that counts in enumerate() until the thread ends
/// and cannot be joined, as in Python.
[[nodiscard]] Thread current_thread();
/// The thread that started the process ("MainThread").
[[nodiscard]] Thread main_thread();
/// Every Thread alive: the main thread, started shoal threads, and the dummy Threads of
/// other threads that called current_thread().
[[nodiscard]] std::vector<Thread> enumerate();
/// enumerate().size().
[[nodiscard]] std::size_t active_count();
/// The caller's thread identifier: nonzero, unique among live threads, reused later.
[[nodiscard]] std::uint64_t get_ident() noexcept;
/// The caller's kernel thread id (gettid()).
[[nodiscard]] std::uint64_t get_native_id() noexcept;
/// The stack size used for threads started from now on; 0 is the system's default.
[[nodiscard]] std::size_t stack_size() noexcept;
/// Sets the stack size for threads started from now on (0: the system's default) and
/// returns the previous one. ValueError below 32 KiB (other than 0) or when the system
/// refuses the size.
std::size_t stack_size(std::size_t size);

/// What excepthook receives when a thread's call throws (Python's ExceptHookArgs).
struct ExceptHookArgs {
  /// The exception that escaped.
  std::exception_ptr exc_value;
  /// The thread's name (empty when unknown).
  std::string thread_name;
  /// The thread's get_ident().
  std::uint64_t thread_ident = 0;
  /// The thread itself (empty when the hook is called by hand without one).
  std::optional<Thread> thread;
};

/// A handler for exceptions escaping threads.
using ExceptHook = std::function<void(const ExceptHookArgs&)>;

/// Installs `hook` (an empty function restores the default) and returns the previous one.
/// The hook runs in the failing thread; if it throws, that is printed to stderr.
ExceptHook set_excepthook(ExceptHook hook);
/// Calls the installed hook (Python's `threading.excepthook(args)`).
void excepthook(const ExceptHookArgs& args);
/// The default hook (Python's threading.__excepthook__): prints "Exception in thread
/// NAME:" and the exception's type and message to stderr.
void default_excepthook(const ExceptHookArgs& args);

}  // namespace shoal
