#pragma once
// FunctionTable: every function name and signature the coordinator has heard of, from a
// submit or a worker's registration, interned to a small index that tasks carry.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shoal::coordinator {

struct FunctionRecord {
  std::string name;        // "fib", or "Class.method" / "Class.__init__" for actors
  std::uint64_t hash = 0;  // the signature hash the caller or the worker gave
  std::string signature;   // as a worker registered it (empty until one did)
  bool coroutine = false;
  std::vector<std::uint64_t> workers;  // peer ids of the live workers that registered it
  double ewma_run_ns = 0;              // its tasks' mean run time, once `runs` is past a few
  std::uint32_t runs = 0;              // results that reported a run time (saturates)
};

class FunctionTable {
 public:
  /// The index of (name, hash), made on first sight.
  std::uint32_t intern(std::string_view name, std::uint64_t hash);
  /// intern() with a one-entry cache per caller: a stream of submits is mostly one function.
  struct Cache {
    std::uint32_t index = ~0u;
    std::uint64_t hash = 0;
  };
  std::uint32_t intern(std::string_view name, std::uint64_t hash, Cache& cache);

  [[nodiscard]] FunctionRecord& operator[](std::uint32_t i) { return functions_[i]; }
  [[nodiscard]] const FunctionRecord& operator[](std::uint32_t i) const { return functions_[i]; }
  [[nodiscard]] std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(functions_.size()); }

  /// Forgets worker `id` in every function it registered.
  void remove_worker(std::uint64_t id);
  /// The signature a live worker registered for function i's name under another hash, or "".
  [[nodiscard]] std::string other_signature(std::uint32_t i) const;
  /// The same for a name and hash not interned yet (a worker's registration, checked
  /// before anything of it is taken): null when no live worker registered `name`
  /// differently.
  [[nodiscard]] const FunctionRecord* live_conflict(std::string_view name, std::uint64_t hash) const;

 private:
  std::vector<FunctionRecord> functions_;
  std::unordered_map<std::string, std::uint32_t> index_;  // name + '#' + hash bytes
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_name_;  // every hash of a name
};

}  // namespace shoal::coordinator
