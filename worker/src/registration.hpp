#pragma once
// The RegisterWorker message a worker sends after each welcome: its slots, host and pid,
// every function and actor type it can run, and what it still holds from before a
// reconnect (jobs, actors), for a coordinator that restarted to take back.

#include <cstdint>
#include <vector>

#include "shoal/proto/shoal.capnp.h"
#include "shoal/remote/registry.hpp"
#include "shoal/worker/worker.hpp"

namespace shoal::worker {

void fill_registration(proto::schema::RegisterWorker::Builder r, const WorkerOptions& opt,
                       const remote::Registry& registry, const std::vector<std::uint64_t>& held_jobs,
                       const std::vector<std::uint64_t>& live_actors);

}  // namespace shoal::worker
