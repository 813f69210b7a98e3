#pragma once
/// \file
/// FrameReader and FrameWriter: Cap'n Proto frames over a stream socket (Unix or TCP,
/// through asio::generic::stream_protocol). Reads land in word-aligned chunks and frames
/// are parsed where they landed; writes are coalesced, so that all frames queued while a
/// write is in flight leave together in the next one (no syscall per frame under load,
/// no added latency when idle).

#include <asio/awaitable.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "shoal/proto/frame.hpp"

namespace shoal::proto {

using Socket = asio::generic::stream_protocol::socket;

/// A byte stream layered over a socket (TLS, in the link layer): a FrameReader and a
/// FrameWriter given one read and write through it instead of the socket. One read and
/// one write may be in flight at once; handlers run on the socket's executor.
class StreamLayer {
 public:
  using Handler = std::function<void(const std::error_code&, std::size_t)>;
  virtual ~StreamLayer() = default;
  /// Reads at least one byte into `buffer` (asio::error::eof at a clean end).
  virtual void async_read_some(asio::mutable_buffer buffer, Handler handler) = 0;
  /// Writes all of `buffer`.
  virtual void async_write(asio::const_buffer buffer, Handler handler) = 0;
};

class FrameReader {
 public:
  /// Reads from `socket` (which must outlive the reader) in chunks of `chunk_bytes`.
  explicit FrameReader(Socket& socket, FrameLimits limits = {}, std::size_t chunk_bytes = 64 * 1024);
  ~FrameReader();
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  /// A Unix socket: keep the descriptors the peer passes beside its bytes (SCM_RIGHTS),
  /// in arrival order, for take_fd(). Off: none can arrive (TCP), or they are refused.
  void accept_fds(bool on) noexcept { accept_fds_ = on; }
  /// The oldest descriptor received and not yet taken (the caller owns it), or -1. A
  /// descriptor arrives no later than the frame its sender sent it with.
  [[nodiscard]] int take_fd() noexcept;
  /// Descriptors received and not yet taken.
  [[nodiscard]] std::size_t fds_waiting() const noexcept { return fds_.size(); }
  /// Past this many waiting descriptors the peer is cut off (ProtocolError): a handful
  /// until it has authenticated, then enough for batches of values.
  void set_max_fds(std::size_t n) noexcept { max_fds_ = n; }

  /// Reads through `layer` (which must outlive the reader) from now on.
  void set_layer(StreamLayer* layer) noexcept { layer_ = layer; }

  /// The next frame. Returns nullopt at a clean end of stream (between frames). Throws
  /// ProtocolError for malformed or oversized input or an end of stream inside a frame,
  /// ConnectionError when the socket fails. Cancellable (Asio's operation_aborted).
  asio::awaitable<std::optional<Frame>> next();

  /// A frame already complete in the buffer, without reading; nullopt when none is.
  std::optional<Frame> try_next();

  [[nodiscard]] const FrameLimits& limits() const noexcept { return limits_; }
  /// New limits and read size, from the next frame on (a connection that has
  /// authenticated its peer lifts the small pre-handshake limits).
  void set_limits(FrameLimits limits, std::size_t chunk_bytes) {
    limits_ = limits;
    chunk_words_ = std::max<std::size_t>(chunk_bytes / 8, 16);
  }
  /// read_some calls made so far (tests check coalesced input is split without reads).
  [[nodiscard]] std::uint64_t reads() const noexcept { return reads_; }
  /// Bytes received so far (the coordinator's metrics).
  [[nodiscard]] std::uint64_t bytes_read() const noexcept { return bytes_read_; }

 private:
  void make_room(std::size_t need_words);
  asio::awaitable<std::pair<std::error_code, std::size_t>> read_some(asio::mutable_buffer buffer);

  Socket& socket_;
  StreamLayer* layer_ = nullptr;
  FrameLimits limits_;
  std::size_t chunk_words_;
  std::shared_ptr<Chunk> chunk_;
  std::size_t begin_words_ = 0;  // first unparsed word
  std::size_t end_bytes_ = 0;    // bytes received into chunk_
  std::size_t want_words_ = 0;   // size of the frame being assembled, when known
  std::uint64_t reads_ = 0;
  std::uint64_t bytes_read_ = 0;
  bool accept_fds_ = false;
  std::size_t max_fds_ = 8;
  std::deque<int> fds_;
};

class FrameWriter : public std::enable_shared_from_this<FrameWriter> {
 public:
  /// Use FrameWriter::create: the writer must be owned by a shared_ptr (its writes hold it).
  static std::shared_ptr<FrameWriter> create(Socket& socket) {
    return std::shared_ptr<FrameWriter>(new FrameWriter(socket));
  }

