// `shoal run JOB.toml`: every task of the job submitted at once, in topological order,
// with its dependencies as RawCall::deps (the coordinator holds dependents until their
// dependencies are done, and fails them with the failed one's error); progress
// while it runs, a summary at the end. With no cluster to talk to, an embedded
// LocalCluster runs the job and is stopped afterwards.

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <set>

#include "cli_common.hpp"
#include "job.hpp"
#include "progress.hpp"
#include "shoal/cluster/local_cluster.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/remote/link.hpp"

namespace shoal::cli {

namespace {

using namespace std::chrono_literals;

/// What the completion callbacks hand to the main thread. Shared with them: a callback
/// may run after cmd_run returned (a task cancelled on Ctrl-C finishing late).
struct Events {
  struct Event {
    std::size_t task;
    bool status;  ///< false: the task's future is done; true: its status lookup is
  };
  std::shared_ptr<Wakeup> wake = std::make_shared<Wakeup>();
  std::mutex mu;
  std::deque<Event> queue;

  void push(Event e) {
    {
      std::lock_guard lock(mu);
      queue.push_back(e);
    }
    wake->notify();
  }
  std::deque<Event> take() {
    std::lock_guard lock(mu);
    return std::exchange(queue, {});
  }
};

// The task did not fail itself: one of `upstream` (the ids of the tasks it depends on,
// directly or not) did, and it raises that task's own error, as Dask and Ray report it; or
// a dependency was cancelled (DependencyFailed). An error raised elsewhere that the task
// passed on itself (a nested remote call it made) is its own failure.
bool is_dependency_failure(const std::exception_ptr& e, const std::set<std::uint64_t>& upstream) {
  try {
    std::rethrow_exception(e);
  } catch (const DependencyFailed&) {
    return true;
  } catch (const std::exception& x) {
    const auto* origin = remote_origin(x);
    return origin && upstream.contains(origin->task_id);
  } catch (...) {
    return false;
  }
}

bool is_cancellation(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

int cmd_run(const Globals& g, const RunOptions& o) {
  Job job;
  try {
    job = parse_job(o.file);
  } catch (const JobError& e) {
    throw CliError(exit_usage, e.what());
  }

  // The cluster: the one named, else the one at the default socket, else an embedded one.
  // The client is named after the job: the coordinator's dashboard, API and timeline
  // group its tasks by that name.
  auto job_name = job.name.empty() ? std::string("shoal-run") : job.name;
  auto since_wall = link::wall_ns();
  std::unique_ptr<LocalCluster> local;
  std::unique_ptr<Client> remote_client;
  const char* env_address = std::getenv("SHOAL_ADDRESS");
  if (!g.address.empty() || (env_address && *env_address)) {
    remote_client = connect(resolve_address(g), {}, job_name);
  } else {
    try {
      remote_client = connect(resolve_address(g), {}, job_name);
    } catch (const CliError& e) {
      if (e.code() != exit_no_coordinator) throw;
    }
  }
  if (!remote_client) {
    if (o.workers == 0) throw CliError(exit_usage, "run: --workers must be at least 1");
    LocalClusterOptions lo;
    lo.worker_program = sibling_program("shoal-worker");
    lo.load = worker_loads(o.load);
    lo.threads_per_worker = o.threads;
    std::cerr << "no coordinator at " << resolve_address(g) << ": running on an embedded cluster of " << o.workers
              << " workers\n";
    local = std::make_unique<LocalCluster>(o.workers, lo);
    try {
      local->wait_for_workers(o.workers, 10s);
    } catch (const TimeoutError&) {
      throw CliError(exit_timeout, "the embedded cluster's workers did not register within 10 s (is " +
                                       lo.worker_program + " there and runnable?)");
    }
    if (auto url = local->http_url(); !url.empty()) std::cerr << "dashboard: " << url << "\n";
    remote_client = connect(local->address(), {}, job_name);
  }
  Client& client = *remote_client;

  // Every function known, every argument encoded, before anything is submitted.
  std::map<std::string, CatalogEntry> functions;
  std::vector<Bytes> encoded(job.tasks.size());
  for (std::size_t i = 0; i < job.tasks.size(); ++i) {
    const auto& t = job.tasks[i];
    if (!functions.count(t.function)) functions.emplace(t.function, find_function(client, t.function, 2s));
    try {
      encoded[i] = encode_args(functions.at(t.function), t.args);
    } catch (const CliError& e) {
      throw CliError(e.code(), job.origin + ":" + std::to_string(t.line) + ": task " + t.name + ": " + e.what());
    }
  }

  JobRun run(job);
  std::ostream& out = g.json ? std::cerr : std::cout;
  Progress progress(out, detect_progress_mode(g.json ? 2 : 1));
  auto started = std::chrono::steady_clock::now();
  auto events = std::make_shared<Events>();
  interrupts().arm(events->wake);

  std::vector<std::uint64_t> ids(job.tasks.size(), 0);
  std::vector<Future<Bytes>> futures(job.tasks.size());
  std::map<std::size_t, Future<ClusterStatus>> lookups;
  std::vector<std::vector<std::size_t>> deps_of(job.tasks.size());  // each task's direct dependencies
  for (const auto& s : run.submittable_all()) {
    deps_of[s.task] = s.deps;
    const auto& t = job.tasks[s.task];
    const auto& entry = functions.at(t.function);
    RawCall call;
    call.function = entry.name;
    call.signature_hash = entry.signature_hash;
    call.args = std::move(encoded[s.task]);
    for (auto d : s.deps) call.deps.push_back(ids[d]);
    call.options.timeout = t.timeout;
    call.options.retries = t.retries.value_or(-1);
    call.options.resources = t.placement.resources;
    call.options.labels = t.placement.labels;
    call.options.strategy = t.placement.strategy;
    call.options.priority = t.placement.priority;
    call.options.retry = t.retry;
    auto raw = client.submit_raw(std::move(call));
    ids[s.task] = raw.id;
    futures[s.task] = std::move(raw.result);
    run.on_submitted(s.task);
    futures[s.task].add_done_callback([events, i = s.task](const Future<Bytes>&) { events->push({i, false}); });
  }

  std::vector<std::uint64_t> finished_ns(job.tasks.size(), 0);
  std::vector<WorkerInfo> workers;
  auto worker_name = [&](std::uint64_t id) -> std::string {
    if (id == 0) return {};
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& w : workers)
        if (w.id == id) return w.name;
      if (pass == 0) workers = client.workers().result(10s);
    }
    return "#" + std::to_string(id);
  };
  auto report = [&](std::size_t task, const std::vector<std::size_t>& also) {
    progress.update(run, task);
    for (auto t : also) progress.update(run, t);
  };
  std::set<std::size_t> held;  // failed through a dependency whose failure is not reported yet
  // The ids of the tasks task i depends on, directly or not (its failure may be theirs).
  auto upstream_ids = [&](std::size_t i) {
    std::set<std::uint64_t> out;
    std::vector<std::size_t> stack = deps_of[i];
    std::set<std::size_t> seen;
    while (!stack.empty()) {
      auto d = stack.back();
      stack.pop_back();
      if (!seen.insert(d).second) continue;
      out.insert(ids[d]);
      stack.insert(stack.end(), deps_of[d].begin(), deps_of[d].end());
    }
    return out;
  };

