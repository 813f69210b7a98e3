#pragma once
/// \file
/// TLS for connections between hosts (Asio's SSL streams over OpenSSL). Only TCP
/// connections use it: a Unix socket stays on this host, where SO_PEERCRED and the private
/// directory already say who is at the other end.
///
///     auto tls = link::TlsContext::server({.cert = "coordinator.crt", .key = "coordinator.key",
///                                          .ca = "ca.crt"});   // a CA: clients need certificates
///     conn->secure(tls);                  // before conn->start()
///
/// A client always verifies the server: against `ca` when given, else the system's
/// trusted roots, and always for the host name it dialled. A server verifies its peers
/// when it has a CA (mutual TLS). The token's challenge-response runs inside the channel
/// all the same: TLS says which keys the peers hold, the token that they belong to this
/// cluster.

#include <memory>
#include <string>
#include <vector>

namespace shoal::link {

struct TlsOptions {
  std::string cert{};  ///< PEM certificate (chain) this side presents
  std::string key{};   ///< its private key, PEM, in a file private to this user
  std::string ca{};    ///< PEM CA certificates the peer's certificate must chain to
  /// Any of the three given: TLS on for TCP connections.
  [[nodiscard]] bool enabled() const noexcept { return !cert.empty() || !key.empty() || !ca.empty(); }
};

/// `given` with each empty field taken from the environment: SHOAL_TLS_CERT,
/// SHOAL_TLS_KEY, SHOAL_TLS_CA.
[[nodiscard]] TlsOptions tls_from_env(TlsOptions given = {});

/// A configured TLS side, shared by every connection it secures. Immutable once made.
class TlsContext {
 public:
  enum class Role { server, client };
  /// A server's context: needs cert and key; with ca, a peer without a certificate that
  /// chains to it is refused. ValueError with a one-line reason when a file is missing,
  /// unreadable, not PEM, or the key does not match the certificate.
  static std::shared_ptr<TlsContext> server(const TlsOptions& options);
  /// A client's (or worker's) context: verifies the server against ca (or the system's
  /// roots); presents cert and key when given (both or neither).
  static std::shared_ptr<TlsContext> client(const TlsOptions& options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  [[nodiscard]] Role role() const noexcept { return role_; }
  /// Whether peers must present a certificate this context trusts.
  [[nodiscard]] bool verifies_peer() const noexcept { return verifies_; }
  struct Impl;  // the asio::ssl::context (link/src/tls_layer.hpp)
  [[nodiscard]] Impl& impl() const noexcept { return *impl_; }

 private:
  TlsContext(Role role, bool verifies);
  Role role_;
  bool verifies_;
  std::unique_ptr<Impl> impl_;
};

/// Writes a private CA and certificates for a cluster into `dir` (made private, 0700):
/// ca.crt and ca.key; coordinator.crt/.key valid for `hosts` (names and IP addresses, to
/// which localhost, 127.0.0.1, ::1 and this host's name are added); worker.crt/.key and
/// client.crt/.key for the peers (mutual TLS). Keys are P-256, files 0600, certificates
/// valid for `days`; and a token file (`token`, 0600) unless one is there. Refuses (Error) to overwrite an existing ca.key. Returns the paths
/// written, one per line, for the caller to print.
std::string init_certificates(const std::string& dir, const std::vector<std::string>& hosts, int days = 825);

}  // namespace shoal::link
