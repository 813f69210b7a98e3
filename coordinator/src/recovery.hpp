#pragma once
// Recovery: what becomes of a lost worker's tasks. An attempt is charged only to the
// tasks that could have started there; each charged one runs alone next time, so that a
// second death is charged to the task that caused it. Returns decisions; no I/O.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scheduler.hpp"
#include "task_table.hpp"

namespace shoal::coordinator {

struct LossDecision {
  std::vector<std::uint64_t> retry;   // back to their queues, in assign order
  std::vector<std::pair<std::uint64_t, codec::RemoteErrorInfo>> fail;  // out of retries: WorkerLost
  std::vector<std::uint64_t> cancel;  // cancelled while they ran
  std::vector<std::uint64_t> actor_tasks;  // actor calls and constructors it had (see ActorTable)
};

/// Settles the plain tasks `lost` (the removed slot) had in flight, in assign order.
/// `why` says how it was lost.
[[nodiscard]] LossDecision settle_lost_worker(const WorkerSlot& lost, TaskTable& tasks, const FunctionTable& functions,
                                              const std::string& why);

}  // namespace shoal::coordinator
