#pragma once
// What every benchmark prints: one JSON object per line, {"id", optional "peer", "unit",
// "samples"}, read by bench/run.py.

#include <cstdio>
#include <string>
#include <vector>

namespace shoal::bench {

inline void print_result(const char* id, const char* peer, const char* unit, const std::vector<double>& samples) {
  std::string list;
  for (double s : samples) list += (list.empty() ? "" : ", ") + std::to_string(s);
  if (peer)
    std::printf("{\"id\": \"%s\", \"peer\": \"%s\", \"unit\": \"%s\", \"samples\": [%s]}\n", id, peer, unit, list.c_str());
  else
    std::printf("{\"id\": \"%s\", \"unit\": \"%s\", \"samples\": [%s]}\n", id, unit, list.c_str());
  std::fflush(stdout);
}

}  // namespace shoal::bench
