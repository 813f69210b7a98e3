#pragma once
// What the simulated cluster runs: the function `sim.work` and the actor `SimCounter`,
// registered in a registry of the simulation's own. Both are coroutines: they run on their
// worker's loop and wait on the virtual clock (a thread pool's timing would be the
// machine's). A task's behaviour rides in its first argument (TaskSpec, peers.hpp); its
// dependencies' values come as its other two arguments, and the value it returns mixes
// them with its own, so that a value lost, doubled or put in the wrong place shows.

#include <cstdint>
#include <string>

#include "shoal/codec/bytes.hpp"
#include "shoal/remote/registry.hpp"

namespace shoal::sim {

struct TaskSpec;

/// What a task of behaviour `throws` throws: the type its result names.
inline constexpr const char* kSimErrorType = "shoal::sim::SimError";
inline constexpr const char* kActorClass = "SimCounter";

/// The registry every simulated worker registers.
[[nodiscard]] remote::Registry& registry();
/// The signature hashes a client submits with.
[[nodiscard]] std::uint64_t work_hash();
[[nodiscard]] std::uint64_t actor_hash();
[[nodiscard]] std::uint64_t method_hash();

/// A call's encoded arguments: the spec, then a future_ref for each of `deps` (up to two)
/// and 0 in place of the rest.
[[nodiscard]] Bytes call_args(const TaskSpec& spec, std::size_t deps);
/// An actor's constructor arguments (none).
[[nodiscard]] Bytes create_args();
/// A returned value's decoding; false when `data` is not one encoded uint64.
[[nodiscard]] bool decode_value(const void* data, std::size_t size, std::uint64_t& out);

class SimWorker;
/// The worker whose loop runs now (set while the world polls it), or null.
[[nodiscard]] SimWorker* running_worker() noexcept;
void set_running_worker(SimWorker* w) noexcept;

}  // namespace shoal::sim
