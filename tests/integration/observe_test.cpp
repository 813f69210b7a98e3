// Watching a cluster for real: shoal-coordinator --http with shoal-worker processes; the
// metrics text parsed strictly against what the test submitted, the JSON API against
// `shoal tasks --json`, the timeline's slices against the attempts made, the shoal verbs
// (dashboard, top, timeline, run --timeline), the refusal of a client from another host
// without the token, and the dashboard in a real browser (headless Chromium).

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <mutex>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "shoal/link/timeline.hpp"
#include "shoal/remote/client.hpp"
#include "support/daemons.hpp"
#include "support/prometheus.hpp"
#if defined(SHOAL_EXAMPLES_LIB) && defined(SHOAL_SOURCE_DIR)
#include "support/cli.hpp"
using shoal::test::run_cli;
#endif

using namespace std::chrono_literals;
using shoal::test::Cluster;
using shoal::test::wait_until;
using Int1 = std::int64_t(std::int64_t);
using Fail = std::int64_t(std::string);
using Flaky = std::int64_t(std::string, std::int64_t);

namespace {

/// A coordinator serving HTTP on a free loopback port (its `http URL` line), and its URL.
struct WatchedCluster {
  Cluster c;
  std::string url;
  explicit WatchedCluster(std::vector<std::string> flags = {"--http", "127.0.0.1:0"}) : c(flags) {
    auto line = c.coordinator->line();
    if (!line || line->rfind("http ", 0) != 0) FAIL("no `http URL` line from the coordinator:\n" << c.logs());
    url = line->substr(5);
  }
  void workers(unsigned n, unsigned threads = 2) {
    for (unsigned i = 0; i < n; ++i) c.add_worker(threads);
    shoal::Client client(c.address);
    if (!wait_until([&] { return client.workers().result(5s).size() == n; }, 20s))
      FAIL("workers did not register:\n" << c.logs());
  }
};

struct Got {
  int status = 0;
  std::string body;
};

Got get(const std::string& url, const std::string& path, const std::string& bearer = {}) {
  httplib::Client http(url);
  http.set_connection_timeout(5);
  http.set_read_timeout(10);
  httplib::Headers h;
  if (!bearer.empty()) h.emplace("Authorization", "Bearer " + bearer);
  auto r = http.Get(path.c_str(), h);
  if (!r) return {-1, httplib::to_string(r.error())};
  return {r->status, r->body};
}

nlohmann::json get_json(const std::string& url, const std::string& path) {
  auto r = get(url, path);
  INFO(path << ": " << r.status << " " << r.body);
  REQUIRE(r.status == 200);
  return nlohmann::json::parse(r.body);
}

/// An IPv4 address of this machine other than loopback ("" when it has none).
std::string non_loopback_ipv4() {
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) != 0) return {};
  std::string found;
  for (auto* i = all; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
      continue;
    char buf[INET_ADDRSTRLEN];
    auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) found = buf;
  }
  ::freeifaddrs(all);
  return found;
}

}  // namespace

