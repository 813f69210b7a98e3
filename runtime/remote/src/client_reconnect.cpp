// ClientCore::Impl across a lost connection: when to try again (ClientOptions::reconnect,
// with backoff), a new connection (a socket, or a dialled link's), and what the Welcome
// of the coordinator found again is sent (resumed): creates, kills, submits not yet
// acknowledged, then every awaited result and every unanswered cancel.

#include <capnp/message.h>

#include <algorithm>

#include "client_impl.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/link/address.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/remote/errors.hpp"

namespace shoal::remote::detail {

void ClientCore::Impl::on_closed(const std::string& why) {
  std::string hint;
  if (!welcome_seen && conn && conn->is_tcp() && !conn->secured())
    hint = " (a coordinator that uses TLS needs its CA: --tls-ca or SHOAL_TLS_CA)";
  std::string full = "lost the connection to the coordinator at " + owner->address() + ": " + why + hint;
  bool retry = false;
  if (welcome_seen && keeps_unacked()) {
    std::lock_guard lock(mu);
    retry = !closed && !user_closed;
  }
  if (retry) return begin_reconnect(reconnecting ? lost_why : full);
  lost(reconnecting ? lost_why : full);
}

void ClientCore::Impl::begin_reconnect(const std::string& why) {
  auto now = link::steady_ns();
  if (!reconnecting) {
    reconnecting = true;
    lost_at = now;
    backoff = std::chrono::milliseconds(50);
    lost_why = why;
    // Status requests already sent get no answer on another connection.
    std::vector<Promise<ClusterStatus>> unanswered;
    {
      std::lock_guard lock(mu);
      std::unordered_set<std::uint64_t> queued;
      for (auto& q : statuses) queued.insert(q.request);
      for (auto it = status_waiting.begin(); it != status_waiting.end();) {
        if (queued.count(it->first)) {
          ++it;
          continue;
        }
        unanswered.push_back(std::move(it->second));
        it = status_waiting.erase(it);
      }
    }
    for (auto& p : unanswered) p.set_exception(std::make_exception_ptr(CoordinatorLost(why)));
  }
  auto limit = owner->options_.reconnect;
  if (now - lost_at >= static_cast<std::uint64_t>(std::chrono::nanoseconds(limit).count()))
    return lost(lost_why + " (it was not back within " + std::to_string(limit.count()) + " ms)");
  if (!retry_timer) retry_timer = std::make_unique<link::Timer>(ex);
  retry_timer->expires_after(backoff);
  backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  retry_timer->async_wait([this, a = std::weak_ptr<bool>(alive)](std::error_code ec) {
    if (!ec && !a.expired()) try_reconnect();
  });
}

void ClientCore::Impl::try_reconnect() {
  {
    std::lock_guard lock(mu);
    if (closed || user_closed) return;
  }
  try {
    conn = open_connection();
    conn->start(*this);
    send_hello(owner->options_);
  } catch (const std::exception&) {
    begin_reconnect(lost_why);
  }
}

std::shared_ptr<link::Connection> ClientCore::Impl::open_connection() {
  if (dial) {
    auto c = dial();
    if (!c) throw ConnectionError("no coordinator at " + owner->address() + ": the connection was refused");
    return c;
  }
  auto addr = link::parse_address(owner->address());
  auto c = link::Connection::over_socket(link::connect_socket(ex, addr));
  if (addr.kind == link::Address::Kind::tcp)
    if (auto tls = link::tls_from_env(owner->options_.tls); tls.enabled())
      c->secure(link::TlsContext::client(tls), addr.host);
  return c;
}

void ClientCore::Impl::resumed(schema::Welcome::Reader w) {
  reconnecting = false;
  if (w.getPeerId() != owner->peer_id())
    return lost("the coordinator at " + owner->address() + " did not let this client take its identity back: " +
                "its tasks are not known there");
  owner->journaled_.store(w.getJournaled(), std::memory_order_release);
  set_catalog(w.getCatalog());
  // What the coordinator may not have got, in order (a duplicate id is the same task),
  // but not what it answered: a journaled coordinator answers a task it accepted only
  // once that is on disk, after acknowledging it, so an answer to a submit not
  // acknowledged is final (refused: its journal failing, admission; or failed at once).
  // It ended for the caller, and must not run now that the caller has moved on ...
  std::vector<CreateOut> creates_again;  // actors first: the calls sent again may be on them
  for (auto& o : unacked_creates)
    if (pending.count(o.task)) creates_again.push_back(std::move(o));
  unacked_creates.clear();
  send_creates(creates_again);
  // ... the kills asked for while away, before the calls sent again: a call made after
  // kill_actor() fails with ActorDied, across a reconnect as within one flush ...
  std::vector<std::uint64_t> kills;
  {
    std::lock_guard lock(mu);
    kills.swap(kill_actors);
  }
  send_kills(kills);
  std::vector<SubmitOut> again;
  for (auto& o : unacked)
    if (pending.count(o.id)) again.push_back(std::move(o));
  unacked.clear();
  send_submits(again);
  // ... then every result still awaited (a task it no longer knows fails CoordinatorLost).
  // Every one, each time: a subscribe sent on a connection that broke in turn got no
  // answer (resubscribed only says a task was asked for again, to tell a lost one).
  std::vector<std::uint64_t> ids;
  for (auto& [id, p] : pending) {
    resubscribed.insert(id);
    ids.push_back(id);
  }
  // In id order, not the hash table's: the same on every standard library (the
  // simulation's runs replay anywhere).
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  constexpr std::size_t kChunk = 1u << 16;
  for (std::size_t at = 0; at < ids.size(); at += kChunk) {
    auto n = std::min(kChunk, ids.size() - at);
    proto::Builder msg;
    auto l = msg.initRoot<schema::Envelope>().initSubscribe().initTaskIds(static_cast<unsigned>(n));
    for (std::size_t i = 0; i < n; ++i) l.set(static_cast<unsigned>(i), ids[at + i]);
    conn->send(msg);
  }
  // ... and every cancel asked for a task that has not ended (a restarted coordinator may
  // not have written it; asked twice, it is the same cancel).
  for (auto [id, forced] : cancels_asked) send_cancel(id, forced);
  flush();  // and what queued meanwhile
}

}  // namespace shoal::remote::detail
