#include "actor_host.hpp"

#include <algorithm>

#include "shoal/link/messages.hpp"

namespace shoal::worker {

void ActorHost::create(std::uint64_t aid, const std::string& cls, std::uint64_t constructor_hash, const Bytes& args,
                       std::uint64_t task, std::uint32_t max_concurrency) {
  Job j;
  j.id = task;
  j.function = cls + ".__init__";
  // A new incarnation (an actor restarted onto this worker process while calls of the old
  // one still end): those calls' ends no longer count (generation).
  auto& actor = actors_[aid];
  auto generation = actor.generation + 1;
  actor = Actor{};
  actor.generation = generation;
  actor.max_concurrency = std::clamp<std::uint32_t>(max_concurrency, 1, link::kMaxActorConcurrency);
  try {
    auto type = registry_.get_actor(cls, constructor_hash);
    actor.instance = remote::ActorInstance::create(type, args);
    Outcome r;
    r.id = task;
    r.bytes = codec::encode(std::monostate{});
    runner_->report(std::move(r));
  } catch (...) {
    actors_.erase(aid);
    runner_->report_error(j, std::current_exception(), 0);
  }
}

void ActorHost::call(std::shared_ptr<Job> j) {
  auto it = actors_.find(j->actor);
  if (it == actors_.end() || !it->second.instance || it->second.killed) {
    j->phase = reported;
    runner_->report_error(
        *j, std::make_exception_ptr(InvalidStateError("actor " + std::to_string(j->actor) + " is not on this worker")),
        0);
    return;
  }
  auto& actor = it->second;
  if (!actor.given.insert(j->id).second) {
    // Given before: it ran (or runs) here already, and its end went to a coordinator that
    // died before writing it. Not run twice: a typed error says what became of it.
    j->phase = reported;
    runner_->report_error(*j,
                          std::make_exception_ptr(InvalidStateError(
                              "call " + std::to_string(j->id) + " of actor " + std::to_string(j->actor) +
                              " ran on it already; its coordinator restarted before it wrote the call's end, and "
                              "an actor's call does not run twice")),
                          0);
    return;
  }
  actor.given_order.push_back(j->id);
  if (actor.given_order.size() > kCallsRemembered) {
    actor.given.erase(actor.given_order.front());
    actor.given_order.pop_front();
  }
  actor.mailbox.push_back(std::move(j));
  pump(it->first);
}

void ActorHost::release(std::uint64_t aid) {
  auto it = actors_.find(aid);
  if (it == actors_.end()) return;
  it->second.released = true;
  if (it->second.running == 0 && it->second.mailbox.empty()) actors_.erase(it);
}

void ActorHost::kill(std::uint64_t aid) {
  auto it = actors_.find(aid);
  if (it == actors_.end()) return;
  auto& actor = it->second;
  actor.released = actor.killed = true;
  // The coordinator failed these already: reported anyway, so that it forgets them here.
  auto waiting = std::move(actor.mailbox);
  actor.mailbox.clear();
  auto active = actor.active;  // cancel() may end one, and so change the list
  for (auto& j : waiting) {
    int expected = queued;
    if (j->phase.compare_exchange_strong(expected, reported))
      runner_->report_error(*j, std::make_exception_ptr(CancelledError("the actor was killed")), 0);
  }
  for (auto& j : active) runner_->cancel(*j);  // a coroutine at its next await; a plain call when it looks
  it = actors_.find(aid);
  if (it != actors_.end() && it->second.running == 0) actors_.erase(it);
}

std::vector<std::uint64_t> ActorHost::live() const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, a] : actors_)
    if (a.instance && !a.released) out.push_back(id);
  return out;
}

void ActorHost::pump(std::uint64_t aid) {
  for (;;) {
    // Looked up again each time: a call that fails at once may end, and its actor go,
    // before its start returns.
    auto it = actors_.find(aid);
    if (it == actors_.end()) return;
    auto& actor = it->second;
    if (actor.running >= actor.max_concurrency || actor.mailbox.empty()) return;
    auto j = std::move(actor.mailbox.front());
    actor.mailbox.pop_front();
    if (j->phase.load() != queued) continue;  // cancelled while waiting
    const remote::MethodEntry* m = actor.instance->type().find_method(j->function);
    if (!m) {
      j->phase = reported;
      runner_->report_error(*j,
                           std::make_exception_ptr(NotRegistered(actor.instance->type().name + "." + j->function,
                                                                 "this worker's SHOAL_ACTOR list")),
                           0);
      continue;
    }
    j->function = actor.instance->type().name + "." + m->name;  // errors name "Account.withdraw"
    ++actor.running;
    actor.active.push_back(j);
    auto inst = *actor.instance;
    auto then = [self = shared_from_this(), aid, generation = actor.generation, job = j.get()] {
      auto it = self->actors_.find(aid);
      if (it == self->actors_.end() || it->second.generation != generation) return;
      auto& a = it->second;
      --a.running;
      std::erase_if(a.active, [job](const auto& p) { return p.get() == job; });
      self->pump(aid);
      it = self->actors_.find(aid);
      if (it != self->actors_.end() && it->second.released && it->second.mailbox.empty() && it->second.running == 0)
        self->actors_.erase(it);
    };
    if (m->is_coroutine) {
      runner_->run_coroutine(j, [inst, m](codec::Reader& r) { return inst.invoke_async(*m, r); }, then);
    } else {
      runner_->run_plain(
          j,
          [inst, m](codec::Reader& r) {
            auto out = inst.invoke(*m, r);
            r.expect_end();
            return out;
          },
          then);
    }
  }
}

}  // namespace shoal::worker
