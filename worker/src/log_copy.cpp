// LogCopy (log_copy.hpp).

#include "log_copy.hpp"

#include <asio/post.hpp>
#include <capnp/message.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "shoal/proto/builder.hpp"
#include "shoal/link/log.hpp"

namespace shoal::worker {

struct LogCopy::Shared {
  std::mutex mu;
  std::string data;
  std::uint64_t dropped = 0;
  bool open = true;      // false once stop(): no post to the loop after it
  bool pending = false;  // `ready` is posted and take() has not run yet
};

void LogCopy::start(asio::any_io_executor ex, std::function<void()> ready) {
  if (shared_) return;
  shared_ = std::make_shared<Shared>();
  tap_ = link::log::add_tap([s = shared_, ex = std::move(ex), ready = std::move(ready)](std::string_view d) {
    std::lock_guard lock(s->mu);
    if (!s->open) return;
    if (s->data.size() + d.size() > (1u << 20))
      s->dropped += d.size();
    else
      s->data.append(d);
    // Posted under the lock: stop() (before the loop ends) waits for it.
    if (!std::exchange(s->pending, true)) asio::post(ex, ready);
  });
}

void LogCopy::stop() {
  if (tap_) link::log::remove_tap(std::exchange(tap_, 0));
  if (shared_) {
    std::lock_guard lock(shared_->mu);
    shared_->open = false;  // a tap call under way posts nothing now
  }
  shared_.reset();
}

std::string LogCopy::take() {
  if (!shared_) return {};
  std::string data;
  std::uint64_t dropped;
  {
    std::lock_guard lock(shared_->mu);
    data.swap(shared_->data);
    dropped = std::exchange(shared_->dropped, 0);
    shared_->pending = false;
  }
  if (dropped)
    data += "[shoal: " + std::to_string(dropped) + " bytes of this worker's log were not sent: it wrote faster than they left]\n";
  return data;
}

void send_log_lines(link::Connection& conn, const std::string& data) {
  for (std::size_t at = 0; at < data.size(); at += 60'000) {
    proto::Builder msg;
    auto l = msg.initRoot<proto::schema::Envelope>().initLogLines();
    auto n = std::min<std::size_t>(60'000, data.size() - at);
    l.setData(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(data.data() + at), n));
    conn.send(msg);
  }
}

}  // namespace shoal::worker
