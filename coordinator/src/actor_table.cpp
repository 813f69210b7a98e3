#include "actor_table.hpp"

#include <algorithm>

namespace shoal::coordinator {

ActorRecord* ActorTable::find(std::uint64_t id) {
  auto it = actors_.find(id);
  return it == actors_.end() ? nullptr : &it->second;
}

ActorRecord& ActorTable::create(std::uint64_t id) {
  auto& a = actors_[id];
  a.id = id;
  return a;
}

void ActorTable::forget_unplaced(std::uint64_t id) { std::erase(unplaced_, id); }

std::vector<ActorTable::Placement> ActorTable::place(Scheduler& scheduler) {
  std::vector<Placement> out;
  if (unplaced_.empty()) return out;
  std::vector<std::uint64_t> still;
  for (auto aid : unplaced_) {
    auto* a = find(aid);
    if (!a || a->dead || a->released) continue;
    WorkerSlot* best = nullptr;
    for (const auto& [id, w] : scheduler.workers()) {
      if (w.draining || w.lost || !w.has_actor_type(a->cls, a->hash) || !scheduler.could_host(w, a->req)) continue;
      auto load = [](const WorkerSlot& s) { return s.in_plain * 1.0 / std::max(1u, s.capacity); };
      if (!best || w.actors < best->actors || (w.actors == best->actors && load(w) < load(*best)))
        best = scheduler.worker(id);
    }
    if (!best) {
      still.push_back(aid);
      continue;
    }
    a->worker = best->id;
    ++best->actors;
    scheduler.reserve(*best, a->req);
    a->holds = true;
    out.push_back({aid, best->id});
  }
  unplaced_ = std::move(still);
  return out;
}

std::vector<std::pair<std::uint64_t, std::string>> ActorTable::unplaceable(const Scheduler& scheduler) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  for (auto aid : unplaced_) {
    auto* a = find(aid);
    if (!a || a->dead || a->req == 0) continue;
    const auto& r = scheduler.placements()[a->req];
    std::size_t with_class = 0, ever = 0;
    for (const auto& [id, w] : scheduler.workers()) {
      if (!w.has_actor_type(a->cls, a->hash)) continue;
      ++with_class;
      ever += w.could_ever_hold(r);
    }
    if (with_class && !ever)
      out.emplace_back(aid, "no worker that has actor type '" + a->cls + "' offers " + link::describe(r.spec) + " (" +
                                std::to_string(with_class) + " worker(s) have it)");
  }
  return out;
}

ActorTable::Pumped ActorTable::pump(ActorRecord& a, const TaskTable& tasks) {
  Pumped out;
  while (!a.calls.empty()) {
    const auto* t = tasks.find(a.calls.front());
    if (!t || is_finished(t->state)) {
      a.calls.pop_front();
      continue;
    }
    if (a.dead) {
      out.fail.push_back(t->id);
      a.calls.pop_front();
      continue;
    }
    if (t->state != TaskState::QUEUED || a.worker == 0) break;  // waits on deps or placement
    out.forward.push_back(t->id);
    a.calls.pop_front();
  }
  return out;
}

std::vector<std::uint64_t> ActorTable::on_worker(std::uint64_t worker) const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, a] : actors_)
    if (a.worker == worker && !a.dead) out.push_back(id);
  return out;
}

std::vector<std::uint64_t> ActorTable::ids() const {
  std::vector<std::uint64_t> out;
  out.reserve(actors_.size());
  for (const auto& [id, a] : actors_) out.push_back(id);
  return out;
}

std::vector<std::uint64_t> ActorTable::of_submitter(std::uint64_t submitter) const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, a] : actors_)
    if (a.submitter == submitter) out.push_back(id);
  return out;
}

ActorRecord* ActorTable::by_create_task(std::uint64_t task) {
  for (auto& [id, a] : actors_)
    if (a.create_task == task) return &a;
  return nullptr;
}

ActorRecord* ActorTable::named(const std::string& name) {
  auto it = names_.find(name);
  if (it == names_.end()) return nullptr;
  auto* a = find(it->second);
  return a && !a->dead && !a->released ? a : nullptr;
}

bool ActorTable::name(ActorRecord& a, std::string name) {
  if (named(name)) return false;
  names_[name] = a.id;
  a.name = std::move(name);
  return true;
}

void ActorTable::unname(ActorRecord& a) {
  if (a.name.empty()) return;
  if (auto it = names_.find(a.name); it != names_.end() && it->second == a.id) names_.erase(it);
}

}  // namespace shoal::coordinator
