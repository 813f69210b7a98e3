#include "shoal/link/handshake.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::link {

namespace schema = proto::schema;

namespace {
bool const_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

HelloCheck refuse(schema::ErrorCode code, std::string message, std::string reason) {
  return {false, code, std::move(message), std::move(reason)};
}
}  // namespace

void fill_hello(schema::Hello::Builder h, schema::Role role, const std::string& name, const std::string& token) {
  h.setProtocolVersion(schema::PROTOCOL_VERSION);
  h.setRole(role);
  h.setName(name);
  h.setHost(this_host());
  h.setPid(static_cast<std::uint32_t>(::getpid()));
  h.setToken(token);
}

HelloCheck check_hello(schema::Envelope::Reader env, bool tcp, const std::string& token, int fd) {
  if (env.which() != schema::Envelope::HELLO)
    return refuse(schema::ErrorCode::PROTOCOL, "the first message must be a hello", "the first message must be a hello");
  auto h = env.getHello();
  if (h.getProtocolVersion() != schema::PROTOCOL_VERSION)
    return refuse(schema::ErrorCode::VERSION,
                  "protocol version " + std::to_string(h.getProtocolVersion()) + " is not " +
                      std::to_string(schema::PROTOCOL_VERSION) + ": upgrade shoal on one side",
                  "protocol version mismatch");
  if (tcp) {
    if (token.empty() || !const_time_equal(text(h.getToken()), token))
      return refuse(schema::ErrorCode::AUTH, "a TCP connection needs the coordinator's token (--token-file)",
                    "bad or missing token");
  } else if (fd >= 0) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid != ::getuid())
      return refuse(schema::ErrorCode::AUTH, "this coordinator serves only its own user", "peer of another uid");
  }
  return {};
}

}  // namespace shoal::link
