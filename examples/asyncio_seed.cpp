// The seed's asyncio example, in C++: three tasks sleep concurrently; gather_settled
// collects their results (Python's gather(..., return_exceptions=True)).
#include <chrono>
#include <cstdio>
#include <vector>

#include <shoal/shoal.hpp>

using namespace std::chrono_literals;

shoal::Coro<int> task_fn(std::chrono::milliseconds interval, int count) {
  std::printf("Task started. Count= %d\n", count);
  co_await shoal::sleep(interval);  // not std::this_thread::sleep_for: that would block the loop
  std::printf("Task ended. Count= %d\n", count);
  co_return count;
}

shoal::Coro<void> amain() {
  const std::vector<std::chrono::milliseconds> intervals{1250ms, 1300ms, 1200ms};
  auto start = std::chrono::steady_clock::now();

  std::vector<shoal::Coro<int>> coros;
  for (int count = 0; count < static_cast<int>(intervals.size()); ++count)
    coros.push_back(task_fn(intervals[count], count));
  auto results = co_await shoal::gather_settled(std::move(coros));

  std::printf("[");
  for (std::size_t i = 0; i < results.size(); ++i)
    std::printf("%s%d", i ? ", " : "", results[i].value());
  std::printf("]\n");
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("All done %.3f\n", took.count());
}

int main() { shoal::run(amain()); }
