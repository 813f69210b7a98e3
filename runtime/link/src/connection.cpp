#include "shoal/link/connection.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>

#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"
#include "tls_layer.hpp"

namespace shoal::link {

unsigned batch_segment_words(std::size_t entries, std::size_t bytes, std::size_t words_each) noexcept {
  return static_cast<unsigned>(std::min<std::size_t>(8 + entries * (words_each + 2) + bytes / 8 + entries * 4, 1u << 20));
}

Connection::Connection(asio::any_io_executor ex, proto::FrameLimits limits) : ex_(std::move(ex)), limits_(limits) {}

Connection::~Connection() = default;

std::shared_ptr<Connection> Connection::over_socket(proto::Socket socket, proto::FrameLimits limits,
                                                    std::size_t read_chunk_bytes) {
  std::shared_ptr<Connection> c(new Connection(socket.get_executor(), limits));
  std::error_code ec;
  auto local = socket.local_endpoint(ec);
  c->tcp_ = !ec && local.protocol().family() != AF_UNIX;
  if (c->tcp_) {
    // The peer's IP, for per-address limits and logs.
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    char host[NI_MAXHOST] = {};
    if (::getpeername(socket.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
        ::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) == 0)
      c->peer_address_ = host;
    else
      c->peer_address_ = "unknown";
  }
  c->socket_.emplace(std::move(socket));
  c->reader_ = std::make_unique<proto::FrameReader>(*c->socket_, limits, read_chunk_bytes);
  c->writer_ = proto::FrameWriter::create(*c->socket_);
  c->writer_->set_owner(std::weak_ptr<const void>(c));  // a write in flight keeps the socket
  c->writer_->on_error([weak = std::weak_ptr<Connection>(c)](const std::error_code& ec) {
    if (auto self = weak.lock()) self->close("write failed: " + ec.message());
  });
  c->writer_->on_written([weak = std::weak_ptr<Connection>(c)] {
    if (auto self = weak.lock(); self && !self->queue_.empty()) self->pump();
  });
  c->reader_->accept_fds(!c->tcp_);
  c->reader_->set_max_fds(limits.max_blob_bytes ? 4096 : 8);
  return c;
}

std::pair<std::shared_ptr<Connection>, std::shared_ptr<Connection>> Connection::local_pair(
    const asio::any_io_executor& ex, proto::FrameLimits limits) {
  std::shared_ptr<Connection> a(new Connection(ex, limits));
  std::shared_ptr<Connection> b(new Connection(ex, limits));
  a->peer_ = b;
  b->peer_ = a;
  return {a, b};
}

void Connection::set_limits(proto::FrameLimits limits, std::size_t read_chunk_bytes) {
  limits_ = limits;
  if (reader_) {
    reader_->set_limits(limits, read_chunk_bytes);
    reader_->set_max_fds(limits.max_blob_bytes ? 4096 : 8);
  }
}

std::atomic<bool>* Connection::write_flag() noexcept {
  return writer_ ? &writer_->wire_flag() : nullptr;
}

int Connection::native_handle() noexcept { return socket_ ? socket_->native_handle() : -1; }

std::size_t Connection::pending_bytes() const noexcept { return backlog_bytes() + queued_blob_bytes_; }

std::uint64_t Connection::bytes_in() const noexcept { return local_in_ + (reader_ ? reader_->bytes_read() : 0); }

std::uint64_t Connection::bytes_out() const noexcept { return local_out_ + (writer_ ? writer_->bytes_written() : 0); }

std::size_t Connection::backlog_bytes() const noexcept {
  return (writer_ ? writer_->pending_bytes() : outbox_.size() * 8) + queued_frame_bytes_;
}

void Connection::secure(std::shared_ptr<TlsContext> tls, const std::string& host) {
  if (!socket_ || !tls || started_) return;
  tls_ = std::make_unique<TlsLayer>(*socket_, std::move(tls), host);
  reader_->set_layer(tls_.get());
  writer_->set_layer(tls_.get());
  writer_->hold();  // until the handshake is done
}

void Connection::tls_handshake() {
  tls_deadline_ = std::make_unique<asio::steady_timer>(ex_, kTlsHandshakeTimeout);
  tls_deadline_->async_wait([weak = weak_from_this()](const std::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->close("the TLS handshake took over " +
                                             std::to_string(kTlsHandshakeTimeout.count()) + " ms");
  });
  tls_->handshake([self = shared_from_this()](const std::string& error) {
    if (self->tls_deadline_) self->tls_deadline_->cancel();
    self->reading_ = false;
    if (self->closed_) return self->ended(self->why_);
    if (!error.empty()) return self->ended(error);  // closes the socket, tells the handler
    self->writer_->release();
    self->begin_reading();
  });
}

void Connection::start(std::shared_ptr<ConnectionHandler> handler) {
  kept_handler_ = std::move(handler);
  start(*kept_handler_);
}

void Connection::start(ConnectionHandler& handler) {
  handler_ = &handler;
  started_ = true;
  last_recv_ = last_send_ = steady_ns();
  if (closed_) {
    // Closed before it started: tell the handler in the next turn, as always.
    asio::post(ex_, [self = shared_from_this()] { self->ended(self->why_); });
    return;
  }
  if (socket_) {
    if (tls_) {
      reading_ = true;  // the handshake stands for the read loop until it is done
      tls_handshake();
      return;
    }
    begin_reading();
    return;
  }
  auto early = std::move(early_);
  early_.clear();
  for (auto& words : early) deliver_local(std::move(words));
}

void Connection::begin_reading() {
  reading_ = true;
  // The read loop is owned by this connection: close() ends it, and its end (clean or
  // not) is reported to the handler through ended().
  asio::co_spawn(ex_, read_loop(), [self = shared_from_this()](std::exception_ptr e) {
    self->reading_ = false;
    std::string why = "the peer closed the connection";
    bool protocol = false;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const ProtocolError& x) {
        why = x.what();
        protocol = true;
      } catch (const std::exception& x) {
        why = x.what();
      } catch (...) {
        why = "an unknown failure while reading";
      }
    }
    if (self->tls_) why = TlsLayer::explain(why);
    if (protocol && !self->closed_ && self->handler_) self->handler_->on_protocol_error(why);
    self->ended(why);
  });
}

