#pragma once
// What observers of the coordinator read: copies of the engine's state made on its thread
// (Engine::observe_*, engine_observe.cpp), rendered on the HTTP server's thread as the
// Prometheus text format and the JSON API (observe_render.cpp). The engine never waits
// on a browser: it copies plain data; formatting and the network are the server's.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "metrics.hpp"
#include "shoal/link/timeline.hpp"

namespace shoal::coordinator::observe {

struct FunctionRow {
  std::string name;
  FunctionCounters counters;
  std::uint64_t queued = 0;  // ready and waiting for a worker now
};

struct WorkerRow {
  std::uint64_t id = 0;
  std::string name, host;
  std::uint32_t pid = 0, capacity = 0, actors = 0, functions = 0;
  std::uint32_t running = 0;   // running there, as it last reported
  std::uint32_t assigned = 0;  // sent to it and not finished (running, or in its window)
  std::uint64_t done = 0, cpu_ns = 0, rss_bytes = 0, connected_ns = 0;
  bool draining = false;
  std::map<std::string, double> resources, used;
  std::vector<std::string> labels;
};

struct Counts {
  std::uint64_t waiting = 0, queued = 0, running = 0, done = 0, failed = 0, cancelled = 0, submitted = 0;
};

/// /metrics: the counters and the gauges.
struct MetricsData {
  std::vector<FunctionRow> functions;
  std::vector<WorkerRow> workers;
  Counts counts;
  std::uint64_t retried = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t clients = 0, connections_total = 0;
  std::uint64_t started_ns = 0;
  bool journal = false;
  std::uint64_t journal_commits = 0;   // handed to the journal's thread, not yet on disk
  std::uint64_t journal_lag_ns = 0;    // since the oldest of them began
  bool journal_failing = false;
};

struct Summary {
  std::string name;
  std::uint64_t now_ns = 0, started_ns = 0;
  Counts counts;
  std::uint64_t workers = 0, slots = 0, busy = 0, clients = 0;
  std::vector<Sample> history;
};

struct TaskRow {
  std::uint64_t id = 0;
  std::string function, state, worker, job, error, note;
  std::uint32_t attempt = 0;
  std::uint64_t submitted_ns = 0, started_ns = 0, finished_ns = 0, run_ns = 0;
  // One task's page only:
  std::uint64_t args_bytes = 0, result_bytes = 0;
  std::vector<std::uint64_t> deps;
  std::string error_type, error_message;
  std::vector<link::Attempt> attempts;
  std::string stdout_text, stderr_text;  // what it printed, as kept
};

struct TaskQuery {
  std::string state, function, job;  // "" any
  std::uint64_t limit = 100, offset = 0;
};

struct TaskPage {
  std::uint64_t total = 0, offset = 0, limit = 0;
  std::vector<TaskRow> tasks;
};

// Rendering (observe_render.cpp), on the server's thread.
[[nodiscard]] std::string prometheus(const MetricsData& m);
[[nodiscard]] std::string summary_json(const Summary& s);
[[nodiscard]] std::string workers_json(const std::vector<WorkerRow>& ws);
[[nodiscard]] std::string tasks_json(const TaskPage& page);
[[nodiscard]] std::string task_json(const TaskRow& t);
[[nodiscard]] std::string jobs_json(const std::vector<JobCounters>& jobs);
[[nodiscard]] std::string error_json(const std::string& message);

/// "waiting", "queued", "running", "done", "failed", "cancelled" ("" for anything else).
[[nodiscard]] std::string state_name(proto::schema::TaskState s);

}  // namespace shoal::coordinator::observe
