#include "shoal/cluster/process_pool.hpp"

#include <algorithm>
#include <mutex>
#include <thread>

#include "shoal/exec/thread_pool.hpp"

namespace shoal {

struct ProcessPoolExecutor::Shared {
  std::mutex mu;
  bool shut_down = false;
  bool broken = false;
  std::string broken_why;
  std::vector<detail::Ref<detail::StateBase>> pending;
};

ProcessPoolExecutor::ProcessPoolExecutor(unsigned max_workers, ProcessPoolOptions options)
    : shared_(std::make_shared<Shared>()) {
  LocalClusterOptions o;
  o.threads_per_worker = 1;  // one task at a time per process, as Python's pool
  o.http = "";               // a pool of processes, not a cluster to watch: no HTTP server
  o.max_tasks_per_worker = options.max_tasks_per_child;
  o.initializer = std::move(options.initializer);
  o.on_worker_exit = [shared = shared_](unsigned index, int status) {
    if (status != 3) return true;  // a crash: respawn (its tasks are retried elsewhere)
    std::vector<detail::Ref<detail::StateBase>> fail;
    {
      std::lock_guard lock(shared->mu);
      if (!shared->broken) {
        shared->broken = true;
        shared->broken_why = "a worker's initializer failed (worker " + std::to_string(index) +
                             " exited with status 3): the pool is broken";
      }
      fail.swap(shared->pending);
    }
    for (auto& s : fail) s->try_set_exception(std::make_exception_ptr(BrokenExecutor(shared->broken_why)));
    return false;
  };
  slots_ = max_workers ? max_workers : std::max(1u, std::thread::hardware_concurrency());
  cluster_ = std::make_unique<LocalCluster>(max_workers, std::move(o));
}

ProcessPoolExecutor::~ProcessPoolExecutor() { shutdown(true, false); }

void ProcessPoolExecutor::check() {
  std::lock_guard lock(shared_->mu);
  if (shared_->broken) throw BrokenExecutor(shared_->broken_why);
  if (shared_->shut_down) throw InvalidStateError("cannot submit to a ProcessPoolExecutor after shutdown()");
  detail::refuse_if_exiting("ProcessPoolExecutor");
}

void ProcessPoolExecutor::track(detail::StateBase* state) { track_all(std::span(&state, 1)); }  // no allocation per submit

void ProcessPoolExecutor::track_all(std::span<detail::StateBase* const> states) {
  std::lock_guard lock(shared_->mu);
  std::erase_if(shared_->pending, [](const auto& s) { return s->done(); });
  for (auto* state : states) {
    shared_->pending.emplace_back(state);
    if (shared_->broken) state->try_set_exception(std::make_exception_ptr(BrokenExecutor(shared_->broken_why)));
  }
}

void ProcessPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  std::vector<detail::Ref<detail::StateBase>> pending;
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->shut_down && !wait) return;
    shared_->shut_down = true;
    pending = shared_->pending;
  }
  if (cancel_futures)
    for (auto& s : pending) s->cancel();
  if (wait) {
    for (auto& s : pending) (void)s->wait_blocking(std::nullopt);
    cluster_->stop();
  }
}

}  // namespace shoal
