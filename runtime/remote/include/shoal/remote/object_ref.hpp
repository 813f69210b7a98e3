#pragma once
/// \file
/// ObjectRef: a value put once in the cluster's object store (Client::put) and passed to
/// any number of tasks, Ray's `ray.put` / `ray.get`:
///
///     auto ref = client.put(big_array);                // encoded once, stored once
///     for (...) fs.push_back(client.submit(&work, ref, i));  // each task reads it in place
///     auto again = client.get(ref);                    // or ref.get()
///
/// On one host the tasks map the one shared-memory copy (no byte is sent again); between
/// hosts it streams to each worker that needs it. The store frees it once no ObjectRef of
/// it is left and no task waiting for it needs it. A store past --object-store-memory
/// refuses it: the ref fails with ObjectStoreFull (and so do tasks given it).

#include <chrono>
#include <cstdint>
#include <memory>

#include "shoal/codec/codec.hpp"
#include "shoal/core/future.hpp"

namespace shoal {

class Client;

namespace remote::detail {

class ClientCore;

/// What a remote future's state knows of its task (found with dynamic_cast).
class RemoteCallInfo {
 public:
  virtual ~RemoteCallInfo() = default;
  std::uint64_t task_id = 0;
  std::weak_ptr<ClientCore> core;
  bool owned = true;  ///< submitted here (release it when dropped); false for subscriptions
};

/// A remote call's state as the client engine takes it: the future's state, and what it
/// knows of its task, both from one pointer to a type that is both (RemoteCall, PutCall):
/// no cross-cast per submit (one cost ~500 instructions).
struct CallRef {
  template <typename S>
  CallRef(const shoal::detail::Ref<S>& s) noexcept : state(s), info(s.get()) {}  // NOLINT(google-explicit-constructor)
  shoal::detail::Ref<shoal::detail::StateBase> state;
  RemoteCallInfo* info;
};

/// Tells the coordinator nobody here holds task `id` any more (ClientCore::release).
void release_task(const std::weak_ptr<ClientCore>& core, std::uint64_t id) noexcept;

/// The state behind an ObjectRef<T>: done with the value this client put, once the store
/// has it (the coordinator's answer carries no copy back).
template <typename T>
class PutCall final : public shoal::detail::State<T>, public RemoteCallInfo {
 public:
  Bytes kept;  ///< the encoded value, until the store's answer
  [[nodiscard]] bool is_task() const noexcept override { return true; }
  ~PutCall() override {
    if (owned) release_task(core, task_id);
  }
  static void complete(shoal::detail::StateBase* base, const Bytes& value) {
    auto* self = static_cast<PutCall*>(base);
    Bytes encoded = std::move(self->kept);
    try {
      // An empty answer to our own put: the value is ours. A subscriber's has the value.
      self->try_set_value(codec::decode<T>(value.empty() ? encoded : value));
    } catch (...) {
      self->try_set_exception(std::current_exception());
    }
  }
};

}  // namespace remote::detail

template <typename T>
class ObjectRef {
 public:
  ObjectRef() = default;
  /// The object's id in the store (a task id: `shoal result ID` reads it too).
  [[nodiscard]] std::uint64_t id() const noexcept {
    auto* info = dynamic_cast<remote::detail::RemoteCallInfo*>(f_.state());
    return info ? info->task_id : 0;
  }
  /// Done once the store holds it (its value), or failed (ObjectStoreFull, ConnectionError).
  [[nodiscard]] const Future<T>& future() const noexcept { return f_; }
  /// The value, once the store has answered. Blocks: from a coroutine, co_await future().wait().
  [[nodiscard]] decltype(auto) get() const { return f_.result(); }
  template <typename Rep, typename Period>
  [[nodiscard]] decltype(auto) get(std::chrono::duration<Rep, Period> timeout) const {
    return f_.result(timeout);
  }
  [[nodiscard]] explicit operator bool() const noexcept { return f_.state() != nullptr; }

 private:
  friend class Client;
  explicit ObjectRef(Future<T> f) : f_(std::move(f)) {}
  Future<T> f_;
};

namespace remote::detail {
template <typename T>
struct is_object_ref : std::false_type {};
template <typename T>
struct is_object_ref<ObjectRef<T>> : std::true_type {};
}  // namespace remote::detail

}  // namespace shoal
