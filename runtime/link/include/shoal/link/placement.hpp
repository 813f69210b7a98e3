#pragma once
/// \file
/// Placement: what a task asks of the worker that runs it (resources, labels, a strategy,
/// a priority) and what a worker offers. One vocabulary for the worker's flags, the
/// client's TaskOptions, the CLI and job files, the wire and the coordinator's scheduler.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace shoal {

/// Named amounts: {"cpu", 2}, {"gpu", 1}, {"memory", 4_GiB}. Amounts are 0 to 1e14, with a
/// resolution of 1/10000 (as Ray's: half a GPU is 0.5). A worker offers "cpu" and
/// "memory" (its cores and its RAM unless told otherwise) and whatever else it is told.
using Resources = std::map<std::string, double, std::less<>>;

/// Where among the workers that fit a task goes: `spread`, the least loaded (the
/// default); `pack`, the most loaded that still has room, leaving whole workers free.
enum class Strategy : std::uint8_t { spread = 0, pack = 1 };

/// Labels a worker must have (`required`) or, where a worker that has them has room,
/// should have (`preferred`): "zone=a", "disk!=hdd" (a worker without the key satisfies
/// "!="). Workers are labelled with `shoal-worker --label zone=a`.
struct LabelSelector {
  std::vector<std::string> required{};
  std::vector<std::string> preferred{};

  [[nodiscard]] bool operator==(const LabelSelector&) const = default;
};

/// Byte amounts for memory requests: `{"memory", 4_GiB}`.
inline namespace literals {
constexpr double operator""_KiB(unsigned long long n) { return static_cast<double>(n) * 1024.0; }
constexpr double operator""_MiB(unsigned long long n) { return static_cast<double>(n) * 1048576.0; }
constexpr double operator""_GiB(unsigned long long n) { return static_cast<double>(n) * 1073741824.0; }
}  // namespace literals

}  // namespace shoal

namespace shoal::link {

/// A task's whole placement request, as it travels and as the journal keeps it.
struct Placement {
  Resources resources{};
  LabelSelector labels{};
  Strategy strategy = Strategy::spread;
  std::int32_t priority = 0;  ///< higher goes first (-1000 to 1000); ties in submission order

  [[nodiscard]] bool operator==(const Placement&) const = default;
};

/// Limits on what a peer may send (the wire is not trusted).
inline constexpr std::size_t kMaxResourceKinds = 32;  ///< per worker or request
inline constexpr std::size_t kMaxLabels = 32;         ///< per worker, or per selector list
/// The largest amount (100 TB of memory in bytes): in fixed-point units it and a worker's
/// sum of them stay far inside int64.
inline constexpr double kMaxResourceAmount = 1e14;
/// Priorities are levels, -1000 to 1000 (each distinct one is a queue of its own).
inline constexpr std::int32_t kMaxPriority = 1000;
/// Fixed-point units per resource unit: amounts are counted in 1/10000.
inline constexpr std::int64_t kResourceUnits = 10000;

/// An amount as fixed-point units (rounded to the nearest 1/10000).
[[nodiscard]] std::int64_t resource_units(double amount) noexcept;
/// Units back as an amount.
[[nodiscard]] inline double resource_amount(std::int64_t units) noexcept {
  return static_cast<double>(units) / static_cast<double>(kResourceUnits);
}

/// "cpu=8,memory=16G,gpu=1,licence=2": names of letters, digits, '_', '.', '-' (at most 64
/// characters); amounts decimal, with K, M, G, T (powers of 1024; also Ki, Mi, Gi, Ti) for
/// byte counts. ValueError naming the part that is wrong.
[[nodiscard]] Resources parse_resources(std::string_view text);
/// Checks a resources map as parse_resources() would (names, amounts, how many):
/// ValueError naming what is wrong.
void check_resources(const Resources& r);
/// "cpu=8,gpu=1,memory=16G": sorted by name; an amount of a resource whose name holds
/// "memory" that is a whole number of MiB is written with its largest exact suffix.
[[nodiscard]] std::string format_resources(const Resources& r);
/// One amount as format_resources() writes it ("16G", "0.5", "8").
[[nodiscard]] std::string format_amount(std::string_view name, double amount);

/// A worker's label: "key=value" (key as a resource name, value of at most 128 letters,
/// digits, '_', '.', '-', ':', '/'). ValueError otherwise.
void check_label(std::string_view label);
/// A selector term: "key=value" or "key!=value". ValueError otherwise.
void check_selector_term(std::string_view term);
/// Splits a label or term: key, value, and whether it is a "!=".
struct LabelTerm {
  std::string key, value;
  bool negate = false;
};
[[nodiscard]] LabelTerm split_term(std::string_view term);

/// Checks a whole request (resources, labels): ValueError naming what is wrong.
void check_placement(const Placement& p);
/// The canonical text of a request (the journal keeps it; equal requests have equal
/// texts): "" for the empty one, else "RESOURCES;REQUIRED;PREFERRED;STRATEGY;PRIORITY".
[[nodiscard]] std::string placement_key(const Placement& p);
/// placement_key() read back: ValueError when it is not one.
[[nodiscard]] Placement parse_placement_key(std::string_view key);
/// For people: "gpu=1 memory=4G, zone=a, prefers disk=ssd, pack, priority 10" ("" when it
/// asks nothing).
[[nodiscard]] std::string describe(const Placement& p);

/// What this machine has: cpu (its hardware threads) and memory (its RAM, in bytes).
[[nodiscard]] Resources machine_resources();

}  // namespace shoal::link
