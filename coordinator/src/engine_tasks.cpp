// The coordinator engine's task messages: submits, results, cancels, releases, blocked
// workers' slots. The decisions are the tables' (TaskTable, Scheduler); this file routes
// them to peers. Workers joining and peers going: engine_workers.cpp.

#include <asio/post.hpp>
#include <capnp/message.h>

#include <algorithm>
#include <unordered_set>

#include "engine.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::coordinator {

using link::steady_ns;
using link::text;

int Engine::retries_for(const std::string& fn, int requested) const {
  if (requested >= 0) return requested;
  if (auto it = opt.function_retries.find(fn); it != opt.function_retries.end()) return it->second;
  return opt.retries;
}

// ---- completion ----

void Engine::finish(std::uint64_t id, TaskState state, Bytes value, std::optional<codec::RemoteErrorInfo> error) {
  TaskTable::Finished out;
  tasks.finish(id, state, std::move(value), std::move(error), now_wall(), steady_ns(), out);
  for (auto ended : out.ended)
    if (auto* t = tasks.find(ended)) {
      count_out(*t);
      count_ended(*t);
      if (t->state == TaskState::FAILED) keep_failed(*t);
      t->args = {};  // never needed again: a finished task's arguments (maybe 1 GiB) go now
      if (t->journaled && journal) {
        journal->finish(t->id, t->state, t->attempt, t->value, t->error.get(), t->finished_wall);
        journal_touch();
      }
      notify(*t);
    }
  for (auto ready : out.ready)
    if (auto* t = tasks.find(ready)) make_ready(*t);
  for (auto f : out.freeable) maybe_free(f);
}

void Engine::fail(std::uint64_t id, std::string type, std::string message, ErrorKind kind) {
  auto* t = tasks.find(id);
  if (!t) return;
  finish(id, TaskState::FAILED, {}, task_error(functions, *t, std::move(type), std::move(message), kind));
}

void Engine::notify(TaskRecord& t) {
  if (!t.released || t.detached) {
    if (auto* p = peer(t.submitter)) {
      p->out_results.push_back(t.id);
      touch_flush(*p);
    }
  }
  for (auto sub : t.subscribers()) {
    if (sub == t.submitter) continue;
    if (auto* p = peer(sub)) {
      p->out_results.push_back(t.id);
      touch_flush(*p);
    }
  }
  if (t.links) t.links->subscribers.clear();
}

void Engine::maybe_free(std::uint64_t id) {
  auto* t = tasks.find(id);
  if (!t || !TaskTable::collectable(*t)) return;
  // Its result may still sit in an outgoing batch: free it after this turn's flushes.
  to_free.push_back(id);
  if (to_free.size() == 1)
    asio::post(ex, [self = shared_from_this()] {
      auto ids = std::move(self->to_free);
      self->to_free.clear();
      for (auto id : ids) {
        // Its result may be held for its submit's write (Peer::held_results): freed once
        // that is done and the result went.
        if (self->undurable.count(id)) {
          self->free_after_commit.push_back(id);
          continue;
        }
        if (auto* t = self->tasks.find(id); t && TaskTable::collectable(*t)) self->forget(id);
      }
    });
}

void Engine::make_ready(TaskRecord& t) {
  t.state = TaskState::QUEUED;
  if (t.actor) {
    if (auto* a = actors.find(t.actor)) pump_actor(*a);
    return;
  }
  // What a worker of a new kind made impossible meanwhile fails now, not never.
  if (auto why = unschedulable(t); !why.empty()) return fail(t.id, "shoal::Unschedulable", why, ErrorKind::failed);
  scheduler.enqueue(t, steady_ns());
  schedule_dispatch();
}

// ---- dispatch ----

void Engine::schedule_dispatch() {
  if (dispatch_posted) return;
  dispatch_posted = true;
  asio::post(ex, [self = shared_from_this()] {
    if (!self->dispatch_posted) return;  // act_now() ran it
    self->dispatch_posted = false;
    self->dispatch();
  });
}

