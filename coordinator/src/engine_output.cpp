// What tasks and workers print, and who hears it: a running task's output passed on
// to its submitter and subscribers and kept with it (`shoal logs`), subscriptions (what
// was printed so far first), workers' logs followed by clients (`shoal logs --worker -f`).

#include <capnp/message.h>

#include <algorithm>

#include "engine.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::coordinator {

// ---- subscriptions ----

void Engine::on_subscribe(Peer& p, schema::Subscribe::Reader s) {
  // Results already queued for this peer this turn (made when first needed): a client
  // resubscribes after a reconnect right after resending its submits, and one of those
  // may have failed at once (a dependency gone): its result must not leave twice.
  std::optional<std::unordered_set<std::uint64_t>> queued;
  for (auto id : s.getTaskIds()) {
    auto* t = tasks.find(id);
    // Asked again (a subscribe resent across a reconnect, or made twice): once is enough,
    // or every chunk of its output would come twice from now on.
    if (t && !is_finished(t->state)) {
      const auto& subs = t->subscribers();
      if (std::find(subs.begin(), subs.end(), p.id) != subs.end()) continue;
    }
    // What it printed so far first (sent now: before its result, which leaves at the end
    // of the turn, and before what it prints next).
    if (t && s.getWithOutput() && p.role == schema::Role::CLIENT) replay_output(p, *t);
    if (!t) {
      codec::RemoteErrorInfo i;
      i.type_name = "shoal::ValueError";
      i.message = "task " + std::to_string(id) + " " + std::string(link::kUnknownTask) +
                  " (never submitted, or its result was released or expired)";
      i.task_id = id;
      p.out_errors.emplace_back(id, std::move(i));
      touch_flush(p);
    } else if (is_finished(t->state)) {
      if (t->submitter == p.id && !p.out_results.empty()) {
        if (!queued) queued.emplace(p.out_results.begin(), p.out_results.end());
        if (!queued->insert(id).second) continue;
      }
      p.out_results.push_back(id);
      touch_flush(p);
    } else {
      t->mut().subscribers.push_back(p.id);
    }
  }
}

// ---- tasks' output ----

// A running task's output (this_task::write_output, shoal.exec): passed on to its
// submitter and subscribers as it comes, never kept. A client that does not read it (its
// queue past kOutputBacklog) misses chunks rather than growing the coordinator.
void Engine::on_output(Peer& p, schema::TaskOutput::Reader o) {
  constexpr std::size_t kOutputBacklog = 16u << 20;
  auto* t = tasks.find(o.getTaskId());
  if (!t || t->state != TaskState::RUNNING || t->worker != p.id) return;
  auto stream = o.getStream();
  auto d = o.getData();
  if (stream == 1 || stream == 2)
    keep_output(*t, stream, std::string_view(reinterpret_cast<const char*>(d.begin()), d.size()));
  auto pass = [&](std::uint64_t to) {
    auto* c = peer(to);
    if (!c || c->role == schema::Role::WORKER || c->conn->closed() || c->conn->backlog_bytes() > kOutputBacklog)
      return;
    proto::Builder msg;
    auto out = msg.initRoot<schema::Envelope>().initOutput();
    out.setTaskId(o.getTaskId());
    out.setStream(o.getStream());
    out.setData(o.getData());
    send(*c, msg);
  };
  pass(t->submitter);
  for (auto s : t->subscribers())
    if (s != t->submitter) pass(s);
}

void Engine::keep_output(TaskRecord& t, int stream, std::string_view data) {
  auto& l = t.mut();
  auto& kept = l.output[stream - 1];
  // Each attempt keeps its own first kKeptOutputBytes (a retry's output is the one that
  // tells why it worked, or failed again), and at most four attempts' worth in all.
  auto attempt_used = kept.size() - l.output_base[stream - 1];
  auto room = attempt_used >= kKeptOutputBytes || kept.size() >= 4 * kKeptOutputBytes
                  ? 0
                  : std::min(kKeptOutputBytes - attempt_used, 4 * kKeptOutputBytes - kept.size());
  auto total_room = kept_output_bytes >= opt.max_output_bytes ? 0 : opt.max_output_bytes - kept_output_bytes;
  auto take = std::min({data.size(), room, static_cast<std::size_t>(std::min<std::uint64_t>(total_room, SIZE_MAX))});
  kept.append(data.data(), take);
  kept_output_bytes += take;
  l.output_dropped[stream - 1] += data.size() - take;
}