TEST_CASE("/metrics parses as the Prometheus format and counts what was submitted", "[integration][observe]") {
  WatchedCluster w;
  w.workers(2);
  shoal::ClientOptions o;
  o.name = "metrics-job";
  shoal::Client client(w.c.address, o);
  std::vector<shoal::Future<std::int64_t>> ok, bad;
  for (int i = 0; i < 20; ++i) ok.push_back(client.submit<Int1>("block_ms", 5));
  for (int i = 0; i < 3; ++i) bad.push_back(client.submit<Fail>("fail", "no " + std::to_string(i)));
  for (auto& f : ok) CHECK(f.result(30s) == 5);
  for (auto& f : bad) CHECK_THROWS(f.result(30s));
  // The workers report their CPU and memory once a heartbeat period (1 s).
  shoal::test::PromText p;
  REQUIRE(wait_until(
      [&] {
        auto r = get(w.url, "/metrics");
        if (r.status != 200) return false;
        p = shoal::test::parse_prometheus(r.body);  // throws (and fails the test) on a malformed line
        return p.with("shoal_worker_resident_memory_bytes", {{"worker", "w0"}}) > 0 &&
               p.with("shoal_worker_resident_memory_bytes", {{"worker", "w1"}}) > 0;
      },
      15s));
  CHECK(p.value("shoal_tasks_submitted_total", {{"function", "block_ms"}}) == 20);
  CHECK(p.value("shoal_tasks_finished_total", {{"function", "block_ms"}}) == 20);
  CHECK(p.value("shoal_tasks_failed_total", {{"function", "block_ms"}}) == 0);
  CHECK(p.value("shoal_tasks_submitted_total", {{"function", "fail"}}) == 3);
  CHECK(p.value("shoal_tasks_failed_total", {{"function", "fail"}}) == 3);
  CHECK(p.value("shoal_task_run_seconds_count", {{"function", "block_ms"}}) == 20);
  CHECK(p.value("shoal_task_run_seconds_sum", {{"function", "block_ms"}}) >= 20 * 0.005);
  CHECK(p.value("shoal_task_queue_wait_seconds_count", {{"function", "block_ms"}}) == 20);
  CHECK(p.value("shoal_workers") == 2);
  CHECK(p.with("shoal_worker_slots", {{"worker", "w0"}}) == 2);
  CHECK(p.with("shoal_worker_cpu_seconds_total", {{"worker", "w0"}}) > 0);
  CHECK(p.value("shoal_client_connections") >= 1);
  CHECK(p.value("shoal_network_received_bytes_total") > 0);
  CHECK(p.value("shoal_network_sent_bytes_total") > 0);
  CHECK(p.value("shoal_tasks", {{"state", "running"}}) == 0);
  // The API's jobs: the client's name, its tasks by outcome.
  auto jobs = get_json(w.url, "/api/v1/jobs");
  bool seen = false;
  for (const auto& j : jobs.at("jobs"))
    if (j.at("name") == "metrics-job") {
      seen = true;
      CHECK(j.at("submitted") == 23);
      CHECK(j.at("done") == 20);
      CHECK(j.at("failed") == 3);
    }
  CHECK(seen);
  auto summary = get_json(w.url, "/api/v1/summary");
  CHECK(summary.at("tasks").at("done") == 20);
  CHECK(summary.at("tasks").at("failed") == 3);
  CHECK(summary.at("workers") == 2);
  // A failure stays listed after its client left (its tasks are forgotten then).
  {
    shoal::Client gone(w.c.address);
    auto f = gone.submit<Fail>("fail", "the client that left");
    CHECK_THROWS(f.result(30s));
  }
  auto failures = get_json(w.url, "/api/v1/failures?limit=10");
  CHECK(failures.at("total") == 4);
  REQUIRE(failures.at("tasks").size() == 4);
  CHECK(failures.at("tasks")[0].at("error") == "shoal::ValueError: the client that left");  // newest first
  CHECK(failures.at("tasks")[0].at("function") == "fail");
  // Bad requests get a typed error, not a crash.
  CHECK(get(w.url, "/api/v1/tasks?limit=abc").status == 400);
  CHECK(get(w.url, "/api/v1/tasks?state=sleeping").status == 400);
  CHECK(get(w.url, "/api/v1/tasks/99999").status == 404);
  CHECK(get(w.url, "/nowhere").status == 404);
}

