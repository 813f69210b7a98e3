// Placement for real: shoal-worker processes offering resources and labels, tasks asking
// for them, priorities, retries of application errors with backoff, and hundreds of
// workers on one coordinator. Each test names the workers it starts and what it checks.

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "shoal/remote/client.hpp"
#include "support/daemons.hpp"

using namespace std::chrono_literals;
using shoal::test::Cluster;
using shoal::test::wait_until;
using Catch::Matchers::Contains;
using WhereWhen = std::vector<std::int64_t>(std::int64_t);
using Flaky = std::int64_t(std::string, std::int64_t);
using Int1 = std::int64_t(std::int64_t);

namespace {

void await_workers(shoal::Client& client, std::size_t n, Cluster& c, std::chrono::seconds limit = 20s) {
  bool ok = wait_until(
      [&] {
        try {
          return client.workers().result(10s).size() == n;
        } catch (const shoal::TimeoutError&) {
          return false;  // a coordinator busy with registrations answers late: ask again
        }
      },
      limit);
  if (!ok) FAIL("workers did not register:\n" << c.logs());
}

std::uint32_t pid_of(shoal::Client& client, const std::string& name) {
  auto workers = client.workers().result(5s);  // named: result() refers into the future
  for (const auto& w : workers)
    if (w.name == name) return w.pid;
  FAIL("no worker " << name);
  return 0;
}

std::vector<std::int64_t> run_times(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::int64_t> out;
  for (std::string line; std::getline(in, line);) out.push_back(std::stoll(line));
  return out;
}

}  // namespace

TEST_CASE("a GPU task runs only on the worker that has one, and two never overlap there", "[integration][placement]") {
  Cluster c;
  c.add_worker(2, {"--resources", "gpu=1", "--label", "zone=a"});  // w0
  c.add_worker(2, {"--label", "zone=b"});                         // w1
  shoal::Client client(c.address);
  await_workers(client, 2, c);
  auto gpu_pid = pid_of(client, "w0");
  // What it offers, as `shoal workers` shows it.
  auto workers = client.workers().result(5s);
  for (const auto& w : workers) {
    CHECK(w.resources.count("cpu") == 1);
    CHECK(w.resources.count("memory") == 1);
    if (w.name == "w0") {
      CHECK(w.resources.at("gpu") == 1);
      CHECK(w.labels == std::vector<std::string>{"zone=a"});
    }
  }
  shoal::TaskOptions gpu;
  gpu.resources = {{"gpu", 1}};
  std::vector<shoal::Future<std::vector<std::int64_t>>> fs;
  for (int i = 0; i < 4; ++i) fs.push_back(client.submit<WhereWhen>(gpu, "where_when", 150));
  // While they run, the worker shows its GPU in use, and a queued one says why it waits.
  CHECK(wait_until(
      [&] {
        auto now = client.workers().result(5s);
        for (const auto& w : now)
          if (w.name == "w0" && w.used.count("gpu") && w.used.at("gpu") == 1) return true;
        return false;
      },
      10s));
  auto queued = client.tasks("queued").result(5s);
  REQUIRE_FALSE(queued.tasks.empty());
  CHECK_THAT(queued.tasks[0].note, Contains("have it in use"));
  std::vector<std::vector<std::int64_t>> spans;
  for (auto& f : fs) spans.push_back(f.result(20s));
  std::sort(spans.begin(), spans.end(), [](auto& a, auto& b) { return a[1] < b[1]; });
  for (std::size_t i = 0; i < spans.size(); ++i) {
    CHECK(spans[i][0] == gpu_pid);
    if (i) CHECK(spans[i - 1][2] <= spans[i][1]);  // the previous one ended before this started
  }
}

