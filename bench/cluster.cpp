// B3, B4, B8: the cluster layer on LocalCluster(2), this binary re-executed as its
// workers (so `noop` below exists there).
//   bench_cluster b3 N ROUNDS   sequential round trips: p50 and p99 (us), and the raw floor:
//                               64-byte ping-pong over a Unix socketpair between two processes
//   bench_cluster b4 N ROUNDS   N submits, then every result: tasks/s
//   bench_cluster b4w N ROUNDS W   B4 on W one-thread workers (B4w256 for W = 256) beside B4
//                               on 2, each waiting for every worker to register first
//   bench_cluster b8 ROUNDS     LocalCluster(2) construction to the first result: ms
//                               (each sample a fresh process: `b8 --once`)
//   bench_cluster b9 N          memory per queued task: N tasks queued on a standalone
//                               shoal-coordinator (a function no worker has), its RSS
//                               growth per task, and this client's per pending future
//   bench_cluster tls N ROUNDS  the cost of TLS: B3 and B4 with the client on TCP loopback,
//                               with mutual TLS (B3tls, B4tls) and without (the peer), in
//                               alternating rounds of one run; the workers' hop stays a
//                               Unix socket in both
//   bench_cluster b7 ROUNDS     a 64 MiB shoal::Bytes echoed by a worker of LocalCluster(2):
//                               MB/s of payload per round trip, beside memcpy of 64 MiB into
//                               a fresh buffer in this process (the peer "memcpy fresh")
//   bench_cluster b7put ROUNDS  one 64 MiB put read by 100 tasks (each touching every page):
//                               seconds, beside 100 separate submits of the same 64 MiB
//                               (at most 8 in flight, to bound memory)
//   bench_cluster metrics N ROUNDS  the cost of watching: B3 and B4 on a LocalCluster(2) serving
//                               HTTP with /metrics scraped every 100 ms beside one without
//                               HTTP, rounds alternating (B3metrics, B4metrics)
//   bench_cluster scale ROUNDS  B4 at 10k and 1M beside 100k (B4_10k, B4_1M), and the B3 p50
//                               on 1, 8 and 32 one-thread workers beside 2 (B3w1, B3w8, B3w32)
//   bench_cluster journal N ROUNDS  the cost of the journal: B3 and B4 on a LocalCluster(2)
//                               with --journal (a file in /tmp, ext4 here: one fsync per
//                               commit) beside one without it, rounds alternating (B3j, B4j)

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "cluster_common.hpp"
#include "common.hpp"
#include "shoal/cluster/local_cluster.hpp"
#include "shoal/cluster/spawn.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/tls.hpp"

std::int64_t noop(std::int64_t x) { return x; }
SHOAL_REMOTE(noop)

shoal::Bytes echo(shoal::Bytes b) { return b; }
SHOAL_REMOTE(echo)

// Reads a byte of every page of `b`: a task that uses a large object.
std::int64_t touch(shoal::Bytes b, std::int64_t i) {
  std::int64_t sum = i;
  for (std::size_t at = 0; at < b.size(); at += 4096) sum += static_cast<std::int64_t>(b[at]);
  return sum;
}
SHOAL_REMOTE(touch)

namespace {

using Clock = std::chrono::steady_clock;

using shoal::bench::percentile;

// The floor: two processes exchanging 64 bytes over a socketpair.
std::vector<double> raw_pingpong(int n) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) std::abort();
  pid_t pid = ::fork();
  char buf[64] = {};
  if (pid == 0) {
    ::close(sv[0]);
    for (int i = 0; i < n; ++i) {
      std::size_t got = 0;
      while (got < 64) got += static_cast<std::size_t>(::read(sv[1], buf + got, 64 - got));
      if (::write(sv[1], buf, 64) != 64) std::_Exit(1);
    }
    std::_Exit(0);
  }
  ::close(sv[1]);
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    if (::write(sv[0], buf, 64) != 64) std::abort();
    std::size_t got = 0;
    while (got < 64) got += static_cast<std::size_t>(::read(sv[0], buf + got, 64 - got));
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ::close(sv[0]);
  int st;
  ::waitpid(pid, &st, 0);
  return us;
}

