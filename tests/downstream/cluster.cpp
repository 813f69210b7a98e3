// Links shoal::cluster from an installed shoal: a LocalCluster runs a registered function
// in a re-executed worker (child mode comes with the package's -Wl,--wrap=main).
#include <shoal/cluster/local_cluster.hpp>

#include <cstdio>

std::int64_t twice(std::int64_t x) { return 2 * x; }
SHOAL_REMOTE(twice)

int main() {
  shoal::LocalCluster local(1);
  auto v = local.client().submit(&twice, 21).result(std::chrono::seconds(30));
  std::printf("%lld\n", static_cast<long long>(v));
  return v == 42 ? 0 : 1;
}
