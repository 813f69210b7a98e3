// Executor.map across processes as Python's (issue 15): ProcessPoolExecutor::map and
// Client::map take any number of iterables, a chunk size and a timeout, and hand the
// results out lazily, in order, each failure at its own item. LocalCluster and the pool
// re-execute this binary, so the functions below run in real worker processes.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "shoal/cluster/local_cluster.hpp"
#include "shoal/cluster/process_pool.hpp"
#include "shoal/core/sleep.hpp"
#include "support/daemons.hpp"
#include "support/test_tasks.hpp"

using namespace std::chrono_literals;

namespace map_test {

std::int64_t times_ten_but_3(std::int64_t x) {
  if (x == 3) throw shoal::ValueError("item 3 is refused");
  return x * 10;
}
SHOAL_REMOTE(times_ten_but_3)

std::string label(std::int64_t n, std::string s) { return s + std::to_string(n); }
SHOAL_REMOTE(label)

std::int64_t worker_pid(std::int64_t) { return ::getpid(); }
SHOAL_REMOTE(worker_pid)

shoal::Coro<std::int64_t> later_double(std::int64_t x) {
  co_await shoal::sleep(1ms);
  co_return 2 * x;
}
SHOAL_REMOTE(later_double)

}  // namespace map_test

using namespace map_test;

namespace {

/// Tasks the coordinator finished so far.
std::uint64_t finished(shoal::Client& c) {
  auto s = c.status().result(10s);
  return s.done + s.failed + s.cancelled;
}

}  // namespace

TEST_CASE("the automatic chunk size is multiprocessing's rule", "[integration][map]") {
  CHECK(shoal::remote::auto_chunksize(0, 4) == 1);
  CHECK(shoal::remote::auto_chunksize(10, 4) == 1);
  CHECK(shoal::remote::auto_chunksize(1000, 2) == 125);
  CHECK(shoal::remote::auto_chunksize(1001, 2) == 126);
  CHECK(shoal::remote::auto_chunksize(1'000'000, 2) == 256);
  CHECK(shoal::remote::auto_chunksize(100, 0) == 25);
}

TEST_CASE("test_map: ProcessPoolExecutor::map zips any number of iterables, the shortest wins", "[integration][map]") {
  shoal::ProcessPoolExecutor pool(2);
  std::vector<std::int64_t> xs{1, 2, 3, 4, 5};
  std::vector<std::int64_t> ys{10, 20, 30};
  CHECK(pool.map(&shoal_test_tasks::add, xs, ys).to_vector() == std::vector<std::int64_t>{11, 22, 33});
  std::vector<std::string> words{"a", "b"};
  CHECK(pool.map(&label, xs, words).to_vector() == std::vector<std::string>{"a1", "b2"});
  // Every item, whatever the chunk size.
  std::vector<std::int64_t> many(1000);
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = static_cast<std::int64_t>(i);
  for (std::size_t size : {0, 1, 7, 1000, 5000}) {
    auto got = pool.map(&shoal_test_tasks::square, many, shoal::MapOptions{.chunksize = size}).to_vector();
    REQUIRE(got.size() == many.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == many[i] * many[i]);
  }
  CHECK(pool.map(&shoal_test_tasks::square, std::vector<std::int64_t>{}).size() == 0);
  // The items ran in the pool's processes, not here.
  for (auto pid : pool.map(&worker_pid, std::vector<std::int64_t>(20, 0))) CHECK(pid != ::getpid());
}

TEST_CASE("test_map_exception: the results before a failing item are delivered, its failure at its item",
          "[integration][map]") {
  shoal::ProcessPoolExecutor pool(2);
  std::vector<std::int64_t> xs{0, 1, 2, 3, 4, 5};
  for (std::size_t size : {1, 2, 6}) {
    INFO("chunksize " << size);
    auto results = pool.map(&times_ten_but_3, xs, shoal::MapOptions{.chunksize = size});
    auto it = results.begin();
    CHECK(*it == 0);
    CHECK(*++it == 10);
    CHECK(*++it == 20);
    ++it;
    try {
      (void)*it;
      FAIL("no exception");
    } catch (const shoal::ValueError& e) {
      CHECK(std::string(e.what()) == "item 3 is refused");  // the original message
      const auto* origin = shoal::remote_origin(e);
      REQUIRE(origin);
      CHECK(origin->function == "times_ten_but_3");
    }
    // The items after it ran too (a chunk answers each item on its own).
    CHECK(*++it == 40);
    CHECK(*++it == 50);
  }
}

