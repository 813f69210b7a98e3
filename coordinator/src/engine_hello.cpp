// The coordinator engine and the peers that have not said hello yet: a new connection's
// limits, the caps on TCP strangers (in all, per address, refused guesses), the hello
// deadline, the token challenge, refusals answered one penalty apart, and the welcome.

#include <capnp/message.h>

#include <algorithm>
#include <utility>

#include "engine.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::coordinator {

using link::steady_ns;
using link::text;

namespace {

// Until its hello, a peer is a stranger: small frames, read in small chunks.
constexpr proto::FrameLimits kStrangerLimits{.max_frame_bytes = 64u << 10, .traversal_limit_words = 8u << 10};
constexpr std::size_t kStrangerReadBytes = 4u << 10;
}  // namespace

void Engine::start_peer(std::shared_ptr<link::Connection> conn) {
  auto p = std::make_shared<Peer>(*this, std::move(conn));
  p->accepted_ns = steady_ns();
  p->connected_wall = link::wall_ns();
  ++metrics.connections_total;
  p->conn->set_limits(kStrangerLimits, kStrangerReadBytes);
  // An in-process peer's queue is flushed every turn; a socket's waits for its reader.
  if (p->conn->native_handle() >= 0) p->conn->set_max_queued_bytes(opt.max_peer_queue_bytes);
  connections.emplace(p.get(), p);
  if (p->conn->is_tcp()) admit_stranger(*p);
  p->conn->start(*p);
}

// Caps the strangers over TCP, in all and per address, by closing the oldest ones: a
// flood of half-open connections costs the flooder its own older connections, never
// a Unix-socket client (not capped) or a peer that said hello. A stranger whose guess
// of the token was refused still counts against its address's cap, but is not closed
// early (its answer waits out the penalty): when only such ones are left, the newcomer
// from that address goes instead, so one address has at most that many guesses pending,
// answered one penalty apart. Refused ones do not count against the cap in all, so that
// a few guessing addresses cannot shut every other peer out; they have their own cap
// (refuse()).
void Engine::admit_stranger(Peer& p) {
  std::vector<Peer*> all, same;
  for (auto& [ptr, q] : connections) {
    if (q->id != 0 || !q->conn->is_tcp() || q->conn->closed() || ptr == &p) continue;
    if (!q->refused) all.push_back(ptr);
    if (q->conn->peer_address() == p.conn->peer_address()) same.push_back(ptr);
  }
  // Not refused first, then oldest first.
  auto order = [](Peer* a, Peer* b) { return std::pair(a->refused, a->accepted_ns) < std::pair(b->refused, b->accepted_ns); };
  auto make_room = [&](std::vector<Peer*>& list, std::size_t cap, const char* what) {
    std::erase_if(list, [](Peer* q) { return q->conn->closed(); });
    if (list.size() < cap) return true;
    std::sort(list.begin(), list.end(), order);
    std::size_t excess = list.size() + 1 - cap;
    for (auto* q : list) {
      if (excess == 0 || q->refused) break;
      q->conn->close(what);
      --excess;
    }
    if (excess == 0) return true;
    p.conn->close(what);
    return false;
  };
  if (make_room(same, opt.max_strangers_per_address, "too many connections without a hello from this address"))
    make_room(all, opt.max_strangers, "too many connections without a hello");
}

void Engine::close_late_hellos(std::uint64_t now) {
  // Addresses quiet for a minute are forgotten (a scan from many addresses leaves no trace).
  std::erase_if(refusals, [&](const auto& kv) {
    const auto& r = kv.second;
    auto last = std::max(r.logged_at, r.answer_at);  // answer_at may lie ahead of now
    return now > last && now - last > 60'000'000'000ull;
  });
  std::vector<Peer*> late;
  for (auto& [ptr, p] : connections)
    if (p->id == 0 && !p->refused && !p->conn->closed() && now - p->accepted_ns > ns(opt.hello_timeout))
      late.push_back(ptr);
  for (auto* p : late) p->conn->close("no hello within " + std::to_string(opt.hello_timeout.count()) + " ms");
}

// Refusals are logged once per address per 10 s, with how many there were.
void Engine::note_refusal(const std::string& address, const std::string& reason) {
  auto now = steady_ns();
  auto& r = refusals[address];
  ++r.count;
  if (now - r.logged_at > 10'000'000'000ull) {
    log("refused " + std::to_string(r.count) + " connection(s) from " + address + " in the last 10 s: " + reason);
    r.count = 0;
    r.logged_at = now;
  }
}

