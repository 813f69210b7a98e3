// The timeline's trace-event JSON (see timeline.hpp) and its wire conversion.

#include "shoal/link/timeline.hpp"

#include "json_text.hpp"
#include "shoal/link/messages.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace shoal::link {

namespace {

void escape(std::string& out, const std::string& s) { detail::append_json_string(out, s); }

// Microseconds from the trace's origin, with ns precision.
std::string micros(std::uint64_t ns, std::uint64_t origin) {
  auto d = ns > origin ? ns - origin : 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%03llu", static_cast<unsigned long long>(d / 1000),
                static_cast<unsigned long long>(d % 1000));
  return buf;
}

}  // namespace

std::string chrome_trace(std::vector<Attempt> attempts) {
  constexpr std::uint64_t kJitterNs = 2'000'000;
  // Where each attempt ran on its worker: from its start there (its end less what the
  // worker measured, when that fits) to its end. What came before it is queue wait.
  struct Placed {
    const Attempt* a;
    std::uint64_t begin, end;
    unsigned pid = 0, tid = 0;
  };
  std::vector<Placed> placed;
  placed.reserve(attempts.size());
  std::uint64_t origin = UINT64_MAX;
  for (const auto& a : attempts) {
    auto end = std::max(a.ended_ns, a.started_ns);
    auto begin = a.started_ns ? a.started_ns : end;  // never sent (lost before its assign left): no length
    if (a.run_ns && a.run_ns <= end - begin) begin = end - a.run_ns;
    placed.push_back({&a, begin, end});
    origin = std::min({origin, begin, a.submitted_ns ? a.submitted_ns : begin});
  }
  if (placed.empty()) origin = 0;
  std::stable_sort(placed.begin(), placed.end(), [](const Placed& x, const Placed& y) {
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  // Processes by worker id; tracks by first free lane (no two slices of a track overlap).
  std::map<std::uint64_t, std::pair<unsigned, std::vector<std::uint64_t>>> workers;  // id -> pid, lane ends
  std::map<std::uint64_t, std::string> names;
  for (const auto& p : placed) workers.try_emplace(p.a->worker_id);
  unsigned next_pid = 1;
  for (auto& [id, w] : workers) w.first = next_pid++;
  for (auto& p : placed) {
    auto& [pid, lanes] = workers[p.a->worker_id];
    p.pid = pid;
    if (!p.a->worker.empty()) names[p.a->worker_id] = p.a->worker;
    unsigned lane = 0;
    while (lane < lanes.size() && lanes[lane] > p.begin) ++lane;
    if (lane == lanes.size() && !lanes.empty()) {
      // None free: an end is when the coordinator read the result, a little after the
      // worker's thread was free (results leave in batches). Within kJitterNs, and for at
      // most half the slice, the lane that frees first takes it, starting where it frees,
      // rather than a lane the worker never had.
      auto first = std::min_element(lanes.begin(), lanes.end());
      if (*first - p.begin <= kJitterNs && *first - p.begin <= (p.end - p.begin) / 2) {
        lane = static_cast<unsigned>(first - lanes.begin());
        p.begin = *first;
      }
    }
    if (lane == lanes.size()) lanes.push_back(0);
    lanes[lane] = p.end;
    p.tid = lane + 1;
  }
  std::string out = "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"origin_ns\":" + std::to_string(origin) +
                    "},\"traceEvents\":[";
  bool first = true;
  auto open = [&] {
    if (!first) out += ",\n";
    first = false;
  };
  for (const auto& [id, w] : workers) {
    auto it = names.find(id);
    auto name = id == 0 ? std::string("no worker") : "worker " + (it != names.end() ? it->second : "#" + std::to_string(id));
    open();
    out += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + std::to_string(w.first) + ",\"args\":{\"name\":";
    escape(out, name);
    out += "}}";
    open();
    out += "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":" + std::to_string(w.first) +
           ",\"args\":{\"sort_index\":" + std::to_string(w.first) + "}}";
    for (unsigned lane = 0; lane < w.second.size(); ++lane) {
      open();
      out += "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + std::to_string(w.first) +
             ",\"tid\":" + std::to_string(lane + 1) + ",\"args\":{\"name\":\"slot " + std::to_string(lane + 1) + "\"}}";
    }
  }
  for (const auto& p : placed) {
    const auto& a = *p.a;
    auto common = ",\"pid\":" + std::to_string(p.pid);
    open();
    out += "{\"name\":";
    escape(out, a.function);
    out += ",\"cat\":\"task\",\"ph\":\"X\",\"ts\":" + micros(p.begin, origin) + ",\"dur\":" + micros(p.end, p.begin) +
           common + ",\"tid\":" + std::to_string(p.tid) + ",\"args\":{\"task\":" + std::to_string(a.task_id) +
           ",\"attempt\":" + std::to_string(a.attempt) + ",\"outcome\":";
    escape(out, a.outcome);
    if (!a.job.empty()) {
      out += ",\"job\":";
      escape(out, a.job);
    }
    if (!a.error.empty()) {
      out += ",\"error\":";
      escape(out, a.error);
    }
    if (a.submitted_ns && a.submitted_ns <= p.begin)
      out += ",\"queue_wait_ms\":" + micros((p.begin - a.submitted_ns) / 1000, 0);
    out += "}}";
    // The queue wait: an async slice of the worker's "queued" track, submit to start.
    if (a.submitted_ns && a.submitted_ns < p.begin) {
      // Unique per slice (an attempt handed back runs again under the same number).
      auto id = "\"" + std::to_string(a.task_id) + "." + std::to_string(a.attempt) + "." +
                std::to_string(&p - placed.data()) + "\"";
      open();
      out += "{\"name\":\"queued\",\"cat\":\"queue\",\"ph\":\"b\",\"id\":" + id + ",\"ts\":" +
             micros(a.submitted_ns, origin) + common + ",\"tid\":0,\"args\":{\"task\":" + std::to_string(a.task_id) +
             ",\"function\":";
      escape(out, a.function);
      out += "}}";
      open();
      out += "{\"name\":\"queued\",\"cat\":\"queue\",\"ph\":\"e\",\"id\":" + id + ",\"ts\":" + micros(p.begin, origin) +
             common + ",\"tid\":0}";
    }
  }
  out += "]}\n";
  return out;
}

void set_attempt(proto::schema::AttemptInfo::Builder b, const Attempt& a) {
  b.setTaskId(a.task_id);
  b.setFunction(a.function);
  b.setAttempt(a.attempt);
  b.setWorkerId(a.worker_id);
  b.setWorkerName(a.worker);
  b.setJob(a.job);
  b.setSubmittedNs(a.submitted_ns);
  b.setStartedNs(a.started_ns);
  b.setEndedNs(a.ended_ns);
  b.setRunNs(a.run_ns);
  b.setOutcome(a.outcome);
  b.setError(a.error);
}

Attempt get_attempt(proto::schema::AttemptInfo::Reader r) {
  Attempt a;
  a.task_id = r.getTaskId();
  a.function = text(r.getFunction());
  a.attempt = r.getAttempt();
  a.worker_id = r.getWorkerId();
  a.worker = text(r.getWorkerName());
  a.job = text(r.getJob());
  a.submitted_ns = r.getSubmittedNs();
  a.started_ns = r.getStartedNs();
  a.ended_ns = r.getEndedNs();
  a.run_ns = r.getRunNs();
  a.outcome = text(r.getOutcome());
  a.error = text(r.getError());
  return a;
}

}  // namespace shoal::link