  /// Queues `message` and starts a write unless one is in flight. Must be called on the
  /// socket's executor. Throws ConnectionError once a write has failed.
  void send(capnp::MessageBuilder& message);
  /// Queues frames already encoded (whole words).
  void send_words(std::span<const std::uint64_t> words);
  /// Queues `message` with the descriptor `fd` passed beside it (Unix sockets only): it
  /// leaves with the first byte of the write that carries the frame. `keep` (which owns
  /// `fd`) is held until then.
  void send_with_fd(capnp::MessageBuilder& message, int fd, std::shared_ptr<const void> keep);
  /// Called after each completed write (on the socket's executor): a sender pacing a
  /// stream by pending_bytes() goes on from there.
  void on_written(std::function<void()> fn) { on_written_ = std::move(fn); }

  /// Completes when everything queued so far has been written (or throws ConnectionError).
  asio::awaitable<void> drain();
  /// Best effort, now, without waiting: writes what is queued if nothing of an earlier
  /// write is still on its way (a last Error frame before the socket closes). Never throws.
  void try_flush() noexcept;

  /// Writes through `layer` (which must outlive the writer) from now on.
  void set_layer(StreamLayer* layer) noexcept { layer_ = layer; }
  /// While held, frames queue and nothing is written (a TLS handshake is under way, or
  /// the owner sends several frames that should leave in one write); release() writes
  /// what queued once every hold is released (holds nest).
  void hold() noexcept { ++holds_; }
  void release();

  /// Called once, on the socket's executor, when a write fails.
  void on_error(std::function<void(const std::error_code&)> fn) { on_error_ = std::move(fn); }
  /// The owner of the socket: each write holds it until it completes, so the socket
  /// outlives every write; once the owner is gone, nothing more is written.
  void set_owner(std::weak_ptr<const void> owner) {
    owner_ = std::move(owner);
    owned_ = true;
  }

  [[nodiscard]] std::uint64_t frames_queued() const noexcept { return frames_; }
  [[nodiscard]] std::uint64_t writes() const noexcept { return writes_; }
  /// Bytes the socket has taken so far (the coordinator's metrics).
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  [[nodiscard]] std::size_t pending_bytes() const noexcept { return (pending_.size() + inflight_.size()) * 8; }
  /// True while bytes of a frame may be on the wire with the rest still to come (a write
  /// syscall, or the remainder of a partial one). Another thread may claim the socket by
  /// setting it false -> true (compare-exchange) to send whole frames of its own: a
  /// worker's fatal-signal handler, its watchdog's heartbeats. While it is held the writer
  /// queues; it tries again a millisecond later. Plain sockets only: under a layer (TLS)
  /// raw frames would break its records, so nobody may write beside it.
  [[nodiscard]] std::atomic<bool>& wire_flag() noexcept { return wire_; }
  [[nodiscard]] bool failed() const noexcept { return static_cast<bool>(error_); }

 private:
  explicit FrameWriter(Socket& socket);
  void start_write();
  bool write_with_fds(std::shared_ptr<const void> owner);
  void check() const;

  Socket& socket_;
  StreamLayer* layer_ = nullptr;
  unsigned holds_ = 0;
  std::vector<std::uint64_t> pending_;
  std::vector<std::uint64_t> inflight_;
  bool writing_ = false;               // a write is under way (until its completion runs)
  bool inflight_sent_ = false;         // ...and all its bytes are on the wire already
  std::atomic<bool> wire_{false};      // see wire_flag()
  asio::steady_timer retry_;           // a claimed socket: start_write again shortly
  std::error_code error_;
  std::function<void(const std::error_code&)> on_error_;
  std::weak_ptr<const void> owner_;
  bool owned_ = false;  // set_owner() was called: writes need the owner alive
  asio::steady_timer idle_;  // expires never; cancelled to wake drain() waiters
  std::uint64_t frames_ = 0;
  std::uint64_t writes_ = 0;
  std::uint64_t bytes_written_ = 0;
  struct PendingFd {
    std::size_t at;  // word offset in pending_ of the frame it goes with
    int fd;
    std::shared_ptr<const void> keep;
  };
  std::deque<PendingFd> fds_;
  std::function<void()> on_written_;
};

}  // namespace shoal::proto
