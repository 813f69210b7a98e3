#pragma once
/// \file
/// Map over a cluster in chunks (Python's Executor.map(fn, *iterables, timeout, chunksize)):
/// a chunk is one task of `fn` whose worker calls it once per item, in order, and answers
/// each item's outcome on its own, so that the items before a failing one are delivered
/// and the failure surfaces at its item. Client::map and ProcessPoolExecutor::map use it.
///
/// On the wire a chunk is a Submit of `fn` with method "map" (kMapMethod) whose argument
/// tuple is one list of encoded argument tuples; its result is a list of MapOutcome.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "shoal/codec/codec.hpp"
#include "shoal/codec/error_info.hpp"
#include "shoal/core/future.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/remote/errors.hpp"
#include "shoal/remote/options.hpp"

namespace shoal {

/// How a map runs.
struct MapOptions {
  /// Items per task. 0: automatic, multiprocessing's rule (about four chunks per worker
  /// thread, at most 256 items each, 1 for a short list): few round trips for many small
  /// calls, and still every thread busy. 1 is Python's ProcessPoolExecutor default.
  std::size_t chunksize = 0;
  /// The whole map's: TimeoutError at the first item not ready this long after the call.
  std::optional<std::chrono::nanoseconds> timeout{};
  /// Each chunk's task options (timeout, retries, placement, ...).
  TaskOptions task{};
};

namespace remote {

/// The method that makes a plain task a chunk of a map.
inline constexpr std::string_view kMapMethod = link::kMapMethod;

/// One item's outcome in a chunk: its encoded value, or its error.
struct MapOutcome {
  Bytes value;
  std::optional<codec::RemoteErrorInfo> error;
  friend bool operator==(const MapOutcome&, const MapOutcome&) = default;
};
SHOAL_FIELDS(MapOutcome, value, error)

/// multiprocessing.Pool's rule for `items` over `slots` threads: about four chunks per
/// thread, capped at 256 items per chunk; at least 1.
[[nodiscard]] std::size_t auto_chunksize(std::size_t items, std::size_t slots) noexcept;

namespace detail {

/// What the items of one chunk share to cancel it: a cancel of any item asks the
/// coordinator once to cancel the chunk's task (its items then end cancelled together).
struct ChunkCancel {
  std::function<void()> cancel_task;
  std::atomic<bool> asked{false};
  void request() {
    if (!asked.exchange(true)) cancel_task();
  }
};

/// The state behind one item's future.
template <typename T>
class MapItem final : public shoal::detail::State<T> {
 public:
  explicit MapItem(std::shared_ptr<ChunkCancel> c) : chunk_(std::move(c)) {}
  bool cancel() override {
    if (this->done()) return false;
    chunk_->request();
    return true;
  }
  [[nodiscard]] bool is_task() const noexcept override { return true; }

 private:
  std::shared_ptr<ChunkCancel> chunk_;
};

/// Completes each item of a chunk from the chunk's outcome: its value decoded as T, its
/// error as the exception it was (make_remote_exception), or the chunk's own failure or
/// cancellation for all.
template <typename T>
void complete_items(std::vector<shoal::detail::Ref<MapItem<T>>>& items, Future<std::vector<MapOutcome>>& chunk) {
  std::exception_ptr all;
  if (chunk.cancelled()) {
    for (auto& i : items) i->try_set_cancelled();
    return;
  }
  all = chunk.exception();
  const std::vector<MapOutcome>* outcomes = all ? nullptr : &chunk.result();
  if (outcomes && outcomes->size() != items.size())
    all = std::make_exception_ptr(ProtocolError("a map chunk of " + std::to_string(items.size()) + " items answered " +
                                                std::to_string(outcomes->size())));
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (all) {
      items[k]->try_set_exception(all);
      continue;
    }
    const auto& o = (*outcomes)[k];
    try {
      if (o.error) std::rethrow_exception(make_remote_exception(*o.error));
      if constexpr (std::is_void_v<T>)
        items[k]->try_set_value();
      else
        items[k]->try_set_value(codec::decode<T>(o.value));
    } catch (...) {
      items[k]->try_set_exception(std::current_exception());
    }
  }
}

}  // namespace detail
}  // namespace remote
}  // namespace shoal
