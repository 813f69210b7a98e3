// TLS contexts, the layer connections read and write through, and the certificates
// `shoal cert init` makes.

#include "shoal/link/tls.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/ip/address.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "shoal/core/error.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/private_files.hpp"
#include "tls_layer.hpp"

namespace shoal::link {

TlsOptions tls_from_env(TlsOptions given) {
  auto fill = [](std::string& field, const char* name) {
    if (!field.empty()) return;
    if (const char* v = std::getenv(name); v && *v) field = v;
  };
  fill(given.cert, "SHOAL_TLS_CERT");
  fill(given.key, "SHOAL_TLS_KEY");
  fill(given.ca, "SHOAL_TLS_CA");
  return given;
}

namespace {

std::string openssl_why() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string read_public_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ValueError("TLS: cannot read the " + what + " " + path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().size() > (4u << 20)) throw ValueError("TLS: the " + what + " " + path + " is over 4 MiB");
  return s.str();
}

void restrict_versions(asio::ssl::context& ctx) {
  ::SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                  asio::ssl::context::single_dh_use);
}

void load_identity(asio::ssl::context& ctx, const TlsOptions& o) {
  if (o.cert.empty() != o.key.empty())
    throw ValueError("TLS: give both a certificate and its key (--tls-cert and --tls-key), or neither");
  if (o.cert.empty()) return;
  auto cert = read_public_file(o.cert, "certificate");
  std::error_code ec;
  ctx.use_certificate_chain(asio::buffer(cert), ec);
  if (ec) throw ValueError("TLS: " + o.cert + " is not a PEM certificate: " + ec.message());
  std::string key;
  try {
    key = read_secret_file(o.key, "TLS key");
  } catch (const Error& e) {
    throw ValueError(std::string("TLS: ") + e.what());
  }
  ctx.use_private_key(asio::buffer(key), asio::ssl::context::pem, ec);
  OPENSSL_cleanse(key.data(), key.size());
  if (ec && ec.message().find("mismatch") != std::string::npos)
    throw ValueError("TLS: the key " + o.key + " does not belong to the certificate " + o.cert);
  if (ec) throw ValueError("TLS: " + o.key + " is not a PEM private key: " + ec.message());
  if (::SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw ValueError("TLS: the key " + o.key + " does not belong to the certificate " + o.cert);
}

void load_ca(asio::ssl::context& ctx, const std::string& ca) {
  auto pem = read_public_file(ca, "CA certificate");
  std::error_code ec;
  ctx.add_certificate_authority(asio::buffer(pem), ec);
  if (ec) throw ValueError("TLS: " + ca + " is not a PEM CA certificate: " + ec.message());
}

}  // namespace

TlsContext::TlsContext(Role role, bool verifies) : role_(role), verifies_(verifies) {}
TlsContext::~TlsContext() = default;

std::shared_ptr<TlsContext> TlsContext::server(const TlsOptions& o) {
  if (o.cert.empty() || o.key.empty())
    throw ValueError("TLS: a coordinator needs its certificate and key (--tls-cert, --tls-key)");
  std::shared_ptr<TlsContext> t(new TlsContext(Role::server, !o.ca.empty()));
  t->impl_ = std::make_unique<Impl>(asio::ssl::context::tls_server);
  auto& ctx = t->impl_->ctx;
  restrict_versions(ctx);
  load_identity(ctx, o);
  if (!o.ca.empty()) {
    load_ca(ctx, o.ca);
    ctx.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  } else {
    ctx.set_verify_mode(asio::ssl::verify_none);
  }
  return t;
}

std::shared_ptr<TlsContext> TlsContext::client(const TlsOptions& o) {
  std::shared_ptr<TlsContext> t(new TlsContext(Role::client, true));
  t->impl_ = std::make_unique<Impl>(asio::ssl::context::tls_client);
  auto& ctx = t->impl_->ctx;
  restrict_versions(ctx);
  load_identity(ctx, o);
  if (!o.ca.empty())
    load_ca(ctx, o.ca);
  else
    ctx.set_default_verify_paths();
  ctx.set_verify_mode(asio::ssl::verify_peer);
  return t;
}

// ---- the layer ----

TlsLayer::TlsLayer(proto::Socket& socket, std::shared_ptr<TlsContext> context, const std::string& host)
    : context_(std::move(context)), stream_(socket, context_->impl().ctx) {
  if (context_->role() == TlsContext::Role::client && !host.empty()) {
    std::error_code ec;
    asio::ip::make_address(host, ec);
    if (ec) ::SSL_set_tlsext_host_name(stream_.native_handle(), host.c_str());  // SNI: names only
    stream_.set_verify_callback(asio::ssl::host_name_verification(host));
  }
}

void TlsLayer::handshake(std::function<void(const std::string&)> done) {
  auto type = context_->role() == TlsContext::Role::server ? asio::ssl::stream_base::server
                                                           : asio::ssl::stream_base::client;
  stream_.async_handshake(type, [this, done = std::move(done)](const std::error_code& ec) {
    if (!ec) return done("");
    std::string why = ec.message();
    long verify = ::SSL_get_verify_result(stream_.native_handle());
    if (verify != X509_V_OK) why += std::string(": ") + X509_verify_cert_error_string(verify);
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
      why = "the peer closed the connection during the TLS handshake";
    done("TLS handshake failed: " + why);
  });
}

