// B1: spawn + await of trivial coroutine tasks: create_task N times, then gather them.
// Prints {"id": "B1", "unit": "ns/task", "samples": [...]} (one sample per round).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <shoal/shoal.hpp>

#include "common.hpp"

#ifndef B1_ID
#define B1_ID "B1"
#endif

namespace {

shoal::Coro<int> trivial(int i) { co_return i; }

shoal::Coro<double> round_ns_per_task(int n) {
  auto start = std::chrono::steady_clock::now();
  std::vector<shoal::Task<int>> tasks;
  tasks.reserve(n);
  for (int i = 0; i < n; ++i) tasks.push_back(shoal::create_task(trivial(i)));
  auto results = co_await shoal::gather(std::move(tasks));
  std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  if (static_cast<int>(results.size()) != n || results.back() != n - 1) std::abort();
  co_return took.count() / n;
}

shoal::Coro<std::vector<double>> all_rounds(int n, int rounds) {
  std::vector<double> samples;
  co_await round_ns_per_task(n);  // warm-up: allocator caches, page faults
  for (int r = 0; r < rounds; ++r) samples.push_back(co_await round_ns_per_task(n));
  co_return samples;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 200000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  auto samples = shoal::run(all_rounds(n, rounds));
  shoal::bench::print_result(B1_ID, nullptr, "ns/task", samples);
}
