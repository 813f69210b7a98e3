#include "shoal/proto/stream.hpp"

#include <asio/buffer.hpp>
#include <asio/post.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace shoal::proto {

FrameReader::FrameReader(Socket& socket, FrameLimits limits, std::size_t chunk_bytes)
    : socket_(socket), limits_(limits), chunk_words_(std::max<std::size_t>(chunk_bytes / 8, 16)) {}

std::optional<Frame> FrameReader::try_next() {
  if (!chunk_) return std::nullopt;
  std::size_t avail = end_bytes_ / 8 - begin_words_;
  std::span<const std::uint64_t> prefix(chunk_->data() + begin_words_, avail);
  auto size = frame_size_words(prefix, limits_);
  if (!size) {
    want_words_ = 0;
    return std::nullopt;
  }
  want_words_ = *size;
  if (*size > avail) return std::nullopt;
  Frame f(chunk_, prefix.first(*size), limits_);
  begin_words_ += *size;
  want_words_ = 0;
  return f;
}

void FrameReader::make_room(std::size_t need_words) {
  // Room is needed for the frame being assembled (if its size is known) past begin_.
  std::size_t have_bytes = end_bytes_ - begin_words_ * 8;
  std::size_t need_total_words = std::max(need_words, have_bytes / 8 + 1);
  if (chunk_ && chunk_->capacity_words() - begin_words_ >= need_total_words &&
      end_bytes_ < chunk_->capacity_words() * 8)
    return;
  std::size_t words = std::max(chunk_words_, need_total_words);
  if (chunk_ && chunk_.use_count() == 1 && chunk_->capacity_words() >= need_total_words) {
    // No frame points into this chunk any more: slide the tail down and reuse it.
    std::memmove(chunk_->data(), chunk_->data() + begin_words_, have_bytes);
  } else {
    auto fresh = std::make_shared<Chunk>(words);
    if (chunk_) std::memcpy(fresh->data(), chunk_->data() + begin_words_, have_bytes);
    chunk_ = std::move(fresh);
  }
  begin_words_ = 0;
  end_bytes_ = have_bytes;
}

asio::awaitable<std::pair<std::error_code, std::size_t>> FrameReader::read_some(asio::mutable_buffer buffer) {
  if (!layer_) {
    auto [ec, n] = co_await socket_.async_read_some(buffer, asio::experimental::as_tuple(asio::use_awaitable));
    co_return std::pair{ec, n};
  }
  // Through the layer: its callback completes the awaiting coroutine (the handler Asio
  // gives us is move-only, std::function wants a copy: share it).
  auto token = asio::experimental::as_tuple(asio::use_awaitable);
  auto [ec, n] = co_await asio::async_initiate<decltype(token), void(std::error_code, std::size_t)>(
      [this, buffer](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        layer_->async_read_some(buffer, [h](const std::error_code& e, std::size_t k) { std::move(*h)(e, k); });
      },
      token);
  co_return std::pair{ec, n};
}

asio::awaitable<std::optional<Frame>> FrameReader::next() {
  for (;;) {
    if (auto f = try_next()) co_return f;
    make_room(want_words_);
    auto* base = reinterpret_cast<char*>(chunk_->data());
    std::size_t space = chunk_->capacity_words() * 8 - end_bytes_;
    auto [ec, n] = co_await read_some(asio::buffer(base + end_bytes_, space));
    ++reads_;
    end_bytes_ += n;
    if (ec == asio::error::eof) {
      if (end_bytes_ == begin_words_ * 8) co_return std::nullopt;
      throw ProtocolError("the peer closed the connection inside a frame (" +
                          std::to_string(end_bytes_ - begin_words_ * 8) + " bytes of it received)");
    }
    if (ec == asio::error::operation_aborted) throw asio::system_error(ec);
    if (ec) throw ConnectionError("reading from the peer failed: " + ec.message());
  }
}

FrameWriter::FrameWriter(Socket& socket)
    : socket_(socket),
      retry_(socket.get_executor()),
      idle_(socket.get_executor(), asio::steady_timer::time_point::max()) {}

void FrameWriter::check() const {
  if (error_) throw ConnectionError("the connection failed earlier: " + error_.message());
}

void FrameWriter::send(capnp::MessageBuilder& message) {
  check();
  append_frame(message, pending_);
  ++frames_;
  if (!writing_) start_write();
}

void FrameWriter::send_words(std::span<const std::uint64_t> words) {
  check();
  pending_.insert(pending_.end(), words.begin(), words.end());
  ++frames_;
  if (!writing_) start_write();
}

void FrameWriter::release() {
  held_ = false;
  if (!writing_) start_write();
}

void FrameWriter::start_write() {
  if (held_) return;
  if (pending_.empty()) {
    idle_.cancel();  // wake drain() waiters
    return;
  }
  std::shared_ptr<const void> owner = owner_.lock();
  if (owned_ && !owner) {
    pending_.clear();  // the socket's owner is gone: so is the socket
    idle_.cancel();
    return;
  }
  inflight_.swap(pending_);
  pending_.clear();
  writing_ = true;
  ++writes_;
  auto done = [self = shared_from_this(), owner = std::move(owner)](const std::error_code& ec, std::size_t) {
    self->writing_ = false;
    self->inflight_.clear();
    if (ec) {
      self->error_ = ec;
      self->pending_.clear();
      self->idle_.cancel();
      if (self->on_error_) self->on_error_(ec);
      return;
    }
    self->start_write();
  };
  auto buffer = asio::buffer(inflight_.data(), inflight_.size() * 8);
  if (layer_) return layer_->async_write(buffer, std::move(done));  // never shared: see wire_flag()
  // The socket is claimed for the bytes' time on the wire, not just set busy: another
  // thread may hold it for a frame of its own (wire_flag). Then try again shortly.
  bool expected = false;
  if (!wire_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    pending_.insert(pending_.begin(), inflight_.begin(), inflight_.end());
    inflight_.clear();
    writing_ = false;
    --writes_;
    retry_.expires_after(std::chrono::milliseconds(1));
    retry_.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (!ec && !self->writing_) self->start_write();
    });
    return;
  }
  // What the kernel takes now leaves now (as Asio's own first attempt would); the rest,
  // if any, follows asynchronously. Either way the completion runs in a later turn, so
  // that the frames queued meanwhile leave together.
  auto* bytes = static_cast<const char*>(buffer.data());
  std::size_t size = buffer.size();
  auto n = ::send(socket_.native_handle(), bytes, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n == static_cast<ssize_t>(size) || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    std::error_code ec = n < 0 ? std::error_code(errno, std::system_category()) : std::error_code();
    wire_.store(false, std::memory_order_release);
    asio::post(socket_.get_executor(), [done = std::move(done), ec, size]() mutable { done(ec, size); });
    return;
  }
  std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
  asio::async_write(socket_, asio::buffer(bytes + sent, size - sent),
                    [done = std::move(done), self = shared_from_this(), sent](const std::error_code& ec,
                                                                               std::size_t k) mutable {
                      self->wire_.store(false, std::memory_order_release);
                      done(ec, sent + k);
                    });
}

asio::awaitable<void> FrameWriter::drain() {
  auto self = shared_from_this();
  while (writing_ || !pending_.empty()) {
    check();
    co_await idle_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  check();
}

}  // namespace shoal::proto
