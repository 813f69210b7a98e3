#include "functions.hpp"

#include <algorithm>

namespace shoal::coordinator {

std::uint32_t FunctionTable::intern(std::string_view name, std::uint64_t hash) {
  std::string key;
  key.reserve(name.size() + 1 + sizeof hash);
  key.append(name);
  key.push_back('#');
  key.append(reinterpret_cast<const char*>(&hash), sizeof hash);
  auto [it, fresh] = index_.try_emplace(std::move(key), size());
  if (fresh) {
    FunctionRecord f;
    f.name = std::string(name);
    f.hash = hash;
    functions_.push_back(std::move(f));
  }
  return it->second;
}

std::uint32_t FunctionTable::intern(std::string_view name, std::uint64_t hash, Cache& cache) {
  if (cache.hash == hash && cache.index < size() && functions_[cache.index].hash == hash &&
      functions_[cache.index].name == name)
    return cache.index;
  cache.index = intern(name, hash);
  cache.hash = hash;
  return cache.index;
}

void FunctionTable::remove_worker(std::uint64_t id) {
  for (auto& f : functions_) std::erase(f.workers, id);
}

std::string FunctionTable::other_signature(std::uint32_t i) const {
  const auto& f = functions_[i];
  std::string other;
  for (const auto& g : functions_)
    if (g.name == f.name && g.hash != f.hash && !g.workers.empty()) other = g.signature;
  return other;
}

}  // namespace shoal::coordinator
