// The example task library: remote functions for the examples and the tutorial's jobs.
// Build it (target shoal_examples) and load it into a worker:
//
//     shoal-worker --connect unix:/tmp/shoal.sock --load build/lib/libshoal_examples.so
//
// Every function here is registered with SHOAL_REMOTE under its own name.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <shoal/codec/fields.hpp>
#include <shoal/core/coro.hpp>
#include <shoal/core/error.hpp>
#include <shoal/core/sleep.hpp>
#include <shoal/remote/registry.hpp>

namespace shoal_examples {

// ---- arithmetic ----

/// a + b (wrapping is undefined: keep the operands well inside int64).
std::int64_t add(std::int64_t a, std::int64_t b) { return a + b; }
SHOAL_REMOTE(add)

/// The n-th Fibonacci number (fib(0) = 0, fib(1) = 1), by naive recursion on purpose:
/// CPU-bound work whose cost grows as 1.6^n (fib(30) takes a few milliseconds, fib(40)
/// seconds). ValueError when n < 0 or n > 92 (fib(93) overflows int64).
std::int64_t fib(std::int64_t n) {
  if (n < 0 || n > 92) throw shoal::ValueError("fib(" + std::to_string(n) + "): n must be in [0, 92]");
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
SHOAL_REMOTE(fib)

// ---- waiting and failing ----

/// A coroutine: sleeps `ms` milliseconds on the worker's loop (taking no thread) and
/// returns `ms`. ValueError when ms < 0; cancellable (CancelledError) during the sleep.
shoal::Coro<std::int64_t> sleep_ms(std::int64_t ms) {
  if (ms < 0) throw shoal::ValueError("sleep_ms(" + std::to_string(ms) + "): ms must be >= 0");
  co_await shoal::sleep(std::chrono::milliseconds(ms));
  co_return ms;
}
SHOAL_REMOTE(sleep_ms)

/// Always throws shoal::ValueError(message): shows how a remote failure reaches the caller.
std::int64_t fail(std::string message) { throw shoal::ValueError(message); }
SHOAL_REMOTE(fail)

// ---- Monte Carlo pi: a map (pi_chunk) and a reduce (pi_reduce) ----

namespace {

/// splitmix64 (Steele, Lea, Flood 2014): fast, and every seed gives its own sequence.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1), from the top 53 bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

}  // namespace

/// Draws `samples` points uniformly in the unit square from a generator seeded with
/// `seed` and returns how many fall inside the quarter circle x^2 + y^2 < 1 (about
/// samples * pi / 4). Deterministic: the same (samples, seed) gives the same count.
/// ValueError when samples < 0.
std::int64_t pi_chunk(std::int64_t samples, std::int64_t seed) {
  if (samples < 0) throw shoal::ValueError("pi_chunk: samples must be >= 0, got " + std::to_string(samples));
  SplitMix64 rng{static_cast<std::uint64_t>(seed)};
  std::int64_t hits = 0;
  for (std::int64_t i = 0; i < samples; ++i) {
    const double x = rng.unit();
    const double y = rng.unit();
    hits += x * x + y * y < 1.0;
  }
  return hits;
}
SHOAL_REMOTE(pi_chunk)

/// The estimate of pi from the hit counts of pi_chunk calls that each drew
/// `samples_per_chunk` points: 4 * sum(hits) / (hits.size() * samples_per_chunk).
/// ValueError when hits is empty or samples_per_chunk <= 0.
double pi_reduce(std::vector<std::int64_t> hits, std::int64_t samples_per_chunk) {
  if (hits.empty() || samples_per_chunk <= 0)
    throw shoal::ValueError("pi_reduce: needs at least one chunk and samples_per_chunk > 0");
  double total = 0;
  for (std::int64_t h : hits) total += static_cast<double>(h);
  return 4.0 * total / (static_cast<double>(hits.size()) * static_cast<double>(samples_per_chunk));
}
SHOAL_REMOTE(pi_reduce)

// ---- word count: a map (word_count), a reduce (merge_counts) and top_words ----

/// How often each word occurs in the text file at `path` (a path on the worker's file
/// system). A word is a maximal run of ASCII letters, digits and apostrophes, lowercased;
/// apostrophes at either end are dropped ("'tis" -> "tis", "sailors'" -> "sailors").
/// shoal::Error naming the path when the file cannot be opened.
std::map<std::string, std::int64_t> word_count(std::string path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw shoal::Error("word_count: cannot open '" + path + "'");
  std::map<std::string, std::int64_t> counts;
  std::string word;
  auto flush = [&] {
    const auto first = word.find_first_not_of('\'');
    if (first != std::string::npos) ++counts[word.substr(first, word.find_last_not_of('\'') - first + 1)];
    word.clear();
  };
  char c;
  while (in.get(c)) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '\'')
      word += static_cast<char>(std::tolower(u));
    else
      flush();
  }
  flush();
  return counts;
}
SHOAL_REMOTE(word_count)

/// The sum of word counts (the reduce of word_count's results): each word's counts added.
std::map<std::string, std::int64_t> merge_counts(std::vector<std::map<std::string, std::int64_t>> parts) {
  std::map<std::string, std::int64_t> total;
  for (auto& part : parts)
    for (auto& [word, n] : part) total[word] += n;
  return total;
}
SHOAL_REMOTE(merge_counts)

/// One row of top_words().
struct WordCount {
  std::string word;
  std::int64_t count = 0;
};
SHOAL_FIELDS(WordCount, word, count)

/// The `n` most frequent words of `counts`, most frequent first, ties alphabetical.
/// ValueError when n < 0.
std::vector<WordCount> top_words(std::map<std::string, std::int64_t> counts, std::int64_t n) {
  if (n < 0) throw shoal::ValueError("top_words: n must be >= 0, got " + std::to_string(n));
  std::vector<WordCount> rows;
  rows.reserve(counts.size());
  for (auto& [word, count] : counts) rows.push_back({word, count});
  const auto keep = std::min<std::size_t>(rows.size(), static_cast<std::size_t>(n));
  std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(keep), rows.end(),
                    [](const WordCount& a, const WordCount& b) {
                      return a.count != b.count ? a.count > b.count : a.word < b.word;
                    });
  rows.resize(keep);
  return rows;
}
SHOAL_REMOTE(top_words)

}  // namespace shoal_examples
