#pragma once
// A chunk of a map (remote/map.hpp) on a worker: the function called once per item, in
// order, each item's value or error answered on its own.

#include <stop_token>
#include <string>

#include "shoal/codec/bytes.hpp"
#include "shoal/codec/wire.hpp"
#include "shoal/core/coro.hpp"
#include "shoal/remote/entries.hpp"

namespace shoal::worker {

/// A plain function over the chunk's items, on this thread. Stops between items once
/// `stop` is requested (CancelledError). DecodeError for a malformed chunk.
Bytes run_map_chunk(const remote::FunctionEntry& entry, codec::Reader& args, std::uint64_t task_id,
                    const std::stop_token& stop);
/// A coroutine function over the chunk's items, one after another.
Coro<Bytes> run_map_chunk_async(std::shared_ptr<const remote::FunctionEntry> entry, codec::Reader& args,
                                std::uint64_t task_id);

}  // namespace shoal::worker