TEST_CASE("a label selector pins tasks to a zone, and an impossible request fails at once with Unschedulable",
          "[integration][placement]") {
  Cluster c;
  c.add_worker(2, {"--resources", "gpu=1", "--label", "zone=a"});  // w0
  c.add_worker(2, {"--label", "zone=b"});                         // w1
  shoal::Client client(c.address);
  await_workers(client, 2, c);
  auto zone_b = pid_of(client, "w1");
  shoal::TaskOptions in_b;
  in_b.labels.required = {"zone=b"};
  std::vector<shoal::Future<std::vector<std::int64_t>>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(client.submit<WhereWhen>(in_b, "where_when", 0));
  for (auto& f : fs) CHECK(f.result(20s)[0] == zone_b);

  auto start = std::chrono::steady_clock::now();
  shoal::TaskOptions two_gpus;
  two_gpus.resources = {{"gpu", 2}};
  auto f = client.submit<WhereWhen>(two_gpus, "where_when", 0);
  CHECK_THROWS_MATCHES(f.result(10s), shoal::Unschedulable, Catch::Matchers::Message(
      "no worker that has 'where_when' offers gpu=2 (the most offered: 1) (2 kind(s) of worker have registered it)"));
  shoal::TaskOptions zone_c;
  zone_c.labels.required = {"zone=c"};
  CHECK_THROWS_WITH(client.submit<WhereWhen>(zone_c, "where_when", 0).result(10s), Contains("label zone=c"));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  // A malformed request is refused before it leaves.
  shoal::TaskOptions bad;
  bad.resources = {{"g pu", 1}};
  CHECK_THROWS_AS(client.submit<WhereWhen>(bad, "where_when", 0), shoal::ValueError);
}

TEST_CASE("a high-priority task submitted after queued low-priority ones starts before them",
          "[integration][placement]") {
  Cluster c;
  c.add_worker(1);
  shoal::Client client(c.address);
  await_workers(client, 1, c);
  // The one thread is busy; 200 low-priority tasks queue behind it, then an urgent one.
  auto blocker = client.submit<Int1>("block_ms", 500);
  shoal::TaskOptions low;
  low.priority = -5;
  std::vector<shoal::Future<std::vector<std::int64_t>>> lows;
  for (int i = 0; i < 200; ++i) lows.push_back(client.submit<WhereWhen>(low, "where_when", 0));
  shoal::TaskOptions urgent;
  urgent.priority = 10;
  auto first = client.submit<WhereWhen>(urgent, "where_when", 0);
  auto urgent_start = first.result(20s)[1];
  (void)blocker.result(20s);
  // A window of tasks was already on the worker when the urgent one came: those few may
  // start before it; every one after them starts after it.
  std::size_t before = 0;
  for (auto& f : lows) before += f.result(20s)[1] < urgent_start;
  CHECK(before <= 4);
}

