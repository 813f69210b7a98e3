// libshoal_bench_tasks.so: the task library the standalone workers of bench_daemons load
// (`shoal-worker --load`): `noop`, with the signature bench_daemons submits it with.

#include <cstdint>

#include <shoal/remote/registry.hpp>

std::int64_t noop(std::int64_t x) { return x; }
SHOAL_REMOTE(noop)
