// B3d, B3dp99, B4d: the cluster as an operator runs it. A standalone shoal-coordinator and
// two one-thread shoal-worker processes (loading libshoal_bench_tasks.so) on a Unix
// socket, and this process as the client, so every task crosses two hops each way:
//   bench_daemons N ROUNDS   B3d / B3dp99: sequential round trips (us, p50 and p99), beside
//                            the raw two-hop relay floor ("raw uds relay": 64 bytes from
//                            this process through a middle process to a third and back,
//                            over two socketpairs); B4d: N submits, then every result
//                            (tasks/s), beside the goal of 1M tasks/s and B4 on a
//                            LocalCluster(2) (in-process coordinator) in the same run.
//   bench_daemons insn ADDRESS N [batch]   N tasks through daemons already running at
//                            ADDRESS, once: one round trip at a time (INSN), or submitted
//                            all then gathered (INSNb); bench/python/insn.py counts them

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster_common.hpp"
#include "common.hpp"
#include "shoal/cluster/local_cluster.hpp"
#include "shoal/cluster/spawn.hpp"

std::int64_t noop(std::int64_t x) { return x; }
SHOAL_REMOTE(noop)

namespace {

using Clock = std::chrono::steady_clock;

using shoal::bench::percentile;

void read_full(int fd, char* buf, std::size_t n) {
  for (std::size_t got = 0; got < n;) {
    auto r = ::read(fd, buf + got, n - got);
    if (r <= 0) std::_Exit(3);
    got += static_cast<std::size_t>(r);
  }
}

void write_full(int fd, const char* buf, std::size_t n) {
  if (::write(fd, buf, n) != static_cast<ssize_t>(n)) std::_Exit(4);
}

// The floor of a two-hop round trip: 64 bytes from this process to a middle one (the
// coordinator's place), on to a third (the worker's) and back the same way.
std::vector<double> raw_relay(int n) {
  int near[2], far[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, near) != 0 || ::socketpair(AF_UNIX, SOCK_STREAM, 0, far) != 0) std::abort();
  char buf[64] = {};
  pid_t end = ::fork();
  if (end == 0) {  // the third process: answers what reaches it
    ::close(near[0]);
    ::close(near[1]);
    ::close(far[0]);
    for (int i = 0; i < n; ++i) {
      read_full(far[1], buf, 64);
      write_full(far[1], buf, 64);
    }
    std::_Exit(0);
  }
  pid_t middle = ::fork();
  if (middle == 0) {  // the middle: relays each way
    ::close(near[0]);
    ::close(far[1]);
    for (int i = 0; i < n; ++i) {
      read_full(near[1], buf, 64);
      write_full(far[0], buf, 64);
      read_full(far[0], buf, 64);
      write_full(near[1], buf, 64);
    }
    std::_Exit(0);
  }
  ::close(near[1]);
  ::close(far[0]);
  ::close(far[1]);
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    write_full(near[0], buf, 64);
    read_full(near[0], buf, 64);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ::close(near[0]);
  int st = 0;
  ::waitpid(middle, &st, 0);
  ::waitpid(end, &st, 0);
  return us;
}

std::vector<double> round_trips(shoal::Client& client, int n) { return shoal::bench::round_trips(client, n, &noop); }

double throughput(shoal::Client& client, int count) { return shoal::bench::throughput(client, count, &noop); }

// The daemons, as an operator starts them; killed and reaped when this goes.
struct Daemons {
  std::string dir, address;
  std::vector<shoal::cluster::Child> children;

  explicit Daemons(const std::filesystem::path& bin) {
    char tmpl[] = "/tmp/shoal-bench-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    address = "unix://" + dir + "/c.sock";
    shoal::cluster::SpawnOptions c;
    c.program = (bin / "shoal-coordinator").string();
    c.argv = {c.program, "--listen", address, "--quiet"};
    c.stdout_path = dir + "/coordinator.out";
    c.stdin_path = "/dev/null";
    children.push_back(shoal::cluster::spawn(c));
    wait_ready(dir + "/coordinator.out");
    for (int i = 0; i < 2; ++i) {
      shoal::cluster::SpawnOptions w;
      w.program = (bin / "shoal-worker").string();
      w.argv = {w.program, "-c", address, "--load", SHOAL_BENCH_TASKS_LIB, "-t", "1", "--name",
                "w" + std::to_string(i), "--quiet"};
      w.stdout_path = dir + "/w" + std::to_string(i) + ".out";
      w.stdin_path = "/dev/null";
      children.push_back(shoal::cluster::spawn(w));
    }
  }
  ~Daemons() {
    for (auto& c : children) {
      c.kill();
      (void)c.wait(std::chrono::seconds(5));
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  static void wait_ready(const std::string& out) {
    for (int i = 0; i < 1000; ++i) {
      std::ifstream in(out);
      std::string l;
      if (std::getline(in, l) && l.rfind("ready", 0) == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("shoal-coordinator did not print ready within 10 s");
  }
};

int run(int n, int rounds, const char* self) {
  std::vector<double> relay50, relay99;
  for (int r = 0; r < rounds; ++r) {
    auto us = raw_relay(n);
    relay50.push_back(percentile(us, 0.5));
    relay99.push_back(percentile(us, 0.99));
  }
  std::vector<double> p50, p99, rates, local_rates;
  {
    Daemons d(std::filesystem::path(self).parent_path());
    shoal::Client client(d.address);
    shoal::bench::wait_workers(client, 2);
    (void)round_trips(client, 500);
    (void)throughput(client, 10000);
    for (int r = 0; r < rounds; ++r) {
      auto us = round_trips(client, n);
      p50.push_back(percentile(us, 0.5));
      p99.push_back(percentile(us, 0.99));
      rates.push_back(throughput(client, 100000));
    }
  }
  {
    shoal::LocalCluster local(2, {.threads_per_worker = 1});
    (void)throughput(local.client(), 10000);
    for (int r = 0; r < rounds; ++r) local_rates.push_back(throughput(local.client(), 100000));
  }
  shoal::bench::print_result("B3d", nullptr, "us", p50);
  shoal::bench::print_result("B3d", "raw uds relay", "us", relay50);
  shoal::bench::print_result("B3dp99", nullptr, "us", p99);
  shoal::bench::print_result("B3dp99", "raw uds relay", "us", relay99);
  shoal::bench::print_result("B4d", nullptr, "tasks/s", rates);
  shoal::bench::print_result("B4d", "goal (1M tasks/s)", "tasks/s", {1e6});
  shoal::bench::print_result("B4d", "LocalCluster(2) (B4)", "tasks/s", local_rates);
  return 0;
}

}  // namespace

// One pass of B4d's work and nothing else, against daemons already started: what
// bench/python/insn.py counts under callgrind (INSN).
int insn(const std::string& address, int n, bool batch) {
  shoal::Client client(address);
  shoal::bench::wait_workers(client, 2);
  if (batch)
    (void)throughput(client, n);
  else
    (void)round_trips(client, n);
  return 0;
}

int run_mode(int argc, char** argv) {
  if (argc > 3 && std::string(argv[1]) == "insn")
    return insn(argv[2], std::atoi(argv[3]), argc > 4 && std::string(argv[4]) == "batch");
  return run(argc > 1 ? std::atoi(argv[1]) : 5000, argc > 2 ? std::atoi(argv[2]) : 5, argv[0]);
}

int main(int argc, char** argv) {
  try {
    return run_mode(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_daemons: %s\n", e.what());
    return 1;
  }
}
