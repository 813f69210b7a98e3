#include "placement.hpp"

#include <algorithm>

#include "shoal/core/error.hpp"

namespace shoal::coordinator {

bool matches(const link::LabelTerm& term, const Labels& labels) {
  auto it = std::lower_bound(labels.begin(), labels.end(), term.key,
                             [](const auto& kv, const std::string& k) { return kv.first < k; });
  bool has = it != labels.end() && it->first == term.key && it->second == term.value;
  return term.negate ? !has : has;
}

bool matches_all(const std::vector<link::LabelTerm>& terms, const Labels& labels) {
  return std::all_of(terms.begin(), terms.end(), [&](const auto& t) { return matches(t, labels); });
}

std::string format_labels(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ", ") + k + "=" + v;
  return out;
}

Placements::Placements() {
  requests_.emplace_back();
  by_key_.emplace("", 0);
}

std::uint32_t Placements::resource(std::string_view name, bool offered) {
  if (auto it = by_name_.find(std::string(name)); it != by_name_.end()) {
    if (offered && !offered_[it->second]) {
      offered_[it->second] = true;
      --requested_only_;
    }
    return it->second;
  }
  if (names_.size() >= kMaxResourceNames)
    throw ValueError("more than " + std::to_string(kMaxResourceNames) + " resource names in this cluster");
  if (!offered && requested_only_ >= kMaxRequestedNames)
    throw ValueError("resource '" + std::string(name) + "': more than " + std::to_string(kMaxRequestedNames) +
                     " resource names that no worker offers have been asked for");
  requested_only_ += !offered;
  offered_.push_back(offered);
  names_.emplace_back(name);
  by_name_.emplace(std::string(name), static_cast<std::uint32_t>(names_.size() - 1));
  return static_cast<std::uint32_t>(names_.size() - 1);
}

std::uint32_t Placements::intern(const link::Placement& p) {
  link::check_placement(p);
  auto key = link::placement_key(p);
  if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
  if (requests_.size() >= kMaxRequests)
    throw ValueError("more than " + std::to_string(kMaxRequests) +
                     " distinct placement requests (resources, labels, priorities): use fewer distinct ones");
  // Read back from the key, so that equal keys make equal requests (order, duplicates, zeros).
  Request r;
  r.spec = link::parse_placement_key(key);
  r.key = key;
  for (const auto& [name, amount] : r.spec.resources)
    if (auto u = link::resource_units(amount)) r.needs.emplace_back(resource(name, /*offered=*/false), u);
  std::sort(r.needs.begin(), r.needs.end());
  for (const auto& t : r.spec.labels.required) r.required.push_back(link::split_term(t));
  for (const auto& t : r.spec.labels.preferred) r.preferred.push_back(link::split_term(t));
  r.strategy = r.spec.strategy;
  r.priority = r.spec.priority;
  requests_.push_back(std::move(r));
  auto index = static_cast<std::uint32_t>(requests_.size() - 1);
  by_key_.emplace(std::move(key), index);
  return index;
}

std::vector<Units> Placements::units(const Resources& r) {
  std::vector<Units> out;
  for (const auto& [name, amount] : r) {
    auto i = resource(name);
    if (out.size() <= i) out.resize(i + 1);
    out[i] = link::resource_units(amount);
  }
  return out;
}

Resources Placements::amounts(const std::vector<Units>& u) const {
  Resources out;
  for (std::uint32_t i = 0; i < u.size(); ++i)
    if (u[i]) out[names_[i]] = link::resource_amount(u[i]);
  return out;
}

std::string Placements::describe_needs(const std::vector<std::pair<std::uint32_t, Units>>& needs) const {
  std::string out;
  for (auto [i, u] : needs)
    out += (out.empty() ? "" : " ") + names_[i] + "=" + link::format_amount(names_[i], link::resource_amount(u));
  return out;
}

}  // namespace shoal::coordinator