void Connection::resume_reading() {
  paused_ = false;
  if (resume_) resume_->cancel();
}

Coro<void> Connection::read_loop() {
  // Never inside start(): a read that finds bytes waiting completes at once (recvmsg is
  // tried before waiting), and the caller of start() may not be ready for its handler yet.
  co_await asio::post(ex_, asio::use_awaitable);
  for (;;) {
    while (paused_ && !closed_) {
      if (!resume_) resume_ = std::make_unique<asio::steady_timer>(ex_);
      resume_->expires_at(std::chrono::steady_clock::time_point::max());
      co_await resume_->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    if (closed_) co_return;
    auto frame = co_await reader_->next();
    if (!frame || closed_ || !handler_) co_return;
    last_recv_ = steady_ns();
    if (handler_) handler_->on_frames();
    while (frame) {
      const auto& owner = frame->owner();
      proto::guarded([&] { deliver(frame->envelope(), owner); });
      if (closed_ || !handler_) co_return;
      if (paused_) break;  // the rest stays buffered in the reader
      frame = reader_->try_next();
    }
    if (handler_) handler_->on_frames_done();
    if (closed_ || !handler_) co_return;
  }
}

void Connection::send(capnp::MessageBuilder& message) {
  if (closed_) return;
  last_send_ = steady_ns();
  std::size_t waiting = backlog_bytes();  // a value being streamed is paced, not piled up
  if (max_queued_ && waiting > max_queued_) {
    close("the peer does not read: " + std::to_string(waiting >> 20) + " MiB wait to be written to it (at most " +
          std::to_string(max_queued_ >> 20) + " MiB)");
    return;
  }
  if (writer_ && !queue_.empty()) {
    // Behind a value being streamed: in order, after it.
    Outgoing o;
    proto::append_frame(message, o.frame);
    queued_frame_bytes_ += o.frame.size() * 8;
    queue_.push_back(std::move(o));
    return;
  }
  if (writer_) {
    try {
      writer_->send(message);
    } catch (const std::exception& e) {
      close(e.what());
    }
    return;
  }
  proto::append_frame(message, outbox_);
  if (!outbox_posted_) {
    outbox_posted_ = true;
    asio::post(ex_, [self = shared_from_this()] { self->flush_local(); });
  }
}

void Connection::flush_local() {
  outbox_posted_ = false;
  if (closed_ || outbox_.empty()) return;
  auto words = std::make_shared<std::vector<std::uint64_t>>(std::move(outbox_));
  outbox_.clear();
  local_out_ += words->size() * 8;
  if (auto peer = peer_.lock()) peer->deliver_local(std::move(words));
}

void Connection::deliver_local(std::shared_ptr<std::vector<std::uint64_t>> words) {
  if (closed_) return;
  if (!started_) {
    early_.push_back(std::move(words));
    return;
  }
  last_recv_ = steady_ns();
  local_in_ += words->size() * 8;
  try {
    handler_->on_frames();
    proto::FrameOwner owner = words;
    std::span<const std::uint64_t> rest(*words);
    while (!rest.empty() && !closed_) {
      auto size = proto::frame_size_words(rest, limits_);
      if (!size || *size > rest.size()) throw ProtocolError("a truncated frame from an in-process peer");
      proto::Frame frame(owner, rest.first(*size), limits_);
      rest = rest.subspan(*size);
      proto::guarded([&] { deliver(frame.envelope(), owner); });
    }
    if (!closed_) handler_->on_frames_done();
  } catch (const ProtocolError& e) {
    if (!closed_) handler_->on_protocol_error(e.what());
    close(e.what());
  } catch (const std::exception& e) {
    close(e.what());
  }
}

Coro<void> Connection::drain(std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer tick(ex_);
  while (!closed_ && pending_bytes() > 0 && std::chrono::steady_clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
}

// ---- values beside the frames (blobs) ----

std::uint64_t Connection::attach(const Bytes& value, std::size_t at_bytes) {
  if (value.empty() || value.size() < at_bytes) return 0;
  auto id = ++out_blob_id_;
  if (closed_) return id;  // nothing is sent any more: neither is the message naming it
  capnp::MallocMessageBuilder msg(16);
  auto h = msg.initRoot<proto::schema::Envelope>().initBlob();
  h.setId(id);
  h.setSize(value.size());
  if (!socket_) {
    h.setVia(proto::schema::BlobVia::LOCAL);
    if (auto peer = peer_.lock()) peer->handed_[id] = value;
    send(msg);
    return id;
  }
  if (!tcp_ && !tls_) {
    h.setVia(proto::schema::BlobVia::FD);
    last_send_ = steady_ns();
    try {
      auto at = codec::shm::locate(value);
      if (!at.segment) at = {codec::shm::Segment::copy_of(value.span()), 0};
      h.setOffset(at.offset);
      writer_->send_with_fd(msg, at.segment->fd(), at.segment);
    } catch (const std::exception& e) {
      close(std::string("a value could not be sent: ") + e.what());
    }
    return id;
  }
  h.setVia(proto::schema::BlobVia::STREAM);
  send(msg);
  Outgoing o;
  o.blob = value;
  o.id = id;
  queued_blob_bytes_ += value.size();
  queue_.push_back(std::move(o));
  pump();
  return id;
}

void Connection::pump() {
  try {
    while (!queue_.empty() && !closed_) {
      auto& o = queue_.front();
      if (o.blob.empty()) {
        queued_frame_bytes_ -= o.frame.size() * 8;
        writer_->send_words(o.frame);
        queue_.pop_front();
        continue;
      }
      while (o.offset < o.blob.size()) {
        if (writer_->pending_bytes() >= kBlobWindowBytes) return;  // on_written brings us back
        std::size_t n = std::min(kBlobChunkBytes, o.blob.size() - o.offset);
        capnp::MallocMessageBuilder msg(static_cast<unsigned>(n / 8 + 16));
        auto c = msg.initRoot<proto::schema::Envelope>().initBlobChunk();
        c.setId(o.id);
        c.setData(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(o.blob.data() + o.offset), n));
        writer_->send(msg);
        o.offset += n;
        queued_blob_bytes_ -= n;
      }
      queue_.pop_front();
    }
  } catch (const std::exception& e) {
    close(e.what());
  }
}

Bytes Connection::take_blob(std::uint64_t id) {
  auto it = inbox_.find(id);
  if (it == inbox_.end())
    throw ProtocolError("a message names value " + std::to_string(id) + ", which did not come before it");
  Bytes b = std::move(it->second);
  inbox_.erase(it);
  return b;
}

Bytes Connection::value(capnp::Data::Reader inline_data, std::uint64_t blob, const proto::FrameOwner& frame) {
  if (blob) return take_blob(blob);
  return link::bytes(inline_data, frame);
}

void Connection::deliver(proto::schema::Envelope::Reader env, const proto::FrameOwner& owner) {
  using E = proto::schema::Envelope;
  auto which = env.which();
  if (which == E::BLOB) return on_blob(env.getBlob());
  if (which == E::BLOB_CHUNK) return on_blob_chunk(env.getBlobChunk());
  handler_->on_message(env, owner);
  // Values belong to the message right after them; what it left is dropped. (A worker's
  // watchdog may slip a heartbeat in between, from another thread.)
  if (!inbox_.empty() && which != E::HEARTBEAT && which != E::CRASHED) inbox_.clear();
}

void Connection::on_blob(proto::schema::BlobHeader::Reader h) {
  if (limits_.max_blob_bytes == 0) throw ProtocolError("a value beside the frames before the handshake");
  if (h.getId() != in_blob_id_ + 1)
    throw ProtocolError("value " + std::to_string(h.getId()) + " came after value " + std::to_string(in_blob_id_));
  in_blob_id_ = h.getId();
  auto size = h.getSize();
  if (size == 0 || size > limits_.max_blob_bytes)
    throw ProtocolError("a value of " + std::to_string(size) + " bytes (limit " + std::to_string(limits_.max_blob_bytes) +
                        ")");
  if (incoming_) throw ProtocolError("a value announced while another is still streaming in");
  if (inbox_.size() >= 65536) throw ProtocolError("over 65536 values came that no message claimed");
  switch (h.getVia()) {
    case proto::schema::BlobVia::FD: {
      int fd = reader_ ? reader_->take_fd() : -1;
      if (fd < 0) throw ProtocolError("a value announced in shared memory came without its descriptor");
      try {
        inbox_[h.getId()] = codec::shm::Segment::adopt(fd)->bytes(h.getOffset(), size);
      } catch (const ValueError& e) {
        throw ProtocolError(e.what());
      }
      return;
    }
    case proto::schema::BlobVia::LOCAL: {
      auto it = handed_.find(h.getId());
      if (socket_ || it == handed_.end()) throw ProtocolError("an in-process value that was not handed over");
      if (it->second.size() != size) throw ProtocolError("an in-process value of another size than announced");
      inbox_[h.getId()] = std::move(it->second);
      handed_.erase(it);
      return;
    }
    case proto::schema::BlobVia::STREAM:
      incoming_.emplace();
      incoming_->id = h.getId();
      incoming_->size = size;
      incoming_->writer = std::make_unique<codec::shm::SegmentWriter>(static_cast<std::size_t>(size));
      return;
  }
  throw ProtocolError("a value announced with an unknown way of travelling");
}

void Connection::on_blob_chunk(proto::schema::BlobChunk::Reader c) {
  if (!incoming_ || c.getId() != incoming_->id)
    throw ProtocolError("a chunk of value " + std::to_string(c.getId()) + ", which is not streaming in");
  auto data = c.getData();
  auto& in = *incoming_;
  if (data.size() == 0 || data.size() > in.size - in.writer->size())
    throw ProtocolError("a chunk of " + std::to_string(data.size()) + " bytes where " +
                        std::to_string(in.size - in.writer->size()) + " remain of value " + std::to_string(in.id));
  in.writer->write(data.begin(), data.size());
  if (in.writer->size() < in.size) return;
  inbox_[in.id] = in.writer->finish()->bytes();
  incoming_.reset();
}

void Connection::close(const std::string& why) {
  if (closed_) return;
  if (!socket_) flush_local();  // what was sent before the close goes first
  closed_ = true;
  why_ = why;
  queue_.clear();
  queued_frame_bytes_ = queued_blob_bytes_ = 0;
  incoming_.reset();
  handed_.clear();
  if (resume_) resume_->cancel();  // a paused read loop wakes, sees the close, and ends
  if (socket_) {
    if (writer_) writer_->try_flush();  // a last frame (an Error) queued behind a write that has left
    std::error_code ec;
    socket_->shutdown(asio::socket_base::shutdown_both, ec);
    socket_->close(ec);  // the read loop ends, and reports through ended()
    if (!reading_ && started_) asio::post(ex_, [self = shared_from_this()] { self->ended(self->why_); });
    return;
  }
  if (auto peer = peer_.lock())
    asio::post(ex_, [peer] { peer->ended("the peer closed the connection"); });
  if (started_) asio::post(ex_, [self = shared_from_this()] { self->ended(self->why_); });
}

void Connection::abandon() noexcept {
  handler_ = nullptr;
  if (!closed_) close("abandoned by its owner");
}

void Connection::ended(const std::string& why) {
  if (!closed_) {
    closed_ = true;
    why_ = why;
    if (socket_) {
      if (writer_) writer_->try_flush();
      std::error_code ec;
      socket_->close(ec);
    } else if (auto peer = peer_.lock()) {
      asio::post(ex_, [peer] { peer->ended("the peer closed the connection"); });
    }
  }
  if (notified_) return;
  notified_ = true;
  if (handler_) handler_->on_closed(why_);
}

}  // namespace shoal::link
