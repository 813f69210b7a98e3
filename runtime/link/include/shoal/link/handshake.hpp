#pragma once
/// \file
/// The handshake. A peer's first message is a Hello (protocol version, role, a nonce).
/// On a Unix socket the coordinator trusts a peer of its own uid (SO_PEERCRED) and
/// welcomes it. Over TCP the token never travels: the coordinator answers with a
/// Challenge carrying its own nonce and its proof, HMAC-SHA256(token, "shoal coordinator"
/// || peer nonce || coordinator nonce); the peer checks that proof (an impostor on the
/// port cannot make it) before it sends its own, HMAC-SHA256(token, "shoal peer" ||
/// coordinator nonce || peer nonce), and only then is it welcomed.

#include <cstdint>
#include <string>
#include <string_view>

#include "shoal/link/connection.hpp"
#include "shoal/proto/shoal.capnp.h"

namespace shoal::link {

/// Nonces are this long.
inline constexpr std::size_t kNonceBytes = 32;
/// A token holds at least this many bytes of secret.
inline constexpr std::size_t kMinTokenBytes = 32;

/// `n` random bytes from the kernel's generator (getrandom).
[[nodiscard]] std::string random_bytes(std::size_t n);
/// HMAC-SHA256(token, label || a || b).
[[nodiscard]] std::string hmac_proof(const std::string& token, std::string_view label, std::string_view a,
                                     std::string_view b);
/// Compares proofs in constant time.
[[nodiscard]] bool same_proof(std::string_view a, std::string_view b) noexcept;
/// The coordinator's proof for a peer's nonce and its own, and the peer's proof.
[[nodiscard]] std::string coordinator_proof(const std::string& token, std::string_view peer_nonce,
                                            std::string_view coordinator_nonce);
[[nodiscard]] std::string peer_proof(const std::string& token, std::string_view coordinator_nonce,
                                     std::string_view peer_nonce);

/// Reads a token file (read_secret_file's rules: not a symlink, closed to others) whose
/// first line holds at least kMinTokenBytes bytes. Error with a one-line reason otherwise.
[[nodiscard]] std::string read_token_file(const std::string& path);
/// A new token: kMinTokenBytes random bytes as 64 hex digits.
[[nodiscard]] std::string new_token();

/// The verdict on a peer's first message.
struct HelloCheck {
  bool ok = true;
  proto::schema::ErrorCode code = proto::schema::ErrorCode::PROTOCOL;
  std::string message;  // for the peer: what is wrong and what to do
  std::string reason;   // for our log
};

/// Checks a Hello: our protocol version, a nonce of kNonceBytes, and on a Unix socket
/// `fd` a peer of our uid (fd < 0: an in-process peer, trusted). Over TCP the token is
/// checked by the challenge that follows.
[[nodiscard]] HelloCheck check_hello(proto::schema::Envelope::Reader env, bool tcp, int fd);

/// The accepting side's half over TCP: sends `c` a Challenge for the Hello's `peer_nonce`
/// and returns the challenge's own nonce (kept for check_proof).
[[nodiscard]] std::string send_challenge(Connection& c, const std::string& token, std::string_view peer_nonce);
/// Whether `env` is a Proof that the peer knows `token`. ProtocolError when it is not a
/// Proof at all.
[[nodiscard]] bool check_proof(proto::schema::Envelope::Reader env, const std::string& token,
                               std::string_view challenge_nonce, std::string_view peer_nonce);

/// Sends `c` a connection-level Error.
void send_error(Connection& c, proto::schema::ErrorCode code, const std::string& message, bool fatal);

/// The connecting side of the handshake (Client, worker): sends the Hello, answers the
/// coordinator's Challenge once its proof checks out, and refuses a coordinator that
/// skips the challenge on TCP or cannot prove it knows the token.
class PeerHandshake {
 public:
  /// `token` may be empty on a Unix socket; `tcp` says the connection crosses hosts.
  PeerHandshake(std::string token, bool tcp) : token_(std::move(token)), tcp_(tcp) {}
  /// Sends the Hello on `c`; `resume`: the peer id of an earlier connection this one
  /// takes over (a client reconnecting), 0 for a new identity.
  void hello(Connection& c, proto::schema::Role role, const std::string& name, std::uint64_t resume = 0);
  /// A message before the Welcome. Returns true when it was the Challenge (answered
  /// here). Throws ConnectionError when the coordinator is not to be trusted: a Welcome
  /// or anything else over TCP before a proven Challenge, a wrong proof, or a Challenge
  /// when we hold no token.
  bool on_message(Connection& c, proto::schema::Envelope::Reader env, const std::string& address);
  /// The coordinator proved it knows the token (always true on a Unix socket).
  [[nodiscard]] bool trusted() const noexcept { return !tcp_ || proven_; }

 private:
  std::string token_;
  bool tcp_;
  bool proven_ = false;
  std::string nonce_;
};

}  // namespace shoal::link