int b3(int n, int rounds) {
  std::vector<double> raw50, raw99;
  for (int r = 0; r < rounds; ++r) {
    auto us = raw_pingpong(n);
    raw50.push_back(percentile(us, 0.5));
    raw99.push_back(percentile(us, 0.99));
  }
  shoal::LocalCluster local(2, {.threads_per_worker = 1});
  auto& client = local.client();
  std::vector<double> p50, p99, block50;
  shoal::run([&]() -> shoal::Coro<void> {
    for (int i = 0; i < 500; ++i) (void)co_await client.submit(&noop, i).wait();
    for (int r = 0; r < rounds; ++r) {
      std::vector<double> us;
      us.reserve(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        auto v = co_await client.submit(&noop, i).wait();
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (v != i) std::abort();
      }
      p50.push_back(percentile(us, 0.5));
      p99.push_back(percentile(us, 0.99));
    }
  }());
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      if (client.submit(&noop, i).result() != i) std::abort();
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    block50.push_back(percentile(us, 0.5));
  }
  shoal::bench::print_result("B3", nullptr, "us", p50);
  shoal::bench::print_result("B3p99", nullptr, "us", p99);
  shoal::bench::print_result("B3", "raw uds pingpong", "us", raw50);
  shoal::bench::print_result("B3p99", "raw uds pingpong", "us", raw99);
  shoal::bench::print_result("B3block", nullptr, "us", block50);
  return 0;
}

double throughput(shoal::Client& client, int count) { return shoal::bench::throughput(client, count, &noop); }

int b4(int n, int rounds) {
  shoal::LocalCluster local(2, {.threads_per_worker = 1});
  auto& client = local.client();
  std::vector<double> rates;
  auto once = [&](int count) { return throughput(client, count); };
  once(n / 10);
  for (int r = 0; r < rounds; ++r) rates.push_back(once(n));
  shoal::bench::print_result("B4", nullptr, "tasks/s", rates);
  return 0;
}

// B4 on `workers` one-thread workers, every one registered before the clock starts.
std::vector<double> b4_on(unsigned workers, int n, int rounds) {
  shoal::LocalCluster local(workers, {.threads_per_worker = 1});
  auto& client = local.client();
  shoal::bench::wait_workers(client, workers);
  std::vector<double> rates;
  (void)throughput(client, n / 10);
  for (int r = 0; r < rounds; ++r) rates.push_back(throughput(client, n));
  return rates;
}

int b4w(int n, int rounds, unsigned workers) {
  auto many = b4_on(workers, n, rounds);
  auto two = b4_on(2, n, rounds);
  auto id = "B4w" + std::to_string(workers);
  shoal::bench::print_result(id.c_str(), nullptr, "tasks/s", many);
  shoal::bench::print_result(id.c_str(), "B4 on 2 workers", "tasks/s", two);
  return 0;
}

int b7(int rounds) {
  constexpr std::size_t n = 64u << 20;
  auto payload = shoal::Bytes::build(n, [](std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); i += 4096) out[i] = static_cast<std::byte>(i >> 12);
  });
  std::vector<double> fresh;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    {
      std::unique_ptr<std::byte[]> copy(new std::byte[n]);
      std::memcpy(copy.get(), payload.data(), n);
      asm volatile("" : : "r"(copy.get()) : "memory");
    }
    fresh.push_back(n / std::chrono::duration<double>(Clock::now() - t0).count() / 1e6);
  }
  shoal::LocalCluster local(2, {.threads_per_worker = 1});
  auto& client = local.client();
  if (client.submit(&echo, payload).result().size() != n) std::abort();  // warm
  std::vector<double> rates;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    auto back = client.submit(&echo, payload).result();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (back.size() != n || back[n - 4096] != payload[n - 4096]) std::abort();
    rates.push_back(n / s / 1e6);
  }
  shoal::bench::print_result("B7", nullptr, "MB/s", rates);
  shoal::bench::print_result("B7", "memcpy fresh", "MB/s", fresh);
  return 0;
}

int b7put(int rounds) {
  constexpr std::size_t n = 64u << 20;
  constexpr int tasks = 100;
  auto payload = shoal::Bytes::build(n, [](std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); i += 4096) out[i] = static_cast<std::byte>(i >> 12);
  });
  std::int64_t pages = 0;
  for (std::size_t at = 0; at < n; at += 4096) pages += static_cast<std::int64_t>(payload[at]);
  shoal::LocalCluster local(2, {.threads_per_worker = 1});
  auto& client = local.client();
  if (client.submit(&touch, payload, 0).result() != pages) std::abort();  // warm
  std::vector<double> put_s, submit_s;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    {
      auto ref = client.put(payload);
      std::vector<shoal::Future<std::int64_t>> fs;
      for (int i = 0; i < tasks; ++i) fs.push_back(client.submit(&touch, ref, i));
      for (int i = 0; i < tasks; ++i)
        if (fs[static_cast<std::size_t>(i)].result() != pages + i) throw std::runtime_error("a wrong sum (put)");
    }
    put_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    t0 = Clock::now();
    std::vector<shoal::Future<std::int64_t>> fs;
    for (int i = 0; i < tasks; ++i) {
      if (i >= 8 && fs[static_cast<std::size_t>(i - 8)].result() != pages + i - 8)
        throw std::runtime_error("a wrong sum (submit)");
      fs.push_back(client.submit(&touch, payload, i));
    }
    for (int i = tasks - 8; i < tasks; ++i)
      if (fs[static_cast<std::size_t>(i)].result() != pages + i) throw std::runtime_error("a wrong sum (submit)");
    submit_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  shoal::bench::print_result("B7put", nullptr, "s", put_s);
  shoal::bench::print_result("B7put", "100 separate submits", "s", submit_s);
  return 0;
}