TEST_CASE("the timeline of a 2-worker job has one slice per attempt on its worker's tracks", "[integration][observe]") {
  WatchedCluster w;
  w.workers(2);
  shoal::Client client(w.c.address);
  shoal::test::TempDir dir;
  std::vector<shoal::Future<std::int64_t>> fs;
  for (int i = 0; i < 12; ++i) fs.push_back(client.submit<Int1>("block_ms", 40));
  // One task that fails once and runs again (an application error's retry): two attempts.
  shoal::TaskOptions retry;
  retry.retry = shoal::RetryPolicy{.on = {"ValueError"}, .attempts = 2, .backoff = 10ms};
  auto flaky = client.submit<Flaky>(retry, "flaky", dir.file("runs"), 1);
  for (auto& f : fs) CHECK(f.result(30s) == 40);
  CHECK(flaky.result(30s) == 2);
  auto attempts = client.attempts().result(10s);
  REQUIRE(attempts.size() == 14);
  std::map<std::uint64_t, std::vector<std::string>> outcomes;
  for (const auto& a : attempts) outcomes[a.task_id].push_back(a.outcome);
  CHECK(outcomes.size() == 13);
  auto flaky_id = shoal::Client::task_id(flaky);
  CHECK(outcomes[flaky_id] == std::vector<std::string>{"retried", "done"});
  auto trace = nlohmann::json::parse(shoal::link::chrome_trace(attempts));
  std::map<int, std::string> processes;
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> tracks;
  std::size_t slices = 0;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("ph") == "M" && e.at("name") == "process_name") processes[e.at("pid")] = e.at("args").at("name");
    if (e.at("ph") != "X") continue;
    ++slices;
    double ts = e.at("ts"), dur = e.at("dur");
    CHECK(dur >= 0);
    tracks[{e.at("pid"), e.at("tid")}].push_back({ts, ts + dur});
  }
  CHECK(slices == 14);
  CHECK(processes.size() == 2);  // one per worker
  std::set<std::string> names;
  for (const auto& [pid, name] : processes) names.insert(name);
  CHECK(names == std::set<std::string>{"worker w0", "worker w1"});
  for (auto& [track, spans] : tracks) {  // a track never holds two slices at once (to the ns printed)
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) CHECK(spans[i].first >= spans[i - 1].second - 0.002);
  }
  // The same through HTTP, and a task's page lists its attempts.
  auto via_http = get_json(w.url, "/api/v1/timeline");
  std::size_t http_slices = 0;
  for (const auto& e : via_http.at("traceEvents")) http_slices += e.at("ph") == "X";
  CHECK(http_slices == 14);
  auto task = get_json(w.url, "/api/v1/tasks/" + std::to_string(flaky_id));
  CHECK(task.at("function") == "flaky");
  CHECK(task.at("state") == "done");
  REQUIRE(task.at("attempts").size() == 2);
  CHECK(task.at("attempts")[0].at("outcome") == "retried");
  CHECK(task.at("attempts")[1].at("outcome") == "done");
}

TEST_CASE("the HTTP server refuses a client from another host without the token", "[integration][observe]") {
  auto ip = non_loopback_ipv4();
  if (ip.empty()) {
    WARN("this machine has no IPv4 address but loopback: a client from another host cannot be simulated");
    return;
  }
  shoal::test::TempDir dir;
  auto token_file = shoal::test::write_token_file(dir.file("token"));
  WatchedCluster w({"--http", "0.0.0.0:0", "--token-file", token_file});
  auto port = w.url.substr(w.url.rfind(':') + 1);
  std::string outside = "http://" + ip + ":" + port;  // the client's address is then `ip`, not loopback
  CHECK(get(outside, "/metrics").status == 401);
  CHECK(get(outside, "/api/v1/tasks").status == 401);
  CHECK(get(outside, "/api/v1/tasks", "wrong-token-wrong-token-wrong-tok").status == 401);
  CHECK(get(outside, "/metrics", shoal::test::kTestToken).status == 200);
  CHECK(get(outside, "/api/v1/summary", shoal::test::kTestToken).status == 200);
  CHECK(get("http://127.0.0.1:" + port, "/metrics").status == 200);  // loopback: as it is
  CHECK(get(outside, "/").status == 200);  // the page itself holds no data; its API calls send the token
}

