#include "scheduler.hpp"

#include <algorithm>

namespace shoal::coordinator {

namespace {
// A worker's window covers this much of its tasks' measured run time (Scheduler::window).
constexpr double kWindowNs = 5'000'000;
// A function is measured once this many of its calls succeeded.
constexpr std::uint32_t kMeasuredRuns = 8;

// `cap` threads plus enough tasks measured at `run_ns` to cover kWindowNs on each (at
// least 2 more, at most 1024).
std::uint32_t window_for(std::uint32_t cap, double run_ns) {
  double extra = cap * kWindowNs / std::max(run_ns, 1.0);
  return cap + static_cast<std::uint32_t>(std::clamp(extra, 2.0, 1024.0));
}

constexpr std::size_t kMaxShapes = 4096;

bool covers(const std::vector<Units>& have, const Request& r) {
  for (auto [i, u] : r.needs)
    if ((i < have.size() ? have[i] : 0) < u) return false;
  return true;
}

void erase_id(std::vector<std::uint64_t>& v, std::uint64_t id) {
  if (auto it = std::find(v.begin(), v.end(), id); it != v.end()) {
    *it = v.back();
    v.pop_back();
  }
}

}  // namespace

std::string WorkerSlot::label() const {
  return "worker " + (name.empty() ? std::to_string(id) : name) + " (" + host + ", pid " + std::to_string(pid) + ")";
}

bool WorkerSlot::has_fn(std::uint32_t fn) const { return std::binary_search(fns.begin(), fns.end(), fn); }

bool WorkerSlot::has_actor_type(const std::string& cls, std::uint64_t hash) const {
  auto c = actor_classes.find(cls);
  return c != actor_classes.end() && c->second == hash;
}

bool WorkerSlot::could_ever_hold(const Request& req) const {
  return covers(total, req) && matches_all(req.required, labels);
}

bool WorkerSlot::fits(const Request& req) const noexcept {
  for (auto [i, u] : req.needs)
    if (free(i) < u) return false;
  return true;
}

// ---- workers ----

WorkerSlot& Scheduler::add_worker(WorkerSlot slot) {
  auto id = slot.id;
  std::sort(slot.fns.begin(), slot.fns.end());
  slot.fns.erase(std::unique(slot.fns.begin(), slot.fns.end()), slot.fns.end());
  std::sort(slot.labels.begin(), slot.labels.end());
  if (unserved_.size() < functions_.size()) unserved_.resize(functions_.size());
  for (auto fn : slot.fns) {
    functions_[fn].workers.push_back(id);
    unserved_[fn] = 0;
  }
  slot.used.assign(slot.total.size(), 0);
  for (std::uint32_t r = 0; r < slot.total.size(); ++r)
    if (slot.total[r] > 0) {
      if (holders_.size() <= r) holders_.resize(r + 1);
      holders_[r].push_back(id);
    }
  for (const auto& [k, v] : slot.labels) label_holders_[k + "=" + v].push_back(id);
  note_shape(slot);
  auto& w = workers_[id] = std::move(slot);
  reindex(w);
  return w;
}

WorkerSlot Scheduler::remove_worker(std::uint64_t id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return {};
  unindex(it->second);
  WorkerSlot slot = std::move(it->second);
  workers_.erase(it);
  functions_.remove_worker(id);
  for (std::uint32_t r = 0; r < slot.total.size() && r < holders_.size(); ++r) erase_id(holders_[r], id);
  for (const auto& [k, v] : slot.labels)
    if (auto h = label_holders_.find(k + "=" + v); h != label_holders_.end()) {
      erase_id(h->second, id);
      if (h->second.empty()) label_holders_.erase(h);
    }
  return slot;
}

WorkerSlot* Scheduler::worker(std::uint64_t id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

void Scheduler::unindex(WorkerSlot& w) {
  if (w.in_plain_index) plain_index_.erase(w.plain_key);
  if (w.in_coro_index) coro_index_.erase(w.coro_key);
  w.in_plain_index = w.in_coro_index = false;
}

void Scheduler::reindex(WorkerSlot& w) {
  // Called on every assign and every result: a key that did not change stays, and one
  // that did moves in its own node (no allocation; B4 spent a tenth of the coordinator's
  // instructions re-allocating these nodes).
  bool available = w.available();
  auto recency = ~w.active_seq;
  auto refile = [&](std::set<LoadKey>& index, bool& in, LoadKey& key, bool room, double load) {
    LoadKey next{load, recency, w.id};
    bool wanted = available && room;
    if (in && wanted && next == key) return;
    std::set<LoadKey>::node_type node;
    if (in) node = index.extract(key);
    in = false;
    if (!wanted) return;
    key = next;
    if (node) {
      node.value() = next;
      index.insert(std::move(node));
    } else {
      index.insert(next);
    }
    in = true;
  };
  refile(plain_index_, w.in_plain_index, w.plain_key, w.in_plain < window(w, false),
         w.in_plain / static_cast<double>(std::max<std::uint32_t>(w.capacity, 1)));
  refile(coro_index_, w.in_coro_index, w.coro_key, w.in_coro < window(w, true),
         w.in_coro / static_cast<double>(std::max<std::uint32_t>(w.co_capacity, 1)));
}

std::uint32_t Scheduler::fn_window(const WorkerSlot& w, std::uint32_t fn) const {
  const auto& f = functions_[fn];
  std::uint32_t cap = std::max<std::uint32_t>(w.capacity, 1);
  if (f.runs < kMeasuredRuns) return 2 * cap + 2;  // its run time is unknown: as an unmeasured worker's
  return window_for(cap, f.ewma_run_ns);
}

std::uint32_t Scheduler::batch_unit(const WorkerSlot& w, std::uint32_t fn) const {
  // At most kBatchNs of them by the function's measured run time, and half of what the
  // window leaves beyond the worker's threads. A function measured on fewer than
  // kMeasuredRuns results spreads.
  constexpr double kBatchNs = 50'000;
  const auto& f = functions_[fn];
  if (f.coroutine || f.runs < kMeasuredRuns || f.ewma_run_ns >= kBatchNs) return 1;
  std::uint32_t cap = std::max<std::uint32_t>(w.capacity, 1);
  auto most = std::max<std::uint32_t>(1, (window(w, false) - cap) / 2);
  return std::clamp<std::uint32_t>(static_cast<std::uint32_t>(kBatchNs / std::max(f.ewma_run_ns, 1.0)), 1, most);
}

std::uint32_t Scheduler::window(const WorkerSlot& w, bool coroutine) {
  if (coroutine) return std::max<std::uint32_t>(w.co_capacity, 1);
  std::uint32_t cap = std::max<std::uint32_t>(w.capacity, 1);
  if (w.ewma_run_ns <= 0) return 2 * cap + 2;
  // Enough in flight to keep its threads busy for 5 ms of tasks of the measured length:
  // the time a busy machine may take to run the coordinator again once results are in
  // (2 cores, both workers computing: `perf sched` saw wake-ups wait up to 4.5 ms). The
  // worker runs what it holds back to back (Runner::drain), so short tasks do not idle
  // it between refills (B6s). Long tasks get a couple beyond the threads.
  return window_for(cap, w.ewma_run_ns);
}

// ---- shapes: what could ever run where ----

void Scheduler::note_shape(const WorkerSlot& w) {
  std::string key;
  for (auto fn : w.fns) key += std::to_string(fn) + ",";
  key += ';';
  for (auto u : w.total) key += std::to_string(u) + ",";
  key += ';';
  for (const auto& [k, v] : w.labels) key += k + "=" + v + ",";
  if (shape_keys_.count(key) || shapes_.size() >= kMaxShapes) return;
  shape_keys_.emplace(std::move(key), static_cast<std::uint32_t>(shapes_.size()));
  shapes_.push_back({w.fns, w.total, w.labels});
}

std::string Scheduler::unschedulable(std::uint32_t fn, std::uint32_t req) {
  const auto& r = placements_[req];
  if (r.needs.empty() && r.required.empty()) return {};
  auto key = (std::uint64_t{fn} << 32) | req;
  if (auto it = verdicts_.find(key); it != verdicts_.end() && it->second.first == shapes_.size())
    return it->second.second;
  std::vector<const Shape*> with_fn;
  for (const auto& s : shapes_)
    if (std::binary_search(s.fns.begin(), s.fns.end(), fn)) with_fn.push_back(&s);
  std::string why;
  bool fits_one = with_fn.empty() || shapes_.size() >= kMaxShapes;  // unknown: NotRegistered, or too many to tell
  for (const auto* s : with_fn)
    if (covers(s->total, r) && matches_all(r.required, s->labels)) fits_one = true;
  if (!fits_one) {
    // Name what is missing: each need no worker meets alone, each label none has; else the
    // combination.
    std::vector<std::string> missing;
    for (auto [i, u] : r.needs) {
      Units most = 0;
      for (const auto* s : with_fn) most = std::max(most, i < s->total.size() ? s->total[i] : 0);
      if (most < u) {
        const auto& name = placements_.resource_name(i);
        missing.push_back(name + "=" + link::format_amount(name, link::resource_amount(u)) + " (the most offered: " +
                          link::format_amount(name, link::resource_amount(most)) + ")");
      }
    }
    for (const auto& t : r.required) {
      bool any = std::any_of(with_fn.begin(), with_fn.end(), [&](const Shape* s) { return matches(t, s->labels); });
      if (!any) missing.push_back("label " + t.key + (t.negate ? "!=" : "=") + t.value);
    }
    const auto& fname = functions_[fn].name;
    why = "no worker that has '" + fname + "' offers " +
          (missing.empty() ? "all of " + link::describe(r.spec) + " together" : [&] {
            std::string m;
            for (const auto& s : missing) m += (m.empty() ? "" : ", ") + s;
            return m;
          }());
    why += " (" + std::to_string(with_fn.size()) + " kind(s) of worker have registered it)";
  }
  verdicts_[key] = {shapes_.size(), why};
  return why;
}

std::vector<std::pair<std::uint64_t, std::string>> Scheduler::take_unschedulable() {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  if (checked_shapes_ == shapes_.size()) return out;
  checked_shapes_ = shapes_.size();
  std::vector<std::uint32_t> emptied;
  for (const auto& key : active_) {
    auto& c = classes_[key.cls];
    auto why = unschedulable(c.fn, c.req);
    if (why.empty()) continue;
    for (auto e : c.ready)
      if (const auto* t = tasks_.find(e.id); t && t->state == TaskState::QUEUED) out.emplace_back(e.id, why);
    c.ready.clear();
    emptied.push_back(key.cls);
  }
  for (auto c : emptied) refile(c);
  return out;
}

std::string Scheduler::why_waiting(const TaskRecord& t) const {
  const auto& f = functions_[t.fn];
  if (f.workers.empty()) return "waiting: no worker has " + f.name;
  const auto& r = placements_[t.req];
  if (r.needs.empty() && r.required.empty()) return {};
  std::size_t could = 0, free_now = 0;
  for (auto wid : f.workers) {
    auto it = workers_.find(wid);
    if (it == workers_.end()) continue;
    const auto& w = it->second;
    bool ever = w.could_ever_hold(r);
    could += ever;
    free_now += ever && w.fits(r) && w.available();
  }
  auto what = link::describe(r.spec);
  if (could == 0) return "waiting: no live worker offers " + what + " (the workers that did are gone)";
  if (free_now == 0)
    return "waiting: the " + std::to_string(could) + " worker(s) that can hold " + what + " have it in use";
  return "waiting: for room on the " + std::to_string(could) + " worker(s) that can hold " + what;
}

// ---- queues ----

std::uint32_t Scheduler::class_of(std::uint32_t fn, std::uint32_t req) {
  auto key = (std::uint64_t{fn} << 32) | req;
  auto [it, added] = class_index_.try_emplace(key, static_cast<std::uint32_t>(classes_.size()));
  if (added) {
    classes_.push_back({fn, req, {}, false, {}});
    if (fn_classes_.size() <= fn) fn_classes_.resize(fn + 1);
    fn_classes_[fn].push_back(it->second);
  }
  return it->second;
}

void Scheduler::refile(std::uint32_t c) {
  auto& cl = classes_[c];
  if (cl.active) active_.erase(cl.key);
  cl.active = !cl.ready.empty();
  if (!cl.active) return;
  cl.key = {-static_cast<std::int64_t>(placements_[cl.req].priority), cl.ready.front().seq, c};
  active_.insert(cl.key);
}

std::size_t Scheduler::queued(std::uint32_t fn) const {
  std::size_t n = 0;
  if (fn < fn_classes_.size())
    for (auto c : fn_classes_[fn]) n += classes_[c].ready.size();
  return n;
}

std::vector<std::uint64_t> Scheduler::take_ready(std::uint32_t fn) {
  std::vector<std::uint64_t> out;
  if (fn < fn_classes_.size())
    for (auto c : fn_classes_[fn]) {
      auto& cl = classes_[c];
      for (auto e : cl.ready) out.push_back(e.id);
      cl.ready.clear();
      refile(c);
    }
  unserved_since(fn) = 0;
  return out;
}

std::uint64_t& Scheduler::unserved_since(std::uint32_t fn) {
  if (unserved_.size() <= fn) unserved_.resize(std::max<std::size_t>(functions_.size(), fn + 1));
  return unserved_[fn];
}

void Scheduler::enqueue(const TaskRecord& t, std::uint64_t now_ns, bool front) {
  auto ci = class_of(t.fn, t.req);
  auto& c = classes_[ci];
  if (front)
    c.ready.push_front({t.id, 0});
  else
    c.ready.push_back({t.id, ++enqueued_});
  if (c.ready.size() == 1 || front) refile(ci);
  if (functions_[t.fn].workers.empty()) {
    auto& since = unserved_since(t.fn);
    if (since == 0) since = now_ns;
  }
}

// ---- choosing a worker ----

bool Scheduler::has_free_thread(const WorkerSlot& w, bool coroutine) {
  return coroutine ? w.in_coro < std::max<std::uint32_t>(w.co_capacity, 1)
                   : w.in_plain < std::max<std::uint32_t>(w.capacity, 1);
}

bool Scheduler::suits(const WorkerSlot& w, std::uint32_t fn, const Request& r, bool coroutine, bool isolate,
                      bool with_preferred) const {
  if (!w.available() || !w.has_fn(fn)) return false;
  if (coroutine ? w.in_coro >= window(w, true) : w.in_plain >= window(w, false)) return false;
  if (!coroutine && w.in_plain >= fn_window(w, fn)) return false;
  if (isolate && (w.in_plain > 0 || w.in_coro > 0)) return false;
  if (!w.fits(r) || !matches_all(r.required, w.labels)) return false;
  return !with_preferred || matches_all(r.preferred, w.labels);
}

WorkerSlot* Scheduler::pick_by_load(std::uint32_t fn, const Request& r, bool coroutine, bool isolate,
                                    bool with_preferred) {
  auto& index = coroutine ? coro_index_ : plain_index_;
  auto take = [&](const LoadKey& k) -> WorkerSlot* {
    auto* w = worker(k.id);
    return w && suits(*w, fn, r, coroutine, isolate, with_preferred) ? w : nullptr;
  };
  if (r.strategy == Strategy::pack) {
    // The most loaded with a thread free; only when none has one, the most loaded whose
    // window has room (queued there behind its running tasks).
    WorkerSlot* queued_behind = nullptr;
    for (auto it = index.rbegin(); it != index.rend(); ++it)
      if (auto* w = take(*it)) {
        if (has_free_thread(*w, coroutine)) return w;
        if (!queued_behind) queued_behind = w;
      }
    return queued_behind;
  } else {
    for (const auto& k : index)
      if (auto* w = take(k)) return w;
  }
  return nullptr;
}

WorkerSlot* Scheduler::pick_in(const std::vector<std::uint64_t>& pool, std::uint32_t fn, const Request& r,
                               bool coroutine, bool isolate, bool with_preferred) {
  WorkerSlot* best = nullptr;
  for (auto wid : pool) {
    auto* w = worker(wid);
    if (!w || !suits(*w, fn, r, coroutine, isolate, with_preferred)) continue;
    if (!best) {
      best = w;
      continue;
    }
    const auto& a = coroutine ? w->coro_key : w->plain_key;
    const auto& b = coroutine ? best->coro_key : best->plain_key;
    if (r.strategy == Strategy::pack) {
      // The most loaded with a thread free, else the most loaded.
      bool wf = has_free_thread(*w, coroutine), bf = has_free_thread(*best, coroutine);
      if (wf != bf ? wf : b < a) best = w;
    } else if (a < b) {
      best = w;
    }
  }
  return best;
}

WorkerSlot* Scheduler::pick_worker(const FunctionRecord& f, std::uint32_t fn, const Request& r, bool isolate) {
  auto& index = f.coroutine ? coro_index_ : plain_index_;
  // The smallest set of workers that could do: those that registered the function, or
  // that offer a resource it needs, or that have a label it requires. Scanned whole when
  // smaller than the load index (which is scanned in order, stopping at the first fit).
  static const std::vector<std::uint64_t> none;
  const std::vector<std::uint64_t>* pool = &f.workers;
  for (auto [i, u] : r.needs)
    if (const auto& h = i < holders_.size() ? holders_[i] : none; h.size() < pool->size()) pool = &h;
  for (const auto& t : r.required) {
    if (t.negate) continue;
    auto it = label_holders_.find(t.key + "=" + t.value);
    const auto& h = it == label_holders_.end() ? none : it->second;
    if (h.size() < pool->size()) pool = &h;
  }
  bool scan_pool = pool->size() < index.size();
  for (bool preferred : {true, false}) {
    if (preferred && r.preferred.empty()) continue;
    auto* w = scan_pool ? pick_in(*pool, fn, r, f.coroutine, isolate, preferred)
                        : pick_by_load(fn, r, f.coroutine, isolate, preferred);
    if (w) return w;
  }
  return nullptr;
}

void Scheduler::hold(WorkerSlot& w, std::uint32_t req, int sign) {
  if (req == 0) return;
  for (auto [i, u] : placements_[req].needs) {
    if (w.used.size() <= i) w.used.resize(i + 1);
    w.used[i] += sign * u;
  }
}

void Scheduler::reserve(WorkerSlot& w, std::uint32_t req) { hold(w, req, +1); }
void Scheduler::unreserve(WorkerSlot& w, std::uint32_t req) { hold(w, req, -1); }

bool Scheduler::could_host(const WorkerSlot& w, std::uint32_t req) const {
  const auto& r = placements_[req];
  return w.fits(r) && matches_all(r.required, w.labels);
}

bool Scheduler::assign(TaskRecord& t, WorkerSlot& w) {
  t.state = TaskState::RUNNING;
  t.worker = w.id;
  ++t.attempt;
  t.seq = w.assign_seq++;
  t.blocked = false;  // a new run holds its slot
  bool plain = !t.actor && !t.actor_create;
  bool coroutine = functions_[t.fn].coroutine;
  // A map chunk runs many items: its time is not a call's.
  auto measured = t.method().empty() ? t.fn : ~0u;
  auto [held, fresh] = w.inflight.try_emplace(t.id);
  bool stopped = !fresh && held->second.stopped;
  if (!fresh) {
    // A run of it this worker still holds (an orphan, hold_orphan): the worker keeps that
    // run for this attempt; what it held is counted once, as this attempt's.
    if (held->second.slot) {
      auto& in = held->second.coroutine ? w.in_coro : w.in_plain;
      if (in) --in;
    }
    hold(w, held->second.req, -1);
  }
  held->second = plain ? WorkerSlot::Held{t.req, measured, coroutine, true} : WorkerSlot::Held{};
  held->second.stopped = stopped;
  if (plain) {
    if (coroutine)
      ++w.in_coro;
    else
      ++w.in_plain;
    ++w.assigned_total;
    hold(w, t.req, +1);
  }
  w.active_seq = ++activity_;
  reindex(w);
  return !fresh;
}

void Scheduler::hold_orphan(WorkerSlot& w, std::uint64_t id, std::uint32_t req, bool coroutine, bool stopped) {
  if (!w.inflight.emplace(id, WorkerSlot::Held{req, ~0u, coroutine, true, stopped}).second) return;
  ++(coroutine ? w.in_coro : w.in_plain);
  hold(w, req, +1);
  reindex(w);
}

std::vector<Scheduler::Assignment> Scheduler::pick() {
  std::vector<Assignment> out;
  std::vector<std::uint32_t> stuck;  // classes whose first task cannot go now
  // The worker the last choice of a class went to, and how many more of that class it
  // takes in a row (batch_unit()).
  WorkerSlot* hot = nullptr;
  std::uint32_t hot_class = ~0u, hot_left = 0;
  while (!active_.empty() && !(plain_index_.empty() && coro_index_.empty())) {
    auto ci = active_.begin()->cls;
    auto& c = classes_[ci];
    const auto& f = functions_[c.fn];
    auto& index = f.coroutine ? coro_index_ : plain_index_;
    auto* t = tasks_.find(c.ready.front().id);
    if (!t || t->state != TaskState::QUEUED) {  // cancelled meanwhile
      c.ready.pop_front();
      refile(ci);
      continue;
    }
    // A task that may have killed a worker runs alone on one, so that a second death
    // is charged to it alone (and a task that merely ran beside it goes free).
    bool isolate = t->isolate && !f.coroutine;
    // Runs are for plain calls that spread: a map chunk is many calls already, and pack
    // chooses by free threads.
    const auto& req = placements_[c.req];
    bool runs = !isolate && t->method().empty() && req.strategy != Strategy::pack;
    WorkerSlot* w = nullptr;
    if (runs && hot && hot_left && ci == hot_class && suits(*hot, c.fn, req, false, false, true)) {
      w = hot;
      --hot_left;
    } else if (!f.workers.empty() && !index.empty()) {
      w = pick_worker(f, c.fn, req, isolate);
      hot = w;
      hot_class = ci;
      hot_left = w && runs ? batch_unit(*w, c.fn) - 1 : 0;
    }
    if (!w) {
      active_.erase(active_.begin());
      c.active = false;
      stuck.push_back(ci);
      continue;
    }
    c.ready.pop_front();
    refile(ci);
    bool held = assign(*t, *w);
    if (isolate) {
      w->isolated = t->id;
      reindex(*w);
    }
    out.push_back({t->id, w->id, held});
  }
  for (auto ci : stuck) refile(ci);
  return out;
}

void Scheduler::release_slot(WorkerSlot& w, std::uint64_t id, std::uint64_t run_ns, bool succeeded) {
  if (auto held = w.inflight.find(id); held != w.inflight.end()) {
    hold(w, held->second.req, -1);
    if (run_ns && succeeded && held->second.fn < functions_.size()) {
      auto& f = functions_[held->second.fn];
      double run = static_cast<double>(run_ns);
      f.ewma_run_ns = f.runs == 0 ? run : 0.9 * f.ewma_run_ns + 0.1 * run;
      if (f.runs < ~0u) ++f.runs;
    }
    if (held->second.slot) {
      auto& in = held->second.coroutine ? w.in_coro : w.in_plain;
      if (in) --in;
    }
    w.inflight.erase(held);
  }
  if (w.isolated == id) w.isolated = 0;
  if (run_ns) {
    double run = static_cast<double>(run_ns);
    w.ewma_run_ns = w.ewma_run_ns <= 0 ? run : 0.9 * w.ewma_run_ns + 0.1 * run;
  }
  w.active_seq = ++activity_;
  reindex(w);
}

void Scheduler::set_blocked(WorkerSlot& w, TaskRecord& t, bool blocked) {
  auto held = w.inflight.find(t.id);
  if (t.blocked == blocked || held == w.inflight.end() || held->second.coroutine) return;
  t.blocked = blocked;
  held->second.slot = !blocked;
  if (blocked) {
    if (w.in_plain) --w.in_plain;
  } else {
    ++w.in_plain;
  }
  reindex(w);
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