int b8_once() {
  auto t0 = Clock::now();
  shoal::LocalCluster local(2, {.threads_per_worker = 1});
  if (local.client().submit(&noop, 1).result() != 1) std::abort();
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::printf("%f\n", ms);
  std::fflush(stdout);
  return 0;
}

int b8(int rounds, const char* self) {
  std::vector<double> ms;
  for (int r = 0; r < rounds + 1; ++r) {
    std::string cmd = std::string(self) + " b8 --once";
    FILE* p = ::popen(cmd.c_str(), "r");
    double v = 0;
    if (!p || std::fscanf(p, "%lf", &v) != 1) std::abort();
    ::pclose(p);
    if (r > 0) ms.push_back(v);  // the first run warms the page cache
  }
  shoal::bench::print_result("B8", nullptr, "ms", ms);
  return 0;
}

// `n` sequential blocking round trips: their p50 in us.
double round_trip_p50(shoal::Client& client, int n) {
  return percentile(shoal::bench::round_trips(client, n, &noop), 0.5);
}

// How the cost grows with the work (issue 17): B4 at 10k and 1M tasks beside 100k
// (tasks/s should stay flat), and the B3 round trip on 1, 8 and 32 one-thread workers
// beside 2 (it should not grow with the cluster).
int scale(int rounds) {
  {
    shoal::LocalCluster local(2, {.threads_per_worker = 1});
    auto& client = local.client();
    (void)throughput(client, 10000);
    std::vector<double> at10k, at100k, at1m;
    for (int r = 0; r < rounds; ++r) {
      at10k.push_back(throughput(client, 10000));
      at100k.push_back(throughput(client, 100000));
      at1m.push_back(throughput(client, 1000000));
    }
    shoal::bench::print_result("B4_10k", nullptr, "tasks/s", at10k);
    shoal::bench::print_result("B4_10k", "B4 at 100k", "tasks/s", at100k);
    shoal::bench::print_result("B4_1M", nullptr, "tasks/s", at1m);
    shoal::bench::print_result("B4_1M", "B4 at 100k", "tasks/s", at100k);
  }
  auto p50_on = [&](unsigned workers) {
    shoal::LocalCluster local(workers, {.threads_per_worker = 1});
    auto& client = local.client();
    shoal::bench::wait_workers(client, workers);
    (void)round_trip_p50(client, 500);
    std::vector<double> p50;
    for (int r = 0; r < rounds; ++r) p50.push_back(round_trip_p50(client, 2000));
    return p50;
  };
  auto two = p50_on(2);
  for (unsigned w : {1u, 8u, 32u}) {
    auto id = "B3w" + std::to_string(w);
    shoal::bench::print_result(id.c_str(), nullptr, "us", p50_on(w));
    shoal::bench::print_result(id.c_str(), "B3 on 2 workers", "us", two);
  }
  return 0;
}

// One LocalCluster(2) that also listens on TCP loopback, and a client over TCP.
struct TcpCluster {
  shoal::LocalCluster local;
  std::unique_ptr<shoal::Client> client;
  TcpCluster(const std::string& token, shoal::link::TlsOptions server, shoal::link::TlsOptions client_tls)
      : local(2, {.threads_per_worker = 1, .listen = {"tcp://127.0.0.1:0"}, .token = token, .tls = server}) {
    std::string address = local.addresses().back();
    client = std::make_unique<shoal::Client>(address, shoal::ClientOptions{.token = token, .tls = client_tls});
  }
};

