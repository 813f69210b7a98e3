// The coordinator's counters (metrics.hpp).

#include "metrics.hpp"

#include <algorithm>

namespace shoal::coordinator {

JobCounters& Metrics::job(std::uint64_t peer, const std::string& name, std::uint64_t now_wall) {
  auto [it, fresh] = jobs.try_emplace(peer);
  it->second.connected = true;  // a client back on a new connection submits again
  if (fresh) {
    it->second.name = name;
    it->second.client = peer;
    it->second.first_submit_ns = now_wall;
    if (jobs.size() > kMaxJobs) {
      // The client gone longest goes (connected ones stay: they still submit).
      auto oldest = jobs.end();
      for (auto j = jobs.begin(); j != jobs.end(); ++j)
        if (!j->second.connected && (oldest == jobs.end() || j->second.last_end_ns < oldest->second.last_end_ns))
          oldest = j;
      if (oldest != jobs.end()) jobs.erase(oldest);
      it = jobs.find(peer);
    }
  }
  return it->second;
}

void Metrics::client_gone(std::uint64_t peer) {
  if (auto it = jobs.find(peer); it != jobs.end()) it->second.connected = false;
}

const char* outcome_name(AttemptRecord::Outcome o) noexcept {
  switch (o) {
    case AttemptRecord::done: return "done";
    case AttemptRecord::failed: return "failed";
    case AttemptRecord::cancelled: return "cancelled";
    case AttemptRecord::retried: return "retried";
    case AttemptRecord::handed_back: return "handed back";
    case AttemptRecord::worker_lost: return "worker lost";
  }
  return "?";
}

void Metrics::worker_seen(std::uint64_t id, const std::string& name) {
  if (worker_names.size() >= 65536) worker_names.clear();  // workers come and go for months: bounded
  worker_names[id] = name;
}

void Metrics::attempt(AttemptRecord a) {
  if (max_attempts == 0) return;
  if (attempts.size() >= max_attempts) attempts.pop_front();
  attempts.push_back(std::move(a));
}

void Metrics::sample(const Sample& s) {
  if (history.size() >= kHistory) history.pop_front();
  history.push_back(s);
}

}  // namespace shoal::coordinator
