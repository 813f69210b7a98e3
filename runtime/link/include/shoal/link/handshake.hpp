#pragma once
/// \file
/// The handshake: the Hello a connecting peer sends first, and the accepting side's check
/// of it (protocol version, the token on TCP, the peer's uid on a Unix socket).

#include <cstdint>
#include <string>

#include "shoal/proto/shoal.capnp.h"

namespace shoal::link {

/// Fills `hello` as `role` named `name`, proving `token` (TCP coordinators need it).
void fill_hello(proto::schema::Hello::Builder hello, proto::schema::Role role, const std::string& name,
                const std::string& token);

/// The verdict on a peer's first message.
struct HelloCheck {
  bool ok = true;
  proto::schema::ErrorCode code = proto::schema::ErrorCode::PROTOCOL;
  std::string message;  // for the peer: what is wrong and what to do
  std::string reason;   // for our log
};

/// Checks the first message of a connection: it must be a Hello of our protocol version;
/// over TCP (`tcp`) it must carry `token` (compared in constant time; an empty `token`
/// refuses every TCP peer); over a Unix socket `fd`, the peer must run as our uid
/// (SO_PEERCRED; fd < 0: an in-process peer, trusted).
[[nodiscard]] HelloCheck check_hello(proto::schema::Envelope::Reader env, bool tcp, const std::string& token, int fd);

}  // namespace shoal::link
