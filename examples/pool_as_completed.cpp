// The seed's as_completed pattern: map each future to its input, then handle the futures
// in the order they finish.
//
//     with ThreadPoolExecutor() as executor:
//         future_dict = {executor.submit(fn, x, y): (x, y) for x, y in inputs}
//         for fut in as_completed(future_dict):
//             # fut.result(), fut.exception()
//
// Prints (the calls sleep 300, 100, 400 and 200 ms; completion order):
//     fn(1, 10) = 11
//     fn(3, 30) raised std::invalid_argument: y must not be 30
//     fn(0, 0) = 0
//     fn(2, 20) = 22
#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <shoal/shoal.hpp>

using namespace std::chrono_literals;

int fn(int x, int y, std::chrono::milliseconds work) {
  std::this_thread::sleep_for(work);
  if (y == 30) throw std::invalid_argument("y must not be 30");
  return x + y;
}

/// Futures have no hash or ordering of their own: order them by their shared state.
struct ByState {
  bool operator()(const shoal::Future<int>& a, const shoal::Future<int>& b) const {
    return std::less<const void*>()(a.state(), b.state());
  }
};

int main() {
  struct Input {
    int x, y;
    std::chrono::milliseconds work;
  };
  const std::vector<Input> inputs{{0, 0, 300ms}, {1, 10, 100ms}, {2, 20, 400ms}, {3, 30, 200ms}};

  shoal::ThreadPoolExecutor executor;
  std::map<shoal::Future<int>, std::pair<int, int>, ByState> future_dict;
  std::vector<shoal::Future<int>> futures;
  for (const auto& in : inputs) {
    auto f = executor.submit(fn, in.x, in.y, in.work);
    future_dict.emplace(f, std::pair{in.x, in.y});
    futures.push_back(f);
  }
  for (auto fut : shoal::as_completed(futures)) {
    auto [x, y] = future_dict.at(fut);
    if (auto e = fut.exception())
      std::printf("fn(%d, %d) raised %s\n", x, y, shoal::describe(e).c_str());
    else
      std::printf("fn(%d, %d) = %d\n", x, y, fut.result());
  }
}
