#pragma once
/// \file
/// Actor<A>: a handle on an actor living in a worker (Client::spawn, Client::get_actor).
/// Included by shoal/remote/client.hpp.

#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "shoal/remote/client.hpp"

namespace shoal {

/// A handle on an actor living in a worker. Copies share it; when the last goes, the
/// actor is destroyed after the calls already sent.
template <typename A>
class Actor {
 public:
  /// Calls `method` on the actor: calls run one at a time, in the order they were made.
  template <typename R, typename... P, typename... Args>
  auto call(R (A::*method)(P...), Args&&... args) {
    return call_impl<R, P...>(method, std::forward<Args>(args)...);
  }
  template <typename R, typename... P, typename... Args>
  auto call(R (A::*method)(P...) const, Args&&... args) {
    return call_impl<R, P...>(method, std::forward<Args>(args)...);
  }
  /// Completes when the actor was constructed (fails with what the constructor threw).
  [[nodiscard]] const Future<void>& ready() const noexcept { return handle_->ready; }
  [[nodiscard]] std::uint64_t id() const noexcept { return handle_->id; }

 private:
  friend class Client;
  struct Handle {
    std::uint64_t id = 0;
    std::weak_ptr<remote::detail::ClientCore> core;
    std::shared_ptr<const remote::ActorEntry> type;
    Future<void> ready;
    bool owned = true;  // spawned here: the last handle's end releases it (get_actor's do not)
    Handle(Future<void> r) : ready(std::move(r)) {}
    ~Handle() {
      if (owned)
        if (auto c = core.lock()) c->release_actor(id);
    }
  };

  template <typename R, typename... P, typename M, typename... Args>
  auto call_impl(M method, Args&&... args) {
    static_assert(sizeof...(P) == sizeof...(Args), "call: wrong number of arguments for this method");
    const auto* m = handle_->type->find_method(method);
    if (!m) throw NotRegistered(handle_->type->name + ".<method>", "the actor's SHOAL_ACTOR list");
    using T = typename remote::detail::coro_traits<R>::value;
    auto core = handle_->core.lock();
    if (!core) throw ConnectionError("the client this actor was spawned from is closed");
    std::vector<std::uint64_t> deps;
    Bytes encoded = Client::encode_args<std::decay_t<P>...>(deps, std::forward<Args>(args)...);
    auto state = shoal::detail::Ref<remote::detail::RemoteCall<T>>::adopt(new remote::detail::RemoteCall<T>());
    state->task_id = core->next_id();
    state->core = core;
    core->submit(state, &remote::detail::RemoteCall<T>::complete,
                         handle_->type->name + "." + m->name, m->signature_hash, std::move(encoded), std::move(deps),
                         TaskOptions{}, handle_->id, m->name);
    return Future<T>::from_state(std::move(state));
  }

  std::shared_ptr<Handle> handle_;
};

template <typename A, typename... Args>
Actor<A> Client::spawn_placed(const ActorOptions& options, Args&&... args) {
  auto type = remote::Registry::global().find_actor<A>();
  if (!type) throw NotRegistered("the actor type passed to Client::spawn", "this process (register it with SHOAL_ACTOR)");
  auto ready = shoal::detail::Ref<remote::detail::RemoteCall<void>>::adopt(new remote::detail::RemoteCall<void>());
  ready->task_id = core_->next_id();
  ready->core = core_;
  std::uint64_t actor_id = core_->next_id();
  Actor<A> actor;
  actor.handle_ = std::make_shared<typename Actor<A>::Handle>(Future<void>::from_state(ready));
  actor.handle_->id = actor_id;
  actor.handle_->core = core_;
  actor.handle_->type = type;
  Bytes encoded = codec::encode(std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...));
  core_->actor_create(actor_id, type, std::move(encoded), ready,
                      &remote::detail::RemoteCall<void>::complete, options);
  return actor;
}

template <typename A>
Actor<A> Client::get_actor(const std::string& name, std::chrono::milliseconds timeout) {
  auto type = remote::Registry::global().find_actor<A>();
  if (!type) throw NotRegistered("the actor type passed to Client::get_actor", "this process (register it with SHOAL_ACTOR)");
  auto found = core_->find_actor(name).result(timeout).actor;
  if (found.id == 0) throw ValueError(found.error.empty() ? "no live actor is named '" + name + "'" : found.error);
  if (found.class_name != type->name || found.constructor_hash != type->constructor_hash)
    throw TypeMismatch("the actor named '" + name + "' is a " + found.class_name +
                       (found.class_name == type->name ? " built with another constructor" : std::string()) + ", not a " +
                       type->name + " as this program has it");
  Promise<void> ready;
  ready.set_result();
  Actor<A> actor;
  actor.handle_ = std::make_shared<typename Actor<A>::Handle>(ready.get_future());
  actor.handle_->id = found.id;
  actor.handle_->core = core_;
  actor.handle_->type = type;
  actor.handle_->owned = false;
  return actor;
}

}  // namespace shoal
