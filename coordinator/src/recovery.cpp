#include "recovery.hpp"

#include <string.h>

#include <algorithm>

namespace shoal::coordinator {

std::string describe_signal(int signal) {
  const char* name = ::sigabbrev_np(signal);
  return name ? "SIG" + std::string(name) + " (signal " + std::to_string(signal) + ")" : "signal " + std::to_string(signal);
}

LossDecision settle_lost_worker(const WorkerSlot& lost, TaskTable& tasks, const FunctionTable& functions,
                                const std::string& why, std::uint32_t max_crashes) {
  LossDecision out;
  // Named: by a dying worker's last words, or by a worker exiting for a forced cancel.
  const bool named = (lost.crash_signal != 0 || lost.crash_forced) && lost.crash_task != 0;
  // A worker that said it was draining and exited with no crash reported was stopped by
  // its operator: what it still ran is not charged.
  const bool drained = lost.draining && lost.crash_signal == 0 && !lost.crash_forced;
  // In assign order. Retries go to the back of their queue: a task whose result was lost
  // with its worker is not kept next to the task that killed it, time after time.
  std::vector<std::uint64_t> ids;
  ids.reserve(lost.inflight.size());
  for (const auto& [id, req] : lost.inflight) ids.push_back(id);
  auto seq_of = [&](std::uint64_t id) {
    const auto* t = tasks.find(id);
    return t ? t->seq : 0;
  };
  std::sort(ids.begin(), ids.end(), [&](auto a, auto b) { return seq_of(a) < seq_of(b); });
  for (auto id : ids) {
    auto* t = tasks.find(id);
    if (!t || t->state != TaskState::RUNNING || t->worker != lost.id) continue;
    if (t->actor || t->actor_create) {
      out.actor_tasks.push_back(id);
      continue;
    }
    // The attempt counts only if the task could have started: the worker reported that
    // `started` of its assigns (FIFO) had started and `running_reported` of them still
    // ran, so at most the free slots' worth more could have started since. A task that
    // kills its worker at once cannot escape the count; the tasks queued behind it on
    // that worker spend nothing. Any task that could have started may be the one that
    // killed it (one that finished may have lost its result with it): each is charged,
    // and runs alone on its next attempt, so that a second death is charged exactly.
    bool coro = functions[t->fn].coroutine;
    // The culprit: named by the dying worker, or alone on a worker that died.
    bool culprit = !drained && (named ? lost.crash_task == id : lost.died && lost.isolated == id && !coro);
    if (culprit && !t->cancel_requested && !lost.crash_forced) {
      ++t->crashes;
      if (t->crashes >= max_crashes) {
        std::string how = lost.crash_signal ? "with " + describe_signal(lost.crash_signal)
                                            : std::string("while it ran alone (the worker's connection ended without a "
                                                          "word: it exited or was killed)");
        out.fail.emplace_back(
            id, task_error(functions, *t, "shoal::TaskCrashed",
                           "task " + std::to_string(id) + " (" + functions[t->fn].name + ") crashed " +
                               lost.label() + " " + how + "; not retried after " + std::to_string(t->crashes) +
                               (t->crashes == 1 ? " crash" : " crashes") + " (--max-crashes " +
                               std::to_string(max_crashes) + ")",
                           ErrorKind::failed));
        continue;
      }
    }
    if ((named && !culprit) || drained) {
      // Another task killed the worker (this one only shared it), or its operator stopped
      // it. Retried at no cost.
      if (t->attempt > 0) --t->attempt;
      if (t->cancel_requested) {
        out.cancel.push_back(id);
      } else {
        t->state = TaskState::QUEUED;
        out.retry.push_back(id);
      }
      continue;
    }
    bool could_have_started = coro || lost.isolated == id || t->seq < lost.started + lost.capacity;
    if (lost.isolated && lost.isolated != id) could_have_started = false;
    if (!could_have_started && t->attempt > 0) --t->attempt;
    if (could_have_started && !coro) t->isolate = true;
    if (t->cancel_requested) {
      out.cancel.push_back(id);
    } else if (static_cast<int>(t->attempt - (t->links ? t->links->app_retries : 0)) > t->retries) {
      // Runs after its own errors (TaskOptions::retry) are not worker losses: the two
      // budgets are apart.
      out.fail.emplace_back(
          id, task_error(functions, *t, "shoal::WorkerLost",
                         "task " + std::to_string(id) + " (" + functions[t->fn].name + ") was on " + lost.label() +
                             ", which stopped answering: " + why + "; tried " + std::to_string(t->attempt) +
                             (t->attempt == 1 ? " time" : " times"),
                         ErrorKind::disconnected));
    } else {
      t->state = TaskState::QUEUED;
      out.retry.push_back(id);
    }
  }
  return out;
}

}  // namespace shoal::coordinator
