// Map chunks: the automatic chunk size (remote/map.hpp).

#include "shoal/remote/map.hpp"

#include <algorithm>

namespace shoal::remote {

std::size_t auto_chunksize(std::size_t items, std::size_t slots) noexcept {
  // multiprocessing.Pool.map: chunksize, extra = divmod(len(iterable), len(pool) * 4).
  std::size_t per = std::max<std::size_t>(slots, 1) * 4;
  std::size_t size = items / per + (items % per ? 1 : 0);
  return std::clamp<std::size_t>(size, 1, 256);
}

}  // namespace shoal::remote
