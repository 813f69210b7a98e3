// What the engine counts for its observers, and the copies it makes of its state for them
// (observe.hpp): made on the engine's thread, cheap (no walk over every task but for a
// task listing), and never waiting on anybody. What tasks print: engine_output.cpp.

#include <algorithm>

#include "engine.hpp"
#include "observe.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::coordinator {

using link::steady_ns;

// ---- counting ----

// The first `max` bytes of `s`, not cutting a UTF-8 character in two.
static std::string utf8_prefix(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  auto cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "...";
}

// Puts are objects, not tasks: observers do not count them.
static bool is_put(const FunctionTable& functions, const TaskRecord& t) {
  return functions[t.fn].name == link::kPutFunction;
}

void Engine::count_submitted(std::uint64_t submitter, const std::string& job, const TaskRecord& t) {
  if (is_put(functions, t)) return;
  ++metrics.submitted;
  ++metrics.fn(t.fn).submitted;
  if (!job.empty()) ++metrics.job(submitter, job, t.submitted_wall).submitted;
}

void Engine::count_ended(const TaskRecord& t) {
  if (is_put(functions, t)) return;
  if (debug_enabled())
    debug(std::string(observe::state_name(t.state)) + ": " + functions[t.fn].name +
              (t.run_ns ? " ran " + std::to_string(t.run_ns / 1000) + " us" : std::string()),
          t.id);
  auto& f = metrics.fn(t.fn);
  auto it = metrics.jobs.find(t.submitter);
  auto* job = it == metrics.jobs.end() ? nullptr : &it->second;
  switch (t.state) {
    case TaskState::DONE:
      ++metrics.finished, ++f.finished;
      if (job) ++job->finished;
      break;
    case TaskState::FAILED:
      if (t.error) log(functions[t.fn].name + " failed: " + utf8_prefix(t.error->type_name + ": " + t.error->message, 1000), t.id);
      ++metrics.failed, ++f.failed;
      if (job) ++job->failed;
      if (metrics.recent_failures.size() >= Metrics::kRecentFailures) metrics.recent_failures.pop_front();
      metrics.recent_failures.push_back({t.id, t.worker, t.submitter, t.submitted_wall, t.started_wall, t.finished_wall,
                                         t.run_ns, t.fn, t.attempt,
                                         t.error ? utf8_prefix(t.error->type_name + ": " + t.error->message, 1000)
                                                 : std::string()});
      break;
    case TaskState::CANCELLED:
      ++metrics.cancelled, ++f.cancelled;
      if (job) ++job->cancelled;
      break;
    default:
      return;
  }
  if (job) job->last_end_ns = std::max(job->last_end_ns, t.finished_wall);
}

void Engine::count_attempt(const TaskRecord& t, std::uint64_t worker, std::uint32_t attempt,
                           AttemptRecord::Outcome outcome) {
  if (metrics.max_attempts == 0) return;
  AttemptRecord a;
  a.task_id = t.id;
  a.fn = t.fn;
  a.attempt = attempt;
  a.worker_id = worker;
  a.submitter = t.submitter;
  a.submitted_ns = t.submitted_wall;
  a.started_ns = t.started_wall;
  a.ended_ns = now_wall();
  a.run_ns = t.run_ns;
  a.outcome = outcome;
  if (t.error && t.state == TaskState::FAILED) a.error = utf8_prefix(t.error->type_name + ": " + t.error->message, 300);
  metrics.attempt(std::move(a));
}

namespace {

struct Gauges {
  std::uint64_t queued = 0, running = 0, waiting = 0;
};

}  // namespace

// The gauges without a walk over every task: running is what workers hold, queued what
// waits on the scheduler's queues, waiting the rest of the unfinished (on dependencies,
// actors' queues, a retry's backoff).
static Gauges gauges(const Engine& e) {
  Gauges g;
  for (const auto& [id, w] : e.scheduler.workers())
    if (!w.lost) g.running += w.inflight.size();
  for (std::uint32_t fn = 0; fn < e.functions.size(); ++fn) g.queued += e.scheduler.queued(fn);
  auto unfinished = e.total.tasks;
  g.waiting = unfinished > g.queued + g.running ? unfinished - g.queued - g.running : 0;
  return g;
}

void Engine::take_sample(std::uint64_t now) {
  last_sample = now;
  auto g = gauges(*this);
  metrics.sample({link::wall_ns(), metrics.submitted, metrics.finished, metrics.failed, metrics.cancelled, g.queued,
                  g.running, g.waiting});
}

// ---- copies for observers ----

std::string Engine::job_name(std::uint64_t submitter) const {
  auto it = metrics.jobs.find(submitter);
  return it == metrics.jobs.end() ? std::string() : it->second.name;
}

std::string Engine::worker_name(std::uint64_t id) const {
  if (!id) return {};
  const auto& ws = scheduler.workers();
  if (auto it = ws.find(id); it != ws.end()) return it->second.name;
  if (auto it = metrics.worker_names.find(id); it != metrics.worker_names.end()) return it->second;  // gone since
  return "#" + std::to_string(id);
}

