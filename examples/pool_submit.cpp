// The seed's first ThreadPoolExecutor program (Beazley): submit a call, block on its
// result; an exception raised by the call propagates out of result().
//
//     pool = ThreadPoolExecutor(8)
//     future_obj = pool.submit(fn, 2, 3)
//     future_obj.result()   # blocks until the thread is done: 5
//
// Prints:
//     5
//     Failed std::overflow_error: fn(2147483647, 1) overflows int
#include <chrono>
#include <climits>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

#include <shoal/shoal.hpp>

using namespace std::chrono_literals;

int fn(int x, int y) {
  std::this_thread::sleep_for(100ms);  // the seed sleeps 1 s
  int sum = 0;
  if (__builtin_add_overflow(x, y, &sum))
    throw std::overflow_error("fn(" + std::to_string(x) + ", " + std::to_string(y) + ") overflows int");
  return sum;
}

int main() {
  shoal::ThreadPoolExecutor pool(8);
  auto future_obj = pool.submit(fn, 2, 3);
  std::printf("%d\n", future_obj.result());  // blocks until the thread is done

  auto failing = pool.submit(fn, INT_MAX, 1);
  try {
    std::printf("%d\n", failing.result());
  } catch (const std::exception&) {
    // Any exception propagates out of result(), with its type.
    std::printf("Failed %s\n", shoal::describe(std::current_exception()).c_str());
  }
}  // ~ThreadPoolExecutor: Python's `with` exit, waits for the threads
