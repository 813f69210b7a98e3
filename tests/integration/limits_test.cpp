// Limits that fail one task, never a connection: results and dependency values too large
// for one message.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "shoal/remote/client.hpp"
#include "support/daemons.hpp"
#include "support/test_tasks.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {
using Int1 = std::int64_t(std::int64_t);
using Blob = std::string(std::int64_t);
using Total = std::int64_t(std::string, std::string);
constexpr std::int64_t MiB = 1 << 20;
}  // namespace

TEST_CASE("a result over the limit fails its task with ResultTooLarge, and the worker's other tasks go on",
          "[integration][limits]") {
  // Found broken: a result over the 64 MiB frame limit dropped the worker's connection on
  // each of four attempts (its other tasks disturbed), then failed with a misleading
  // "stopped answering" after 11-27 s.
  shoal::test::Cluster c;
  auto& worker = c.add_worker(2);
  shoal::Client client(c.address);
  REQUIRE(shoal::test::wait_until([&] { return client.workers().result(5s).size() == 1; }, 15s));
  auto before = client.workers().result(5s).at(0);
  auto slow = client.submit<Int1>("sleep_ms", 300);  // running beside it throughout
  auto t0 = std::chrono::steady_clock::now();
  auto big = client.submit<Blob>("blob", 70 * MiB);
  CHECK_THROWS_AS(big.result(20s), shoal::ResultTooLarge);
  CHECK_THROWS_WITH(big.result(), Contains("the result of blob is 70 MiB: more than the 48 MiB a result may carry"));
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(slow.result(10s) == 300);
  auto after = client.workers().result(5s);
  REQUIRE(after.size() == 1);
  CHECK(after[0].id == before.id);  // the same connection: it was never dropped
  CHECK(client.submit<Int1>("square", 9).result(10s) == 81);
  CHECK(client.submit<Blob>("blob", 1 * MiB).result(10s).size() == std::size_t(MiB));
  CHECK_FALSE(worker.wait(0ms).has_value());
}

TEST_CASE("dependency values that together pass the limit fail the dependent with ResultTooLarge",
          "[integration][limits]") {
  shoal::test::Cluster c;
  c.add_worker(2);
  shoal::Client client(c.address);
  REQUIRE(shoal::test::wait_until([&] { return client.workers().result(5s).size() == 1; }, 15s));
  auto a = client.submit<Blob>("blob", 30 * MiB);
  auto b = client.submit<Blob>("blob", 30 * MiB);
  auto both = client.submit<Total>("total_size", a, b);
  CHECK_THROWS_WITH(both.result(20s), Contains("would receive 60 MiB of arguments and dependency values"));
  CHECK_THROWS_AS(both.result(), shoal::ResultTooLarge);
  auto small = client.submit<Blob>("blob", 10);
  auto fits = client.submit<Total>("total_size", a, small);
  CHECK(fits.result(20s) == 30 * MiB + 10);
  CHECK(client.workers().result(5s).size() == 1);
}
