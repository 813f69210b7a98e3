// The seed's ProcessPoolExecutor example (python-concurrency-notes.txt):
//
//     from concurrent.futures import ProcessPoolExecutor
//     future = executor.submit(fn, 1, 2, 3)    # future.result, future.exception
//     executor.map(fn, args_list)
//     executor.shutdown()                      # ... or use with/context manager
//
// The workers are this program re-executed, so every SHOAL_REMOTE function exists there.

#include <iostream>
#include <vector>

#include "shoal/cluster/process_pool.hpp"

// CPU-bound: a naive prime count below n.
std::int64_t count_primes(std::int64_t n) {
  std::int64_t count = 0;
  for (std::int64_t k = 2; k < n; ++k) {
    bool prime = true;
    for (std::int64_t d = 2; d * d <= k; ++d)
      if (k % d == 0) {
        prime = false;
        break;
      }
    count += prime;
  }
  return count;
}
SHOAL_REMOTE(count_primes)

std::int64_t checked_sqrt(std::int64_t x) {
  if (x < 0) throw shoal::ValueError("checked_sqrt of a negative number");
  std::int64_t r = 0;
  while ((r + 1) * (r + 1) <= x) ++r;
  return r;
}
SHOAL_REMOTE(checked_sqrt)

int main() {
  shoal::ProcessPoolExecutor executor(2);  // the destructor is the `with` exit

  auto future = executor.submit(&count_primes, 100000);
  std::cout << "primes below 100000: " << future.result() << "\n";

  auto bad = executor.submit(&checked_sqrt, -4);
  try {
    bad.result();
  } catch (const shoal::ValueError& e) {
    std::cout << "future.exception(): " << e.what() << "\n";
  }

  std::vector<std::int64_t> inputs{10, 100, 1000, 10000};
  auto counts = executor.map(&count_primes, inputs).to_vector();
  for (std::size_t i = 0; i < inputs.size(); ++i)
    std::cout << "map: primes below " << inputs[i] << " = " << counts[i] << "\n";

  executor.shutdown();
  std::cout << "shut down\n";
}
