// How a ClientCore connects and closes, in its three modes: over a socket with an I/O
// thread of its own (start), over an in-process link on the coordinator's loop
// (start_local: LocalCluster), over connections its program dials on an executor that
// program polls (start_dialled: the deterministic simulation).

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>

#include <thread>
#include <utility>

#include "client_impl.hpp"
#include "shoal/link/address.hpp"
#include "shoal/remote/client.hpp"

namespace shoal::remote::detail {

void ClientCore::wait_welcome(std::future<void>& welcomed) {
  if (welcomed.wait_for(options_.connect_timeout) != std::future_status::ready) {
    close();
    throw TimeoutError("the coordinator at " + address_text_ + " did not answer within " +
                       std::to_string(options_.connect_timeout.count()) + " ms");
  }
  try {
    welcomed.get();
  } catch (...) {
    close();
    throw;
  }
}

void ClientCore::start() {
  auto& im = *impl_;
  auto addr = link::parse_address(address_text_);
  address_text_ = addr.to_string();
  im.ex = im.io.get_executor();
  im.conn = im.open_connection();
  auto welcomed = im.welcomed.get_future();
  im.work.emplace(im.io.get_executor());
  asio::post(im.io, [this] {
    impl_->conn->start(*impl_);
    impl_->send_hello(options_);
  });
  im.thread = std::thread([this] {
    impl_->thread_id = std::this_thread::get_id();
    impl_->io.run();
  });
  wait_welcome(welcomed);
}

void ClientCore::start_local(LocalLink in_process) {
  auto& im = *impl_;
  im.ex = in_process.executor;
  im.local = true;
  auto welcomed = im.welcomed.get_future();
  auto [ours, theirs] = link::Connection::local_pair(im.ex);
  im.conn = ours;
  im.gate = std::make_shared<LocalGate>();
  im.gate->client = &im;
  in_process.adopt(std::move(theirs));
  asio::post(im.ex, [this] {
    impl_->conn->start(impl_->gate);
    impl_->send_hello(options_);
  });
  wait_welcome(welcomed);
}

void ClientCore::start_dialled(DialledLink dialled) {
  auto& im = *impl_;
  if (!dialled.address.empty()) address_text_ = std::move(dialled.address);
  im.ex = std::move(dialled.executor);
  im.dial = std::move(dialled.dial);
  im.thread_id = std::this_thread::get_id();  // the driving thread: a full window never blocks it
  asio::post(im.ex, [this, &im, a = std::weak_ptr<bool>(im.alive)] {
    if (a.expired()) return;  // the client went before its executor ran this
    {
      std::lock_guard lock(im.mu);
      if (im.closed || im.user_closed) return;
      im.thread_id = std::this_thread::get_id();  // the thread that polls its executor
    }
    try {
      im.conn = im.open_connection();
    } catch (const std::exception& e) {
      return im.lost(e.what());
    }
    im.conn->start(im);
    im.send_hello(options_);
  });
}

bool ClientCore::closed() const {
  std::lock_guard lock(impl_->mu);
  return impl_->closed;
}

void ClientCore::close() noexcept {
  auto& im = *impl_;
  if (im.dial) {
    // On the driving thread, between two polls of its executor: what is queued goes out,
    // then the connection closes; a handler still queued finds the client closed, or gone.
    if (std::exchange(im.dialled_closing, true)) return;
    {
      std::lock_guard lock(im.mu);
      im.user_closed = true;
    }
    if (im.conn) {
      im.flush();
      im.goodbye();
    }
    im.lost("the client was closed");
    if (im.conn) im.conn->abandon();
    return;
  }
  if (im.local) {
    if (im.local_closing.exchange(true)) return;
    // On the coordinator's loop: send what is queued (releases included), close the link,
    // fail what is pending. Inline when called there (from a callback); else posted, and
    // bounded: a stopped coordinator cannot hold us up.
    auto gate = im.gate;
    auto close_there = [gate] {
      std::lock_guard lock(gate->mu);
      auto* client = static_cast<Impl*>(gate->client);
      if (!client) return;
      {
        std::lock_guard lock(client->mu);
        client->user_closed = true;
      }
      client->flush();
      client->goodbye();
      client->lost("the client was closed");
      client->conn->abandon();
      gate->client = nullptr;
    };
    if (gate->loop_thread.load(std::memory_order_relaxed) == std::this_thread::get_id()) return close_there();
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    asio::post(im.ex, [close_there, done] {
      close_there();
      done->set_value();
    });
    if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
      std::lock_guard lock(gate->mu);
      gate->client = nullptr;  // the loop is gone or stuck: late frames go nowhere
    }
    return;
  }
  if (!im.thread.joinable()) return;
  {
    std::lock_guard lock(im.mu);
    im.user_closed = true;  // no reconnecting from here on
    if (!im.closed) {
      // Send what is queued first (releases included), then close.
      im.flush_posted = true;
      asio::post(im.io, [&im] { im.flush(); });
    }
  }
  asio::post(im.io, [&im] {
    im.goodbye();  // its tasks need no grace on the coordinator
    // Bounded: a coordinator that stopped reading cannot hold the close up.
    auto drain = [](std::shared_ptr<link::Connection> c) -> Coro<void> { co_await c->drain(std::chrono::seconds(1)); };
    asio::co_spawn(im.io, drain(im.conn), [&im](std::exception_ptr) {
      im.lost("the client was closed");
      im.conn->abandon();
      im.work.reset();
      im.io.stop();
    });
  });
  if (std::this_thread::get_id() == im.thread_id) {
    im.thread.detach();  // closing from a completion on our own thread: it ends by itself
  } else {
    im.thread.join();
  }
}

}  // namespace shoal::remote::detail
