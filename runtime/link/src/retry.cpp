#include "shoal/link/retry.hpp"

#include <algorithm>
#include <charconv>

#include "shoal/core/error.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::link {

namespace {
constexpr std::size_t kMaxRetryTypes = 32;
constexpr std::int64_t kMaxBackoffMs = 3'600'000, kMaxMaxBackoffMs = 86'400'000;
}  // namespace

void check_retry(const RetryPolicy& p) {
  if (p.on.size() > kMaxRetryTypes)
    throw ValueError("retry: at most " + std::to_string(kMaxRetryTypes) + " exception types, not " +
                     std::to_string(p.on.size()));
  for (const auto& t : p.on)
    if (t.empty() || t.size() > 256 ||
        !std::all_of(t.begin(), t.end(), [](char c) { return c > ' ' && c < 127 && c != ',' && c != ';'; }))
      throw ValueError("retry: '" + t + "' is not an exception type name (1 to 256 printable characters, no ',' or ';')");
  if (p.attempts < 0 || p.attempts > kMaxRetries)
    throw ValueError("retry: attempts must be 0 to " + std::to_string(kMaxRetries) + ", not " + std::to_string(p.attempts));
  if (p.backoff.count() < 0 || p.backoff.count() > kMaxBackoffMs)
    throw ValueError("retry: the backoff must be 0 to 1 hour, not " + std::to_string(p.backoff.count()) + " ms");
  if (p.max_backoff < p.backoff || p.max_backoff.count() > kMaxMaxBackoffMs)
    throw ValueError("retry: the longest backoff must be at least the first (" + std::to_string(p.backoff.count()) +
                     " ms) and at most 1 day, not " + std::to_string(p.max_backoff.count()) + " ms");
}

bool retry_matches(const RetryPolicy& p, std::string_view type_name) {
  for (const auto& t : p.on) {
    if (t == "*" || t == type_name) return true;
    // "ValueError" matches "shoal::ValueError"; "shoal::ValueError" does not match "ValueError".
    if (type_name.size() > t.size() + 2 && type_name.ends_with(t) &&
        type_name.substr(type_name.size() - t.size() - 2, 2) == "::")
      return true;
  }
  return false;
}

std::chrono::milliseconds retry_delay(const RetryPolicy& p, unsigned n) {
  auto d = p.backoff;
  for (unsigned i = 1; i < n && d < p.max_backoff; ++i) d *= 2;
  return std::min(d, p.max_backoff);
}

std::string retry_key(const RetryPolicy& p) {
  if (p.on.empty() || p.attempts == 0) return {};
  std::string out = std::to_string(p.attempts) + ";" + std::to_string(p.backoff.count()) + ";" +
                    std::to_string(p.max_backoff.count()) + ";";
  for (std::size_t i = 0; i < p.on.size(); ++i) out += (i ? "," : "") + p.on[i];
  return out;
}

RetryPolicy parse_retry_key(std::string_view key) {
  RetryPolicy p;
  if (key.empty()) return p;
  auto bad = [&] { return ValueError("'" + std::string(key) + "' is not a retry policy"); };
  auto number = [&](std::int64_t& out) {
    auto semi = key.find(';');
    if (semi == std::string_view::npos) throw bad();
    auto [end, ec] = std::from_chars(key.data(), key.data() + semi, out);
    if (ec != std::errc() || end != key.data() + semi) throw bad();
    key.remove_prefix(semi + 1);
  };
  std::int64_t attempts = 0, backoff = 0, max_backoff = 0;
  number(attempts);
  number(backoff);
  number(max_backoff);
  if (attempts < 0 || attempts > kMaxRetries) throw bad();
  p.attempts = static_cast<int>(attempts);
  p.backoff = std::chrono::milliseconds(backoff);
  p.max_backoff = std::chrono::milliseconds(max_backoff);
  while (!key.empty()) {
    auto comma = key.find(',');
    p.on.emplace_back(key.substr(0, comma));
    if (comma == std::string_view::npos) break;
    key.remove_prefix(comma + 1);
  }
  check_retry(p);
  return p;
}

std::string describe(const RetryPolicy& p) {
  std::string types;
  for (const auto& t : p.on) types += (types.empty() ? "" : ", ") + t;
  return types + ": up to " + std::to_string(p.attempts) + " more run(s), " + std::to_string(p.backoff.count()) +
         " ms doubling to " + std::to_string(p.max_backoff.count()) + " ms";
}

}  // namespace shoal::link