int tls(int n, int rounds) {
  char tmpl[] = "/tmp/shoal-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) std::abort();
  std::string pki = std::string(tmpl) + "/pki";
  (void)shoal::link::init_certificates(pki, {});
  auto at = [&](const char* f) { return pki + "/" + f; };
  std::string token = shoal::link::read_token_file(at("token"));
  TcpCluster plain(token, {}, {});
  TcpCluster secure(token, {.cert = at("coordinator.crt"), .key = at("coordinator.key"), .ca = at("ca.crt")},
                    {.cert = at("client.crt"), .key = at("client.key"), .ca = at("ca.crt")});
  auto round_trips = [&](shoal::Client& client) { return round_trip_p50(client, n); };
  for (auto* c : {&plain, &secure}) {  // warm both
    (void)round_trips(*c->client);
    (void)throughput(*c->client, 10000);
  }
  std::vector<double> b3_plain, b3_tls, b4_plain, b4_tls;
  for (int r = 0; r < rounds; ++r) {
    b3_plain.push_back(round_trips(*plain.client));
    b3_tls.push_back(round_trips(*secure.client));
    b4_plain.push_back(throughput(*plain.client, 100000));
    b4_tls.push_back(throughput(*secure.client, 100000));
  }
  shoal::bench::print_result("B3tls", nullptr, "us", b3_tls);
  shoal::bench::print_result("B3tls", "tcp without TLS", "us", b3_plain);
  shoal::bench::print_result("B4tls", nullptr, "tasks/s", b4_tls);
  shoal::bench::print_result("B4tls", "tcp without TLS", "tasks/s", b4_plain);
  std::filesystem::remove_all(tmpl);
  return 0;
}

