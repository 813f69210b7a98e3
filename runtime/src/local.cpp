// local<T>'s bookkeeping. Each thread has a map from local id to slot that only that
// thread changes, so get() reads it without a lock; each local knows its slots so that its
// destructor can free every thread's value. One global mutex orders the rare events that
// touch both sides: a value's creation, a thread's exit, a local's destruction.

#include "shoal/thread/local.hpp"

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

namespace shoal::detail {

struct LocalSlot {
  void* value;
  void (*destroy)(void*) noexcept;
  LocalBase* owner;  // null once the local was destroyed (the slot waits to be swept)
};

struct ThreadLocals {
  // Changed only by its own thread, under the global mutex; read by it without the lock.
  std::unordered_map<std::uint64_t, LocalSlot*> slots;
  ~ThreadLocals() { clear(); }
  void clear() noexcept;
};

namespace {

using Doomed = std::vector<std::pair<void*, void (*)(void*) noexcept>>;

std::mutex& bookkeeping() {
  static auto* mu = [] {
    auto* made = new std::mutex();  // leaked: threads may exit during static destruction
    // In a child process the thread that held the lock at fork() does not exist.
    ::pthread_atfork(nullptr, nullptr, [] { new (&bookkeeping()) std::mutex(); });
    return made;
  }();
  return *mu;
}

std::atomic<std::uint64_t> next_id{1};
thread_local ThreadLocals t_locals;

void destroy_all(Doomed& doomed) noexcept {
  for (auto& [value, destroy] : doomed) destroy(value);
}

}  // namespace

void ThreadLocals::clear() noexcept {
  // A value's destructor may use a local again and make a new value: repeat until none.
  for (;;) {
    Doomed doomed;
    {
      std::lock_guard hold(bookkeeping());
      if (slots.empty()) return;
      for (auto& [id, slot] : slots) {
        if (slot->owner) {
          slot->owner->slots_.erase(slot);
          doomed.emplace_back(slot->value, slot->destroy);
        }
        delete slot;
      }
      slots.clear();
    }
    destroy_all(doomed);
  }
}

LocalBase::LocalBase() : id_(next_id.fetch_add(1, std::memory_order_relaxed)) {}

LocalBase::~LocalBase() {
  Doomed doomed;
  {
    std::lock_guard hold(bookkeeping());
    for (LocalSlot* slot : slots_) {
      doomed.emplace_back(slot->value, slot->destroy);
      slot->owner = nullptr;
      slot->value = nullptr;
    }
    slots_.clear();
  }
  destroy_all(doomed);
}

void* LocalBase::find() const noexcept {
  auto it = t_locals.slots.find(id_);
  return it == t_locals.slots.end() ? nullptr : it->second->value;
}

void LocalBase::emplace(void* value, void (*destroy)(void*) noexcept) {
  try {
    std::lock_guard hold(bookkeeping());
    // Sweep the slots of destroyed locals (their ids never come back).
    for (auto it = t_locals.slots.begin(); it != t_locals.slots.end();) {
      if (!it->second->owner) {
        delete it->second;
        it = t_locals.slots.erase(it);
      } else {
        ++it;
      }
    }
    auto* slot = new LocalSlot{value, destroy, this};
    try {
      slots_.insert(slot);
      t_locals.slots.emplace(id_, slot);
    } catch (...) {
      slots_.erase(slot);
      delete slot;
      throw;
    }
  } catch (...) {
    destroy(value);
    throw;
  }
}

void LocalBase::erase() noexcept {
  void* value = nullptr;
  void (*destroy)(void*) noexcept = nullptr;
  {
    std::lock_guard hold(bookkeeping());
    auto it = t_locals.slots.find(id_);
    if (it == t_locals.slots.end()) return;
    LocalSlot* slot = it->second;
    value = slot->value;
    destroy = slot->destroy;
    slots_.erase(slot);
    t_locals.slots.erase(it);
    delete slot;
  }
  destroy(value);
}

void clear_thread_locals() noexcept { t_locals.clear(); }

}  // namespace shoal::detail
