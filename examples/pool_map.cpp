// The seed's executor.map over zipped inputs: the results come back in input order, not
// in the order the calls finish.
//
//     with ThreadPoolExecutor() as executor:
//         results = executor.map(fn, arg1_list, arg2_list)
//
// (The seed writes map(fn, zip(arg1_list, arg2_list)), which calls fn with one tuple;
// both forms are below.)
//
// Prints:
//     [11, 22, 33, 44]
//     [11, 22, 33, 44]
//     timed out after 2 results: [11, 22]
#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>
#include <vector>

#include <shoal/shoal.hpp>

using namespace std::chrono_literals;

int fn(int x, int y) {
  // Later items finish first: map still yields in input order.
  std::this_thread::sleep_for(std::chrono::milliseconds(100 - 20 * x));
  return x + 10 * y;
}

int fn_pair(std::pair<int, int> xy) { return fn(xy.first, xy.second); }

void print(const std::vector<int>& v) {
  std::printf("[");
  for (std::size_t i = 0; i < v.size(); ++i) std::printf("%s%d", i ? ", " : "", v[i]);
  std::printf("]");
}

int main() {
  const std::vector<int> arg1_list{1, 2, 3, 4};
  const std::vector<int> arg2_list{1, 2, 3, 4};
  shoal::ThreadPoolExecutor executor;

  // executor.map(fn, arg1_list, arg2_list): the ranges are zipped (shortest wins).
  std::vector<int> results;
  for (int r : executor.map(fn, arg1_list, arg2_list)) results.push_back(r);
  print(results);
  std::printf("\n");

  // executor.map(fn_pair, zip(arg1_list, arg2_list)): one argument per call, a pair.
  std::vector<std::pair<int, int>> zipped;
  for (std::size_t i = 0; i < arg1_list.size(); ++i) zipped.emplace_back(arg1_list[i], arg2_list[i]);
  print(executor.map(fn_pair, zipped).to_vector());
  std::printf("\n");

  // executor.map(fn, ..., timeout=0.05): TimeoutError at the first result not ready.
  auto slow = [](int x) {
    std::this_thread::sleep_for(x < 3 ? 0ms : 300ms);
    return fn(x, x);
  };
  std::vector<int> got;
  try {
    for (int r : executor.map(slow, arg1_list, 150ms)) got.push_back(r);
  } catch (const shoal::TimeoutError&) {
    std::printf("timed out after %zu results: ", got.size());
    print(got);
    std::printf("\n");
  }
}