void Engine::dispatch() {
  // Stopping with a journal: what has not started stays there for the next start.
  if (stopped || (stopping && journal)) return;
  for (const auto& [id, slot] : scheduler.workers())  // a connection that failed a write closes by itself
    if (auto* p = peer(id); !slot.lost && p && p->conn->closed()) {
      auto* w = scheduler.worker(id);
      w->lost = true;
      scheduler.refresh(*w);
    }
  for (auto [task, worker, held] : scheduler.pick())
    if (auto* p = peer(worker); p && !held) {
      p->out_assigns.push_back(task);
      touch_flush(*p);
    }
  for (auto& [aid, why] : kinds_settled(steady_ns()) ? actors.unplaceable(scheduler)
                                                     : std::vector<std::pair<std::uint64_t, std::string>>{}) {
    auto* a = actors.find(aid);
    if (!a) continue;
    fail(a->create_task, "shoal::Unschedulable", why, ErrorKind::failed);
    ActorTable::kill(*a, why);
    pump_actor(*a);
    actors.forget_unplaced(aid);
  }
  for (auto [aid, wid] : actors.place(scheduler)) {
    auto* a = actors.find(aid);
    auto* p = peer(wid);
    auto* w = scheduler.worker(wid);
    if (!a || !p || !w) continue;
    if (auto* t = tasks.find(a->create_task)) {
      t->state = TaskState::RUNNING;
      t->worker = wid;
      ++t->attempt;
      w->inflight.emplace(t->id, WorkerSlot::Held{});
    }
    flush(*p);  // keep order: earlier assigns first (and nothing between a value and its message)
    proto::Builder msg;
    auto c = msg.initRoot<schema::Envelope>().initActorCreate();
    c.setActorId(a->id);
    c.setClassName(a->cls);
    c.setConstructorHash(a->hash);
    if (auto blob = p->conn->attach(a->args))
      c.setArgsBlob(blob);
    else
      c.setArgs(link::data(a->args));
    c.setTaskId(a->create_task);
    c.setMaxConcurrency(a->max_concurrency);
    send(*p, msg);
    pump_actor(*a);
  }
}

// ---- inbound ----

