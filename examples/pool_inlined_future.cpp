// The seed's "inlined future": a generator that yields pool.submit(...) and is resumed
// with the result, so the code before the yield is the entry and the rest is the exit.
// A coroutine does this directly: co_await the pool future's wait().
//
//     @inlined_future
//     def do_func(x, y):
//         result = yield pool.submit(fn, x, y)
//         print(f"Got {result}")
//     run_inline_future(do_func(2, 3))
//
// Prints:
//     Got 5
//     Got 11 and 30 (together)
#include <chrono>
#include <cstdio>
#include <thread>

#include <shoal/shoal.hpp>

using namespace std::chrono_literals;

int fn(int x, int y) {
  std::this_thread::sleep_for(100ms);  // the seed sleeps 1 s; blocking is fine on a pool thread
  return x + y;
}

/// `pool` must outlive the coroutine (coroutine parameters are values: a pointer here).
shoal::Coro<void> do_func(shoal::ThreadPoolExecutor* pool, int x, int y) {
  int result = co_await pool->submit(fn, x, y).wait();  // the loop runs other tasks meanwhile
  std::printf("Got %d\n", result);

  // Two calls at once: the coroutine resumes when both are done.
  auto [a, b] = co_await shoal::gather(pool->submit(fn, 5, 6), pool->submit(fn, 10, 20));
  std::printf("Got %d and %d (together)\n", a, b);
}

int main() {
  shoal::ThreadPoolExecutor pool(8);
  shoal::run(do_func(&pool, 2, 3));  // run_inline_future
}
