// The relay between a simulated process's connection and its Link (relay.hpp).

#include "relay.hpp"

#include <capnp/message.h>

#include "shoal/proto/builder.hpp"

namespace shoal::sim {

// The far end of one of the process's connections: what the process writes reaches the
// simulation here, to be relayed over the network to the engine.
struct Relay::Far final : link::ConnectionHandler {
  Relay* relay = nullptr;
  std::uint64_t serial = 0;  // its Link's
  bool dead = false;         // superseded, or its process gone: nothing of it reaches the world
  std::shared_ptr<link::Connection> conn;

  void on_message(schema::Envelope::Reader env, const proto::FrameOwner&) override {
    if (!dead) relay->from_process(*this, env);
  }
  void on_protocol_error(const std::string& why) override {
    if (!dead) relay->w_.violation(relay->owner_.name() + " wrote a frame nobody can read: " + why);
  }
  void on_closed(const std::string& why) override {
    if (!dead) relay->process_closed(*this, why);
  }
};

Relay::Relay(World& w, SimPeer& owner) : w_(w), owner_(owner) {}

Relay::~Relay() { silence(); }

void Relay::silence() {
  for (auto& f : fars_) f->dead = true;
}

std::shared_ptr<link::Connection> Relay::dial(const asio::any_io_executor& ex) {
  if (link_) {
    if (owner_.current == link_->serial) w_.close_after_sent(*link_, owner_.name() + " dialled again");
    link_ = nullptr;
  }
  auto* l = w_.connect(owner_);
  if (!l) return nullptr;  // the coordinator is down: refused, as a socket would be
  link_ = l;
  auto [mine, far] = link::Connection::local_pair(ex);
  auto f = std::make_unique<Far>();
  f->relay = this;
  f->serial = l->serial;
  f->conn = std::move(far);
  f->conn->start(*f);
  fars_.push_back(std::move(f));
  return mine;
}

Relay::Far* Relay::current_far() {
  if (!link_ || owner_.current != link_->serial) return nullptr;
  for (auto& f : fars_)
    if (f->serial == link_->serial && !f->dead) return f.get();
  return nullptr;
}

void Relay::from_process(Far& far, schema::Envelope::Reader env) {
  if (&far != current_far()) return;  // a connection the process no longer has
  if (outbound) outbound(env);
  proto::Builder copy;
  copy.setRoot(env);
  link_->send(copy);
}

void Relay::process_closed(Far& far, const std::string& why) {
  bool live = &far == current_far();
  far.dead = true;
  if (!live) return;
  w_.close_after_sent(*link_, owner_.name() + " closed it: " + why);  // a heartbeat timeout, a refusal, ...
  link_ = nullptr;
}

void Relay::deliver(schema::Envelope::Reader env) {
  auto* far = current_far();
  if (!far) return;
  proto::Builder copy;
  copy.setRoot(env);
  far->conn->send(copy);
}

void Relay::send(capnp::MessageBuilder& msg) {
  if (current_far()) link_->send(msg);
}

void Relay::engine_closed(const std::string& why) {
  if (!link_) return;
  for (auto& f : fars_)
    if (f->serial == link_->serial && !f->dead) {
      f->dead = true;  // the process hears it closed; nothing more goes either way
      f->conn->close(why);
    }
  link_ = nullptr;
}

void Relay::process_gone(const std::string& why) {
  if (link_ && owner_.current == link_->serial) w_.close_after_sent(*link_, why);
  link_ = nullptr;
  silence();
}

}  // namespace shoal::sim