// A refused hello is answered after the penalty; the refusals of one address are answered
// one penalty apart (parallel guesses are no faster than one after another).
void Engine::refuse(Peer& p, const link::HelloCheck& check) {
  // Refused connections held at once, from all addresses, are capped too (descriptors):
  // past it the oldest is closed without its answer.
  std::vector<Peer*> held;
  for (auto& [ptr, q] : connections)
    if (q->refused && !q->conn->closed()) held.push_back(ptr);
  if (held.size() >= opt.max_strangers) {
    auto oldest = std::min_element(held.begin(), held.end(),
                                   [](Peer* a, Peer* b) { return a->accepted_ns < b->accepted_ns; });
    (*oldest)->conn->close("too many refused connections waiting for their answer");
  }
  p.refused = true;
  note_refusal(p.conn->peer_address(), check.reason);
  auto& r = refusals[p.conn->peer_address()];
  auto now = steady_ns();
  r.answer_at = std::max(now, r.answer_at) + ns(opt.auth_penalty);
  // Owned by the peer: a stop (which closes every connection) ends it at once, instead of
  // the io_context running on until the penalty is over.
  p.penalty = std::make_unique<link::Timer>(ex, std::chrono::nanoseconds(r.answer_at - now));
  p.penalty->async_wait([conn = p.conn, check](std::error_code ec) {
    if (ec || conn->closed()) return;
    link::send_error(*conn, check.code, check.message, true);
    conn->close(check.reason);
  });
}

void Engine::hello(Peer& p, schema::Envelope::Reader env) {
  if (p.refused) return;  // its answer waits out the penalty
  if (p.challenged) {
    // Over TCP the second message is the peer's proof that it knows the token.
    if (!link::check_proof(env, opt.token, p.challenge_nonce, p.peer_nonce))
      return refuse(p, {false, schema::ErrorCode::AUTH,
                        "a TCP connection needs the coordinator's token (--token-file)", "a wrong proof of the token"});
    return welcome(p);
  }
  auto check = link::check_hello(env, p.conn->is_tcp(), p.conn->native_handle());
  if (!check.ok) {
    if (check.code == schema::ErrorCode::AUTH) return refuse(p, check);
    send_error(p, check.code, check.message, true);
    throw ProtocolError(check.reason);
  }
  auto h = env.getHello();
  p.role = h.getRole();
  if (p.role == schema::Role::COORDINATOR) throw ProtocolError("a coordinator cannot connect as a peer");
  p.name = text(h.getName());
  p.host = text(h.getHost());
  p.pid = h.getPid();
  // A client taking over an earlier connection's identity (its ids are in that space).
  if (p.role == schema::Role::CLIENT && h.getResumePeerId() && (h.getResumePeerId() >> 32) == 0)
    p.resume = h.getResumePeerId();
  if (!p.conn->is_tcp()) return welcome(p);  // a Unix socket of our own uid, or in process
  // The token never travels: prove we know it, and ask the peer to prove it too.
  p.peer_nonce = std::string(link::view(h.getNonce()));
  p.challenge_nonce = link::send_challenge(*p.conn, opt.token, p.peer_nonce);
  p.challenged = true;
}

void Engine::welcome(Peer& p) {
  p.conn->set_limits(proto::authenticated_limits());  // a known peer: the full limits
  if (p.resume) {
    resume_client(p);
  } else {
    p.id = next_peer++;
  }
  peers.emplace(p.id, &p);
  proto::Builder msg;
  auto w = msg.initRoot<schema::Envelope>().initWelcome();
  w.setProtocolVersion(schema::PROTOCOL_VERSION);
  w.setPeerId(p.id);
  w.setName(opt.name);
  w.setHeartbeatMs(static_cast<std::uint32_t>(opt.heartbeat.count()));
  if (journal) {
    w.setJournaled(true);
    journal->note_next_peer(next_peer);  // never given again, even after a crash
    journal_touch();
  }
  if (p.role == schema::Role::CLIENT) fill_catalog(w.initCatalog());
  send(p, msg);
  if (p.role == schema::Role::CLIENT) p.welcomed = true;
  if (stopping && p.role == schema::Role::WORKER) send_shutdown(p);
}

}  // namespace shoal::coordinator