observe::Counts Engine::observe_counts() const {
  auto g = gauges(*this);
  observe::Counts c;
  c.waiting = g.waiting;
  c.queued = g.queued;
  c.running = g.running;
  c.done = tasks.done_count();
  c.failed = tasks.failed_count();
  c.cancelled = tasks.cancelled_count();
  c.submitted = metrics.submitted;
  return c;
}

std::vector<observe::WorkerRow> Engine::observe_workers() const {
  std::vector<observe::WorkerRow> out;
  const auto& pl = scheduler.placements();
  for (const auto& [id, w] : scheduler.workers()) {
    if (w.lost) continue;
    observe::WorkerRow r;
    r.id = id;
    r.name = w.name;
    r.host = w.host;
    r.pid = w.pid;
    r.capacity = w.capacity;
    r.running = w.running_reported;
    r.assigned = w.in_plain + w.in_coro;
    r.actors = w.actors;
    r.functions = static_cast<std::uint32_t>(w.fns.size());
    r.done = w.done;
    r.cpu_ns = w.cpu_ns;
    r.rss_bytes = w.rss_bytes;
    r.draining = w.draining;
    if (auto it = peers.find(id); it != peers.end()) r.connected_ns = it->second->connected_wall;
    for (const auto& [k, v] : pl.amounts(w.total)) r.resources[k] = v;
    for (const auto& [k, v] : pl.amounts(w.used)) r.used[k] = v;
    for (const auto& [k, v] : w.labels) r.labels.push_back(k + "=" + v);
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

observe::MetricsData Engine::observe_metrics() const {
  observe::MetricsData m;
  // One row per function name (a name registered under two signatures counts once).
  std::map<std::string, std::size_t> by_name;
  for (std::uint32_t fn = 0; fn < functions.size(); ++fn) {
    const auto* c = fn < metrics.functions.size() ? &metrics.functions[fn] : nullptr;
    auto queued = scheduler.queued(fn);
    if (!c && !queued) continue;
    auto [it, fresh] = by_name.try_emplace(functions[fn].name, m.functions.size());
    if (fresh) m.functions.push_back({functions[fn].name, {}, 0});
    auto& row = m.functions[it->second];
    row.queued += queued;
    if (!c) continue;
    row.counters.submitted += c->submitted;
    row.counters.finished += c->finished;
    row.counters.failed += c->failed;
    row.counters.cancelled += c->cancelled;
    row.counters.retried += c->retried;
    for (auto [to, from] : {std::pair{&row.counters.queue_wait, &c->queue_wait}, std::pair{&row.counters.run, &c->run}}) {
      for (std::size_t b = 0; b < to->counts.size(); ++b) to->counts[b] += from->counts[b];
      to->sum_ns += from->sum_ns;
      to->count += from->count;
    }
  }
  m.workers = observe_workers();
  m.counts = observe_counts();
  m.retried = metrics.retried;
  m.bytes_in = metrics.bytes_in_closed;
  m.bytes_out = metrics.bytes_out_closed;
  for (const auto& [ptr, p] : connections) {
    m.bytes_in += p->conn->bytes_in();
    m.bytes_out += p->conn->bytes_out();
    if (p->welcomed && p->role == schema::Role::CLIENT && !p->conn->closed()) ++m.clients;
  }
  m.connections_total = metrics.connections_total;
  m.started_ns = metrics.started_wall;
  m.journal = journal != nullptr;
  m.journal_commits = journal_commits.size();
  m.journal_lag_ns = journal_commits.empty() ? 0 : steady_ns() - journal_commits.front();
  m.journal_failing = !journal_trouble.empty();
  return m;
}

observe::Summary Engine::observe_summary() const {
  observe::Summary s;
  s.name = opt.name;
  s.now_ns = link::wall_ns();
  s.started_ns = metrics.started_wall;
  s.counts = observe_counts();
  for (const auto& [id, w] : scheduler.workers()) {
    if (w.lost) continue;
    ++s.workers;
    s.slots += w.capacity;
    s.busy += std::min(w.in_plain, w.capacity);
  }
  for (const auto& [ptr, p] : connections)
    if (p->welcomed && p->role == schema::Role::CLIENT && !p->conn->closed()) ++s.clients;
  s.history.assign(metrics.history.begin(), metrics.history.end());
  return s;
}

observe::TaskRow Engine::observe_row(const TaskRecord& t) const {
  observe::TaskRow r;
  r.id = t.id;
  r.function = functions[t.fn].name;
  r.state = observe::state_name(t.state);
  r.attempt = t.attempt;
  r.worker = worker_name(t.worker);
  r.job = job_name(t.submitter);
  r.submitted_ns = t.submitted_wall;
  r.started_ns = t.started_wall;
  r.finished_ns = t.finished_wall;
  r.run_ns = t.run_ns;
  if (t.error) r.error = t.error->type_name + ": " + t.error->message;
  if (t.state == TaskState::QUEUED && t.links && !t.links->retry_wait.empty())
    r.note = t.links->retry_wait;
  else if (t.state == TaskState::QUEUED && !t.actor && !t.actor_create)
    r.note = scheduler.why_waiting(t);
  return r;
}

observe::TaskPage Engine::observe_tasks(const observe::TaskQuery& q) const {
  observe::TaskPage page;
  page.offset = q.offset;
  page.limit = q.limit;
  // The job's client ids, by name (a job's client may have reconnected under a new id).
  std::vector<std::uint64_t> clients;
  if (!q.job.empty())
    for (const auto& [id, j] : metrics.jobs)
      if (j.name == q.job) clients.push_back(id);
  std::vector<const TaskRecord*> match;
  for (const auto& [id, t] : tasks) {
    if (!q.state.empty() && observe::state_name(t.state) != q.state) continue;
    if (!q.function.empty() && functions[t.fn].name != q.function) continue;
    if (!q.job.empty() && std::find(clients.begin(), clients.end(), t.submitter) == clients.end()) continue;
    match.push_back(&t);
  }
  page.total = match.size();
  // Newest first; only the page asked for is sorted.
  auto newer = [](const TaskRecord* a, const TaskRecord* b) {
    return a->submitted_wall != b->submitted_wall ? a->submitted_wall > b->submitted_wall : a->id > b->id;
  };
  auto first = std::min<std::uint64_t>(q.offset, match.size());
  auto last = std::min<std::uint64_t>(q.offset + q.limit, match.size());
  auto begin = match.begin(), end = match.begin() + static_cast<std::ptrdiff_t>(last);
  std::partial_sort(begin, end, match.end(), newer);
  for (auto i = first; i < last; ++i) page.tasks.push_back(observe_row(*match[i]));
  return page;
}

observe::TaskPage Engine::observe_failures(std::uint64_t limit) const {
  // From the ring of the latest failures, as they were: no walk over every task, and a
  // job's failures stay listed after its client left (its tasks are forgotten then).
  observe::TaskPage page;
  page.limit = limit;
  page.total = metrics.failed;
  for (auto it = metrics.recent_failures.rbegin(); it != metrics.recent_failures.rend() && page.tasks.size() < limit;
       ++it) {
    observe::TaskRow r;
    r.id = it->task_id;
    r.function = functions[it->fn].name;
    r.state = "failed";
    r.attempt = it->attempt;
    r.worker = worker_name(it->worker_id);
    r.job = job_name(it->submitter);
    r.submitted_ns = it->submitted_ns;
    r.started_ns = it->started_ns;
    r.finished_ns = it->finished_ns;
    r.run_ns = it->run_ns;
    r.error = it->error;
    page.tasks.push_back(std::move(r));
  }
  return page;
}

std::optional<observe::TaskRow> Engine::observe_task(std::uint64_t id) const {
  const auto* t = tasks.find(id);
  if (!t) return std::nullopt;
  auto r = observe_row(*t);
  r.args_bytes = t->args_bytes;
  r.result_bytes = t->value.size();
  r.deps = t->deps();
  if (t->error) {
    r.error_type = t->error->type_name;
    r.error_message = t->error->message;
  }
  r.stdout_text = kept_output(*t, 1);
  r.stderr_text = kept_output(*t, 2);
  for (auto& a : observe_attempts(0, {}, std::size_t{64} << 20))
    if (a.task_id == id) r.attempts.push_back(std::move(a));
  return r;
}

std::vector<JobCounters> Engine::observe_jobs() const {
  std::vector<JobCounters> out;
  for (const auto& [id, j] : metrics.jobs) out.push_back(j);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first_submit_ns > b.first_submit_ns; });
  return out;
}