std::string TlsLayer::explain(const std::string& why) {
  if (why.find("certificate required") != std::string::npos)
    return why + ": the peer wants a certificate from us (--tls-cert and --tls-key)";
  if (why.find("unknown ca") != std::string::npos || why.find("bad certificate") != std::string::npos ||
      why.find("certificate unknown") != std::string::npos)
    return why + ": the peer does not trust our certificate (is it signed by the peer's --tls-ca?)";
  if (why.find("certificate expired") != std::string::npos) return why + ": our certificate has expired";
  return why;
}

void TlsLayer::async_read_some(asio::mutable_buffer buffer, Handler handler) {
  stream_.async_read_some(buffer, [h = std::move(handler)](std::error_code ec, std::size_t n) {
    if (ec == asio::ssl::error::stream_truncated) ec = asio::error::eof;  // no close_notify: an end all the same
    h(ec, n);
  });
}

void TlsLayer::async_write(asio::const_buffer buffer, Handler handler) {
  asio::async_write(stream_, buffer, std::move(handler));
}

// ---- certificates ----

namespace {

template <typename T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  Owned() = default;
  explicit Owned(T* x) : p(x) {}
  ~Owned() {
    if (p) Free(p);
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  T* get() const { return p; }
};
using Key = Owned<EVP_PKEY, EVP_PKEY_free>;
using Cert = Owned<X509, X509_free>;

void check(bool ok, const std::string& what) {
  if (!ok) throw Error("cert init: " + what + ": " + openssl_why());
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

void make_key(Key& key) {
  key.p = EVP_EC_gen("P-256");
  check(key.p != nullptr, "making a P-256 key");
}

// A certificate for `key` named `cn`, signed by `issuer` with `issuer_key` (itself when null).
void make_cert(Cert& out, EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, bool ca,
               const std::string& san, int days) {
  out.p = X509_new();
  X509* x = out.p;
  check(x != nullptr, "X509_new");
  X509_set_version(x, 2);
  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof serial) == 1, "a serial number");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(days) * 86400L);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("shoal"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : x;
  X509_set_issuer_name(x, X509_get_subject_name(signer));
  add_ext(x, signer, NID_subject_key_identifier, "hash");
  if (ca) {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
    add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
    add_ext(x, signer, NID_ext_key_usage, "serverAuth,clientAuth");
    if (!san.empty()) add_ext(x, signer, NID_subject_alt_name, san);
  }
  check(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "signing " + cn);
}

// What `write` puts in a memory BIO, as text.
template <typename Write>
std::string pem(Write write) {
  BIO* bio = BIO_new(BIO_s_mem());
  check(bio != nullptr && write(bio) == 1, "writing PEM");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string pem_of(X509* cert) {
  return pem([cert](BIO* b) { return PEM_write_bio_X509(b, cert); });
}

std::string pem_of(EVP_PKEY* key) {
  return pem([key](BIO* b) { return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
}

}  // namespace

std::string init_certificates(const std::string& dir, const std::vector<std::string>& hosts, int days) {
  if (days < 1 || days > 36500) throw ValueError("cert init: --days must be between 1 and 36500");
  ensure_private_dir(dir);
  namespace fs = std::filesystem;
  if (fs::exists(fs::symlink_status(fs::path(dir) / "ca.key")))
    throw Error("cert init: " + dir + " already holds a CA (ca.key): remove it or choose another directory");

  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0 && *hostname) names.emplace_back(hostname);
  for (auto& h : hosts) {
    if (h.empty() || h.find_first_of(", \t\n") != std::string::npos)
      throw ValueError("cert init: '" + h + "' is not a host name or address");
    names.push_back(h);
  }
  std::string san;
  std::vector<std::string> seen;
  for (auto& n : names) {
    if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
    seen.push_back(n);
    std::error_code ec;
    asio::ip::make_address(n, ec);
    san += (san.empty() ? "" : ",") + std::string(ec ? "DNS:" : "IP:") + n;
  }

  Key ca_key, coord_key, worker_key, client_key;
  Cert ca, coord, worker, client;
  make_key(ca_key);
  make_cert(ca, ca_key.get(), "shoal cluster CA", nullptr, nullptr, true, "", days);
  make_key(coord_key);
  make_cert(coord, coord_key.get(), "shoal-coordinator", ca.get(), ca_key.get(), false, san, days);
  make_key(worker_key);
  make_cert(worker, worker_key.get(), "shoal-worker", ca.get(), ca_key.get(), false, "", days);
  make_key(client_key);
  make_cert(client, client_key.get(), "shoal-client", ca.get(), ca_key.get(), false, "", days);

  std::string listing;
  auto put = [&](const std::string& name, const std::string& text, bool secret) {
    auto path = (fs::path(dir) / name).string();
    write_private_file(path, text);
    if (!secret) ::chmod(path.c_str(), 0644);
    listing += path + "\n";
  };
  put("ca.key", pem_of(ca_key.get()), true);
  put("ca.crt", pem_of(ca.get()), false);
  put("coordinator.key", pem_of(coord_key.get()), true);
  put("coordinator.crt", pem_of(coord.get()), false);
  put("worker.key", pem_of(worker_key.get()), true);
  put("worker.crt", pem_of(worker.get()), false);
  put("client.key", pem_of(client_key.get()), true);
  put("client.crt", pem_of(client.get()), false);
  if (!fs::exists(fs::symlink_status(fs::path(dir) / "token"))) put("token", new_token() + "\n", true);
  return listing;
}

}  // namespace shoal::link