TEST_CASE("serving HTTP beyond loopback without a token or TLS is refused at start", "[integration][observe]") {
  shoal::test::TempDir dir;
  shoal::test::Daemon d({std::string(SHOAL_BIN_DIR) + "/shoal-coordinator", "--listen", "unix://" + dir.file("c.sock"),
                         "--http", "0.0.0.0:0"},
                        dir.file("log"));
  CHECK(d.wait(10s) == 1);
  auto log = shoal::test::read_file(dir.file("log"));
  CHECK_THAT(log, Catch::Matchers::Contains("needs the cluster's token"));
}

TEST_CASE("the dashboard in a real browser shows the workers, a throughput and the failed task",
          "[integration][observe][browser]") {
  std::string chromium;
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (std::filesystem::exists(p)) chromium = p;
  if (chromium.empty()) {
    WARN("skipped: Chromium is not installed here (apt-get install chromium; `make deps` does)");
    return;
  }
  WatchedCluster w;
  w.workers(2);
  shoal::Client client(w.c.address);
  auto failed = client.submit<Fail>("fail", "the disk is on fire");
  CHECK_THROWS(failed.result(30s));
  // Work keeps finishing while the browser looks: a throughput above zero to show.
  std::atomic<bool> done{false};
  std::thread feeder([&] {
    while (!done) {
      std::vector<shoal::Future<std::int64_t>> fs;
      for (int i = 0; i < 8; ++i) fs.push_back(client.submit<Int1>("block_ms", 20));
      for (auto& f : fs) try {
          (void)f.result(30s);
        } catch (const std::exception&) {
          return;  // the cluster is going: the test has its own checks
        }
    }
  });
  struct Join {
    std::atomic<bool>& done;
    std::thread& t;
    ~Join() {
      done = true;
      t.join();
    }
  } join{done, feeder};
  REQUIRE(wait_until([&] { return get_json(w.url, "/api/v1/summary").at("history").size() >= 3; }, 10s));
  shoal::test::TempDir profile;
  auto browse = [&](std::vector<std::string> extra, const std::string& page) {
    std::vector<std::string> argv = {chromium,          "--headless",          "--no-sandbox",
                                     "--disable-gpu",   "--no-first-run",      "--user-data-dir=" + profile.path,
                                     "--virtual-time-budget=6000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(w.url + page);
    shoal::test::Daemon b(argv, profile.file("chromium.log"));
    std::string dom;
    while (auto l = b.line(60s)) dom += *l + "\n";
    (void)b.wait(30s);
    return dom;
  };
  auto dom = browse({"--dump-dom"}, "/");
  INFO(dom.substr(0, 4000));
  CHECK_THAT(dom, Catch::Matchers::Contains("data-ready=\"1\""));
  std::regex row(R"re(<tr class="worker-row" data-worker="(w[01])")re");
  std::set<std::string> rows;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), row); it != std::sregex_iterator(); ++it)
    rows.insert((*it)[1]);
  CHECK(rows == std::set<std::string>{"w0", "w1"});
  std::smatch m;
  REQUIRE(std::regex_search(dom, m, std::regex(R"re(id="throughput" data-value="([0-9.eE+-]+)")re")));
  CHECK(std::stod(m[1]) > 0);
  CHECK_THAT(dom, Catch::Matchers::Contains("failure-row"));
  CHECK_THAT(dom, Catch::Matchers::Contains("the disk is on fire"));
  // A screenshot in the build tree, for the eyes (docs/observability.md).
  auto shot = std::filesystem::absolute("dashboard.png").string();
  std::filesystem::remove(shot);
  (void)browse({"--screenshot=" + shot, "--window-size=1400,1100", "--hide-scrollbars"}, "/");
  CHECK(std::filesystem::exists(shot));
  CHECK(std::filesystem::file_size(shot) > 10'000);
  // The timeline page: a slice per attempt, on the workers' lanes, each linking its task.
  auto timeline = browse({"--dump-dom"}, "/#/timeline");
  INFO(timeline.substr(0, 4000));
  CHECK_THAT(timeline, Catch::Matchers::Contains("data-ready=\"1\""));
  CHECK_THAT(timeline, Catch::Matchers::Contains("class=\"lane\""));
  CHECK_THAT(timeline, Catch::Matchers::Contains("class=\"slice o-done\""));
  CHECK_THAT(timeline, Catch::Matchers::Contains("class=\"slice o-failed\""));
  auto tshot = std::filesystem::absolute("timeline.png").string();
  std::filesystem::remove(tshot);
  (void)browse({"--screenshot=" + tshot, "--window-size=1400,700", "--hide-scrollbars"}, "/#/timeline");
  CHECK(std::filesystem::exists(tshot));
}

