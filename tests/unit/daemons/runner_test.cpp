// The worker's Runner without a socket or a coordinator: how its plain jobs reach the
// pool.

#include <catch2/catch.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "runner.hpp"
#include "support/daemons.hpp"

using namespace std::chrono_literals;

namespace {

std::shared_ptr<shoal::worker::Job> job(std::uint64_t id) {
  auto j = std::make_shared<shoal::worker::Job>();
  j->id = id;
  j->function = "count";
  return j;
}

}  // namespace

TEST_CASE("a worker's pool thread runs its queued plain jobs one after another without its loop",
          "[daemons][runner]") {
  // B6s found it: a plain job that ended gave its place back through the worker's loop,
  // which then handed the next job to the pool: two wake-ups per job, and on a busy
  // machine each may wait milliseconds, longer than the job. Here the loop never runs
  // while the jobs do: with one thread, all of them run all the same, on that thread.
  asio::io_context io;
  shoal::remote::Registry registry;
  auto runner = std::make_shared<shoal::worker::Runner>(io.get_executor(), 1, registry,
                                                        shoal::worker::Runner::Callbacks{});
  constexpr int kJobs = 20;
  std::atomic<int> ran{0}, at_once{0}, most_at_once{0};
  std::mutex threads_mu;
  std::set<std::thread::id> threads;
  for (int i = 0; i < kJobs; ++i)
    runner->run_plain(
        job(static_cast<std::uint64_t>(i + 1)),
        [&](shoal::codec::Reader&) {
          int now = ++at_once;
          int seen = most_at_once.load();
          while (now > seen && !most_at_once.compare_exchange_weak(seen, now)) {
          }
          {
            std::lock_guard lock(threads_mu);
            threads.insert(std::this_thread::get_id());
          }
          std::this_thread::sleep_for(1ms);
          --at_once;
          ++ran;
          return shoal::Bytes{};
        },
        {});
  REQUIRE(shoal::test::wait_until([&] { return ran.load() == kJobs; }, 20s));
  CHECK(most_at_once.load() == 1);  // one thread: one at a time
  {
    std::lock_guard lock(threads_mu);
    CHECK(threads.size() == 1);  // and no thread started for each
  }
  // Their outcomes wait for the loop, every one of them.
  REQUIRE(shoal::test::wait_until([&] { return runner->has_outcomes(); }, 5s));
  auto outcomes = runner->take_outcomes();
  CHECK(outcomes.size() == static_cast<std::size_t>(kJobs));
  for (const auto& o : outcomes) CHECK(o.kind == shoal::worker::Outcome::value);
  CHECK(runner->shutdown());
}

TEST_CASE("a worker's runner started after shutdown runs no queued plain job", "[daemons][runner]") {
  asio::io_context io;
  shoal::remote::Registry registry;
  auto runner = std::make_shared<shoal::worker::Runner>(io.get_executor(), 1, registry,
                                                        shoal::worker::Runner::Callbacks{});
  CHECK(runner->shutdown());
  std::atomic<int> ran{0};
  runner->run_plain(job(1), [&](shoal::codec::Reader&) {
    ++ran;
    return shoal::Bytes{};
  }, {});
  // Nothing to wait for: the FIFO is closed, so the job is dropped, not run.
  CHECK(ran.load() == 0);
  CHECK_FALSE(runner->has_outcomes());
}

TEST_CASE("a plain job queued just as the worker's last pool thread finds its FIFO empty still runs",
          "[daemons][runner]") {
  // Review of drain(): the thread gave its place back after leaving the FIFO's lock, so a
  // job queued in between saw the place taken, started no thread, and waited for ever.
  // Here each job is queued the moment the one before it ends, 20,000 times.
  asio::io_context io;
  shoal::remote::Registry registry;
  auto runner = std::make_shared<shoal::worker::Runner>(io.get_executor(), 1, registry,
                                                        shoal::worker::Runner::Callbacks{});
  std::atomic<int> ran{0};
  bool all = true;
  for (int i = 0; i < 20000 && all; ++i) {
    runner->run_plain(job(static_cast<std::uint64_t>(i + 1)), [&](shoal::codec::Reader&) {
      ran.fetch_add(1, std::memory_order_release);
      return shoal::Bytes{};
    }, {});
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (ran.load(std::memory_order_acquire) != i + 1)
      if (std::chrono::steady_clock::now() > deadline) {
        all = false;
        break;
      }
    (void)runner->take_outcomes();
  }
  CHECK(all);
  CHECK(runner->shutdown());
}

TEST_CASE("results of short plain jobs with more queued leave together, and none waits past the hold",
          "[daemons][runner]") {
  // B6s: every result sent alone woke the worker's loop, the coordinator and the client,
  // each taking a core from a computing thread. Results of jobs under 1 ms with more
  // queued wait up to 2 ms to leave together; the last of a run, at once.
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  shoal::remote::Registry registry;
  std::shared_ptr<shoal::worker::Runner> runner;
  std::atomic<int> wakes{0}, delivered{0};
  runner = std::make_shared<shoal::worker::Runner>(
      io.get_executor(), 1, registry,
      shoal::worker::Runner::Callbacks{[&] {
                                         ++wakes;
                                         delivered += static_cast<int>(runner->take_outcomes().size());
                                       },
                                       {}});
  std::thread loop([&] { io.run(); });
  std::atomic<bool> long_done{false};
  auto spin = [](std::chrono::microseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
  };
  // 60 jobs of 0.2 ms, then one of 3 s: the short ones' results must not wait for it.
  asio::post(io, [&] {
    for (int i = 0; i < 60; ++i)
      runner->run_plain(job(static_cast<std::uint64_t>(i + 1)), [&](shoal::codec::Reader&) {
        spin(200us);
        return shoal::Bytes{};
      }, {});
    runner->run_plain(job(100), [&](shoal::codec::Reader&) {
      for (int i = 0; i < 3000 && !long_done; ++i) std::this_thread::sleep_for(1ms);
      return shoal::Bytes{};
    }, {});
  });
  CHECK(shoal::test::wait_until([&] { return delivered.load() == 60; }, 2500ms));  // before the long one ends
  CHECK(wakes.load() <= 30);  // alone, each of the 60 could wake the loop
  long_done = true;
  CHECK(shoal::test::wait_until([&] { return delivered.load() == 61; }, 10s));
  asio::post(io, [&] {
    (void)runner->shutdown();
    guard.reset();
  });
  loop.join();
}