TEST_CASE("map chunks: chunksize items per task, automatic chunks for many small calls", "[integration][map]") {
  shoal::LocalCluster cluster(2, {.threads_per_worker = 1, .http = ""});
  auto& client = cluster.client();
  // The automatic size counts the threads of the workers registered: both, here.
  REQUIRE(shoal::test::wait_until([&] { return client.workers().result(5s).size() == 2; }, 15s));
  std::vector<std::int64_t> xs(100, 3);
  auto before = finished(client);
  CHECK(client.map(&shoal_test_tasks::square, xs, shoal::MapOptions{.chunksize = 10}).to_vector() ==
        std::vector<std::int64_t>(100, 9));
  CHECK(finished(client) - before == 10);
  before = finished(client);
  CHECK(client.map(&shoal_test_tasks::square, xs, shoal::MapOptions{.chunksize = 1}).to_vector() ==
        std::vector<std::int64_t>(100, 9));
  CHECK(finished(client) - before == 100);
  // Automatic over two one-thread workers: multiprocessing's four chunks per thread.
  before = finished(client);
  std::vector<std::int64_t> many(1000, 2);
  CHECK(client.map(&shoal_test_tasks::square, many).to_vector() == std::vector<std::int64_t>(1000, 4));
  CHECK(finished(client) - before == 8);
  // A coroutine function too.
  CHECK(client.map(&later_double, std::vector<std::int64_t>{1, 2, 3}, shoal::MapOptions{.chunksize = 2}).to_vector() ==
        std::vector<std::int64_t>{2, 4, 6});
}

TEST_CASE("test_map_timeout: the results ready in time are delivered, then TimeoutError", "[integration][map]") {
  shoal::ProcessPoolExecutor pool(2);
  std::vector<std::int64_t> ms{0, 0, 20'000};
  std::vector<std::int64_t> got;
  auto t0 = std::chrono::steady_clock::now();
  {
    auto results = pool.map(&shoal_test_tasks::block_ms, ms, shoal::MapOptions{.chunksize = 1, .timeout = 1500ms});
    try {
      for (auto v : results) got.push_back(v);
      FAIL("no TimeoutError");
    } catch (const shoal::TimeoutError&) {
    }
    // Dropping the results once read cancels what has not finished.
  }
  CHECK(got == std::vector<std::int64_t>{0, 0});
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  // Its chunk was cancelled: the coordinator does not count it running (a plain call that
  // ignores its stop token is let go after the cancel grace).
  CHECK(shoal::test::wait_until([&] {
    for (const auto& t : pool.cluster().client().tasks().result(5s).tasks)
      if (t.function == "block_ms" && t.state == "running") return false;
    return true;
  }, 10s));
  // The cancelled item does not hold the pool: a new call runs at once.
  CHECK(pool.submit(&shoal_test_tasks::square, 4).result(15s) == 16);
}

TEST_CASE("map results are lazy: the first is read while the last still runs", "[integration][map]") {
  shoal::ProcessPoolExecutor pool(2);
  auto results = pool.map(&shoal_test_tasks::block_ms, std::vector<std::int64_t>{0, 1500},
                          shoal::MapOptions{.chunksize = 1});
  auto it = results.begin();
  CHECK(*it == 0);
  CHECK_FALSE(results.futures()[1].done());  // read without waiting for the slow one
  CHECK(*++it == 1500);
}

TEST_CASE("map of a function no worker has fails every item with NotRegistered", "[integration][map]") {
  shoal::test::Cluster c({"--unregistered-wait-ms", "300"});
  c.add_worker(1);
  shoal::Client client(c.address);
  // times_ten_but_3 is registered in this program, not in the workers' task library.
  auto results = client.map(&times_ten_but_3, std::vector<std::int64_t>{1, 2, 3}, shoal::MapOptions{.chunksize = 2});
  for (auto& f : results.futures()) CHECK_THROWS_AS(f.result(15s), shoal::NotRegistered);
}