void Engine::on_submit(Peer& p, schema::Submit::Reader s, const proto::FrameOwner& frame) {
  std::uint64_t id = s.getTaskId();
  if ((id >> 32) != p.id) throw ProtocolError("task id " + std::to_string(id) + " is not in this connection's id space");
  // Ids are the idempotency keys: a submit sent again after a reconnect is the same task.
  note_ack(p.id, id);
  if (tasks.contains(id)) return;
  auto& t = tasks.insert(id);
  t.submitter = p.id;
  t.actor = s.getActorId();
  auto name = s.getFunction();
  t.fn = functions.intern(std::string_view(name.cStr(), name.size()), s.getSignatureHash(), p.fn_cache);
  std::string bad_method;
  if (t.actor) {
    t.mut().method = text(s.getMethod());
  } else if (s.getMethod().size()) {
    // A plain task's method says how its worker calls the function: "map" over a list of
    // argument tuples (a chunk of a map, remote/map.hpp); nothing else is known.
    if (text(s.getMethod()) == link::kMapMethod)
      t.mut().method = std::string(link::kMapMethod);
    else
      bad_method = "a plain task's method must be empty or \"map\" (this one is " + std::to_string(s.getMethod().size()) +
                   " bytes of something else)";
  }
  t.args = p.conn->value(s.getArgs(), s.getArgsBlob(), frame);
  t.args_bytes = static_cast<std::uint32_t>(std::min<std::size_t>(t.args.size(), UINT32_MAX));
  int requested = -1;
  std::string bad_placement;
  if (s.hasOptions()) {
    auto o = s.getOptions();
    t.timeout_ms = o.getTimeoutMs();
    t.detached = o.getDetached();
    requested = o.getRetries();
    bad_placement = intern_placement(t.req, o);
    if (bad_placement.empty() && o.hasRetryOn()) try {
        auto policy = link::get_retry(o);
        link::check_retry(policy);
        if (!link::retry_key(policy).empty()) t.mut().retry = std::make_shared<const RetryPolicy>(std::move(policy));
      } catch (const ValueError& e) {
        bad_placement = e.what();
      }
  }
  if (!t.links || !t.links->retry)
    if (!function_retry_on.empty())
      if (auto it = function_retry_on.find(functions[t.fn].name); it != function_retry_on.end()) t.mut().retry = it->second;
  t.submitted_wall = now_wall();
  count_submitted(p.id, p.name, t);
  if (debug_enabled()) debug("submitted: " + functions[t.fn].name + " by " + p.name, id);
  if (!bad_placement.empty()) return fail(id, "shoal::ValueError", bad_placement, ErrorKind::failed);
  if (!bad_method.empty()) return fail(id, "shoal::ValueError", bad_method, ErrorKind::failed);
  // The wire is not trusted: a client built otherwise may send anything.
  if (requested < -1 || requested > link::kMaxRetries)
    return fail(id, "shoal::ValueError", "retries must be 0 to " + std::to_string(link::kMaxRetries) + ", not " +
                std::to_string(requested), ErrorKind::failed);
  if (t.timeout_ms > static_cast<std::uint64_t>(link::kMaxTimeoutMs))
    return fail(id, "shoal::ValueError", "a timeout of " + std::to_string(t.timeout_ms) + " ms is more than the " +
                std::to_string(link::kMaxTimeoutMs) + " ms allowed", ErrorKind::failed);
  t.retries = retries_for(functions[t.fn].name, requested);
  if (stopping)
    return fail(id, "shoal::Error", "the coordinator is shutting down: submit to another one", ErrorKind::overloaded);
  if (journal && !journal_trouble.empty())
    return fail(id, "shoal::Error", journal_trouble + ": the coordinator accepts no work until its journal can be written",
                ErrorKind::overloaded);
  if (journal && t.args.size() > kMaxJournalValueBytes)
    return fail(id, "shoal::ResultTooLarge",
                "arguments of " + std::to_string(t.args.size() >> 20) + " MiB: a journaled coordinator keeps values of up to " +
                    std::to_string(kMaxJournalValueBytes >> 20) + " MiB (run it without --journal for larger ones)",
                ErrorKind::failed);
  bool put = functions[t.fn].name == link::kPutFunction;
  if (opt.object_store_memory && t.args.size() >= codec::shm::kSharedAtBytes &&
      codec::shm::live_bytes() > opt.object_store_memory) {
    auto size = t.args.size();
    t.args = {};
    return fail(id, "shoal::ObjectStoreFull",
                std::string(put ? "a put" : "arguments") + " of " + std::to_string(size >> 20) +
                    " MiB do not fit: the object store holds " + std::to_string(codec::shm::live_bytes() >> 20) +
                    " MiB (--object-store-memory " + std::to_string(opt.object_store_memory >> 20) +
                    " MiB); release objects or raise the limit",
                ErrorKind::overloaded);
  }
  if (put) {
    // The object is the task's result at once: dependents read it like any result, and it
    // lives until its last holder lets go (Release, as for a task's future).
    if (journal) journal_accept(t);
    return finish(id, TaskState::DONE, std::exchange(t.args, {}));
  }
  for (auto dep : s.getDeps()) t.mut().deps.push_back(dep);
  // Submitted by a task on a worker: cancelling that one cancels this one too. One whose
  // parent is already being cancelled (its submit crossed the cancel) is cancelled now.
  bool parent_cancelled = false;
  if (auto parent_id = s.getParent(); parent_id && parent_id != id) {
    if (auto* parent = tasks.find(parent_id); parent && !is_finished(parent->state)) {
      if (parent->cancel_requested) parent_cancelled = true;
      else add_child(*parent, id);
    } else if (parent && parent->state == TaskState::CANCELLED) {
      parent_cancelled = true;
    }
  }
  auto problem = tasks.link_dependencies(t);
  if (t.actor) {
    auto* a = actors.find(t.actor);
    if (!a)
      return fail(id, "shoal::ActorDied",
                  "actor " + std::to_string(t.actor) + " is gone: killed, released by its creator, or dead with its worker",
                  ErrorKind::disconnected);
    a->calls.push_back(id);
  }
  if (problem) {
    t.state = TaskState::WAITING;
    return finish(id, TaskState::FAILED, {}, std::move(problem->error));
  }
  if (!t.actor)
    if (auto why = unschedulable(t); !why.empty()) return fail(id, "shoal::Unschedulable", why, ErrorKind::failed);
  if (journal) journal_accept(t);
  count_in(t);
  if (t.unresolved > 0)
    t.state = TaskState::WAITING;
  else
    make_ready(t);
  if (parent_cancelled) on_cancel(id);
}

