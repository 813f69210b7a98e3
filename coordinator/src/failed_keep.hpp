#pragma once
// FailedKeep: the failed tasks kept to be replayed (`shoal replay TASK`,
// shoal-coordinator --keep-failed N --keep-failed-mib M): each one's encoded arguments,
// its dependencies' values and where and how it failed, the newest N within M MiB. The
// engine adds a task when it fails for good, answers StatusRequest.replay from here, and
// mirrors adds and evictions into the journal when there is one.

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "shoal/link/replay_info.hpp"

namespace shoal::coordinator {

/// One failed task, as kept: the type the wire's ReplayInfo and `shoal replay` carry.
using KeptFailure = link::ReplayBundle;

class FailedKeep {
 public:
  FailedKeep(std::size_t max_count, std::size_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}

  /// Keeps `f`, the oldest going while past either bound (their ids are added to
  /// `evicted`). Nothing is kept when the bounds are 0, or `f` alone is past the bytes
  /// bound (why_missing() then says so). Returns the record kept (nullptr: none).
  const KeptFailure* keep(KeptFailure f, std::vector<std::uint64_t>& evicted);
  /// Notes that failed task `id` is not kept, and why (an actor's, one that never ran):
  /// why_missing() says so for the newest few hundred of them, also once the task is gone.
  void refuse(std::uint64_t id, std::string why);
  [[nodiscard]] const KeptFailure* find(std::uint64_t id) const;
  /// Why task `id` has no record ("": it has one).
  [[nodiscard]] std::string why_missing(std::uint64_t id) const;

  [[nodiscard]] std::size_t size() const noexcept { return list_.size(); }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

 private:
  std::size_t max_count_, max_bytes_;
  std::size_t bytes_ = 0;
  std::list<KeptFailure> list_;  // oldest first
  std::unordered_map<std::uint64_t, std::list<KeptFailure>::iterator> by_id_;
  // Failures not kept, most recent last (bounded), with why.
  std::list<std::pair<std::uint64_t, std::string>> refused_;
};

}  // namespace shoal::coordinator
