#pragma once
// What the cluster benchmarks (cluster.cpp, workloads.cpp) share.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

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

/// The `p` quantile (0 to 1) of `v`.
inline double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

/// `n` sequential blocking round trips of `noop` (an identity on int64): each one's us.
inline std::vector<double> round_trips(shoal::Client& client, int n, std::int64_t (*noop)(std::int64_t)) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (client.submit(noop, i).result() != i) std::abort();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  return us;
}

/// B4's pass: `count` submits of `noop` (an identity on int64), then every result;
/// tasks/s. Aborts when the sum of the results is not the one due.
inline double throughput(shoal::Client& client, int count, std::int64_t (*noop)(std::int64_t)) {
  std::vector<shoal::Future<std::int64_t>> fs;
  fs.reserve(static_cast<std::size_t>(count));
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) fs.push_back(client.submit(noop, i));
  std::int64_t sum = 0;
  for (auto& f : fs) sum += f.result();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (sum != std::int64_t{count} * (count - 1) / 2) std::abort();
  return count / s;
}

}  // namespace shoal::bench