std::string Engine::unschedulable(const TaskRecord& t) {
  if (t.req == 0) return {};
  auto why = scheduler.unschedulable(t.fn, t.req);
  return why.empty() || !kinds_settled(steady_ns()) ? std::string() : why;
}

std::string Engine::intern_placement(std::uint32_t& req, schema::TaskOptions::Reader o) {
  // Most tasks ask nothing: no lists to read, no key to build (B4's path).
  if (!o.hasResources() && !o.hasLabels() && !o.hasPreferredLabels() && o.getPriority() == 0 &&
      o.getStrategy() == schema::Strategy::SPREAD) {
    req = 0;
    return {};
  }
  try {
    req = scheduler.placements().intern(link::get_placement(o));
    return {};
  } catch (const std::exception& e) {
    req = 0;
    return std::string("placement: ") + e.what();
  }
}

void Engine::on_result(Peer& p, schema::Result::Reader r, const proto::FrameOwner& frame) {
  auto* w = scheduler.worker(p.id);
  if (!w) return;
  if (opt.planted.drop_result && ++planted_results == opt.planted.drop_result) return;  // test-only
  std::uint64_t id = r.getTaskId();
  auto* t = tasks.find(id);
  // A run asked to stop when its task was unknown here, adopted since (its client sent it
  // again): its cancellation was ours, not the task's; the task runs again.
  bool stopped_run = false;
  if (auto held = w->inflight.find(id); held != w->inflight.end()) stopped_run = held->second.stopped;
  // A result a worker kept across a reconnect, for a task queued again meanwhile (the
  // coordinator restarted, or lost sight of the worker): it ran once; take it.
  if (t && adoptable(*t) && r.which() != schema::Result::HANDED_BACK) scheduler.assign(*t, *w);
  // A failure's run time says little of the function's (it may fail fast and run long).
  scheduler.release_slot(*w, id, r.getRunNs(), r.which() == schema::Result::VALUE);
  if (!t || t->state != TaskState::RUNNING || t->worker != w->id) return;  // stale
  t->run_ns = r.getRunNs();
  ++w->done;
  if (t->run_ns) metrics.fn(t->fn).run.observe(t->run_ns);
  auto which = r.which();
  struct Recorded {  // the attempt (its number as it ran), once this result has been dealt with
    Engine& e;
    TaskRecord& t;  // records stay put until forget(), which comes in a later turn
    std::uint64_t worker;
    std::uint32_t attempt;
    schema::Result::Which which;
    ~Recorded() {
      using O = AttemptRecord;
      auto outcome = t.state == TaskState::DONE          ? O::done
                     : t.state == TaskState::FAILED      ? O::failed
                     : t.state == TaskState::CANCELLED   ? O::cancelled
                     : which == schema::Result::HANDED_BACK ? O::handed_back
                                                            : O::retried;
      e.count_attempt(t, worker, attempt, outcome);
    }
  } recorded{*this, *t, w->id, t->attempt, which};
  switch (which) {
    case schema::Result::VALUE: {
      Bytes value = p.conn->value(r.getValue(), r.getValueBlob(), frame);
      if (journal && value.size() > kMaxJournalValueBytes) {
        fail(id, "shoal::ResultTooLarge",
             "a result of " + std::to_string(value.size() >> 20) + " MiB: a journaled coordinator keeps values of up to " +
                 std::to_string(kMaxJournalValueBytes >> 20) + " MiB (run it without --journal for larger ones)",
             ErrorKind::failed);
        break;
      }
      finish(id, TaskState::DONE, std::move(value));
      break;
    }
    case schema::Result::ERROR: {
      auto info = link::get_error(r.getError());
      if (info.kind == ErrorKind::cancelled && (drained_away(*t, *w) || run_again(*t, stopped_run))) break;
      if (info.kind != ErrorKind::cancelled && t->links && t->links->retry && retry_after_error(*t, info)) break;
      if (t->actor_create)
        if (auto* a = actors.by_create_task(id)) {
          ActorTable::kill(*a, "the actor's constructor failed: " + info.message);
          pump_actor(*a);
        }
      finish(id, info.kind == ErrorKind::cancelled ? TaskState::CANCELLED : TaskState::FAILED, {}, std::move(info));
      break;
    }
    case schema::Result::HANDED_BACK:
      --t->attempt;
      t->state = TaskState::QUEUED;
      if (t->actor)
        fail(id, "shoal::WorkerLost", "the actor's worker is shutting down", ErrorKind::disconnected);
      else
        scheduler.enqueue(*t, steady_ns(), /*front=*/true);
      break;
    default:
      if (!drained_away(*t, *w) && !run_again(*t, stopped_run)) finish(id, TaskState::CANCELLED);
  }
}

