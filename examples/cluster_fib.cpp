// The README's "Across processes" program: functions registered once, run in worker
// processes (this program re-executed), futures as dependencies, then the same function
// through a ProcessPoolExecutor.

#include <cstdio>
#include <vector>

#include <shoal/cluster/local_cluster.hpp>
#include <shoal/cluster/process_pool.hpp>

std::int64_t fib(std::int64_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
SHOAL_REMOTE(fib)  // name "fib", signature "int64(int64)"

std::int64_t add(std::int64_t a, std::int64_t b) { return a + b; }
SHOAL_REMOTE(add)

int main() {
  shoal::LocalCluster local(2);              // a coordinator thread + 2 worker processes
  auto& client = local.client();
  auto a = client.submit(&fib, 30);          // shoal::Future<std::int64_t>, as a pool's
  auto b = client.submit(&fib, 31);
  auto c = client.submit(&add, a, b);        // futures as arguments: dependencies
  std::printf("fib(32) = %lld\n", static_cast<long long>(c.result()));  // or co_await c.wait()

  shoal::ProcessPoolExecutor pool(2);        // Python's ProcessPoolExecutor
  for (auto v : pool.map(&fib, std::vector<std::int64_t>{20, 21, 22})) std::printf("%lld\n", static_cast<long long>(v));
}
