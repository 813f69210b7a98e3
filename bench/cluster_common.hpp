#pragma once
// What the cluster benchmarks (cluster.cpp, workloads.cpp) share.

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <thread>

#include "shoal/remote/client.hpp"

namespace shoal::bench {

/// Waits until `n` workers have registered with `client`'s coordinator (within 120 s), so
/// that no clock starts while a cluster is still coming up.
inline void wait_workers(shoal::Client& client, std::size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (client.workers().result().size() < n) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("workers did not register within 120 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace shoal::bench
