#pragma once
// This process's resident size, for --max-memory (the worker drains past it).

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

}  // namespace shoal::worker