// The cost of watching (issue 14): B3 and B4 on a LocalCluster(2) serving HTTP with a
// scraper reading /metrics every 100 ms, beside one with no HTTP server, rounds
// alternating in one process (B3metrics, B4metrics). The engine counts in both: what
// differs is the server and the copies it asks the engine for.
int metrics(int n, int rounds) {
  shoal::LocalCluster plain(2, {.threads_per_worker = 1, .http = ""});
  shoal::LocalCluster watched(2, {.threads_per_worker = 1, .http = "127.0.0.1:0"});
  if (watched.http_url().empty()) std::abort();
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> scrapes{0};
  std::thread scraper([&] {
    httplib::Client http(watched.http_url());
    while (!done) {
      if (auto r = http.Get("/metrics"); r && r->status == 200 && r->body.size() > 100) ++scrapes;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto round_trips = [&](shoal::Client& client) { return round_trip_p50(client, n); };
  for (auto* c : {&plain, &watched}) {  // warm both
    (void)round_trips(c->client());
    (void)throughput(c->client(), 10000);
  }
  std::vector<double> b3_plain, b3_m, b4_plain, b4_m;
  for (int r = 0; r < rounds; ++r) {
    // Which goes first alternates: the machine's drift favours neither.
    bool plain_first = r % 2 == 0;
    for (int k = 0; k < 2; ++k) {
      bool p = (k == 0) == plain_first;
      (p ? b3_plain : b3_m).push_back(round_trips((p ? plain : watched).client()));
    }
    for (int k = 0; k < 2; ++k) {
      bool p = (k == 0) == plain_first;
      (p ? b4_plain : b4_m).push_back(throughput((p ? plain : watched).client(), 100000));
    }
  }
  done = true;
  scraper.join();
  if (scrapes == 0) std::abort();  // the scraper must have read the metrics
  shoal::bench::print_result("B3metrics", nullptr, "us", b3_m);
  shoal::bench::print_result("B3metrics", "without HTTP", "us", b3_plain);
  shoal::bench::print_result("B4metrics", nullptr, "tasks/s", b4_m);
  shoal::bench::print_result("B4metrics", "without HTTP", "tasks/s", b4_plain);
  return 0;
}

int journal(int n, int rounds) {
  char tmpl[] = "/tmp/shoal-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) std::abort();
  shoal::LocalCluster plain(2, {.threads_per_worker = 1});
  shoal::LocalCluster journaled(2, {.threads_per_worker = 1, .journal = std::string(tmpl) + "/journal.db"});
  if (!journaled.client().journaled()) std::abort();
  auto round_trips = [&](shoal::Client& client) { return round_trip_p50(client, n); };
  for (auto* c : {&plain, &journaled}) {  // warm both
    (void)round_trips(c->client());
    (void)throughput(c->client(), 10000);
  }
  std::vector<double> b3_plain, b3_j, b4_plain, b4_j;
  for (int r = 0; r < rounds; ++r) {
    b3_plain.push_back(round_trips(plain.client()));
    b3_j.push_back(round_trips(journaled.client()));
    b4_plain.push_back(throughput(plain.client(), 100000));
    b4_j.push_back(throughput(journaled.client(), 100000));
  }
  shoal::bench::print_result("B3j", nullptr, "us", b3_j);
  shoal::bench::print_result("B3j", "without the journal", "us", b3_plain);
  shoal::bench::print_result("B4j", nullptr, "tasks/s", b4_j);
  shoal::bench::print_result("B4j", "without the journal", "tasks/s", b4_plain);
  std::filesystem::remove_all(tmpl);
  return 0;
}

std::uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

int b9(int n, const char* self) {
  char tmpl[] = "/tmp/shoal-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) std::abort();
  std::string dir = tmpl, address = "unix://" + dir + "/c.sock";
  shoal::cluster::SpawnOptions o;
  o.program = (std::filesystem::path(self).parent_path() / "shoal-coordinator").string();
  o.argv = {o.program, "--listen", address, "--unregistered-wait-ms", "3600000", "--max-queued", "0", "--quiet"};
  o.stdout_path = dir + "/out";
  o.stdin_path = "/dev/null";
  auto coord = shoal::cluster::spawn(o);
  for (int i = 0; i < 500; ++i) {
    std::ifstream in(dir + "/out");
    std::string l;
    if (std::getline(in, l) && l.rfind("ready", 0) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<shoal::Future<std::int64_t>> fs;  // outlives the client: retrieved after
  {
    shoal::Client client(address);
    (void)client.status().result(std::chrono::seconds(10));
    auto coord0 = rss_kib(coord.pid()), self0 = rss_kib(::getpid());
    fs.reserve(static_cast<std::size_t>(n));
    auto self_reserved = rss_kib(::getpid());  // the vector itself is not the client's cost
    for (int i = 0; i < n; ++i) fs.push_back(client.submit<std::int64_t(std::int64_t)>("b9_nowhere", i));
    for (int i = 0; i < 6000; ++i) {
      auto s = client.status().result(std::chrono::seconds(30));
      if (s.queued + s.waiting >= static_cast<std::uint64_t>(n)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto coord1 = rss_kib(coord.pid()), self1 = rss_kib(::getpid());
    double per_coord = static_cast<double>(coord1 - coord0) * 1024.0 / n;
    double per_client = static_cast<double>(self1 - self_reserved) * 1024.0 / n;
    (void)self0;
    shoal::bench::print_result("B9", nullptr, "bytes/task", {per_coord});
    shoal::bench::print_result("B9", "goal (issue 12)", "bytes/task", {300});
    shoal::bench::print_result("B9client", nullptr, "bytes/task", {per_client});
    shoal::bench::print_result("B9client", "goal (issue 12)", "bytes/task", {150});
  }
  for (auto& f : fs) (void)f.exception();  // CoordinatorLost ("the client was closed"): seen
  coord.kill();
  (void)coord.wait(std::chrono::seconds(5));
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace

int run_mode(int argc, char** argv);

int main(int argc, char** argv) {
  try {
    return run_mode(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cluster %s: %s\n", argc > 1 ? argv[1] : "b3", e.what());
    return 1;
  }
}

int run_mode(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "b3";
  if (mode == "b3") return b3(argc > 2 ? std::atoi(argv[2]) : 20000, argc > 3 ? std::atoi(argv[3]) : 5);
  if (mode == "b4") return b4(argc > 2 ? std::atoi(argv[2]) : 100000, argc > 3 ? std::atoi(argv[3]) : 7);
  if (mode == "b4w")
    return b4w(argc > 2 ? std::atoi(argv[2]) : 100000, argc > 3 ? std::atoi(argv[3]) : 5,
               argc > 4 ? static_cast<unsigned>(std::atoi(argv[4])) : 256);
  if (mode == "metrics") return metrics(argc > 2 ? std::atoi(argv[2]) : 3000, argc > 3 ? std::atoi(argv[3]) : 5);
  if (mode == "b7") return b7(argc > 2 ? std::atoi(argv[2]) : 7);
  if (mode == "b7put") return b7put(argc > 2 ? std::atoi(argv[2]) : 5);
  if (mode == "b8") {
    if (argc > 2 && std::string(argv[2]) == "--once") return b8_once();
    return b8(argc > 2 ? std::atoi(argv[2]) : 7, argv[0]);
  }
  if (mode == "b9") return b9(argc > 2 ? std::atoi(argv[2]) : 1000000, argv[0]);
  if (mode == "journal") return journal(argc > 2 ? std::atoi(argv[2]) : 5000, argc > 3 ? std::atoi(argv[3]) : 5);
  if (mode == "scale") return scale(argc > 2 ? std::atoi(argv[2]) : 3);
  if (mode == "tls") return tls(argc > 2 ? std::atoi(argv[2]) : 5000, argc > 3 ? std::atoi(argv[3]) : 5);
  std::fprintf(stderr, "usage: bench_cluster b3|b4|b8|tls ...\n");
  return 2;
}
