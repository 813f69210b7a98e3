#pragma once
/// \file
/// LocalCluster: an embedded coordinator and `n` worker processes, stopped when it goes.
/// The embedded default needs no set-up:
///
///     shoal::LocalCluster local(2);                 // coordinator thread + 2 workers
///     auto f = local.client().submit(&fib, 30);     // fib: SHOAL_REMOTE'd in this program
///     std::cout << f.result() << "\n";
///
/// Workers are either this same program re-executed in worker mode (the default: every
/// function it registers exists there; see shoal/cluster/child.hpp) or a given
/// `shoal-worker` binary with task libraries to `--load` (the CLI's embedded cluster).
/// The coordinator runs on a thread of this process and listens on a private socket
/// (address()), so other processes (Process children, the CLI) can reach it too.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "shoal/link/tls.hpp"
#include "shoal/remote/client.hpp"

namespace shoal {

struct LocalClusterOptions {
  unsigned threads_per_worker = 0;  ///< 0: max(1, cores / workers)
  /// Empty: this program, re-executed in worker mode. Else a shoal-worker executable.
  std::string worker_program{};
  std::vector<std::string> load{};  ///< task libraries for worker_program's --load
  int retries = 3;
  /// A task that killed its worker this many times fails with TaskCrashed (see
  /// CoordinatorOptions::max_crashes).
  std::uint32_t max_crashes = 1;
  std::uint32_t max_tasks_per_worker = 0;  ///< a worker exits after this many (0: never)
  /// A worker past this resident size (bytes) drains and is replaced (WorkerOptions::max_memory;
  /// 0: no limit).
  std::uint64_t max_memory_per_worker = 0;
  bool respawn = true;  ///< replace workers that die (not while stopping)
  bool log = false;     ///< the coordinator's and workers' log lines on stderr
  /// Runs in each worker before it registers (this-program workers only); a worker whose
  /// initializer throws exits with status 3.
  std::optional<remote::PreparedCall> initializer{};
  /// Called (on the supervisor thread) when a worker exits, with its index and exit
  /// status (-N: killed by signal N); return false to not respawn it.
  std::function<bool(unsigned index, int status)> on_worker_exit{};
  /// More addresses for the embedded coordinator besides its private socket (e.g.
  /// `tcp://0.0.0.0:7000`), where workers and clients on other hosts join. TCP needs `token`.
  std::vector<std::string> listen{};
  std::string token{};    ///< what TCP peers must prove they know (at least 32 bytes)
  link::TlsOptions tls{};  ///< TLS for TCP peers: cert and key, and ca for mutual TLS
  /// The embedded coordinator's journal (CoordinatorOptions::journal): a LocalCluster
  /// started again on the same file runs what an earlier one accepted and did not finish.
  std::string journal{};
  /// The embedded coordinator's object store limit in bytes
  /// (CoordinatorOptions::object_store_memory; 0: memory is the limit).
  std::uint64_t object_store_memory = 0;
  /// The embedded coordinator's HTTP server (metrics, JSON API, dashboard; see
  /// CoordinatorOptions::http): "" for none. The default serves on loopback, on another
  /// free port when 8265 is taken (several clusters on one machine); http_url() says where.
  std::string http = kDefaultHttp;
  static constexpr const char* kDefaultHttp = "127.0.0.1:8265";
  /// How long a task waits for a worker that registered its function before it fails
  /// with NotRegistered (CoordinatorOptions::unregistered_wait).
  std::chrono::milliseconds unregistered_wait{30000};
};

class LocalCluster {
 public:
  /// Starts the coordinator and `workers` workers (0: one per core). Returns without
  /// waiting for them to register: the first submits queue until they do.
  explicit LocalCluster(unsigned workers = 0, LocalClusterOptions options = {});
  /// stop().
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  /// A client of the embedded coordinator (created on first use).
  Client& client();
  /// The coordinator's address (a private Unix socket).
  [[nodiscard]] std::string address() const;
  /// Every address it listens on: address(), then `listen` with TCP ports resolved.
  [[nodiscard]] std::vector<std::string> addresses() const;
  /// Where the dashboard and /metrics are served ("http://127.0.0.1:8265"; "" none).
  [[nodiscard]] std::string http_url() const;
  /// The timeline of the tasks' attempts (those that ended at or after `since_ns`, wall
  /// clock; of one job when `job` is given) as Chrome trace-event JSON: open it in
  /// https://ui.perfetto.dev or chrome://tracing. What `shoal timeline` writes.
  [[nodiscard]] std::string timeline(std::uint64_t since_ns = 0, const std::string& job = {});
  /// Blocks until `n` workers have registered, or throws TimeoutError.
  void wait_for_workers(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  [[nodiscard]] std::vector<pid_t> worker_pids() const;
  /// Stops the workers (Shutdown, then SIGKILL after `grace`) and the coordinator.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(1));

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal
