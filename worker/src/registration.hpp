#pragma once
// What a worker says of itself. The RegisterWorker message it sends after each welcome:
// its slots, host and pid, every function and actor type it can run, and what it still
// holds from before a reconnect (jobs, actors), for a coordinator that restarted to take
// back. Its heartbeats. And the frames of a forced exit (cancel --force of a task that
// ignores its stop): it drains, the task is cancelled, the task is named as the reason.

#include <cstdint>
#include <vector>

#include "shoal/link/connection.hpp"
#include "shoal/proto/shoal.capnp.h"
#include "shoal/remote/registry.hpp"
#include "shoal/worker/worker.hpp"

namespace shoal::worker {

void fill_registration(proto::schema::RegisterWorker::Builder r, const WorkerOptions& opt,
                       const remote::Registry& registry, const std::vector<std::uint64_t>& held_jobs,
                       const std::vector<std::uint64_t>& live_actors);

/// A heartbeat: the jobs running and started so far (read in that order by the caller),
/// and with `usage` this process's CPU time and resident size (once a period, for the
/// coordinator's metrics).
void fill_heartbeat(proto::schema::Heartbeat::Builder h, std::uint32_t running, std::uint64_t started, bool usage);

/// The forced exit's frames, in the order they go: Shutdown{exit} naming the task, the
/// task's Result{cancelled}, and (after the other results) Crashed{forced}.
void send_forced_exit_notice(link::Connection& conn, std::uint64_t task);
void send_forced_cancel(link::Connection& conn, std::uint64_t task, std::uint32_t attempt);
void send_forced_crash(link::Connection& conn, std::uint64_t task);

}  // namespace shoal::worker
