// Replays: the failed tasks the engine keeps (FailedKeep), what it answers a
// StatusRequest.replay with, and the journal's copy of them.

#include "engine.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::coordinator {

void Engine::keep_failed(const TaskRecord& t) {
  if (t.actor || t.actor_create || opt.keep_failed == 0) return;
  const auto& f = functions[t.fn];
  if (f.name == link::kPutFunction) return;
  KeptFailure k;
  k.task_id = t.id;
  k.function = f.name;
  k.signature = f.signature;
  k.signature_hash = f.hash;
  k.args = t.args;
  // Every dependency's value, or nothing to replay with: a task whose dependency failed
  // never ran, and replaying it means replaying that one.
  for (auto dep : t.deps()) {
    const auto* d = tasks.find(dep);
    if (!d || d->state != TaskState::DONE) return;
    k.deps.push_back(d->value);
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
  Bytes record = journal ? codec::encode(k) : Bytes();
  if (!failed_keep.keep(std::move(k), evicted)) return;
  if (!journal) return;
  for (auto id : evicted) journal->forget_failure(id);
  journal->keep_failure(t.id, std::move(record));
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
  b.setFunction(k->function);
  b.setSignature(k->signature);
  b.setSignatureHash(k->signature_hash);
  // Large values beside the frame, as a task's own arguments travel.
  if (auto blob = p.conn->attach(k->args))
    b.setArgsBlob(blob);
  else
    b.setArgs(link::data(k->args));
  auto deps = b.initDeps(static_cast<unsigned>(k->deps.size()));
  auto blobs = b.initDepBlobs(static_cast<unsigned>(k->deps.size()));
  for (unsigned i = 0; i < k->deps.size(); ++i) {
    if (auto blob = p.conn->attach(k->deps[i]))
      blobs.set(i, blob);
    else
      deps.set(i, link::data(k->deps[i]));
  }
  b.setMethod(k->method);
  b.setAttempt(k->attempt);
  b.setErrorType(k->error_type);
  b.setErrorMessage(k->error_message);
  b.setCrashSignal(k->crash_signal);
  b.setWorker(k->worker);
  b.setHost(k->host);
  b.setPid(k->pid);
  auto libs = b.initLibraries(static_cast<unsigned>(k->libraries.size()));
  for (unsigned i = 0; i < k->libraries.size(); ++i) libs.set(i, k->libraries[i]);
  b.setExecutable(k->executable);
  b.setFailedNs(k->failed_ns);
}

void Engine::recover_failures() {
  std::size_t damaged = 0;
  for (auto& record : journal->load_failures()) {
    KeptFailure k;
    try {
      k = codec::decode<KeptFailure>(record);
    } catch (const std::exception&) {
      ++damaged;  // a record this build cannot read: the replay is lost, the rest is not
      continue;
    }
    auto id = k.task_id;
    std::vector<std::uint64_t> evicted;
    if (!failed_keep.keep(std::move(k), evicted)) journal->forget_failure(id);
    for (auto e : evicted) journal->forget_failure(e);  // the bounds may be smaller now
  }
  if (damaged) log("the journal held " + std::to_string(damaged) + " failed task(s) kept for replay that cannot be read: dropped");
}

}  // namespace shoal::coordinator
