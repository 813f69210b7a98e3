#include "scheduler.hpp"

#include <algorithm>

namespace shoal::coordinator {

std::string WorkerSlot::label() const {
  return "worker " + (name.empty() ? std::to_string(id) : name) + " (" + host + ", pid " + std::to_string(pid) + ")";
}

WorkerSlot& Scheduler::add_worker(WorkerSlot slot) {
  auto id = slot.id;
  for (auto fn : slot.fns) {
    functions_[fn].workers.push_back(id);
    queue(fn).unserved_since = 0;
  }
  return workers_[id] = std::move(slot);
}

WorkerSlot Scheduler::remove_worker(std::uint64_t id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return {};
  WorkerSlot slot = std::move(it->second);
  workers_.erase(it);
  functions_.remove_worker(id);
  return slot;
}

WorkerSlot* Scheduler::worker(std::uint64_t id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

Scheduler::Queue& Scheduler::queue(std::uint32_t fn) {
  if (fn >= queues_.size()) queues_.resize(functions_.size() > fn ? functions_.size() : fn + 1);
  return queues_[fn];
}

const std::deque<std::uint64_t>& Scheduler::ready(std::uint32_t fn) const {
  static const std::deque<std::uint64_t> none;
  return fn < queues_.size() ? queues_[fn].ready : none;
}

std::deque<std::uint64_t> Scheduler::take_ready(std::uint32_t fn) {
  auto& q = queue(fn);
  auto out = std::move(q.ready);
  q.ready.clear();
  q.unserved_since = 0;
  return out;
}

std::uint64_t& Scheduler::unserved_since(std::uint32_t fn) { return queue(fn).unserved_since; }

void Scheduler::enqueue(const TaskRecord& t, std::uint64_t now_ns, bool front) {
  auto& q = queue(t.fn);
  if (front)
    q.ready.push_front(t.id);
  else
    q.ready.push_back(t.id);
  if (functions_[t.fn].workers.empty() && q.unserved_since == 0) q.unserved_since = now_ns;
}

std::uint32_t Scheduler::window(const WorkerSlot& w, bool coroutine) {
  if (coroutine) return std::max<std::uint32_t>(w.co_capacity, 1);
  std::uint32_t cap = std::max<std::uint32_t>(w.capacity, 1);
  if (w.ewma_run_ns <= 0) return 2 * cap + 2;
  // Enough in flight to cover a round trip (~200 us) with tasks of the measured length.
  double extra = cap * 200000.0 / std::max(w.ewma_run_ns, 1.0);
  return cap + static_cast<std::uint32_t>(std::clamp(extra, 2.0, 1024.0));
}

WorkerSlot* Scheduler::pick_worker(const FunctionRecord& f, bool isolate) {
  WorkerSlot* best = nullptr;
  double best_load = 0;
  for (auto wid : f.workers) {
    auto* w = worker(wid);
    if (!w || w->draining || w->lost || w->isolated) continue;
    if (isolate && (w->in_plain > 0 || w->in_coro > 0)) continue;
    if (w->max_tasks && w->assigned_total >= w->max_tasks) continue;
    std::uint32_t in = f.coroutine ? w->in_coro : w->in_plain;
    if (in >= window(*w, f.coroutine)) continue;
    double cap = std::max<std::uint32_t>(f.coroutine ? w->co_capacity : w->capacity, 1);
    double load = in / cap;
    if (!best || load < best_load || (load == best_load && w->active_seq > best->active_seq)) {
      best = w;
      best_load = load;
    }
  }
  return best;
}

void Scheduler::assign(TaskRecord& t, WorkerSlot& w) {
  t.state = TaskState::RUNNING;
  t.worker = w.id;
  ++t.attempt;
  t.seq = w.assign_seq++;
  w.inflight.insert(t.id);
  if (!t.actor && !t.actor_create) {
    if (functions_[t.fn].coroutine)
      ++w.in_coro;
    else
      ++w.in_plain;
    ++w.assigned_total;
  }
  w.active_seq = ++activity_;
}

std::vector<Scheduler::Assignment> Scheduler::pick() {
  std::vector<Assignment> out;
  for (std::uint32_t fn = 0; fn < queues_.size(); ++fn) {
    auto& q = queues_[fn];
    const auto& f = functions_[fn];
    while (!q.ready.empty()) {
      auto* t = tasks_.find(q.ready.front());
      if (!t || t->state != TaskState::QUEUED) {
        q.ready.pop_front();
        continue;
      }
      // A task that may have killed a worker runs alone on one, so that a second death
      // is charged to it alone (and a task that merely ran beside it goes free).
      bool isolate = t->isolate && !f.coroutine;
      auto* w = pick_worker(f, isolate);
      if (!w) break;
      q.ready.pop_front();
      assign(*t, *w);
      if (isolate) w->isolated = t->id;
      out.push_back({t->id, w->id});
    }
    if (q.ready.empty()) q.unserved_since = 0;
  }
  return out;
}

void Scheduler::release_slot(WorkerSlot& w, std::uint64_t id, const TaskRecord* t, std::uint64_t run_ns) {
  bool was_inflight = w.inflight.erase(id) > 0;
  if (w.isolated == id) w.isolated = 0;
  if (was_inflight && t && !t->actor && !t->actor_create && !t->blocked) {
    if (functions_[t->fn].coroutine) {
      if (w.in_coro) --w.in_coro;
    } else if (w.in_plain) {
      --w.in_plain;
    }
  }
  if (run_ns) {
    double run = static_cast<double>(run_ns);
    w.ewma_run_ns = w.ewma_run_ns <= 0 ? run : 0.9 * w.ewma_run_ns + 0.1 * run;
  }
  w.active_seq = ++activity_;
}

void Scheduler::set_blocked(WorkerSlot& w, TaskRecord& t, bool blocked) {
  if (t.blocked == blocked) return;
  t.blocked = blocked;
  if (blocked) {
    if (w.in_plain) --w.in_plain;
  } else {
    ++w.in_plain;
  }
}

std::string Scheduler::worker_list() const {
  std::vector<const WorkerSlot*> ws;
  for (const auto& [id, w] : workers_) ws.push_back(&w);
  std::sort(ws.begin(), ws.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::string out;
  for (auto* w : ws) out += (out.empty() ? "" : ", ") + (w->name.empty() ? std::to_string(w->id) : w->name);
  return out.empty() ? "no worker" : "workers " + out;
}

}  // namespace shoal::coordinator