#if defined(SHOAL_EXAMPLES_LIB) && defined(SHOAL_SOURCE_DIR)

namespace {

/// The example tasks' cluster with its coordinator serving HTTP, and its URL.
struct WatchedExamples {
  shoal::test::ExampleCluster ec;
  std::string url;
  WatchedExamples() : ec(2, {"--http", "127.0.0.1:0"}) {
    auto line = ec.c.coordinator->line();
    if (!line || line->rfind("http ", 0) != 0) FAIL("no `http URL` line:\n" << ec.c.logs());
    url = line->substr(5);
  }
};

}  // namespace

TEST_CASE("the API's tasks are what shoal tasks --json lists", "[integration][observe][cli]") {
  WatchedExamples w;
  // Submitted without --wait: detached, kept after the CLI leaves (until the result TTL).
  std::vector<std::string> ids;
  for (const char* arg : {"3", "4"}) ids.push_back(shoal::test::trim(w.ec.run({"submit", "add", arg, "1"}).out));
  ids.push_back(shoal::test::trim(w.ec.run({"submit", "fail", "\"bad input\""}).out));
  CHECK(w.ec.run({"result", ids[0]}).exit == 0);
  CHECK(w.ec.run({"result", ids[1]}).exit == 0);
  CHECK(w.ec.run({"result", ids[2]}).exit == 1);
  auto cli = shoal::test::parse_json(w.ec.run({"--json", "tasks"}));
  auto api = get_json(w.url, "/api/v1/tasks?limit=1000");
  REQUIRE(cli.size() == 3);
  REQUIRE(api.at("total") == 3);
  std::map<std::uint64_t, nlohmann::json> by_id;
  for (const auto& t : api.at("tasks")) by_id[t.at("id").get<std::uint64_t>()] = t;
  for (const auto& t : cli) {
    auto id = t.at("id").get<std::uint64_t>();
    INFO("task " << id);
    REQUIRE(by_id.count(id) == 1);
    const auto& a = by_id.at(id);
    for (const char* key : {"function", "state", "attempt", "worker", "error", "note", "submitted_ns", "finished_ns"})
      CHECK(a.value(key, nlohmann::json()) == t.value(key, nlohmann::json()));
  }
  auto failed = get_json(w.url, "/api/v1/tasks?state=failed");
  REQUIRE(failed.at("tasks").size() == 1);
  CHECK(failed.at("tasks")[0].at("error") == "shoal::ValueError: bad input");
  auto add = get_json(w.url, "/api/v1/tasks?function=add&limit=1");  // paged: newest first
  CHECK(add.at("total") == 2);
  CHECK(add.at("tasks").size() == 1);
}

