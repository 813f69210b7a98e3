// B2's lock figures: shoal::Lock and shoal::aio::Lock against std::mutex, uncontended
// (one thread or one task) and contended (two threads; 100 tasks handing the lock over
// at every sleep(0)). ns per acquire+release.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <shoal/shoal.hpp>

#include "common.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

template <typename L>
double uncontended(L& lock, long n) {
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    lock.lock();
    lock.unlock();
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
}

template <typename L>
double contended(long n_per_thread) {
  L lock;
  long counter = 0;
  auto work = [&] {
    for (long i = 0; i < n_per_thread; ++i) {
      lock.lock();
      ++counter;
      lock.unlock();
    }
  };
  auto start = Clock::now();
  std::thread a(work), b(work);
  a.join();
  b.join();
  if (counter != 2 * n_per_thread) std::abort();
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / (2 * n_per_thread);
}

shoal::Coro<double> aio_uncontended(long n) {
  shoal::aio::Lock lock;
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    co_await lock.acquire();
    lock.release();
  }
  co_return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
}

shoal::Coro<double> mutex_in_coroutine(long n) {
  std::mutex m;
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    m.lock();
    m.unlock();
  }
  co_return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
}

shoal::Coro<void> worker(shoal::aio::Lock* lock, long iterations, long* counter) {
  for (long i = 0; i < iterations; ++i) {
    co_await lock->acquire();
    ++*counter;
    co_await shoal::sleep(0ms);  // hold it across a yield: every other task queues up
    lock->release();
  }
}

shoal::Coro<double> aio_contended(int tasks, long iterations) {
  shoal::aio::Lock lock;
  long counter = 0;
  std::vector<shoal::Coro<void>> ws;
  for (int t = 0; t < tasks; ++t) ws.push_back(worker(&lock, iterations, &counter));
  auto start = Clock::now();
  co_await shoal::gather(std::move(ws));
  if (counter != tasks * iterations) std::abort();
  co_return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / (tasks * iterations);
}


void print(const char* id, const char* peer, const std::vector<double>& v) {
  shoal::bench::print_result(id, peer, "ns/op", v);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  std::vector<double> lu, mu, lc, mc, au, amu, ac;
  for (int r = 0; r < rounds; ++r) {
    shoal::Lock l;
    std::mutex m;
    lu.push_back(uncontended(l, 5'000'000));
    mu.push_back(uncontended(m, 5'000'000));
    lc.push_back(contended<shoal::Lock>(1'000'000));
    mc.push_back(contended<std::mutex>(1'000'000));
    au.push_back(shoal::run(aio_uncontended(2'000'000)));
    amu.push_back(shoal::run(mutex_in_coroutine(2'000'000)));
    ac.push_back(shoal::run(aio_contended(100, 2'000)));
  }
  print("LOCK_UNCONTENDED", nullptr, lu);
  print("LOCK_UNCONTENDED", "std::mutex", mu);
  print("LOCK_CONTENDED", nullptr, lc);
  print("LOCK_CONTENDED", "std::mutex", mc);
  print("AIO_LOCK_UNCONTENDED", nullptr, au);
  print("AIO_LOCK_UNCONTENDED", "std::mutex", amu);
  print("AIO_LOCK_CONTENDED", nullptr, ac);
}