TEST_CASE("a task that fails with a listed error runs again with backoff, within its attempts",
          "[integration][placement][retry]") {
  Cluster c;
  c.add_worker(2);
  shoal::Client client(c.address);
  await_workers(client, 1, c);
  shoal::TaskOptions o;
  o.retry = {.on = {"ValueError"}, .attempts = 3, .backoff = 200ms, .max_backoff = 1000ms};
  auto path = c.dir.file("runs");
  auto f = client.submit<Flaky>(o, "flaky", path, 2);
  CHECK(f.result(20s) == 3);
  auto runs = run_times(path);
  REQUIRE(runs.size() == 3);
  // Waits of 200 then 400 ms (measured from the runs' starts: each run is short).
  CHECK(runs[1] - runs[0] >= 200'000'000);
  CHECK(runs[1] - runs[0] < 3'000'000'000);
  CHECK(runs[2] - runs[1] >= 400'000'000);
  CHECK(runs[2] - runs[1] < 3'000'000'000);
  auto info = client.status(shoal::Client::task_id(f)).result(5s);
  REQUIRE(info.tasks.size() == 1);
  CHECK(info.tasks[0].attempt == 3);

  // Past its attempts it fails with the error, having run 1 + attempts times.
  auto path2 = c.dir.file("runs2");
  o.retry = {.on = {"ValueError"}, .attempts = 2, .backoff = 10ms, .max_backoff = 10ms};
  CHECK_THROWS_AS(client.submit<Flaky>(o, "flaky", path2, 10).result(20s), shoal::ValueError);
  CHECK(run_times(path2).size() == 3);

  // An error it does not list is not retried.
  auto path3 = c.dir.file("runs3");
  o.retry = {.on = {"TypeMismatch"}, .attempts = 5, .backoff = 10ms, .max_backoff = 10ms};
  CHECK_THROWS_AS(client.submit<Flaky>(o, "flaky", path3, 10).result(20s), shoal::ValueError);
  CHECK(run_times(path3).size() == 1);

  // A cancel during the backoff ends it: no further run.
  auto path4 = c.dir.file("runs4");
  o.retry = {.on = {"*"}, .attempts = 5, .backoff = 2000ms, .max_backoff = 2000ms};
  auto g = client.submit<Flaky>(o, "flaky", path4, 10);
  REQUIRE(wait_until([&] { return run_times(path4).size() == 1; }, 10s));
  REQUIRE(wait_until(
      [&] {
        auto st = client.status(shoal::Client::task_id(g)).result(5s);
        return !st.tasks.empty() && st.tasks[0].note.find("retry 1 of 5") != std::string::npos;
      },
      10s));
  g.cancel();
  CHECK_THROWS_AS(g.result(10s), shoal::CancelledError);
  CHECK(run_times(path4).size() == 1);
}

TEST_CASE("a function's retry policy on the coordinator covers its tasks", "[integration][placement][retry]") {
  Cluster c({"--retry-on", "flaky=ValueError", "--retry-attempts", "2", "--retry-backoff-ms", "50"});
  c.add_worker(2);
  shoal::Client client(c.address);
  await_workers(client, 1, c);
  auto path = c.dir.file("runs");
  CHECK(client.submit<Flaky>("flaky", path, 1).result(20s) == 2);
  auto path2 = c.dir.file("runs2");
  CHECK_THROWS_AS(client.submit<Flaky>("flaky", path2, 5).result(20s), shoal::ValueError);
  CHECK(run_times(path2).size() == 3);
}

TEST_CASE("256 workers register with one coordinator and a job spreads over them",
          "[integration][placement][scale][serial]") {
  Cluster c;
  constexpr std::size_t n = 256;
  // Connected before the workers start: 256 processes starting at once (under ASan, on
  // two cores) may keep the coordinator from answering a new connection for seconds.
  shoal::Client client(c.address, {.connect_timeout = 60s});
  for (std::size_t i = 0; i < n; ++i) c.add_worker(1, {"-q"});
  await_workers(client, n, c, 240s);
  std::vector<shoal::Future<std::vector<std::int64_t>>> fs;
  for (std::size_t i = 0; i < 2 * n; ++i) fs.push_back(client.submit<WhereWhen>("where_when", 20));
  std::set<std::int64_t> pids;
  for (auto& f : fs) pids.insert(f.result(120s)[0]);
  CHECK(pids.size() == n);
}

TEST_CASE("a worker over --max-memory drains and exits, and its tasks complete elsewhere", "[integration][placement]") {
  Cluster c;
  auto& big = c.add_worker(1, {"--max-memory", "600M", "--label", "role=big"});  // w0
  c.add_worker(2);                                                                // w1
  shoal::Client client(c.address);
  await_workers(client, 2, c);
  auto other = pid_of(client, "w1");
  // Grows w0 past its limit; then work for both.
  shoal::TaskOptions on_big;
  on_big.labels.required = {"role=big"};
  CHECK(client.submit<Int1>(on_big, "grow_memory", 700).result(60s) == 700);
  std::vector<shoal::Future<std::vector<std::int64_t>>> fs;
  for (int i = 0; i < 40; ++i) fs.push_back(client.submit<WhereWhen>("where_when", 50));
  for (auto& f : fs) CHECK_NOTHROW(f.result(60s));
  // w0 drained and exited by itself (status 0), saying why; later tasks ran on w1.
  auto status = big.wait(30s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  CHECK_THAT(shoal::test::read_file(c.dir.file("w0.log")), Contains("over --max-memory"));
  REQUIRE(wait_until([&] { return client.workers().result(5s).size() == 1; }, 10s));
  CHECK(client.submit<WhereWhen>("where_when", 0).result(10s)[0] == other);
}
