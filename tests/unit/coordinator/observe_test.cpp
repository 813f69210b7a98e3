// What observers read, without a socket: the Prometheus text (checked by a strict parser
// of the exposition format), the JSON API's shapes, and the timeline's trace events.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "metrics.hpp"
#include "observe.hpp"
#include "shoal/link/timeline.hpp"
#include "support/prometheus.hpp"

using namespace shoal::coordinator;

TEST_CASE("the metrics text parses strictly and says what was counted", "[unit][observe]") {
  observe::MetricsData m;
  observe::FunctionRow fib;
  fib.name = "fib";
  fib.counters.submitted = 7;
  fib.counters.finished = 5;
  fib.counters.failed = 1;
  fib.counters.retried = 2;
  fib.queued = 1;
  for (std::uint64_t ns : {50'000ull, 2'000'000ull, 2'000'000ull, 400'000'000'000ull}) fib.counters.run.observe(ns);
  fib.counters.queue_wait.observe(1'000);
  observe::FunctionRow odd;
  odd.name = "a \"quoted\"\\name\nwith a newline";  // escaped as the format wants
  odd.counters.submitted = 1;
  m.functions = {fib, odd};
  observe::WorkerRow w;
  w.name = "w1";
  w.id = 7;
  w.capacity = 4;
  w.running = 2;
  w.cpu_ns = 1'500'000'000;
  w.rss_bytes = 12345678;
  auto twin = w;  // the same name (w1 in every container): another series by its id
  twin.id = 8;
  m.workers = {w, twin};
  m.counts.queued = 1;
  m.bytes_in = 1000;
  m.journal = true;
  m.journal_lag_ns = 250'000'000;

  auto text = observe::prometheus(m);
  auto p = shoal::test::parse_prometheus(text);
  CHECK(p.types.at("shoal_tasks_submitted_total") == "counter");
  CHECK(p.types.at("shoal_task_run_seconds") == "histogram");
  CHECK(p.value("shoal_tasks_submitted_total", {{"function", "fib"}}) == 7);
  CHECK(p.value("shoal_tasks_finished_total", {{"function", "fib"}}) == 5);
  CHECK(p.value("shoal_tasks_failed_total", {{"function", "fib"}}) == 1);
  CHECK(p.value("shoal_tasks_retried_total", {{"function", "fib"}}) == 2);
  CHECK(p.value("shoal_tasks_queued", {{"function", "fib"}}) == 1);
  CHECK(p.value("shoal_tasks_submitted_total", {{"function", odd.name}}) == 1);
  // Buckets in seconds: 50 us and the 2 ms ones under 0.005, 400 s only under +Inf.
  CHECK(p.value("shoal_task_run_seconds_bucket", {{"function", "fib"}, {"le", "0.0001"}}) == 1);
  CHECK(p.value("shoal_task_run_seconds_bucket", {{"function", "fib"}, {"le", "0.005"}}) == 3);
  CHECK(p.value("shoal_task_run_seconds_bucket", {{"function", "fib"}, {"le", "300"}}) == 3);
  CHECK(p.value("shoal_task_run_seconds_bucket", {{"function", "fib"}, {"le", "+Inf"}}) == 4);
  CHECK(p.value("shoal_task_run_seconds_count", {{"function", "fib"}}) == 4);
  CHECK(p.value("shoal_task_run_seconds_sum", {{"function", "fib"}}) == Approx(400.00405));
  CHECK(p.value("shoal_worker_cpu_seconds_total", {{"worker", "w1"}, {"worker_id", "7"}}) == Approx(1.5));
  CHECK(p.value("shoal_worker_resident_memory_bytes", {{"worker", "w1"}, {"worker_id", "7"}}) == 12345678);
  CHECK(p.value("shoal_workers") == 2);
  CHECK(p.value("shoal_network_received_bytes_total") == 1000);  // counts print exactly
  CHECK(p.value("shoal_network_received_bytes_total") == 1000);
  CHECK(p.value("shoal_journal_lag_seconds") == Approx(0.25));
  CHECK(p.value("shoal_tasks", {{"state", "queued"}}) == 1);
}

TEST_CASE("the strict parser refuses what Prometheus would", "[unit][observe]") {
  using shoal::test::parse_prometheus;
  CHECK_THROWS(parse_prometheus("x 1\n"));                                       // no TYPE
  CHECK_THROWS(parse_prometheus("# TYPE x counter\nx{a=\"b} 1\n"));            // unterminated
  CHECK_THROWS(parse_prometheus("# TYPE x counter\nx 1\nx 2\n"));              // a series twice
  CHECK_THROWS(parse_prometheus("# TYPE x counter\nx one\n"));                 // not a number
  CHECK_THROWS(parse_prometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));
  CHECK_NOTHROW(parse_prometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"));
}

TEST_CASE("a histogram counts a duration in the first bucket that holds it", "[unit][observe]") {
  Histogram h;
  h.observe(100'000);      // exactly the first bound: in it (le is "less or equal")
  h.observe(100'001);      // just over: the next
  h.observe(~0ull >> 1);   // beyond every bound: +Inf
  CHECK(h.counts[0] == 1);
  CHECK(h.counts[1] == 1);
  CHECK(h.counts.back() == 1);
  CHECK(h.count == 3);
}

TEST_CASE("metrics keep a bounded history and forget the clients gone longest", "[unit][observe]") {
  Metrics m;
  for (std::uint64_t i = 0; i < Metrics::kHistory + 10; ++i) m.sample({i, i, 0, 0, 0, 0, 0, 0});
  CHECK(m.history.size() == Metrics::kHistory);
  CHECK(m.history.front().wall_ns == 10);
  m.max_attempts = 3;
  for (std::uint64_t i = 0; i < 5; ++i) m.attempt({.task_id = i});
  REQUIRE(m.attempts.size() == 3);
  CHECK(m.attempts.front().task_id == 2);
  for (std::uint64_t c = 1; c <= Metrics::kMaxJobs; ++c) {
    m.job(c, "job" + std::to_string(c), c).last_end_ns = c;
    m.client_gone(c);
  }
  m.job(Metrics::kMaxJobs + 1, "new", 0);  // one too many: the client gone longest goes
  CHECK(m.jobs.size() == Metrics::kMaxJobs);
  CHECK(m.jobs.count(1) == 0);
  CHECK(m.jobs.count(2) == 1);
  CHECK(m.jobs.at(Metrics::kMaxJobs + 1).name == "new");
}

TEST_CASE("the timeline has one slice per attempt, on tracks where no two overlap", "[unit][observe]") {
  using shoal::link::Attempt;
  const std::uint64_t s = 1'700'000'000'000'000'000ull;  // wall clock ns
  auto at = [&](std::uint64_t id, std::uint64_t worker, std::uint64_t start_ms, std::uint64_t end_ms) {
    Attempt a;
    a.task_id = id;
    a.function = "f";
    a.attempt = 1;
    a.worker_id = worker;
    a.worker = "w" + std::to_string(worker);
    a.submitted_ns = s;
    a.started_ns = s + start_ms * 1'000'000;
    a.ended_ns = s + end_ms * 1'000'000;
    a.run_ns = (end_ms - start_ms) * 1'000'000;
    a.outcome = "done";
    return a;
  };
  // Worker 1: three at once, then one after the first ended. Worker 2: one, failed.
  std::vector<Attempt> as = {at(1, 1, 0, 100), at(2, 1, 10, 50), at(3, 1, 20, 200), at(4, 1, 100, 150), at(5, 2, 5, 30)};
  as.back().outcome = "failed";
  as.back().error = "ValueError: \"bad\"\n";  // escaped in the JSON
  auto trace = nlohmann::json::parse(shoal::link::chrome_trace(as));
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> tracks;
  std::map<int, std::string> processes;
  std::set<std::uint64_t> tasks;
  int queued_begin = 0, queued_end = 0;
  for (const auto& e : trace.at("traceEvents")) {
    auto ph = e.at("ph").get<std::string>();
    if (ph == "M" && e.at("name") == "process_name") processes[e.at("pid")] = e.at("args").at("name");
    if (ph == "b") ++queued_begin;
    if (ph == "e") ++queued_end;
    if (ph != "X") continue;
    tasks.insert(e.at("args").at("task").get<std::uint64_t>());
    double ts = e.at("ts"), dur = e.at("dur");
    tracks[{e.at("pid"), e.at("tid")}].push_back({ts, ts + dur});
    if (e.at("args").at("task") == 5) {
      CHECK(e.at("args").at("outcome") == "failed");
      CHECK(e.at("args").at("error") == "ValueError: \"bad\"\n");
    }
  }
  CHECK(tasks == std::set<std::uint64_t>{1, 2, 3, 4, 5});
  CHECK(processes.size() == 2);
  CHECK(processes.at(1) == "worker w1");
  std::size_t slices = 0;
  for (auto& [track, spans] : tracks) {
    slices += spans.size();
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) CHECK(spans[i].first >= spans[i - 1].second);
  }
  CHECK(slices == 5);
  // Worker 1 needs three tracks (1, 2, 3 overlap; 4 takes the first free one).
  std::set<int> w1_tracks;
  for (auto& [track, spans] : tracks)
    if (track.first == 1) w1_tracks.insert(track.second);
  CHECK(w1_tracks.size() == 3);
  // Queue waits: submitted before started, for all but task 1 (started at once: none).
  CHECK(queued_begin == 4);
  CHECK(queued_end == 4);
}

TEST_CASE("the timeline does not invent a slot for a result read a little late", "[unit][observe]") {
  using shoal::link::Attempt;
  const std::uint64_t s = 1'700'000'000'000'000'000ull;
  auto at = [&](std::uint64_t id, std::uint64_t start_us, std::uint64_t end_us) {
    Attempt a;
    a.task_id = id;
    a.function = "f";
    a.worker_id = 1;
    a.started_ns = s + start_us * 1000;
    a.ended_ns = s + end_us * 1000;
    a.outcome = "done";
    return a;
  };
  // Two threads; task 3 started as task 1's thread freed, but task 1's result was read
  // 1 ms later (batched): it still belongs on task 1's track. Task 4 starts as task 3 ends.
  auto trace = nlohmann::json::parse(
      shoal::link::chrome_trace({at(1, 0, 10'000), at(2, 0, 30'000), at(3, 9'000, 20'000), at(4, 20'000, 100'000)}));
  std::map<std::uint64_t, int> tid;
  std::map<std::uint64_t, double> ts;
  for (const auto& e : trace.at("traceEvents"))
    if (e.at("ph") == "X") {
      tid[e.at("args").at("task")] = e.at("tid");
      ts[e.at("args").at("task")] = e.at("ts");
    }
  CHECK(tid[3] == tid[1]);
  CHECK(ts[3] == Approx(10'000));  // starts where task 1's track frees
  CHECK(tid[4] != tid[2]);         // 2 runs until 30 ms: 4 cannot share its track...
  CHECK(tid[4] == tid[3]);         // ...but task 3's track is free at 20 ms
}

TEST_CASE("an attempt never sent has no length and does not pull the trace back to 1970", "[unit][observe]") {
  shoal::link::Attempt lost;
  lost.task_id = 9;
  lost.function = "f";
  lost.worker_id = 1;
  lost.ended_ns = 1'700'000'000'000'000'000ull;  // started_ns 0, run_ns 0: lost before its assign left
  lost.outcome = "worker lost";
  auto trace = nlohmann::json::parse(shoal::link::chrome_trace({lost}));
  CHECK(trace.at("otherData").at("origin_ns") == lost.ended_ns);
  for (const auto& e : trace.at("traceEvents"))
    if (e.at("ph") == "X") {
      CHECK(e.at("ts") == 0);
      CHECK(e.at("dur") == 0);
    }
}
