#pragma once
// This process's resident size, for --max-memory (the worker drains past it), and its
// CPU time: both reported in heartbeats for the coordinator's metrics.

#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>

namespace shoal::worker {

/// Resident bytes (/proc/self/statm; 0 when it cannot be read).
inline std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

/// This process's CPU time, user and system, in ns.
inline std::uint64_t process_cpu_ns() {
  timespec ts{};
  if (::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace shoal::worker
