// What the engine counts for its observers, and the copies it makes of its state for them
// (observe.hpp): made on the engine's thread, cheap (no walk over every task but for a
// task listing), and never waiting on anybody.

#include <algorithm>

#include "engine.hpp"
#include "observe.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::coordinator {

using link::steady_ns;

// ---- counting ----

void Engine::count_submitted(Peer& p, const TaskRecord& t) {
  ++metrics.submitted;
  ++metrics.fn(t.fn).submitted;
  if (!p.job) p.job = &metrics.job(p.id, p.name, t.submitted_wall);
  ++p.job->submitted;
}

void Engine::count_ended(const TaskRecord& t) {
  auto& f = metrics.fn(t.fn);
  auto it = metrics.jobs.find(t.submitter);
  auto* job = it == metrics.jobs.end() ? nullptr : &it->second;
  switch (t.state) {
    case TaskState::DONE:
      ++metrics.finished, ++f.finished;
      if (job) ++job->finished;
      break;
    case TaskState::FAILED:
      ++metrics.failed, ++f.failed;
      if (job) ++job->failed;
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

void Engine::count_attempt(const TaskRecord& t, std::uint64_t worker, std::string outcome) {
  if (metrics.max_attempts == 0) return;
  link::Attempt a;
  a.task_id = t.id;
  a.function = functions[t.fn].name;
  a.attempt = t.attempt;
  a.worker_id = worker;
  if (const auto* w = scheduler.worker(worker)) a.worker = w->name;
  if (auto it = metrics.jobs.find(t.submitter); it != metrics.jobs.end()) a.job = it->second.name;
  a.submitted_ns = t.submitted_wall;
  a.started_ns = t.started_wall;
  a.ended_ns = now_wall();
  a.run_ns = t.run_ns;
  a.outcome = std::move(outcome);
  if (t.error && t.state == TaskState::FAILED) {
    a.error = t.error->type_name + ": " + t.error->message;
    if (a.error.size() > 300) a.error = a.error.substr(0, 300) + "...";
  }
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
  for (const auto& a : metrics.attempts)
    if (a.task_id == id) r.attempts.push_back(a);
  return r;
}

std::vector<JobCounters> Engine::observe_jobs() const {
  std::vector<JobCounters> out;
  for (const auto& [id, j] : metrics.jobs) out.push_back(j);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first_submit_ns > b.first_submit_ns; });
  return out;
}

std::vector<link::Attempt> Engine::observe_attempts(std::uint64_t since_ns, const std::string& job) const {
  std::vector<link::Attempt> out;
  for (const auto& a : metrics.attempts)
    if (a.ended_ns >= since_ns && (job.empty() || a.job == job)) out.push_back(a);
  return out;
}

}  // namespace shoal::coordinator
