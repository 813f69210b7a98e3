#pragma once
/// \file
/// Connection: the one carrier of frames between two peers, used by the Client, the
/// coordinator and the worker alike. It owns the transport (a stream socket with its
/// frame reader and writer, or an in-process pair on one executor), reads frames and hands
/// each decoded message to its handler, batches what is sent during one loop turn into
/// one write, and follows the one batching rule for lists of entries (send_batched).
///
///     auto c = link::Connection::over_socket(std::move(socket));
///     c->start(handler);          // handler->on_message(env, frame) for each message
///     c->send(message);           // on the connection's executor
///     co_await c->drain(500ms);   // what is queued has left (or the time is up)
///     c->close("done");           // handler->on_closed("done"), once
///
/// Everything runs on the connection's executor; nothing here is thread-safe.

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <capnp/message.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shoal/codec/bytes.hpp"
#include "shoal/codec/shm.hpp"
#include "shoal/core/coro.hpp"
#include "shoal/proto/builder.hpp"
#include "shoal/proto/stream.hpp"

namespace shoal::link {

class TlsContext;
class TlsLayer;

/// What a Connection tells its owner. Called on the connection's executor.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  /// Frames arrived; their messages follow (one call per read: stamp clocks here).
  virtual void on_frames() {}
  /// The messages of one read were all delivered (and the connection is still open): what
  /// they asked for can be acted on together now, in this turn, instead of in posted
  /// handlers behind whatever else the loop has queued.
  virtual void on_frames_done() {}
  /// One message. `frame` owns the bytes `env` points into (link::bytes() aliases it).
  /// Whatever it throws closes the connection with that reason.
  virtual void on_message(proto::schema::Envelope::Reader env, const proto::FrameOwner& frame) = 0;
  /// Malformed input from the peer (a bad frame or message): the connection closes right
  /// after; a handler may send the peer an Error first.
  virtual void on_protocol_error(const std::string& /*why*/) {}
  /// The connection ended: end of stream, a failure, or close(). Called once, never from
  /// inside close().
  virtual void on_closed(const std::string& why) = 0;
};

/// How long a TLS handshake may take before the connection is closed.
inline constexpr std::chrono::milliseconds kTlsHandshakeTimeout{10000};

/// A value streamed to a TCP peer leaves in chunks of this size...
inline constexpr std::size_t kBlobChunkBytes = 512u << 10;
/// ...while fewer than this many bytes wait in the writer: the stream goes at the pace
/// the peer reads, and a large value never sits twice in this process's memory.
inline constexpr std::size_t kBlobWindowBytes = 4u << 20;

/// The batching rule: a batch frame carries at most this many entries...
inline constexpr std::size_t kBatchEntries = 512;
/// ...and is cut once its payload passes this many bytes.
inline constexpr std::size_t kBatchBytes = 256u << 10;

/// The entries of a received batch frame. Senders follow the batching rule, so a batch of
/// more than kBatchEntries is malformed: ProtocolError. (A list of empty structs costs its
/// sender almost nothing on the wire; unchecked, a 100-byte frame could stand for millions
/// of submits or assigns.)
template <typename List>
[[nodiscard]] List batch_entries(List list) {
  if (list.size() > kBatchEntries)
    throw ProtocolError("a batch of " + std::to_string(list.size()) + " entries: at most " +
                        std::to_string(kBatchEntries) + " travel in one frame");
  return list;
}

