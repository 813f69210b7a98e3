// The coordinator's counters (metrics.hpp).

#include "metrics.hpp"

#include <algorithm>

namespace shoal::coordinator {

JobCounters& Metrics::job(std::uint64_t peer, const std::string& name, std::uint64_t now_wall) {
  auto [it, fresh] = jobs.try_emplace(peer);
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

void Metrics::attempt(link::Attempt a) {
  if (max_attempts == 0) return;
  if (attempts.size() >= max_attempts) attempts.pop_front();
  attempts.push_back(std::move(a));
}

void Metrics::sample(const Sample& s) {
  if (history.size() >= kHistory) history.pop_front();
  history.push_back(s);
}

}  // namespace shoal::coordinator
