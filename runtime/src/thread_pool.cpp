#include "shoal/exec/thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace shoal {

namespace detail {

/// The queue and the threads. One mutex guards the intrusive FIFO; workers sleep on a
/// condition variable, and a submit wakes one only when one is idle and not already woken.
class PoolCore {
 public:
  PoolCore(std::size_t max_workers, ThreadPoolOptions options)
      : max_workers_(max_workers), options_(std::move(options)) {}

  ~PoolCore() {
    shutdown(true, false);
    // Left only when one of the pool's own calls destroys it: that thread cannot be
    // joined, and it must not touch the pool after its call returns (Python raises).
    for (auto& t : self_shutdown_)
      if (t.joinable()) t.detach();
  }

  void enqueue(WorkItem* item) {
    bool wake = false;
    bool spawn = false;
    {
      std::unique_lock lock(mu_);
      if (shutdown_) {
        lock.unlock();
        item->drop(nullptr);
        throw InvalidStateError("cannot submit to a ThreadPoolExecutor after shutdown()");
      }
      if (program_exiting()) {
        lock.unlock();
        item->drop(nullptr);
        refuse_if_exiting("ThreadPoolExecutor");
      }
      if (broken_) {
        lock.unlock();
        item->drop(nullptr);
        throw BrokenExecutor(broken_reason_);
      }
      item->next_ = nullptr;
      if (tail_)
        tail_->next_ = item;
      else
        head_ = item;
      tail_ = item;
      ++queued_;
      if (idle_ > wakeups_) {
        ++wakeups_;
        wake = true;
      } else if (threads_.size() < max_workers_) {
        spawn = true;
        threads_.emplace_back();  // reserve the slot under the lock
      }
      if (spawn) start_thread_locked(threads_.size() - 1);
    }
    if (wake) cv_.notify_one();
  }

  void shutdown(bool wait, bool cancel_futures) {
    WorkItem* cancelled = nullptr;
    std::vector<std::thread> to_join;
    {
      std::lock_guard lock(mu_);
      shutdown_ = true;
      if (cancel_futures) {
        cancelled = std::exchange(head_, nullptr);
        tail_ = nullptr;
        queued_ = 0;
      }
      if (wait) to_join.swap(threads_);
    }
    cv_.notify_all();
    while (cancelled) {
      WorkItem* next = cancelled->next_;
      cancelled->drop(nullptr);
      cancelled = next;
    }
    join_others(to_join);
    if (wait) {
      std::lock_guard lock(mu_);
      // Threads started by a submit racing this shutdown join here too, and threads
      // whose own call shut the pool down earlier.
      to_join.swap(threads_);
      for (auto& t : self_shutdown_) to_join.push_back(std::move(t));
      self_shutdown_.clear();
    }
    join_others(to_join);
  }

  std::size_t max_workers() const noexcept { return max_workers_; }
  std::size_t thread_count() const noexcept {
    std::lock_guard lock(mu_);
    return threads_.size();
  }

 private:
  /// Joins every thread but the calling one. A call that shuts down its own pool cannot
  /// join its own thread: that thread is kept for a later shutdown(wait) or the
  /// destructor to join (detaching it would let the pool be freed under it).
  void join_others(std::vector<std::thread>& ts) {
    for (auto& t : ts) {
      if (!t.joinable()) continue;
      if (t.get_id() == std::this_thread::get_id()) {
        std::lock_guard lock(mu_);
        self_shutdown_.push_back(std::move(t));
      } else {
        t.join();
      }
    }
  }

  void start_thread_locked(std::size_t index) {
    threads_[index] = std::thread([this, index] { worker(index); });
  }

  void worker(std::size_t index) {
    std::string name = options_.thread_name_prefix + "_" + std::to_string(index);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    if (options_.initializer) {
      try {
        options_.initializer();
      } catch (...) {
        break_pool(std::current_exception());
        return;
      }
    }
    std::unique_lock lock(mu_);
    for (;;) {
      while (!head_ && !shutdown_ && !broken_) {
        ++idle_;
        cv_.wait(lock);
        --idle_;
        if (wakeups_ > 0) --wakeups_;
      }
      if (!head_) return;  // shut down (or broken) and drained
      WorkItem* item = head_;
      head_ = item->next_;
      if (!head_) tail_ = nullptr;
      --queued_;
      lock.unlock();
      item->run();
      lock.lock();
    }
  }

  void break_pool(std::exception_ptr why) {
    WorkItem* pending;
    {
      std::lock_guard lock(mu_);
      if (broken_) return;
      broken_ = true;
      broken_reason_ = "a thread initializer failed; the ThreadPoolExecutor is broken: " + describe(why);
      pending = std::exchange(head_, nullptr);
      tail_ = nullptr;
      queued_ = 0;
    }
    cv_.notify_all();
    auto e = std::make_exception_ptr(BrokenExecutor(broken_reason_));
    while (pending) {
      WorkItem* next = pending->next_;
      pending->drop(e);
      pending = next;
    }
  }

  const std::size_t max_workers_;
  const ThreadPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  WorkItem* head_ = nullptr;
  WorkItem* tail_ = nullptr;
  std::size_t queued_ = 0;
  std::size_t idle_ = 0;     // workers waiting on cv_
  std::size_t wakeups_ = 0;  // notifies sent and not yet consumed
  bool shutdown_ = false;
  bool broken_ = false;
  std::string broken_reason_;
  std::vector<std::thread> threads_;
  std::vector<std::thread> self_shutdown_;  // see join_others()
};

}  // namespace detail

std::size_t ThreadPoolExecutor::default_max_workers() noexcept {
  return std::min<std::size_t>(32, std::max(1u, std::thread::hardware_concurrency()) + 4);
}

ThreadPoolExecutor::ThreadPoolExecutor(std::size_t max_workers, ThreadPoolOptions options) {
  if (max_workers == 0) throw ValueError("max_workers must be greater than 0");
  core_ = std::make_unique<detail::PoolCore>(max_workers, std::move(options));
}

ThreadPoolExecutor::~ThreadPoolExecutor() = default;

void ThreadPoolExecutor::enqueue(detail::WorkItem* item) { core_->enqueue(item); }

void ThreadPoolExecutor::shutdown(bool wait, bool cancel_futures) { core_->shutdown(wait, cancel_futures); }

std::size_t ThreadPoolExecutor::max_workers() const noexcept { return core_->max_workers(); }

std::size_t ThreadPoolExecutor::thread_count() const noexcept { return core_->thread_count(); }

}  // namespace shoal
