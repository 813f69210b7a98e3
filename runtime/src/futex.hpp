#pragma once
// Linux futexes for shoal's Lock and Condition: a thread sleeps on a 32-bit word and is
// woken by address. Private to the library.

#include <atomic>
#include <cstdint>

#include "shoal/sync/deadline.hpp"

namespace shoal::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word must be a plain 32-bit integer");

/// Sleeps while `*word == expected`, until woken, a spurious wake-up, or `deadline`
/// (time_point::max() for none). Returns false only when the deadline passed.
bool futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                SteadyClock::time_point deadline) noexcept;

/// Wakes up to `n` threads sleeping on `word`.
void futex_wake(std::atomic<std::uint32_t>* word, int n) noexcept;

}  // namespace shoal::detail