bool Engine::run_again(TaskRecord& t, bool stopped_run) {
  if (!stopped_run || t.cancel_requested || t.actor || t.actor_create) return false;
  --t.attempt;
  t.state = TaskState::QUEUED;
  t.worker = 0;
  scheduler.enqueue(t, steady_ns(), /*front=*/true);
  schedule_dispatch();
  return true;
}

bool Engine::retry_after_error(TaskRecord& t, const codec::RemoteErrorInfo& info) {
  auto& l = *t.links;
  if (t.cancel_requested || stopping || t.actor || t.actor_create) return false;
  if (l.app_retries >= static_cast<std::uint32_t>(l.retry->attempts) || !link::retry_matches(*l.retry, info.type_name))
    return false;
  ++l.app_retries;
  ++metrics.fn(t.fn).retried;
  ++metrics.retried;
  auto delay = link::retry_delay(*l.retry, l.app_retries);
  // Queued, though on no queue until the backoff ends: a cancel meanwhile ends it.
  t.state = TaskState::QUEUED;
  t.worker = 0;
  auto message = info.message.size() > 200 ? info.message.substr(0, 200) + "..." : info.message;
  l.retry_wait = "waiting: retry " + std::to_string(l.app_retries) + " of " + std::to_string(l.retry->attempts) +
                 " after " + info.type_name + ": " + message;
  log("failed with " + info.type_name + ": retry " + std::to_string(l.app_retries) + " of " +
          std::to_string(l.retry->attempts) + " in " + std::to_string(delay.count()) + " ms",
      t.id);
  auto timer = std::make_unique<link::Timer>(ex, delay);
  timer->async_wait([weak = weak_from_this(), id = t.id](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->retry_timers.erase(id);
    auto* t = self->tasks.find(id);
    if (!t || t->state != TaskState::QUEUED || self->stopped) return;
    if (t->links) t->links->retry_wait.clear();
    self->make_ready(*t);
  });
  retry_timers[t.id] = std::move(timer);
  return true;
}

bool Engine::drained_away(TaskRecord& t, WorkerSlot& w) {
  // A cancelled outcome nobody asked for, from a worker that said it drains (or while a
  // journaled coordinator stops): the worker
  // stopped the task as its own grace ended (its operator stopped it), which is no
  // outcome of the task's. It goes back to the queue at no cost, to run on another
  // worker or, with a journaled coordinator stopping too, to wait for the next start.
  // A journaled coordinator that stops tells its workers to stop too (LocalCluster): what
  // they cancel then is the same, though they did not say they drain.
  if (t.cancel_requested || t.actor || t.actor_create || (stopping && !journal)) return false;
  if (!w.draining && !(stopping && journal)) return false;
  if (t.attempt > 0) --t.attempt;
  t.state = TaskState::QUEUED;
  log("stopped by " + w.label() + " as it drained: queued again", t.id);
  scheduler.enqueue(t, steady_ns(), /*front=*/true);
  return true;
}

void Engine::on_cancel(std::uint64_t id, bool force) {
  // Ray's recursive cancel: the tasks it submitted from its worker that have not
  // finished, and theirs, go too (a worklist: chains of nested tasks may be long).
  // The lists are kept: a --force after a plain cancel reaches the same children.
  std::vector<std::uint64_t> tree{id};
  std::unordered_set<std::uint64_t> seen{id};
  for (std::size_t i = 0; i < tree.size(); ++i) {
    auto* t = tasks.find(tree[i]);
    if (!t || is_finished(t->state) || !t->links) continue;
    for (auto c : t->links->children)
      if (seen.insert(c).second) tree.push_back(c);
  }
  for (auto c : tree) cancel_one(c, force);
}