std::vector<link::Attempt> Engine::observe_attempts(std::uint64_t since_ns, const std::string& job,
                                                   std::size_t max_bytes) const {
  // The newest first, within the budget, then in the order they ended.
  std::vector<link::Attempt> out;
  std::size_t bytes = 0;
  for (auto it = metrics.attempts.rbegin(); it != metrics.attempts.rend(); ++it) {
    const auto& r = *it;
    if (r.ended_ns < since_ns) break;  // kept in the order they ended
    auto job_name = this->job_name(r.submitter);
    if (!job.empty() && job_name != job) continue;
    link::Attempt a;
    a.task_id = r.task_id;
    a.function = functions[r.fn].name;
    a.attempt = r.attempt;
    a.worker_id = r.worker_id;
    if (auto w = metrics.worker_names.find(r.worker_id); w != metrics.worker_names.end()) a.worker = w->second;
    a.job = std::move(job_name);
    a.submitted_ns = r.submitted_ns;
    a.started_ns = r.started_ns;
    a.ended_ns = r.ended_ns;
    a.run_ns = r.run_ns;
    a.outcome = outcome_name(r.outcome);
    a.error = r.error;
    bytes += 200 + a.function.size() + a.worker.size() + a.job.size() + a.error.size();
    if (bytes > max_bytes) break;
    out.push_back(std::move(a));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace shoal::coordinator
