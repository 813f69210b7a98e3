// Observers' copies rendered (observe.hpp): the Prometheus text format (0.0.4) and the
// JSON API. On the HTTP server's thread.

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "observe.hpp"

namespace shoal::coordinator::observe {

namespace {

using nlohmann::json;

// A label value, escaped as the exposition format wants (backslash, quote, newline).
std::string label(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Counts exactly (integers up to 2^53), the rest to the last digit a double holds.
std::string num(double v) {
  char buf[40];
  if (v == static_cast<double>(static_cast<long long>(v)) && std::abs(v) < 9007199254740992.0)
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  else
    for (int precision = 6; precision <= 17; ++precision) {  // the shortest that reads back the same
      std::snprintf(buf, sizeof buf, "%.*g", precision, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
  return buf;
}

double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

class Text {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const std::string& name, const std::string& labels, double v) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += ' ';
    out_ += num(v);
    out_ += '\n';
  }
  void histogram(const char* name, const std::string& labels, const Histogram& h) {
    std::uint64_t cumulative = 0;
    auto sep = labels.empty() ? "" : ",";
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
      cumulative += h.counts[i];
      auto le = i < Histogram::kBoundsNs.size() ? num(seconds(Histogram::kBoundsNs[i])) : std::string("+Inf");
      sample(std::string(name) + "_bucket", labels + sep + "le=\"" + le + "\"", static_cast<double>(cumulative));
    }
    sample(std::string(name) + "_sum", labels, seconds(h.sum_ns));
    sample(std::string(name) + "_count", labels, static_cast<double>(h.count));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string fn_label(const FunctionRow& f) { return "function=\"" + label(f.name) + "\""; }
// Names need not be unique (w1 in every container): the worker's id makes the series so.
std::string worker_label(const WorkerRow& w) {
  return "worker=\"" + label(w.name) + "\",worker_id=\"" + std::to_string(w.id) + "\"";
}

json task_fields(const TaskRow& t) {
  // "key": the id as text, exact where JSON numbers are doubles (JavaScript: ids pass 2^53).
  json j = {{"id", t.id}, {"key", std::to_string(t.id)}, {"function", t.function}, {"state", t.state}, {"attempt", t.attempt}, {"worker", t.worker},
            {"job", t.job}};
  if (!t.error.empty()) j["error"] = t.error;
  if (!t.note.empty()) j["note"] = t.note;
  if (t.submitted_ns) j["submitted_ns"] = t.submitted_ns;
  if (t.started_ns) j["started_ns"] = t.started_ns;
  if (t.finished_ns) j["finished_ns"] = t.finished_ns;
  if (t.run_ns) j["run_s"] = seconds(t.run_ns);
  return j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string state_name(proto::schema::TaskState s) {
  using S = proto::schema::TaskState;
  switch (s) {
    case S::WAITING: return "waiting";
    case S::QUEUED: return "queued";
    case S::RUNNING: return "running";
    case S::DONE: return "done";
    case S::FAILED: return "failed";
    case S::CANCELLED: return "cancelled";
    default: return "";
  }
}

std::string prometheus(const MetricsData& m) {
  Text t;
  struct Counter {
    const char* name;
    const char* help;
    std::uint64_t FunctionCounters::*field;
  };
  static const Counter kCounters[] = {
      {"shoal_tasks_submitted_total", "Tasks submitted, by function.", &FunctionCounters::submitted},
      {"shoal_tasks_finished_total", "Tasks that finished with a result, by function.", &FunctionCounters::finished},
      {"shoal_tasks_failed_total", "Tasks that failed, by function.", &FunctionCounters::failed},
      {"shoal_tasks_cancelled_total", "Tasks cancelled, by function.", &FunctionCounters::cancelled},
      {"shoal_tasks_retried_total", "Attempts that ran again (an application error's retry, a lost worker), by function.",
       &FunctionCounters::retried},
  };
  for (const auto& c : kCounters) {
    t.family(c.name, "counter", c.help);
    for (const auto& f : m.functions) t.sample(c.name, fn_label(f), static_cast<double>(f.counters.*c.field));
  }
  t.family("shoal_tasks_queued", "gauge", "Tasks ready and waiting for a worker, by function.");
  for (const auto& f : m.functions) t.sample("shoal_tasks_queued", fn_label(f), static_cast<double>(f.queued));
  t.family("shoal_tasks", "gauge", "Unfinished tasks by state (waiting: on dependencies, an actor or a retry's backoff).");
  t.sample("shoal_tasks", "state=\"waiting\"", static_cast<double>(m.counts.waiting));
  t.sample("shoal_tasks", "state=\"queued\"", static_cast<double>(m.counts.queued));
  t.sample("shoal_tasks", "state=\"running\"", static_cast<double>(m.counts.running));
  t.family("shoal_task_queue_wait_seconds", "histogram", "From submit to the worker being sent the task, by function.");
  for (const auto& f : m.functions) t.histogram("shoal_task_queue_wait_seconds", fn_label(f), f.counters.queue_wait);
  t.family("shoal_task_run_seconds", "histogram", "How long tasks ran on their worker, by function.");
  for (const auto& f : m.functions) t.histogram("shoal_task_run_seconds", fn_label(f), f.counters.run);
  t.family("shoal_workers", "gauge", "Workers connected.");
  t.sample("shoal_workers", "", static_cast<double>(m.workers.size()));
  t.family("shoal_worker_slots", "gauge", "Plain tasks a worker runs at once (its pool's threads).");
  for (const auto& w : m.workers) t.sample("shoal_worker_slots", worker_label(w), w.capacity);
  t.family("shoal_worker_running_tasks", "gauge", "Tasks running on a worker.");
  for (const auto& w : m.workers) t.sample("shoal_worker_running_tasks", worker_label(w), w.running);
  t.family("shoal_worker_tasks_done_total", "counter", "Tasks a worker finished.");
  for (const auto& w : m.workers) t.sample("shoal_worker_tasks_done_total", worker_label(w), static_cast<double>(w.done));
  t.family("shoal_worker_cpu_seconds_total", "counter", "CPU time of a worker's process, user and system.");
  for (const auto& w : m.workers) t.sample("shoal_worker_cpu_seconds_total", worker_label(w), seconds(w.cpu_ns));
  t.family("shoal_worker_resident_memory_bytes", "gauge", "Resident memory of a worker's process.");
  for (const auto& w : m.workers)
    t.sample("shoal_worker_resident_memory_bytes", worker_label(w), static_cast<double>(w.rss_bytes));
  t.family("shoal_network_received_bytes_total", "counter", "Bytes the coordinator received from its peers.");
  t.sample("shoal_network_received_bytes_total", "", static_cast<double>(m.bytes_in));
  t.family("shoal_network_sent_bytes_total", "counter", "Bytes the coordinator sent to its peers.");
  t.sample("shoal_network_sent_bytes_total", "", static_cast<double>(m.bytes_out));
  t.family("shoal_client_connections", "gauge", "Clients connected.");
  t.sample("shoal_client_connections", "", static_cast<double>(m.clients));
  t.family("shoal_connections_total", "counter", "Connections accepted (clients, workers and strangers).");
  t.sample("shoal_connections_total", "", static_cast<double>(m.connections_total));
  t.family("shoal_coordinator_start_time_seconds", "gauge", "When the coordinator started, since the Unix epoch.");
  t.sample("shoal_coordinator_start_time_seconds", "", seconds(m.started_ns));
  if (m.journal) {
    t.family("shoal_journal_lag_seconds", "gauge", "Age of the oldest journal commit not yet on disk (0: none).");
    t.sample("shoal_journal_lag_seconds", "", seconds(m.journal_lag_ns));
    t.family("shoal_journal_pending_commits", "gauge", "Journal commits handed to its thread and not yet on disk.");
    t.sample("shoal_journal_pending_commits", "", static_cast<double>(m.journal_commits));
    t.family("shoal_journal_failing", "gauge", "1 while writes to the journal fail (the coordinator accepts no work).");
    t.sample("shoal_journal_failing", "", m.journal_failing ? 1 : 0);
  }
  return t.take();
}

std::string summary_json(const Summary& s) {
  json history = json::array();
  for (const auto& h : s.history)
    history.push_back({{"t_ns", h.wall_ns},
                       {"submitted", h.submitted},
                       {"finished", h.finished},
                       {"failed", h.failed},
                       {"cancelled", h.cancelled},
                       {"queued", h.queued},
                       {"running", h.running},
                       {"waiting", h.waiting}});
  const auto& c = s.counts;
  return dump({{"name", s.name},
               {"version", "0.1.0"},
               {"now_ns", s.now_ns},
               {"started_ns", s.started_ns},
               {"tasks",
                {{"waiting", c.waiting},
                 {"queued", c.queued},
                 {"running", c.running},
                 {"done", c.done},
                 {"failed", c.failed},
                 {"cancelled", c.cancelled},
                 {"submitted", c.submitted}}},
               {"workers", s.workers},
               {"slots", s.slots},
               {"busy", s.busy},
               {"clients", s.clients},
               {"history", history}});
}

std::string workers_json(const std::vector<WorkerRow>& ws) {
  json list = json::array();
  for (const auto& w : ws)
    list.push_back({{"id", w.id},
                    {"name", w.name},
                    {"assigned", w.assigned},
                    {"host", w.host},
                    {"pid", w.pid},
                    {"capacity", w.capacity},
                    {"running", w.running},
                    {"done", w.done},
                    {"actors", w.actors},
                    {"functions", w.functions},
                    {"draining", w.draining},
                    {"resources", w.resources},
                    {"used", w.used},
                    {"labels", w.labels},
                    {"cpu_seconds", seconds(w.cpu_ns)},
                    {"rss_bytes", w.rss_bytes},
                    {"connected_ns", w.connected_ns}});
  return dump({{"workers", list}});
}

std::string tasks_json(const TaskPage& page) {
  json list = json::array();
  for (const auto& t : page.tasks) list.push_back(task_fields(t));
  return dump({{"total", page.total}, {"offset", page.offset}, {"limit", page.limit}, {"tasks", list}});
}

std::string task_json(const TaskRow& t) {
  auto j = task_fields(t);
  j["args_bytes"] = t.args_bytes;
  j["result_bytes"] = t.result_bytes;
  j["deps"] = t.deps;
  json keys = json::array();
  for (auto d : t.deps) keys.push_back(std::to_string(d));
  j["dep_keys"] = std::move(keys);
  if (!t.error_type.empty()) {
    j["error_type"] = t.error_type;
    j["error_message"] = t.error_message;
  }
  json attempts = json::array();
  for (const auto& a : t.attempts) {
    json x = {{"attempt", a.attempt},         {"worker", a.worker},   {"submitted_ns", a.submitted_ns},
              {"started_ns", a.started_ns},   {"ended_ns", a.ended_ns}, {"run_s", seconds(a.run_ns)},
              {"outcome", a.outcome}};
    if (!a.error.empty()) x["error"] = a.error;
    attempts.push_back(std::move(x));
  }
  j["attempts"] = std::move(attempts);
  j["stdout"] = t.stdout_text;
  j["stderr"] = t.stderr_text;
  return dump(j);
}

std::string jobs_json(const std::vector<JobCounters>& jobs) {
  json list = json::array();
  for (const auto& j : jobs) {
    auto ended = j.finished + j.failed + j.cancelled;
    list.push_back({{"name", j.name},
                    {"client", j.client},
                    {"connected", j.connected},
                    {"submitted", j.submitted},
                    {"unfinished", j.submitted > ended ? j.submitted - ended : 0},
                    {"done", j.finished},
                    {"failed", j.failed},
                    {"cancelled", j.cancelled},
                    {"first_submit_ns", j.first_submit_ns},
                    {"last_finish_ns", j.last_end_ns}});
  }
  return dump({{"jobs", list}});
}

std::string error_json(const std::string& message) { return dump({{"error", message}}); }

}  // namespace shoal::coordinator::observe
