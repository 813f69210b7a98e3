#pragma once
/// \file
/// The daemons' toolkit, shared by the Client, the coordinator and the worker: addresses
/// (`unix:///path`, `tcp://host:port`), listening and connecting, and the conversions
/// between shoal's C++ records and the Cap'n Proto messages of proto/schema/shoal.capnp.
/// Not a stable user API: users see Client, LocalCluster and the daemons' flags.

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shoal/codec/error_info.hpp"
#include "shoal/core/coro.hpp"
#include "shoal/proto/stream.hpp"

namespace shoal {

/// A task's worker stopped answering (EOF, a protocol error, or missed heartbeats) and
/// the task ran out of retries, or an actor's worker died.
class WorkerLost : public Error {
 public:
  explicit WorkerLost(const std::string& what) : Error(what, ErrorKind::disconnected) {}
};

/// A task was not run because one of its dependencies failed or was cancelled: the
/// message names the dependency and its error.
class DependencyFailed : public Error {
 public:
  explicit DependencyFailed(const std::string& what) : Error(what, ErrorKind::failed) {}
};

}  // namespace shoal

namespace shoal::remote {

/// Where a coordinator listens: `unix:///run/shoal.sock` (or a bare absolute path) and
/// `tcp://host:port`.
struct Address {
  enum class Kind { unix_socket, tcp };
  Kind kind = Kind::unix_socket;
  std::string path;  ///< unix_socket
  std::string host;  ///< tcp
  std::uint16_t port = 0;

  [[nodiscard]] std::string to_string() const;
};

/// Parses an address. ValueError says what is wrong with it.
[[nodiscard]] Address parse_address(std::string_view text);

/// The coordinator's default socket: `$XDG_RUNTIME_DIR/shoal/coordinator.sock`, else
/// `/tmp/shoal-$UID/coordinator.sock`.
[[nodiscard]] std::string default_socket_path();
/// `$SHOAL_ADDRESS` when set, else `unix://` + default_socket_path().
[[nodiscard]] std::string default_address();

/// Connects to `address` now (blocking, bounded by the kernel: a Unix socket answers at
/// once, TCP within its connect timeout). ConnectionError "no coordinator at ADDRESS: why".
[[nodiscard]] proto::Socket connect_socket(const asio::any_io_executor& ex, const Address& address);

/// Wraps a connected stream socket descriptor (a socketpair end, an inherited fd).
[[nodiscard]] proto::Socket adopt_socket(const asio::any_io_executor& ex, int fd);

/// Accepts connections on one address. A Unix socket's directory is created 0700 and the
/// socket made 0600; a stale socket file (nobody listening) is replaced, a live one makes
/// the constructor throw ("a coordinator is already listening at ..."). The socket file
/// is removed when the listener closes.
class Listener {
 public:
  Listener(const asio::any_io_executor& ex, const Address& address);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// The next connection. Throws ConnectionError once closed.
  Coro<proto::Socket> accept();
  void close() noexcept;
  /// The address it listens on (a TCP port 0 resolved to the real port).
  [[nodiscard]] const Address& address() const noexcept { return address_; }
  [[nodiscard]] bool is_tcp() const noexcept { return address_.kind == Address::Kind::tcp; }

 private:
  Address address_;
  std::unique_ptr<asio::local::stream_protocol::acceptor> unix_;
  std::unique_ptr<asio::ip::tcp::acceptor> tcp_;
  bool unlink_on_close_ = false;
};

/// Creates `dir` (and parents) with mode 0700 when missing. Error when it cannot.
void make_private_dir(const std::string& dir);

/// This host's name.
[[nodiscard]] const std::string& this_host();
/// Nanoseconds on the steady clock, and since the epoch.
[[nodiscard]] std::uint64_t steady_ns() noexcept;
[[nodiscard]] std::uint64_t wall_ns() noexcept;

/// Capnp text as a std::string.
[[nodiscard]] inline std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }
/// Capnp data as Bytes (copied).
[[nodiscard]] inline Bytes bytes(capnp::Data::Reader d) { return Bytes::copy(d.begin(), d.size()); }
/// Bytes as capnp data (no copy: the message must not outlive `b`).
[[nodiscard]] inline capnp::Data::Reader data(const Bytes& b) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(b.data()), b.size());
}

/// Reads frames until a clean end of stream: `on_batch()` runs when frames arrive, then
/// `on_frame(envelope)` for each frame of the batch that is already complete (inside
/// proto::guarded, so a malformed frame throws ProtocolError). Throws what the reader
/// throws (ProtocolError, ConnectionError) and what the callbacks throw.
template <typename OnFrame, typename OnBatch>
asio::awaitable<void> read_frames(proto::FrameReader& reader, OnFrame on_frame, OnBatch on_batch) {
  for (;;) {
    auto frame = co_await reader.next();
    if (!frame) co_return;
    on_batch();
    while (frame) {
      proto::guarded([&] { on_frame(frame->envelope()); });
      frame = reader.try_next();
    }
  }
}

void set_error(proto::schema::RemoteError::Builder out, const codec::RemoteErrorInfo& info);
[[nodiscard]] codec::RemoteErrorInfo get_error(proto::schema::RemoteError::Reader in);

/// The exception for a remote failure: the original type where shoal knows it
/// (CancelledError, TimeoutError, TypeMismatch, NotRegistered, WorkerLost,
/// DependencyFailed, ValueError, or a type given to register_remote_exception), else
/// RemoteError. The message keeps where it happened.
[[nodiscard]] std::exception_ptr make_remote_exception(const codec::RemoteErrorInfo& info);

/// Makes a RemoteError of the C++ type named `type_name` (as demangled, "my::Oops") be
/// rethrown by clients as `make(message)`.
void register_remote_exception(std::string type_name, std::exception_ptr (*make)(const std::string& message));
template <typename E>
void register_remote_exception(std::string type_name) {
  register_remote_exception(std::move(type_name),
                            +[](const std::string& m) { return std::make_exception_ptr(E(m)); });
}

}  // namespace shoal::remote
