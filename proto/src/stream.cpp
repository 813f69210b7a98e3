#include "shoal/proto/stream.hpp"

#include <asio/buffer.hpp>
#include <asio/post.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shoal::proto {

namespace {
// SCM_MAX_FD: the most descriptors one sendmsg may pass.
constexpr std::size_t kMaxFdsPerWrite = 253;
}  // namespace

FrameReader::FrameReader(Socket& socket, FrameLimits limits, std::size_t chunk_bytes)
    : socket_(socket), limits_(limits), chunk_words_(std::max<std::size_t>(chunk_bytes / 8, 16)) {}

FrameReader::~FrameReader() {
  for (int fd : fds_) ::close(fd);
}

int FrameReader::take_fd() noexcept {
  if (fds_.empty()) return -1;
  int fd = fds_.front();
  fds_.pop_front();
  return fd;
}

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
  if (!layer_ && accept_fds_) {
    // recvmsg, to take the descriptors that come with the bytes; tried first, as Asio's
    // own read would, and only then waited for.
    for (;;) {
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerWrite)];
      iovec iov{buffer.data(), buffer.size()};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      auto n = ::recvmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n >= 0) {
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
          std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (std::size_t i = 0; i < k; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds_.push_back(fd);
          }
        }
        if (msg.msg_flags & MSG_CTRUNC)
          throw ProtocolError("the peer passed more descriptors with one write than may travel together");
        if (fds_.size() > max_fds_)
          throw ProtocolError("the peer passed " + std::to_string(fds_.size()) + " descriptors no frame claimed");
        if (n == 0) co_return std::pair{std::error_code(asio::error::eof), std::size_t{0}};
        co_return std::pair{std::error_code(), static_cast<std::size_t>(n)};
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        co_return std::pair{std::error_code(errno, std::system_category()), std::size_t{0}};
      auto [ec] = co_await socket_.async_wait(asio::socket_base::wait_read,
                                              asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return std::pair{ec, std::size_t{0}};
    }
  }
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
    bytes_read_ += n;
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

void FrameWriter::send_with_fd(capnp::MessageBuilder& message, int fd, std::shared_ptr<const void> keep) {
  check();
  fds_.push_back({pending_.size(), fd, std::move(keep)});
  append_frame(message, pending_);
  ++frames_;
  if (!writing_) start_write();
}

void FrameWriter::release() {
  if (holds_ && --holds_) return;
  if (!writing_) start_write();
}

void FrameWriter::start_write() {
  if (holds_) return;
  if (pending_.empty()) {
    idle_.cancel();  // wake drain() waiters
    return;
  }
  std::shared_ptr<const void> owner = owner_.lock();
  if (owned_ && !owner) {
    pending_.clear();  // the socket's owner is gone: so is the socket
    fds_.clear();
    idle_.cancel();
    return;
  }
  // Descriptors to pass: this write carries the frames up to the first one it has no
  // room for (a sendmsg passes at most kMaxFdsPerWrite).
  std::size_t cut = pending_.size(), nfds = 0;
  if (!fds_.empty() && !layer_) {
    nfds = std::min(fds_.size(), kMaxFdsPerWrite);
    if (nfds < fds_.size()) cut = fds_[nfds].at;
  }
  if (cut == pending_.size()) {
    inflight_.swap(pending_);
    pending_.clear();
  } else {
    inflight_.assign(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(cut));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(cut));
  }
  writing_ = true;
  ++writes_;
  auto done = [self = shared_from_this(), owner](const std::error_code& ec, std::size_t n) {
    self->bytes_written_ += n;
    self->writing_ = false;
    self->inflight_sent_ = false;
    self->inflight_.clear();
    if (ec) {
      self->error_ = ec;
      self->pending_.clear();
      self->fds_.clear();
      self->idle_.cancel();
      if (self->on_error_) self->on_error_(ec);
      return;
    }
    self->start_write();
    if (self->on_written_) self->on_written_();
  };
  auto buffer = asio::buffer(inflight_.data(), inflight_.size() * 8);
  if (layer_) return layer_->async_write(buffer, std::move(done));  // never shared: see wire_flag()
  // Puts what this write took back in front of pending_ (it did not leave).
  // (The descriptors' positions still count from its start.)
  auto put_back = [this] {
    pending_.insert(pending_.begin(), inflight_.begin(), inflight_.end());
    inflight_.clear();
    writing_ = false;
    --writes_;
  };
  // The socket is claimed for the bytes' time on the wire, not just set busy: another
  // thread may hold it for a frame of its own (wire_flag). Then try again shortly.
  bool expected = false;
  if (!wire_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    put_back();
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
  ssize_t n;
  if (nfds == 0) {
    n = ::send(socket_.native_handle(), bytes, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  } else {
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerWrite)] = {};
    iovec iov{const_cast<char*>(bytes), size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    for (std::size_t i = 0; i < nfds; ++i) std::memcpy(CMSG_DATA(c) + i * sizeof(int), &fds_[i].fd, sizeof(int));
    n = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == ETOOMANYREFS) {
      // Too many descriptors in flight for this user (the peer has not read them yet):
      // nothing left; try again shortly, as for a claimed socket.
      wire_.store(false, std::memory_order_release);
      put_back();
      retry_.expires_after(std::chrono::milliseconds(1));
      retry_.async_wait([self = shared_from_this()](const std::error_code& ec) {
        if (!ec && !self->writing_) self->start_write();
      });
      return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      // Not a byte left, so neither did the descriptors: wait until the socket takes
      // more, and send them with the bytes then.
      wire_.store(false, std::memory_order_release);
      put_back();
      writing_ = true;
      socket_.async_wait(asio::socket_base::wait_write, [self = shared_from_this(), owner](const std::error_code& ec) {
        self->writing_ = false;
        if (ec == asio::error::operation_aborted) return;
        self->start_write();
      });
      return;
    }
    // Sent (they went with the first byte) or failed for good: either way they are done.
    for (std::size_t i = 0; i < nfds; ++i) fds_.pop_front();
    for (auto& f : fds_) f.at -= cut;
  }
  if (n == static_cast<ssize_t>(size) || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    std::error_code ec = n < 0 ? std::error_code(errno, std::system_category()) : std::error_code();
    inflight_sent_ = !ec;
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

void FrameWriter::try_flush() noexcept {
  if (layer_ || holds_ || pending_.empty() || error_ || !fds_.empty()) return;
  if (writing_ && !inflight_sent_) return;  // bytes of an earlier frame are still on their way
  bool expected = false;
  if (!wire_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return;
  auto n = ::send(socket_.native_handle(), pending_.data(), pending_.size() * 8, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n > 0) bytes_written_ += static_cast<std::uint64_t>(n);
  wire_.store(false, std::memory_order_release);
  pending_.clear();
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