TEST_CASE("shoal dashboard, top, timeline and run --timeline", "[integration][observe][cli]") {
  WatchedExamples w;
  auto d = w.ec.run({"dashboard"});
  INFO(d);
  CHECK(d.exit == 0);
  CHECK(shoal::test::trim(d.out) == w.url);
  shoal::test::TempDir dir;
  auto trace_file = dir.file("pi.json");
  auto r = w.ec.run({"--json", "run", "--timeline", trace_file, shoal::test::jobs_dir + "/pi.toml"}, 60s);
  INFO(r);
  REQUIRE(r.exit == 0);
  auto slices = [](const std::string& file) {
    auto trace = nlohmann::json::parse(shoal::test::read_file(file));
    std::size_t n = 0;
    for (const auto& e : trace.at("traceEvents")) n += e.at("ph") == "X";
    return n;
  };
  CHECK(slices(trace_file) == 17);  // 16 chunks and the estimate, one attempt each
  // The same job's attempts from `shoal timeline --job`, and none of another job.
  auto all = dir.file("all.json");
  CHECK(w.ec.run({"timeline", "--job", "pi", "--since", "10m", "-o", all}).exit == 0);
  CHECK(slices(all) == 17);
  auto none = dir.file("none.json");
  CHECK(w.ec.run({"timeline", "--job", "no-such-job", "-o", none}).exit == 0);
  CHECK(slices(none) == 0);
  CHECK(w.ec.run({"timeline", "--since", "soon", "-o", none}).exit == 2);
  // top: two refreshes of the live view, then it exits.
  auto top = w.ec.run({"top", "-n", "2", "--interval", "0.2"});
  INFO(top);
  CHECK(top.exit == 0);
  CHECK_THAT(top.out, Catch::Matchers::Contains("WORKER"));
  CHECK_THAT(top.out, Catch::Matchers::Contains("w0"));
  CHECK_THAT(top.out, Catch::Matchers::Contains("done 17"));
}
#endif

// ---- what tasks print ----

using PrintLines = std::int64_t(std::string, std::int64_t, std::int64_t);
using PrintBytes = std::int64_t(std::int64_t);

TEST_CASE("a task's stdout and stderr are kept per task, and still reach the worker's log",
          "[integration][observe][logs]") {
  WatchedCluster w;
  w.workers(1, 2);
  shoal::Client client(w.c.address);
  // Two at once on the worker's two threads: each keeps only its own lines.
  auto a = client.submit<PrintLines>("print_lines", "alpha", 30, 2);
  auto b = client.submit<PrintLines>("print_lines", "beta", 30, 2);
  CHECK(a.result(30s) == 30);
  CHECK(b.result(30s) == 30);
  auto la = client.logs(shoal::Client::task_id(a)).result(10s);
  auto lb = client.logs(shoal::Client::task_id(b)).result(10s);
  std::string want_out, want_err;
  for (int i = 0; i < 30; ++i) {
    if (i % 3 == 0) want_out += "alpha out " + std::to_string(i) + "\n";
    if (i % 3 == 1) want_out += "alpha printf " + std::to_string(i) + "\n";
    if (i % 3 == 2) want_err += "alpha err " + std::to_string(i) + "\n";
  }
  CHECK(la.stdout_text == want_out);
  CHECK(la.stderr_text == want_err);
  CHECK(lb.stdout_text.find("alpha") == std::string::npos);
  CHECK(lb.stdout_text.find("beta printf 28") != std::string::npos);
  // Still in the worker's own log (tee), as before capture.
  CHECK(wait_until([&] { return shoal::test::read_file(w.c.dir.file("w0.log")).find("alpha err 29") != std::string::npos; }));
  // The API's task page has them too.
  auto page = get_json(w.url, "/api/v1/tasks/" + std::to_string(shoal::Client::task_id(a)));
  CHECK(page.at("stdout") == want_out);
  CHECK(page.at("stderr") == want_err);
}

