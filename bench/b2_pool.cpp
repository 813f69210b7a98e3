// B2: N trivial submit + result on a 2-thread pool: shoal::ThreadPoolExecutor, and the
// raw floor, asio::thread_pool with a bare asio::post + std::promise per task. Submit all,
// then collect all (as the Python peer does). Also: Lock / aio::Lock against std::mutex
// (added by the Threads issue's primitives when they land).
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <vector>

#include <shoal/shoal.hpp>

#include "common.hpp"

namespace {

int trivial(int i) { return i + 1; }

double shoal_round(int n) {
  shoal::ThreadPoolExecutor pool(2);
  auto start = std::chrono::steady_clock::now();
  std::vector<shoal::Future<int>> fs;
  fs.reserve(n);
  for (int i = 0; i < n; ++i) fs.push_back(pool.submit(trivial, i));
  long sum = 0;
  for (auto& f : fs) sum += f.result();
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (sum != static_cast<long>(n) * (n + 1) / 2) std::abort();
  return n / took.count();
}

double raw_round(int n) {
  asio::thread_pool pool(2);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::future<int>> fs;
  fs.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::promise<int> p;
    fs.push_back(p.get_future());
    asio::post(pool, [p = std::move(p), i]() mutable { p.set_value(trivial(i)); });
  }
  long sum = 0;
  for (auto& f : fs) sum += f.get();
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (sum != static_cast<long>(n) * (n + 1) / 2) std::abort();
  pool.join();
  return n / took.count();
}


}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 200000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  std::vector<double> ours, raw;
  shoal_round(n / 10);
  raw_round(n / 10);
  for (int r = 0; r < rounds; ++r) {  // interleaved, so that noise hits both alike
    ours.push_back(shoal_round(n));
    raw.push_back(raw_round(n));
  }
  shoal::bench::print_result("B2", nullptr, "tasks/s", ours);
  shoal::bench::print_result("B2", "raw asio thread_pool", "tasks/s", raw);
}
