#include "shoal/proto/builder.hpp"
#include "shoal/link/handshake.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <capnp/message.h>

#include <cerrno>
#include <cstring>

#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/link/private_files.hpp"

namespace shoal::link {

namespace schema = proto::schema;

namespace {

HelloCheck refuse(schema::ErrorCode code, std::string message, std::string reason) {
  return {false, code, std::move(message), std::move(reason)};
}

}  // namespace

std::string random_bytes(std::size_t n) {
  // The kernel's generator, not OpenSSL's: every Hello needs a nonce, and the first
  // RAND_bytes of a process initialises OpenSSL (milliseconds a LocalCluster start pays
  // for each worker), while only TCP peers compute an HMAC.
  std::string out(n, '\0');
  for (std::size_t got = 0; got < n;) {
    auto r = ::getrandom(out.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw Error(std::string("the system's random generator failed: ") + std::strerror(errno));
    got += static_cast<std::size_t>(r);
  }
  return out;
}

std::string hmac_proof(const std::string& token, std::string_view label, std::string_view a, std::string_view b) {
  std::string msg;
  msg.reserve(label.size() + a.size() + b.size());
  msg.append(label).append(a).append(b);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len))
    throw Error("HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool same_proof(std::string_view a, std::string_view b) noexcept {
  // Proofs have one length (32 bytes); a length that differs is no secret.
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string coordinator_proof(const std::string& token, std::string_view peer_nonce,
                              std::string_view coordinator_nonce) {
  return hmac_proof(token, "shoal coordinator", peer_nonce, coordinator_nonce);
}

std::string peer_proof(const std::string& token, std::string_view coordinator_nonce, std::string_view peer_nonce) {
  return hmac_proof(token, "shoal peer", coordinator_nonce, peer_nonce);
}

std::string read_token_file(const std::string& path) {
  auto text = read_secret_file(path, "token file", 64u << 10);
  std::string token = text.substr(0, text.find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
  if (token.size() < kMinTokenBytes)
    throw Error("the token in " + path + " has " + std::to_string(token.size()) + " bytes: it needs at least " +
                std::to_string(kMinTokenBytes) + " (make one with `head -c 32 /dev/urandom | xxd -p -c 64`)");
  return token;
}

std::string new_token() {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : random_bytes(kMinTokenBytes)) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

HelloCheck check_hello(schema::Envelope::Reader env, bool tcp, int fd) {
  if (env.which() != schema::Envelope::HELLO)
    return refuse(schema::ErrorCode::PROTOCOL, "the first message must be a hello", "the first message must be a hello");
  auto h = env.getHello();
  if (h.getProtocolVersion() != schema::PROTOCOL_VERSION)
    return refuse(schema::ErrorCode::VERSION,
                  "protocol version " + std::to_string(h.getProtocolVersion()) + " is not " +
                      std::to_string(schema::PROTOCOL_VERSION) + ": upgrade shoal on one side",
                  "protocol version mismatch");
  if (h.getNonce().size() != kNonceBytes)
    return refuse(schema::ErrorCode::PROTOCOL, "a hello needs a nonce of " + std::to_string(kNonceBytes) + " bytes",
                  "a hello without its nonce");
  if (!tcp && fd >= 0) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid != ::geteuid())
      return refuse(schema::ErrorCode::AUTH, "this coordinator serves only its own user", "peer of another uid");
  }
  return {};
}

std::string send_challenge(Connection& c, const std::string& token, std::string_view peer_nonce) {
  auto nonce = random_bytes(kNonceBytes);
  auto proof = coordinator_proof(token, peer_nonce, nonce);
  proto::Builder msg;
  auto ch = msg.initRoot<schema::Envelope>().initChallenge();
  ch.setNonce(link::data(nonce));
  ch.setProof(link::data(proof));
  c.send(msg);
  return nonce;
}

bool check_proof(schema::Envelope::Reader env, const std::string& token, std::string_view challenge_nonce,
                 std::string_view peer_nonce) {
  if (env.which() != schema::Envelope::PROOF) throw ProtocolError("a peer must answer the challenge with its proof");
  return same_proof(view(env.getProof().getProof()), peer_proof(token, challenge_nonce, peer_nonce));
}

void send_error(Connection& c, schema::ErrorCode code, const std::string& message, bool fatal) {
  proto::Builder msg;
  auto e = msg.initRoot<schema::Envelope>().initError();
  e.setCode(code);
  e.setMessage(message);
  e.setFatal(fatal);
  c.send(msg);
}

void PeerHandshake::hello(Connection& c, schema::Role role, const std::string& name, std::uint64_t resume) {
  nonce_ = random_bytes(kNonceBytes);
  proto::Builder msg;
  auto h = msg.initRoot<schema::Envelope>().initHello();
  h.setProtocolVersion(schema::PROTOCOL_VERSION);
  h.setRole(role);
  h.setName(name);
  h.setHost(this_host());
  h.setPid(static_cast<std::uint32_t>(::getpid()));
  h.setNonce(link::data(nonce_));
  h.setResumePeerId(resume);
  c.send(msg);
}

bool PeerHandshake::on_message(Connection& c, schema::Envelope::Reader env, const std::string& address) {
  switch (env.which()) {
    case schema::Envelope::CHALLENGE: {
      if (token_.empty())
        throw ConnectionError("the coordinator at " + address +
                              " asks for its token: give it with --token-file (or ClientOptions::token)");
      if (proven_) throw ProtocolError("a second challenge");
      auto ch = env.getChallenge();
      auto theirs = view(ch.getNonce());
      if (theirs.size() != kNonceBytes || !same_proof(view(ch.getProof()), coordinator_proof(token_, nonce_, theirs)))
        throw ConnectionError("the server at " + address +
                              " cannot prove it knows the token: a wrong token, or not your coordinator");
      proven_ = true;
      proto::Builder msg;
      auto proof = peer_proof(token_, theirs, nonce_);
      msg.initRoot<schema::Envelope>().initProof().setProof(link::data(proof));
      c.send(msg);
      return true;
    }
    case schema::Envelope::ERROR:
      return false;  // the caller reports why it was refused
    default:
      if (!trusted())
        throw ConnectionError("the server at " + address + " skipped the token challenge: not your coordinator");
      return false;
  }
}

}  // namespace shoal::link
