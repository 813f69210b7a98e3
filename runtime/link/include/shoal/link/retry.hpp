#pragma once
/// \file
/// Retries of application errors: a task that fails with one of the listed exception
/// types runs again after a backoff that doubles, up to a number of attempts (Celery's
/// autoretry_for with retry_backoff, Ray's retry_exceptions). Worker losses are retried
/// apart from this (TaskOptions::retries).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace shoal {

/// When and how a failed task runs again.
struct RetryPolicy {
  /// The exception types to retry, as a remote error names them: "shoal::ValueError",
  /// "std::runtime_error", "my::Flaky"; an unqualified name matches any namespace
  /// ("ValueError"); "*" matches any failure. A cancellation is never retried. Matching is
  /// by the thrown type itself (a base class does not match its subclasses). Empty: none.
  std::vector<std::string> on{};
  /// Runs after the first, at most (0 to kMaxRetries).
  int attempts = 3;
  /// The wait before the first retry, doubling after each (0 to 1 hour), never more than
  /// `max_backoff` (at least `backoff`, at most 1 day).
  std::chrono::milliseconds backoff{100};
  std::chrono::milliseconds max_backoff{60000};

  [[nodiscard]] bool operator==(const RetryPolicy&) const = default;
};

}  // namespace shoal

namespace shoal::link {

/// ValueError naming what is wrong (a type name that is empty, too long or not printable,
/// more than 32 names, attempts or backoffs out of range).
void check_retry(const RetryPolicy& p);
/// Whether a failure of type `type_name` is one `p` retries.
[[nodiscard]] bool retry_matches(const RetryPolicy& p, std::string_view type_name);
/// The wait before retry `n` (1 for the first).
[[nodiscard]] std::chrono::milliseconds retry_delay(const RetryPolicy& p, unsigned n);
/// The canonical text the journal keeps ("" for a policy that retries nothing), and back.
[[nodiscard]] std::string retry_key(const RetryPolicy& p);
[[nodiscard]] RetryPolicy parse_retry_key(std::string_view key);
/// "ValueError, Timeout: up to 3 more runs, 100 ms doubling to 60000 ms".
[[nodiscard]] std::string describe(const RetryPolicy& p);

}  // namespace shoal::link