std::string Engine::kept_output(const TaskRecord& t, int stream) const {
  if (!t.links) return {};
  auto out = t.links->output[stream - 1];
  if (auto dropped = t.links->output_dropped[stream - 1])
    out += "\n[shoal: " + std::to_string(dropped) + " more bytes of this task's output were not kept]\n";
  return out;
}

void Engine::replay_output(Peer& p, const TaskRecord& t) {
  for (int stream : {1, 2}) {
    auto text = kept_output(t, stream);
    for (std::size_t at = 0; at < text.size(); at += 60'000) {  // chunks as workers send them
      proto::Builder msg;
      auto out = msg.initRoot<schema::Envelope>().initOutput();
      out.setTaskId(t.id);
      out.setStream(static_cast<std::uint8_t>(stream));
      auto n = std::min<std::size_t>(60'000, text.size() - at);
      out.setData(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(text.data() + at), n));
      send(p, msg);
    }
  }
}

void Engine::output_attempt_begins(TaskRecord& t) {
  // A new attempt of a task that printed: its output follows a line that says so.
  auto& l = *t.links;
  for (int k = 0; k < 2; ++k) {
    // Nothing since the last attempt's line (it was handed back unstarted): no other line.
    if (l.output[k].empty() || (l.output_base[k] != 0 && l.output[k].size() == l.output_base[k])) continue;
    std::string marker = "\n[shoal: attempt " + std::to_string(t.attempt) + "]\n";
    l.output[k] += marker;
    kept_output_bytes += marker.size();
    l.output_base[k] = l.output[k].size();
  }
}

// ---- workers' logs, followed ----

void Engine::send_log_follow(std::uint64_t worker, bool follow) {
  auto* w = peer(worker);
  if (!w || w->conn->closed()) return;
  proto::Builder msg;
  msg.initRoot<schema::Envelope>().initLogFollow().setFollow(follow);
  send(*w, msg);
}

void Engine::on_log_follow(Peer& client, schema::LogFollow::Reader r) {
  auto name = link::text(r.getWorker());
  const WorkerSlot* found = nullptr;
  std::string names;
  for (const auto& [id, w] : scheduler.workers()) {
    if (w.lost) continue;
    if (w.name == name && (!found || w.id > found->id)) found = &w;  // two of that name: the newest
    names += (names.empty() ? "" : ", ") + w.name;
  }
  if (!found) {
    proto::Builder msg;
    auto l = msg.initRoot<schema::Envelope>().initLogLines();
    l.setWorker(name);
    l.setError("no worker named " + name + " is connected" + (names.empty() ? std::string() : " (workers: " + names + ")"));
    return send(client, msg);
  }
  auto& followers = log_followers[found->id];
  auto at = std::find(followers.begin(), followers.end(), client.id);
  if (r.getFollow() && at == followers.end()) {
    followers.push_back(client.id);
    if (followers.size() == 1) send_log_follow(found->id, true);
  } else if (!r.getFollow() && at != followers.end()) {
    followers.erase(at);
    if (followers.empty()) {
      log_followers.erase(found->id);
      send_log_follow(found->id, false);
    }
  }
}

void Engine::on_log_lines(Peer& worker, schema::LogLines::Reader r) {
  constexpr std::size_t kBacklog = 16u << 20;  // a follower that does not read misses lines
  auto it = log_followers.find(worker.id);
  if (it == log_followers.end()) return;
  for (auto id : it->second) {
    auto* c = peer(id);
    if (!c || c->conn->closed() || c->conn->backlog_bytes() > kBacklog) continue;
    proto::Builder msg;
    auto l = msg.initRoot<schema::Envelope>().initLogLines();
    l.setWorker(worker.name);
    l.setData(r.getData());
    send(*c, msg);
  }
}

void Engine::log_followers_gone(Peer& p) {
  if (auto it = log_followers.find(p.id); it != log_followers.end()) {
    // A followed worker went: its followers hear why, and follow nothing more.
    for (auto id : it->second)
      if (auto* c = peer(id); c && !c->conn->closed()) {
        proto::Builder msg;
        auto l = msg.initRoot<schema::Envelope>().initLogLines();
        l.setWorker(p.name);
        l.setError("worker " + p.name + " disconnected");
        send(*c, msg);
      }
    log_followers.erase(it);
    return;
  }
  for (auto it = log_followers.begin(); it != log_followers.end();) {  // a follower went
    auto& f = it->second;
    f.erase(std::remove(f.begin(), f.end(), p.id), f.end());
    if (f.empty()) {
      send_log_follow(it->first, false);
      it = log_followers.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace shoal::coordinator
