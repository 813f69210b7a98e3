#pragma once
// Placements: the placement requests tasks make, interned (a task carries an index; the
// scheduler groups tasks by function and request), resource names interned likewise, and
// the label rules. Amounts are fixed-point units (1/10000), so that what is reserved
// and freed adds up exactly.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shoal/link/placement.hpp"

namespace shoal::coordinator {

using Units = std::int64_t;

/// A worker's labels ("zone" -> "a"), sorted by key.
using Labels = std::vector<std::pair<std::string, std::string>>;

/// One interned request.
struct Request {
  std::vector<std::pair<std::uint32_t, Units>> needs;  // resource index -> units, by index
  std::vector<link::LabelTerm> required, preferred;
  Strategy strategy = Strategy::spread;
  std::int32_t priority = 0;
  link::Placement spec;  // as asked
  std::string key;       // link::placement_key(spec): what the journal keeps

  /// Asks for no resource and no label: any worker with room will do.
  [[nodiscard]] bool open() const noexcept { return needs.empty() && required.empty() && preferred.empty(); }
};

/// Whether a worker with `labels` satisfies `term` ("k=v": has it; "k!=v": has not).
[[nodiscard]] bool matches(const link::LabelTerm& term, const Labels& labels);
[[nodiscard]] bool matches_all(const std::vector<link::LabelTerm>& terms, const Labels& labels);
/// "zone=a, disk=ssd".
[[nodiscard]] std::string format_labels(const Labels& labels);

class Placements {
 public:
  /// The most distinct requests kept (each with its class per function): past it, a new
  /// one is refused (a client making one per task would grow the coordinator).
  static constexpr std::size_t kMaxRequests = 1u << 16;
  static constexpr std::size_t kMaxResourceNames = 1024;
  /// Of those, how many may come from requests alone (named by no worker): a client cannot
  /// fill the table that workers' registrations need.
  static constexpr std::size_t kMaxRequestedNames = 256;

  Placements();

  /// The index of a resource name, made on first sight: `offered` by a worker, or asked
  /// for by a request (ValueError past kMaxResourceNames, or kMaxRequestedNames for names
  /// only requests have used).
  std::uint32_t resource(std::string_view name, bool offered = true);
  [[nodiscard]] const std::string& resource_name(std::uint32_t i) const { return names_[i]; }
  [[nodiscard]] std::uint32_t resource_count() const noexcept { return static_cast<std::uint32_t>(names_.size()); }

  /// The index of request `p` (0: asks nothing). ValueError when `p` is not valid, or
  /// Overloaded-style ValueError past kMaxRequests.
  std::uint32_t intern(const link::Placement& p);
  [[nodiscard]] const Request& operator[](std::uint32_t i) const { return requests_[i]; }

  /// Amounts by resource index (interning the names), and back.
  [[nodiscard]] std::vector<Units> units(const Resources& r);
  [[nodiscard]] Resources amounts(const std::vector<Units>& u) const;
  /// "gpu=1 memory=4G" for these needs.
  [[nodiscard]] std::string describe_needs(const std::vector<std::pair<std::uint32_t, Units>>& needs) const;

 private:
  std::vector<std::string> names_;
  std::vector<bool> offered_;     // by name index: a worker offered it
  std::size_t requested_only_ = 0;
  std::unordered_map<std::string, std::uint32_t> by_name_;
  std::vector<Request> requests_;
  std::unordered_map<std::string, std::uint32_t> by_key_;
};

}  // namespace shoal::coordinator
