#include "failed_keep.hpp"

namespace shoal::coordinator {

namespace {
constexpr std::size_t kRefusalsRemembered = 256;
}

const KeptFailure* FailedKeep::keep(KeptFailure f, std::vector<std::uint64_t>& evicted) {
  if (max_count_ == 0 || by_id_.count(f.task_id)) return nullptr;
  auto size = f.bytes();
  if (size > max_bytes_) {
    refuse(f.task_id, "task " + std::to_string(f.task_id) + " failed, but its arguments and dependencies (" +
                          std::to_string(size) + " bytes) are past what failed tasks may keep (--keep-failed-mib " +
                          std::to_string(max_bytes_ >> 20) + ")");
    return nullptr;
  }
  while (!list_.empty() && (list_.size() >= max_count_ || bytes_ + size > max_bytes_)) {
    bytes_ -= list_.front().bytes();
    evicted.push_back(list_.front().task_id);
    by_id_.erase(list_.front().task_id);
    list_.pop_front();
  }
  bytes_ += size;
  auto id = f.task_id;
  list_.push_back(std::move(f));
  by_id_[id] = std::prev(list_.end());
  return &list_.back();
}

void FailedKeep::refuse(std::uint64_t id, std::string why) {
  if (max_count_ == 0) return;
  refused_.emplace_back(id, std::move(why));
  if (refused_.size() > kRefusalsRemembered) refused_.pop_front();
}

const KeptFailure* FailedKeep::find(std::uint64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &*it->second;
}

std::string FailedKeep::why_missing(std::uint64_t id) const {
  if (by_id_.count(id)) return {};
  if (max_count_ == 0) return "this coordinator keeps no failed tasks (--keep-failed 0)";
  for (const auto& [tid, why] : refused_)
    if (tid == id) return why;
  return "task " + std::to_string(id) + " is not among the failed tasks this coordinator keeps (the newest " +
         std::to_string(max_count_) + ", --keep-failed; within --keep-failed-mib " + std::to_string(max_bytes_ >> 20) +
         ")";
}

}  // namespace shoal::coordinator