void Engine::add_child(TaskRecord& parent, std::uint64_t child) {
  auto& children = parent.mut().children;
  // A parent that runs long and submits much: its finished children leave the list
  // whenever it has doubled since the last sweep.
  if (children.size() >= 64 && children.size() == children.capacity()) {
    std::erase_if(children, [&](std::uint64_t c) {
      const auto* t = tasks.find(c);
      return !t || is_finished(t->state);
    });
  }
  children.push_back(child);
}

void Engine::cancel_one(std::uint64_t id, bool force) {
  auto* t = tasks.find(id);
  if (!t) return;
  if (t->state == TaskState::WAITING || t->state == TaskState::QUEUED) {
    retry_timers.erase(id);  // waiting out a retry's backoff
    return finish(id, TaskState::CANCELLED);
  }
  if (t->state != TaskState::RUNNING) return;
  bool upgrade = force && !t->force_cancel;  // a plain cancel first, --force after it
  if (t->cancel_requested && !upgrade) return;
  t->cancel_requested = true;
  t->force_cancel = t->force_cancel || force;
  if (auto* p = peer(t->worker)) {
    p->out_cancels.push_back(id);
    touch_flush(*p);
  }
  // Forced: it ends when its worker says so, or with its worker (which exits if the task
  // will not stop): never reported ended while it runs.
  if (t->force_cancel || upgrade || stopped) return;
  // A plain task that never looks at its stop token: give up waiting after a grace.
  auto timer = std::make_unique<link::Timer>(ex, opt.cancel_grace);
  timer->async_wait([weak = weak_from_this(), id](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->cancel_graces.erase(id);
    auto* t = self->tasks.find(id);
    if (t && t->state == TaskState::RUNNING && t->cancel_requested && !t->force_cancel) {
      std::uint64_t worker = t->worker;
      std::uint32_t attempt = t->attempt;
      self->finish(id, TaskState::CANCELLED);
      self->count_attempt(*t, worker, attempt, AttemptRecord::cancelled);
    }
  });
  cancel_graces[id] = std::move(timer);
}

void Engine::on_release(Peer& p, schema::Release::Reader r) {
  for (auto id : r.getTasks()) {
    auto* t = tasks.find(id);
    if (!t || t->submitter != p.id) continue;
    t->released = true;
    maybe_free(id);
  }
  // The creator's last handle went: the actor ends after the calls already sent, unless
  // it is detached (a kill ends that one).
  for (auto aid : r.getActors())
    if (auto* a = actors.find(aid); a && a->submitter == p.id && !a->detached) release_actor(*a);
  for (auto aid : r.getKillActors())
    if (auto* a = actors.find(aid); a && !a->released) kill_actor(*a, "killed by " + p.name);
}

void Engine::on_blocked(Peer& p, schema::Blocked::Reader b) {
  // A plain task waits on other tasks: lend its slot (so that they can run there), take
  // it back when it goes on.
  auto* w = scheduler.worker(p.id);
  auto* t = tasks.find(b.getTaskId());
  if (!w || !t || t->worker != p.id || t->state != TaskState::RUNNING || t->actor || t->actor_create ||
      functions[t->fn].coroutine)
    return;
  scheduler.set_blocked(*w, *t, b.getBlocked());
  if (b.getBlocked()) schedule_dispatch();
}

void Engine::fail_unregistered(std::uint32_t fn) {
  // The same name under another signature?
  std::string other = functions.other_signature(fn);
  const auto& f = functions[fn];
  for (auto id : scheduler.take_ready(fn)) {
    auto* t = tasks.find(id);
    if (!t || t->state != TaskState::QUEUED) continue;
    if (!other.empty())
      fail(id, "shoal::TypeMismatch",
           "'" + f.name + "' is " + other + " in the workers, but the caller's signature differs (hash " +
               std::to_string(f.hash) + "): rebuild the caller or the task library so that they agree",
           ErrorKind::failed);
    else
      fail(id, "shoal::NotRegistered", NotRegistered(f.name, scheduler.worker_list()).what(), ErrorKind::failed);
  }
}

}  // namespace shoal::coordinator
