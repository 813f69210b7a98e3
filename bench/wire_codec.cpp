// WIRE1: encode + decode of a small task-argument tuple (int64, string, float64,
// list<int32>) into new Bytes and back, as a submit and a worker do: ns per message.
// WIRE2: encode + decode of a 1 MiB Bytes payload: one copy into the encoding, none out
// of it (the decoded Bytes aliases the encoding): GB/s of payload.
// Prints {"id": "WIRE1", "unit": "ns/message", "samples": [...]} and
// {"id": "WIRE2", "unit": "GB/s", "samples": [...]}, one sample per round.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include <shoal/codec/codec.hpp>

#include "common.hpp"

namespace {

using Args = std::tuple<std::int64_t, std::string, double, std::vector<std::int32_t>>;
using Clock = std::chrono::steady_clock;

double small_round(int n) {
  Args args{42, "hello, world", 3.5, {1, 2, 3, 4, 5, 6, 7, 8}};
  std::uint64_t check = 0;
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::get<0>(args) = i;
    shoal::Bytes b = shoal::codec::encode(args);
    auto back = shoal::codec::decode<Args>(b);
    check += static_cast<std::uint64_t>(std::get<0>(back)) + std::get<3>(back).size();
  }
  std::chrono::duration<double, std::nano> took = Clock::now() - start;
  if (check != static_cast<std::uint64_t>(n) * (n - 1) / 2 + 8ull * n) std::abort();
  return took.count() / n;
}

double payload_round(int n, const shoal::Bytes& payload) {
  const std::uint64_t last = std::to_integer<std::uint64_t>(payload[payload.size() - 1]);
  std::uint64_t check = 0;
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    shoal::codec::Writer w(payload.size() + 16);
    shoal::codec::encode(w, payload);
    shoal::Bytes encoded = w.finish();
    auto back = shoal::codec::decode<shoal::Bytes>(encoded);
    check += std::to_integer<std::uint64_t>(back[back.size() - 1]) + back.size();
  }
  std::chrono::duration<double> took = Clock::now() - start;
  if (check != static_cast<std::uint64_t>(n) * (payload.size() + last)) std::abort();
  return static_cast<double>(payload.size()) * n / took.count() / 1e9;
}


}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 1000000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  int big_n = argc > 3 ? std::atoi(argv[3]) : 2000;

  std::vector<double> small;
  small_round(n / 10);  // warm-up
  for (int r = 0; r < rounds; ++r) small.push_back(small_round(n));
  shoal::bench::print_result("WIRE1", nullptr, "ns/message", small);

  shoal::Bytes payload = shoal::Bytes::build(1 << 20, [](std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 131 + 7);
  });
  std::vector<double> big;
  payload_round(big_n / 10 + 1, payload);
  for (int r = 0; r < rounds; ++r) big.push_back(payload_round(big_n, payload));
  shoal::bench::print_result("WIRE2", nullptr, "GB/s", big);
}