/// A first segment that holds `entries` entries of about `words_each` fixed words plus
/// `bytes` of payload: one segment per message, since readers lock for every other one.
[[nodiscard]] unsigned batch_segment_words(std::size_t entries, std::size_t bytes, std::size_t words_each) noexcept;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  /// A connection over a connected stream socket (Unix or TCP). `read_chunk_bytes` sizes
  /// the receive buffer (frames are parsed where they land).
  static std::shared_ptr<Connection> over_socket(proto::Socket socket, proto::FrameLimits limits = {},
                                                 std::size_t read_chunk_bytes = 1u << 20);
  /// Two connected ends on one executor, for a peer in the same process (LocalCluster's
  /// client and its coordinator): what one sends, the other receives in the next turn.
  static std::pair<std::shared_ptr<Connection>, std::shared_ptr<Connection>> local_pair(
      const asio::any_io_executor& ex, proto::FrameLimits limits = {});

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// TLS on this connection's socket from its first byte; call before start(). A client
  /// gives the `host` it dialled (checked against the server's certificate). Frames sent
  /// before the handshake completes wait for it; a failed or slow handshake (over
  /// kTlsHandshakeTimeout) closes the connection with why. In-process connections ignore it.
  void secure(std::shared_ptr<TlsContext> tls, const std::string& host = {});
  [[nodiscard]] bool secured() const noexcept { return static_cast<bool>(tls_); }

  /// Starts reading; messages go to `handler`, which must outlive the connection or
  /// close() it first. The read loop is owned here: close() ends it.
  void start(ConnectionHandler& handler);
  /// start() with a handler the connection keeps alive (for handlers whose owner may go
  /// first, and guard themselves).
  void start(std::shared_ptr<ConnectionHandler> handler);

  /// Queues `message`; frames queued in one turn leave in one write. Sending on a closed
  /// connection does nothing (the handler heard on_closed already).
  void send(capnp::MessageBuilder& message);

  /// Large values travel beside frames, never inside one ("blobs"): over a Unix socket as
  /// a sealed shared-memory segment whose descriptor is passed (no copy: the receiver maps
  /// the same pages), over TCP streamed in kBlobChunkBytes chunks paced by the peer's
  /// reading, in-process handed over as they are. attach() sends `value` ahead of the next
  /// message, which names it by the id returned (a field such as Submit.argsBlob); the
  /// receiver's handler takes it with take_blob(id). Returns 0, sending nothing, when
  /// `value` is under `at_bytes`: the caller puts it in the message. Send the naming
  /// message right after: the receiver drops blobs the next message does not claim.
  std::uint64_t attach(const Bytes& value, std::size_t at_bytes = codec::shm::kSharedAtBytes);
  /// Inside on_message: the blob `id` that came before this message. ProtocolError when
  /// none did (a second take, or an id the peer never sent).
  [[nodiscard]] Bytes take_blob(std::uint64_t id);
  /// A value field of a received message: the blob when `blob` is not 0, else `inline_data`
  /// (link::bytes).
  [[nodiscard]] Bytes value(capnp::Data::Reader inline_data, std::uint64_t blob, const proto::FrameOwner& frame);

  /// While a Cork lives, frames queue; they leave in one write when it ends (a batch of
  /// results and the heartbeat after it: one system call and one wake-up of the peer
  /// where the second frame would otherwise wait for the first's write). Corks nest.
  class Cork {
   public:
    explicit Cork(std::shared_ptr<proto::FrameWriter> w) : w_(std::move(w)) {
      if (w_) w_->hold();
    }
    Cork(const Cork&) = delete;
    Cork& operator=(const Cork&) = delete;
    ~Cork() {
      if (w_) w_->release();
    }

   private:
    std::shared_ptr<proto::FrameWriter> w_;
  };
  [[nodiscard]] Cork cork() { return Cork(closed_ ? nullptr : writer_); }

  /// Sends entries [0, n) as batch frames under the batching rule: `bytes_of(i)` is entry
  /// i's payload, `words_each` its fixed size in words, and `fill(envelope, begin, end)`
  /// builds one frame of entries [begin, end).
  template <typename BytesOf, typename Fill>
  void send_batched(std::size_t n, std::size_t words_each, BytesOf bytes_of, Fill fill) {
    for (std::size_t at = 0; at < n;) {
      std::size_t end = at, bytes = 0;
      while (end < n && end - at < kBatchEntries && bytes < kBatchBytes) bytes += bytes_of(end++);
      proto::Builder msg(batch_segment_words(end - at, bytes, words_each));
      fill(msg.initRoot<proto::schema::Envelope>(), at, end);
      send(msg);
      at = end;
    }
  }

  /// At most `bytes` may wait to be written to the peer: a send() that would queue more
  /// closes the connection ("the peer does not read: ...") rather than let a peer that
  /// stopped reading grow this process without bound. 0: no bound (the default).
  void set_max_queued_bytes(std::size_t bytes) noexcept { max_queued_ = bytes; }

  /// Stops delivering frames (socket connections: what is read stays buffered, and the
  /// peer's writes block once the socket's buffers fill: its own backpressure) until
  /// resume_reading(). In-process connections ignore it.
  void pause_reading() noexcept { paused_ = true; }
  void resume_reading();
  [[nodiscard]] bool reading_paused() const noexcept { return paused_; }

  /// New frame limits and read size from the next frame on (socket connections).
  void set_limits(proto::FrameLimits limits, std::size_t read_chunk_bytes = 1u << 20);

  /// Completes when everything queued has been written, the connection closed, or
  /// `timeout` passed, whichever is first. Never throws.
  Coro<void> drain(std::chrono::milliseconds timeout);

  /// Closes the transport; the handler hears on_closed(why) (once, in a later turn when
  /// called from inside the handler). Pending reads end.
  void close(const std::string& why);
  /// close() for an owner that is going away: the handler hears nothing more.
  void abandon() noexcept;

  [[nodiscard]] bool closed() const noexcept { return closed_; }
  [[nodiscard]] const std::string& closed_why() const noexcept { return why_; }
  [[nodiscard]] const asio::any_io_executor& executor() const noexcept { return ex_; }
  /// The socket's descriptor (SO_PEERCRED), or -1 for an in-process connection.
  [[nodiscard]] int native_handle() noexcept;
  [[nodiscard]] bool is_tcp() const noexcept { return tcp_; }
  /// The peer's address: "127.0.0.1" for TCP, "local" for a Unix socket or in-process.
  [[nodiscard]] const std::string& peer_address() const noexcept { return peer_address_; }
  /// Steady-clock ns of the last received frame and the last send.
  [[nodiscard]] std::uint64_t last_recv() const noexcept { return last_recv_; }
  [[nodiscard]] std::uint64_t last_send() const noexcept { return last_send_; }
  /// Bytes received and sent over this connection so far (in-process: frames' bytes).
  [[nodiscard]] std::uint64_t bytes_in() const noexcept;
  [[nodiscard]] std::uint64_t bytes_out() const noexcept;
  /// The socket's "bytes of a frame on the wire" flag (FrameWriter::wire_flag), which
  /// another thread may claim to send whole frames beside the writer; nullptr for an
  /// in-process connection. Lives as long as the connection.
  [[nodiscard]] std::atomic<bool>* write_flag() noexcept;
  /// Bytes queued and not yet written, streamed values included.
  [[nodiscard]] std::size_t pending_bytes() const noexcept;
  /// The frames queued and not yet written, not counting values being streamed (they
  /// are paced, not piled up): what tells a peer that does not read.
  [[nodiscard]] std::size_t backlog_bytes() const noexcept;

 private:
  struct Local;
  Connection(asio::any_io_executor ex, proto::FrameLimits limits);
  Coro<void> read_loop();
  void begin_reading();
  void tls_handshake();
  void deliver_local(std::shared_ptr<std::vector<std::uint64_t>> words);
  void flush_local();
  void ended(const std::string& why);
  void deliver(proto::schema::Envelope::Reader env, const proto::FrameOwner& owner);
  void on_blob(proto::schema::BlobHeader::Reader h);
  void on_blob_chunk(proto::schema::BlobChunk::Reader c);
  void pump();

  asio::any_io_executor ex_;
  proto::FrameLimits limits_;
  ConnectionHandler* handler_ = nullptr;
  std::shared_ptr<ConnectionHandler> kept_handler_;  // start(shared_ptr)
  // A socket transport.
  std::optional<proto::Socket> socket_;
  std::unique_ptr<proto::FrameReader> reader_;
  std::shared_ptr<proto::FrameWriter> writer_;
  std::unique_ptr<TlsLayer> tls_;  // over socket_, after it: destroyed first
  std::unique_ptr<asio::steady_timer> tls_deadline_;
  bool tcp_ = false;
  std::string peer_address_ = "local";
  // An in-process transport: frames for the other end, posted once per turn.
  std::weak_ptr<Connection> peer_;
  std::vector<std::uint64_t> outbox_;
  bool outbox_posted_ = false;
  std::vector<std::shared_ptr<std::vector<std::uint64_t>>> early_;  // arrived before start()

  // Blobs. Sent: ids, and (TCP) what waits behind a value being streamed, in order.
  struct Outgoing {
    std::vector<std::uint64_t> frame;  // an encoded frame, or:
    Bytes blob;                        // a value being streamed
    std::uint64_t id = 0;
    std::size_t offset = 0;
  };
  std::uint64_t out_blob_id_ = 0;
  std::deque<Outgoing> queue_;
  std::size_t queued_frame_bytes_ = 0;  // frames waiting behind a streamed value
  std::size_t queued_blob_bytes_ = 0;   // what remains to stream
  // Received: the next id expected, what came and waits for its message, the value being
  // streamed in, and (in-process) what the peer handed over.
  std::uint64_t in_blob_id_ = 0;
  std::map<std::uint64_t, Bytes> inbox_;
  struct Incoming {
    std::uint64_t id = 0;
    std::uint64_t size = 0;
    std::unique_ptr<codec::shm::SegmentWriter> writer;
  };
  std::optional<Incoming> incoming_;
  std::map<std::uint64_t, Bytes> handed_;

  std::size_t max_queued_ = 0;
  bool started_ = false;
  bool closed_ = false;
  bool notified_ = false;  // on_closed called
  bool reading_ = false;   // the read loop runs
  bool paused_ = false;    // pause_reading(): the read loop waits on resume_
  std::unique_ptr<asio::steady_timer> resume_;
  std::string why_;
  std::uint64_t last_recv_ = 0, last_send_ = 0;
  std::uint64_t local_in_ = 0, local_out_ = 0;  // in-process connections' bytes
};

}  // namespace shoal::link
