#pragma once
// Recovery: what becomes of a lost worker's tasks. A task the dying worker named (its
// crash report: the faulting thread's task), or one that ran alone on a worker that died,
// killed it: after max_crashes such deaths it fails with TaskCrashed, never taking
// another worker down; the tasks beside a named culprit are retried free. Otherwise an
// attempt is charged only to the tasks that could have started there, and each charged
// one runs alone next time, so that a second death is charged to the task that caused
// it. Returns decisions; no I/O.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scheduler.hpp"
#include "task_table.hpp"

namespace shoal::coordinator {

struct LossDecision {
  std::vector<std::uint64_t> retry;   // back to their queues, in assign order
  std::vector<std::pair<std::uint64_t, codec::RemoteErrorInfo>> fail;  // WorkerLost (out of retries), TaskCrashed
  std::vector<std::uint64_t> cancel;  // cancelled while they ran
  std::vector<std::uint64_t> actor_tasks;  // actor calls and constructors it had (see ActorTable)
};

/// Settles the plain tasks `lost` (the removed slot) had in flight, in assign order.
/// `why` says how it was lost.
[[nodiscard]] LossDecision settle_lost_worker(const WorkerSlot& lost, TaskTable& tasks, const FunctionTable& functions,
                                              const std::string& why, std::uint32_t max_crashes = 1);

/// "SIGSEGV (signal 11)", or "signal N" for one without a name here.
[[nodiscard]] std::string describe_signal(int signal);

}  // namespace shoal::coordinator
