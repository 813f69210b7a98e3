#include "map_chunk.hpp"

#include <exception>
#include <tuple>
#include <vector>

#include "shoal/codec/codec.hpp"
#include "shoal/codec/error_info.hpp"
#include "shoal/core/error.hpp"
#include "shoal/remote/map.hpp"

namespace shoal::worker {

namespace {

std::vector<Bytes> items_of(codec::Reader& args) {
  auto [items] = codec::decode<std::tuple<std::vector<Bytes>>>(args);
  args.expect_end();
  return std::move(items);
}

}  // namespace

Bytes run_map_chunk(const remote::FunctionEntry& entry, codec::Reader& args, std::uint64_t task_id,
                    const std::stop_token& stop) {
  auto items = items_of(args);
  std::vector<remote::MapOutcome> out(items.size());
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (stop.stop_requested()) throw CancelledError("the map chunk was cancelled");
    try {
      codec::Reader r(items[k]);
      out[k].value = entry.invoke(r);
      r.expect_end();
    } catch (...) {
      out[k].error = codec::describe_error(std::current_exception(), entry.name, task_id);
    }
  }
  return codec::encode(out);
}

Coro<Bytes> run_map_chunk_async(std::shared_ptr<const remote::FunctionEntry> entry, codec::Reader& args,
                                std::uint64_t task_id) {
  // Decoded before the first suspension: `args` lives only until then.
  auto items = items_of(args);
  return [](std::shared_ptr<const remote::FunctionEntry> entry, std::vector<Bytes> items,
            std::uint64_t task_id) -> Coro<Bytes> {
    std::vector<remote::MapOutcome> out(items.size());
    for (std::size_t k = 0; k < items.size(); ++k) {
      std::exception_ptr error;
      try {
        codec::Reader r(items[k]);
        auto call = entry->invoke_async(r);
        r.expect_end();
        out[k].value = co_await std::move(call);
      } catch (const CancelledError&) {
        throw;  // the chunk itself is cancelled
      } catch (...) {
        error = std::current_exception();
      }
      if (error) out[k].error = codec::describe_error(error, entry->name, task_id);
    }
    co_return codec::encode(out);
  }(std::move(entry), std::move(items), task_id);
}

}  // namespace shoal::worker