  std::string lost_coordinator;  // set when a future failed because the coordinator went away
  while (!run.finished() && !interrupts().interrupted()) {
    events->wake->wait_for(100ms);
    for (auto ev : events->take()) {
      auto i = ev.task;
      if (is_terminal(run.status(i).state)) continue;
      if (!ev.status) {
        auto e = error_of(futures[i]);
        if (e && is_cancellation(e)) {
          auto also = run.on_cancelled(i);
          report(i, also);
        } else if (e && is_dependency_failure(e, upstream_ids(i))) {
          held.insert(i);
        } else {
          // Who ran it: one status lookup (the coordinator keeps the task while we hold it).
          auto f = client.status(ids[i]);
          f.add_done_callback([events, i](const Future<ClusterStatus>&) { events->push({i, true}); });
          lookups.emplace(i, std::move(f));
        }
        continue;
      }
      TaskInfo info;
      if (auto lf = lookups.find(i); lf != lookups.end()) {
        if (!error_of(lf->second))
          for (const auto& t : lf->second.result().tasks)
            if (t.id == ids[i]) info = t;
        lookups.erase(lf);
      }
      auto who = worker_name(info.worker);
      // The time it ran on its worker, as the worker measured it (not the time it queued).
      finished_ns[i] = info.finished_ns;
      auto elapsed = std::chrono::nanoseconds(info.run_ns);
      if (auto e = error_of(futures[i])) {
        if (exit_code_of(e) == exit_no_coordinator) lost_coordinator = message_of(e);
        auto also = run.on_failed(i, message_of(e), who, elapsed);
        report(i, also);
      } else {
        nlohmann::json value;
        try {
          value = decode_result(functions.at(job.tasks[i].function).signature, futures[i].result());
        } catch (const std::exception& x) {
          value = std::string("<undecodable: ") + x.what() + ">";
        }
        run.on_done(i, who, elapsed, std::move(value));
        report(i, {});
      }
    }
    // A dependent's failure may arrive before its cause is reported: it waits
    // for the cause's cascade, unless nothing else can mark it.
    for (auto it = held.begin(); it != held.end();) {
      if (is_terminal(run.status(*it).state)) {
        it = held.erase(it);
      } else if (lookups.empty()) {
        auto also = run.on_failed(*it, message_of(error_of(futures[*it])));
        report(*it, also);
        it = held.erase(it);
      } else {
        ++it;
      }
    }
    progress.tick(run);
  }

  int code = run.exit_code();
  if (!lost_coordinator.empty()) code = exit_no_coordinator;  // outcomes unknown, not failures
  if (interrupts().interrupted() && !run.finished()) {
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (ids[i] && !futures[i].done()) client.cancel(ids[i]);
    for (auto t : run.cancel_all()) progress.update(run, t);
    // Bounded: the coordinator confirms each cancellation (or the result came first).
    auto deadline = std::chrono::steady_clock::now() + 3s;
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (ids[i]) {
        auto left = deadline - std::chrono::steady_clock::now();
        if (left <= 0s) break;
        settle(futures[i], std::chrono::duration_cast<std::chrono::milliseconds>(left) + 1ms);
      }
    code = exit_interrupted;
  }
  progress.finish(run);
  auto summary = summarize(run, std::chrono::steady_clock::now() - started);
  if (code == exit_interrupted || code == exit_no_coordinator) summary.exit_code = code;
  if (g.json)
    std::cout << summary.to_json().dump() << "\n";
  else
    std::cout << summary.text() << std::flush;
  lookups.clear();
  futures.clear();
  if (!o.timeline.empty() && lost_coordinator.empty()) write_timeline(client, o.timeline, since_wall, job_name);
  if (local) {
    remote_client.reset();  // closes before its coordinator goes
    local->stop();
    std::cerr << "stopped the embedded cluster\n";
  }
  if (code == exit_interrupted) std::cerr << "interrupted: the job's unfinished tasks were cancelled\n";
  if (code == exit_no_coordinator)
    std::cerr << "shoal: " << lost_coordinator
              << ": the job's unfinished tasks may still run there (not counted as failures)\n";
  return code;
}

}  // namespace shoal::cli
