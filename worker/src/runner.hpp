#pragma once
// Runner: runs jobs. Coroutine functions run as tasks on the worker's loop; plain ones on
// its thread pool (a FIFO hands them out while fewer than `threads` run, more while some
// are blocked on their own child tasks; a thread that ends one takes the next itself); tiny plain ones (measured under 20 us) inline on
// the loop. Timeouts and cancellation end here. This is the only part of the worker that
// crosses threads: outcomes come back through a mutex-guarded sink that the loop drains
// once per turn (take_outcomes), so results finishing together leave in one frame.

#include <asio/any_io_executor.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "job.hpp"
#include "shoal/link/timer.hpp"
#include "shoal/remote/this_task.hpp"
#include "shoal/exec/thread_pool.hpp"
#include "shoal/remote/registry.hpp"

namespace shoal::worker {

class Runner : public std::enable_shared_from_this<Runner> {
 public:
  struct Callbacks {
    std::function<void()> outcomes_ready;                 // on the loop, once per batch
    std::function<void(std::uint64_t, bool)> blocked;     // on the loop: a plain job blocks / goes on
  };
  Runner(asio::any_io_executor ex, unsigned threads, remote::Registry& registry, Callbacks callbacks);
  ~Runner();

  /// Runs a function job (loop thread). Reports a failure (NotRegistered, ...) itself.
  void start(const std::shared_ptr<Job>& j);
  /// A chunk of a map (Job::map): the function once per item (map_chunk.hpp).
  void start_map(const std::shared_ptr<Job>& j, const std::shared_ptr<const remote::FunctionEntry>& entry);
  /// Runs a coroutine made by `make` from the job's arguments; `then` runs after (loop).
  void run_coroutine(const std::shared_ptr<Job>& j, std::function<Coro<Bytes>(codec::Reader&)> make,
                     std::function<void()> then);
  /// Runs `call(args)` on the pool; `then` runs after, on the loop.
  void run_plain(const std::shared_ptr<Job>& j, std::function<Bytes(codec::Reader&)> call, std::function<void()> then);
  /// Cancels a job: not started, it is reported cancelled now; running, a coroutine gets
  /// CancelledError at its next await and a plain function its stop token.
  void cancel(Job& j);
  /// Arms the job's timeout (loop thread).
  void arm_timeout(const std::shared_ptr<Job>& j);

  /// Reports an outcome (any thread).
  void report(Outcome r);
  /// Reports `e` as the job's failure (a CancelledError after a timeout as TimeoutError).
  void report_error(const Job& j, std::exception_ptr e, std::uint64_t run_ns);
  /// The outcomes reported since the last call (loop thread).
  [[nodiscard]] std::vector<Outcome> take_outcomes();
  [[nodiscard]] bool has_outcomes();

  /// Jobs that began running, in arrival order (the coordinator's retry accounting).
  [[nodiscard]] std::uint64_t started() const noexcept { return started_.load(std::memory_order_acquire); }
  /// Plain jobs started and not finished.
  [[nodiscard]] std::uint32_t running() const noexcept { return running_now_.load(std::memory_order_acquire); }
  /// Stops the pool (loop thread): joins it when nothing runs, else leaves the threads
  /// that ignore their stop tokens to the process's exit (returns false then). Nothing
  /// starts, and nothing is posted to the loop, after it. Once; later calls say the same.
  bool shutdown();
  /// Hands a job not started back to the coordinator (draining).
  void hand_back(const Job& j);
  /// Where the output of plain jobs goes (this_task::write_output); set before any job runs.
  void set_output_sink(std::shared_ptr<this_task::OutputSink> sink) { output_sink_ = std::move(sink); }

 private:
  struct FnStats {
    std::atomic<double> mean_ns{-1};
    std::atomic<std::uint32_t> demoted{0};  // calls left on the pool after a slow inline call
  };
  struct BlockHook;
  FnStats& stats_of(const remote::FunctionEntry* e);
  static void observe(FnStats& st, std::uint64_t run_ns);
  void run_inline(const std::shared_ptr<Job>& j, const remote::FunctionEntry& entry, FnStats& st);
  void finished(Job& j, std::exception_ptr error, Bytes value, std::uint64_t run_ns);
  /// Runs `f` (a coroutine job's `then`) once, leaving it empty (loop thread).
  static void run_once(std::function<void()>& f);
  /// Hands queued plain jobs to the pool while places are free (any thread).
  void pump();
  /// A pool thread's place: runs FIFO jobs until none is left or the places are over.
  void drain();

  asio::any_io_executor ex_;
  unsigned threads_;
  remote::Registry& registry_;
  Callbacks callbacks_;
  std::shared_ptr<this_task::OutputSink> output_sink_;
  std::unique_ptr<ThreadPoolExecutor> pool_;
  std::atomic<std::uint64_t> started_{0};
  std::atomic<std::uint32_t> running_now_{0};
  // Plain jobs wait in this FIFO and go to the pool while fewer than `threads_` (+ those
  // lent by blocked jobs) run: a pool thread that ends one takes the next (drain()).
  std::mutex fifo_mu_;
  std::deque<std::function<void()>> plain_fifo_;  // under fifo_mu_
  int plain_running_ = 0;                         // under fifo_mu_: places held by drain()
  // Results of short plain jobs with more queued are held up to 2 ms to leave together
  // (report(), take_outcomes()): holding_ (the timer is armed) is read by pool threads,
  // the timer is the loop's.
  std::atomic<bool> holding_{false};
  std::unique_ptr<link::Timer> hold_timer_;
  bool fifo_closed_ = false;                      // under fifo_mu_: shutdown() ran
  std::atomic<int> plain_lent_{0};       // running jobs blocked on a future
  // Per function: the mean run time of its plain calls, to run tiny ones inline.
  std::mutex stats_mu_;
  std::unordered_map<const remote::FunctionEntry*, std::unique_ptr<FnStats>> stats_;
  std::shared_ptr<const remote::FunctionEntry> last_entry_;  // loop thread: a stream of assigns is mostly one function
  FnStats* last_stats_ = nullptr;
  std::mutex sink_mu_;
  std::vector<Outcome> sink_;
  bool sink_posted_ = false;
  bool closed_ = false;                // under sink_mu_: shutdown() ran
  std::optional<bool> shut_down_;      // loop thread: shutdown()'s answer
};

}  // namespace shoal::worker