TEST_CASE("a task's output is bounded: what passes 64 KiB is not kept, and it says so", "[integration][observe][logs]") {
  WatchedCluster w;
  w.workers(1, 1);
  shoal::Client client(w.c.address);
  auto f = client.submit<PrintBytes>("print_bytes", 200'000);
  CHECK(f.result(30s) == 200'000);
  auto l = client.logs(shoal::Client::task_id(f)).result(10s);
  CHECK(l.stderr_text.size() < 66 * 1024);
  CHECK(l.stderr_text.size() > 64 * 1024);
  CHECK_THAT(l.stderr_text, Catch::Matchers::Contains("output past 64 KiB was not kept"));
  CHECK(l.stdout_text.empty());
  CHECK_THROWS_AS(client.logs(12345).result(10s), shoal::ValueError);
}

TEST_CASE("a retried task keeps each attempt's output, and a second subscribe does not double it",
          "[integration][observe][logs]") {
  WatchedCluster w;
  w.workers(1, 2);
  shoal::test::TempDir dir;
  std::vector<std::string> seen;
  std::mutex mu;
  shoal::ClientOptions o;
  o.on_output = [&](std::uint64_t, int, std::string_view data) {
    std::lock_guard lock(mu);
    seen.emplace_back(data);
  };
  shoal::Client client(w.c.address, o);
  shoal::TaskOptions retry;
  retry.retry = shoal::RetryPolicy{.on = {"ValueError"}, .attempts = 1, .backoff = 10ms};
  auto f = client.submit<std::int64_t(std::string)>(retry, "print_then_fail_once", dir.file("runs"));
  CHECK(f.result(30s) == 2);
  auto l = client.logs(shoal::Client::task_id(f)).result(10s);
  CHECK(l.stdout_text == "run 1\n\n[shoal: attempt 2]\nrun 2\n");
  // Subscribing twice to a running task: its output still comes once.
  seen.clear();
  auto slow = client.submit<PrintLines>("print_lines", "twice", 9, 100);
  auto id = shoal::Client::task_id(slow);
  shoal::Client watcher(w.c.address, o);
  auto s1 = watcher.subscribe(id);
  auto s2 = watcher.subscribe(id);
  CHECK(slow.result(30s) == 9);
  (void)s1.exception(10s);
  (void)s2.exception(10s);
  std::lock_guard lock(mu);
  std::string all;
  for (const auto& s : seen) all += s;
  // The submitter's copy and the watcher's: each line twice in all, never four times.
  CHECK(std::count(all.begin(), all.end(), '\n') == 2 * 9);
}

#if defined(SHOAL_EXAMPLES_LIB) && defined(SHOAL_SOURCE_DIR)
TEST_CASE("shoal logs shows what a task printed, while it runs and after, and --follow streams it",
          "[integration][observe][logs][cli]") {
  WatchedCluster w;
  w.workers(1, 2);
  shoal::test::Env env{{"SHOAL_ADDRESS", w.c.address}};
  shoal::ClientOptions o;
  o.name = "printer";
  shoal::Client client(w.c.address, o);
  // 40 lines 100 ms apart: about 4 s of printing.
  auto f = client.submit<PrintLines>("print_lines", "slow", 40, 100);
  auto id = std::to_string(shoal::Client::task_id(f));
  // While it runs: what it printed so far.
  CHECK(wait_until([&] { return run_cli({"logs", id}, env).out.find("slow out 3") != std::string::npos; }, 20s));
  auto running = run_cli({"--json", "logs", id}, env);
  INFO(running);
  auto j = nlohmann::json::parse(running.out);
  CHECK(j.at("state") == "running");
  // --follow: everything so far and the rest as it comes, ending with the task.
  auto follow = run_cli({"logs", "--follow", id}, env, 60s);
  INFO(follow);
  CHECK(follow.exit == 0);
  CHECK_THAT(follow.out, Catch::Matchers::Contains("slow out 0\n"));
  CHECK_THAT(follow.out, Catch::Matchers::Contains("slow printf 37\n"));
  CHECK_THAT(follow.out, Catch::Matchers::Contains("slow out 39\n"));
  CHECK_THAT(follow.err, Catch::Matchers::Contains("slow err 38\n"));
  CHECK(f.result(30s) == 40);
  // After: all of it.
  auto after = run_cli({"logs", id}, env);
  CHECK(after.exit == 0);
  CHECK(std::count(after.out.begin(), after.out.end(), '\n') == 27);  // out and printf lines
  CHECK(std::count(after.err.begin(), after.err.end(), '\n') == 13);
  CHECK(run_cli({"logs", "424242"}, env).exit == 2);
  CHECK(run_cli({"logs"}, env).exit == 2);
  // A worker's log through the coordinator (not one `shoal start` started here): its
  // tasks' output and its lines as it writes them, until Ctrl-C.
  shoal::test::TempDir xdg;
  auto remote_env = env;
  remote_env["XDG_RUNTIME_DIR"] = xdg.path;
  auto tailing = client.submit<PrintLines>("print_lines", "tail", 60, 100);
  shoal::test::CliProcess tail({"logs", "--worker", "w0", "-f"}, remote_env);
  CHECK(tail.read_out_until("tail out 45\n", 30s).find("tail out 45") != std::string::npos);
  tail.signal(SIGINT);
  auto tailed = tail.finish(20s);
  INFO(tailed);
  CHECK(tailed.exit == 0);
  CHECK(tailing.result(30s) == 60);
  auto nobody = run_cli({"logs", "--worker", "w9", "-f"}, remote_env);
  CHECK(nobody.exit == 2);
  CHECK_THAT(nobody.err, Catch::Matchers::Contains("no worker named w9 is connected (workers: w0)"));
  CHECK(run_cli({"logs", "--worker", "w0"}, remote_env).exit == 2);  // no file here, and not -f
  // --follow when the coordinator dies: exit 3 (no coordinator), not a quiet end.
  auto endless = client.submit<PrintLines>("print_lines", "endless", 600, 100);
  auto endless_id = std::to_string(shoal::Client::task_id(endless));
  shoal::test::CliProcess follower({"logs", "-f", endless_id}, env);
  CHECK(follower.read_out_until("endless out 3\n", 20s).find("endless out 3") != std::string::npos);
  w.c.kill_coordinator();
  auto ended = follower.finish(20s);
  INFO(ended);
  CHECK(ended.exit == 3);
}
#endif

TEST_CASE("daemons logging JSON at debug level: every line an object, a task's lines carry its id",
          "[integration][observe][log]") {
  Cluster c({"--log-format", "json", "--log-level", "debug"});
  c.add_worker(1, {"--log-format", "json"});
  shoal::Client client(c.address);
  REQUIRE(wait_until([&] { return client.workers().result(5s).size() == 1; }, 20s));
  auto ok = client.submit<Int1>("block_ms", 1);
  auto bad = client.submit<Fail>("fail", "for the log");
  CHECK(ok.result(30s) == 1);
  CHECK_THROWS(bad.result(30s));
  auto ok_id = shoal::Client::task_id(ok), bad_id = shoal::Client::task_id(bad);
  std::map<std::uint64_t, std::vector<std::string>> by_task;
  auto read = [&] {
    by_task.clear();
    std::istringstream in(shoal::test::read_file(c.dir.file("coordinator.log")));
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);  // throws, failing the test, on a line that is not JSON
      CHECK(j.contains("time"));
      CHECK(j.at("daemon") == "shoal-coordinator");
      if (j.contains("task")) by_task[std::stoull(j.at("task").get<std::string>())].push_back(j.at("msg"));
    }
    return by_task[ok_id].size() >= 3 && by_task[bad_id].size() >= 4;
  };
  REQUIRE(wait_until(read, 10s));
  CHECK_THAT(by_task[ok_id][0], Catch::Matchers::StartsWith("submitted: block_ms"));
  CHECK_THAT(by_task[ok_id][1], Catch::Matchers::StartsWith("assigned to w0"));
  CHECK_THAT(by_task[ok_id][2], Catch::Matchers::StartsWith("done: block_ms"));
  bool failure_logged = false;
  for (const auto& m : by_task[bad_id]) failure_logged |= m == "fail failed: shoal::ValueError: for the log";
  CHECK(failure_logged);
  // The worker's lines are JSON too.
  std::istringstream w(shoal::test::read_file(c.dir.file("w0.log")));
  std::size_t worker_lines = 0;
  for (std::string line; std::getline(w, line); ++worker_lines) CHECK(nlohmann::json::parse(line).at("daemon") == "shoal-worker w0");
  CHECK(worker_lines >= 1);
}
