// Replays: the failed tasks the engine keeps (FailedKeep), what it answers a
// StatusRequest.replay with, and the journal's copy of them.

#include <algorithm>

#include "engine.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/link/replay_info.hpp"

namespace shoal::coordinator {

namespace {

// A value to keep: its own buffer. A small one received in a frame aliases the whole
// frame (up to 16 MiB), which keeping it would pin; a large one is a buffer of its own.
Bytes own(const Bytes& v) {
  return v.size() < codec::shm::kSharedAtBytes ? Bytes::copy(v.data(), v.size()) : v;
}

}  // namespace

void Engine::keep_failed(const TaskRecord& t) {
  // Only a task that ran: one refused before (NotRegistered, admission, a failed
  // dependency) has nothing to show, and would push out those that did.
  if (opt.keep_failed == 0) return;
  auto id = std::to_string(t.id);
  if (t.actor || t.actor_create)
    return failed_keep.refuse(t.id, "task " + id + " is an actor's: its state is not in its arguments, so it is not kept");
  const auto& f = functions[t.fn];
  if (f.name == link::kPutFunction) return;
  if (t.worker == 0 || t.attempt == 0)
    return failed_keep.refuse(t.id, "task " + id + " never ran (" + (t.error ? t.error->type_name : "refused") +
                                        "): nothing to replay" +
                                        (t.deps().empty() ? "" : "; if a dependency failed, replay that one"));
  KeptFailure k;
  k.task_id = t.id;
  k.function = f.name;
  k.signature = f.signature;
  k.signature_hash = f.hash;
  k.args = own(t.args);
  for (auto dep : t.deps()) {
    const auto* d = tasks.find(dep);
    if (!d || d->state != TaskState::DONE)
      return failed_keep.refuse(t.id, "task " + id + " ran, but the value of its dependency " + std::to_string(dep) +
                                          " was gone when it failed: not kept");
    k.deps.push_back(own(d->value));
  }
  k.method = t.method();
  k.attempt = t.attempt;
  if (t.error) {
    k.error_type = t.error->type_name;
    k.error_message = t.error->message;
  }
  const WorkerSlot* w = settling && settling->id == t.worker ? settling : scheduler.worker(t.worker);
  if (w && t.worker) {
    k.worker = w->name;
    k.host = w->host;
    k.pid = w->pid;
    if (w->libraries) k.libraries = *w->libraries;
    k.executable = w->executable;
    if (w->crash_task == t.id) k.crash_signal = w->crash_signal;
  }
  k.failed_ns = t.finished_wall ? t.finished_wall : now_wall();
  std::vector<std::uint64_t> evicted;
  const KeptFailure* kept = failed_keep.keep(std::move(k), evicted);
  if (!journal || (!kept && evicted.empty())) return;
  for (auto id : evicted) journal->forget_failure(id);
  // What SQLite cannot hold stays in memory only (a restart loses that one replay).
  if (kept && kept->bytes() < kMaxJournalValueBytes) journal->keep_failure(t.id, codec::encode(*kept));
  journal_touch();
}

void Engine::fill_replay(Peer& p, schema::ReplayInfo::Builder b, std::uint64_t id) {
  b.setTaskId(id);
  const auto* k = failed_keep.find(id);
  if (!k) {
    const auto* t = tasks.find(id);
    if (t && t->state != TaskState::FAILED)
      b.setMissing("task " + std::to_string(id) + " has not failed (it is " + observe::state_name(t->state) +
                   "): only failed tasks are kept to be replayed");
    else
      b.setMissing(failed_keep.why_missing(id));
    return;
  }
  // The attaches of its large values come right before this message (on_status sends it).
  link::set_replay(b, *k, *p.conn);
}

void Engine::recover_failures() {
  std::size_t damaged = 0;
  std::vector<KeptFailure> records;
  for (auto& record : journal->load_failures()) {
    try {
      records.push_back(codec::decode<KeptFailure>(record));
    } catch (const std::exception&) {
      ++damaged;  // a record this build cannot read: the replay is lost, the rest is not
    }
  }
  // Kept again oldest first (ids are not in failure order), so that smaller bounds now
  // drop the oldest.
  std::stable_sort(records.begin(), records.end(),
                   [](const KeptFailure& a, const KeptFailure& b) { return a.failed_ns < b.failed_ns; });
  for (auto& k : records) {
    auto id = k.task_id;
    std::vector<std::uint64_t> evicted;
    if (!failed_keep.keep(std::move(k), evicted)) journal->forget_failure(id);
    for (auto e : evicted) journal->forget_failure(e);
  }
  if (damaged) log("the journal held " + std::to_string(damaged) + " failed task(s) kept for replay that cannot be read: dropped");
}

}  // namespace shoal::coordinator
