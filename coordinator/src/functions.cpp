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
    by_name_[std::string(name)].push_back(it->second);
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
  const auto* g = live_conflict(functions_[i].name, functions_[i].hash);
  return g ? g->signature : std::string();
}

const FunctionRecord* FunctionTable::live_conflict(std::string_view name, std::uint64_t hash) const {
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return nullptr;
  for (auto i : it->second)
    if (const auto& g = functions_[i]; g.hash != hash && !g.workers.empty()) return &g;
  return nullptr;
}

}  // namespace shoal::coordinator
