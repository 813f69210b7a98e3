#pragma once
// The connection a worker's session runs on.

#include <asio/any_io_executor.hpp>

#include <memory>
#include <string>

#include "shoal/link/connection.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/worker/worker.hpp"

namespace shoal::worker {

/// The embedding program's (WorkerOptions::dial), the socket LocalCluster handed over
/// (adopted_fd: used once, then -2), or a new one to opt.coordinator (under `tls` when it
/// is TCP and there is one). Null, with why in `error`, when none can be had now.
[[nodiscard]] std::shared_ptr<link::Connection> open_connection(WorkerOptions& opt, const asio::any_io_executor& ex,
                                                                const std::shared_ptr<link::TlsContext>& tls,
                                                                std::string& error);

}  // namespace shoal::worker
