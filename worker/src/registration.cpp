#include "registration.hpp"

#include <unistd.h>

#include <capnp/message.h>

#include <filesystem>

#include "shoal/proto/builder.hpp"
#include "shoal/link/clock.hpp"
#include "memory.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/worker/loader.hpp"

namespace shoal::worker {

void fill_registration(proto::schema::RegisterWorker::Builder r, const WorkerOptions& opt,
                       const remote::Registry& registry, const std::vector<std::uint64_t>& held_jobs,
                       const std::vector<std::uint64_t>& live_actors) {
  r.setCapacity(opt.threads);
  r.setCoroutineCapacity(opt.coroutines);
  r.setHost(link::this_host());
  r.setPid(static_cast<std::uint32_t>(::getpid()));
  r.setMaxTasks(opt.max_tasks);
  auto offered = link::machine_resources();
  for (const auto& [name, amount] : opt.resources) offered[name] = amount;
  link::set_resources(r.initResources(static_cast<unsigned>(offered.size())), offered);
  auto libraries = loaded_task_libraries();
  auto libs = r.initLibraries(static_cast<unsigned>(libraries.size()));
  for (unsigned i = 0; i < libraries.size(); ++i) libs.set(i, libraries[i]);
  std::error_code ec;
  if (auto exe = std::filesystem::read_symlink("/proc/self/exe", ec); !ec) r.setExecutable(exe.string());
  auto labels = r.initLabels(static_cast<unsigned>(opt.labels.size()));
  for (unsigned i = 0; i < opt.labels.size(); ++i) labels.set(i, opt.labels[i]);
  auto fill_sig = [](proto::schema::FunctionSig::Builder b, const auto& e) {
    b.setName(e.name);
    b.setSignatureHash(e.signature_hash);
    b.setSignature(e.signature);
    b.setIsCoroutine(e.is_coroutine);
  };
  auto fns = registry.functions();
  auto fl = r.initFunctions(static_cast<unsigned>(fns.size()));
  for (unsigned i = 0; i < fns.size(); ++i) fill_sig(fl[i], *fns[i]);
  auto acts = registry.actors();
  auto al = r.initActors(static_cast<unsigned>(acts.size()));
  for (unsigned i = 0; i < acts.size(); ++i) {
    al[i].setName(acts[i]->name);
    al[i].setConstructorHash(acts[i]->constructor_hash);
    auto ml = al[i].initMethods(static_cast<unsigned>(acts[i]->methods.size()));
    for (unsigned k = 0; k < acts[i]->methods.size(); ++k) fill_sig(ml[k], acts[i]->methods[k]);
  }
  auto rl = r.initRunning(static_cast<unsigned>(held_jobs.size()));
  for (unsigned i = 0; i < held_jobs.size(); ++i) rl.set(i, held_jobs[i]);
  auto ll = r.initLiveActors(static_cast<unsigned>(live_actors.size()));
  for (unsigned i = 0; i < live_actors.size(); ++i) ll.set(i, live_actors[i]);
}

void fill_heartbeat(proto::schema::Heartbeat::Builder h, std::uint32_t running, std::uint64_t started, bool usage) {
  h.setSentNs(link::wall_ns());
  if (usage) {
    h.setCpuNs(process_cpu_ns());
    h.setRssBytes(resident_bytes());
  }
  h.setRunning(running);
  h.setStarted(started);
}

void send_forced_exit_notice(link::Connection& conn, std::uint64_t task) {
  proto::Builder msg;
  auto s = msg.initRoot<proto::schema::Envelope>().initShutdown();
  s.setReason("exiting: task " + std::to_string(task) + " ignored a forced cancel");
  s.setExit(true);
  conn.send(msg);
}

void send_forced_cancel(link::Connection& conn, std::uint64_t task, std::uint32_t attempt) {
  proto::Builder msg;
  auto r = msg.initRoot<proto::schema::Envelope>().initResult();
  r.setTaskId(task);
  r.setAttempt(attempt);
  r.setCancelled();
  conn.send(msg);
}

void send_forced_crash(link::Connection& conn, std::uint64_t task) {
  proto::Builder msg;
  auto c = msg.initRoot<proto::schema::Envelope>().initCrashed();
  c.setTaskId(task);
  c.setForced(true);
  conn.send(msg);
}

}  // namespace shoal::worker
