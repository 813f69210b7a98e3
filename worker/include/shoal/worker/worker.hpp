#pragma once
/// \file
/// The worker engine: connects to a coordinator, registers the functions and actor types
/// of its registry, and runs what it is assigned: coroutine functions as tasks on its
/// loop, plain functions on its thread pool, an actor's calls one at a time in arrival
/// order. Results leave in batches. Cancellation reaches a coroutine as CancelledError at
/// its next await and a plain function through shoal::this_task::stop_requested().
///
///     shoal::run([]() -> shoal::Coro<int> {
///       shoal::worker::Worker w({.coordinator = "unix:///tmp/c.sock", .threads = 4});
///       co_return co_await w.run();
///     }());
///
/// `shoal-worker` (worker/src/main.cpp) is this plus flags, `--load` and signals. Users
/// may build their own worker binary around it, with their functions linked in.

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shoal/link/placement.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/remote/registry.hpp"

namespace shoal::link {
class Connection;
}  // namespace shoal::link

namespace shoal::worker {

struct WorkerOptions {
  std::string coordinator;  ///< address; empty: remote::default_address()
  int adopted_fd = -1;      ///< a socket already connected to the coordinator (LocalCluster)
  unsigned threads = 0;     ///< pool threads for plain tasks; 0: one per core
  unsigned coroutines = 1024;
  std::string name;         ///< shown in status; default "w<pid>"
  std::string token;        ///< for TCP coordinators
  /// TLS to a TCP coordinator: ca checks the coordinator's certificate (else the system's
  /// roots); cert and key answer a coordinator that asks for one (mutual TLS).
  link::TlsOptions tls;
  std::chrono::milliseconds grace{30000};  ///< on stop(): how long running tasks may finish
  /// How long to keep trying when the coordinator goes away: 0 forever, negative never
  /// (an adopted socket never reconnects).
  std::chrono::milliseconds reconnect_timeout{0};
  std::uint32_t max_tasks = 0;  ///< exit after this many tasks (0: never)
  bool log = true;
  /// On a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT), tell the coordinator
  /// which task the faulting thread ran before dying (it then fails that task with
  /// TaskCrashed rather than retry it onto another worker). Installs process-wide
  /// handlers, so it is for worker processes: shoal-worker and LocalCluster's workers
  /// turn it on; a program embedding a Worker beside other work decides for itself.
  bool report_crashes = false;
  /// Capture what plain tasks print (std::cout/cerr/clog, C's stdout/stderr) as their
  /// output, kept by the coordinator (`shoal logs TASK`) and still written to this
  /// process's streams. Replaces the process's standard stream buffers, so it is for
  /// worker processes: shoal-worker and LocalCluster's workers turn it on.
  bool capture_output = false;
  /// Where Client::current() connects from inside tasks; empty: `coordinator`.
  std::string client_address;
  /// What it offers to tasks that ask (TaskOptions::resources): {"gpu", 1}, {"licence", 2}.
  /// "cpu" and "memory" not given are this machine's cores and RAM (link::machine_resources).
  Resources resources{};
  /// Labels tasks select it by (TaskOptions::labels): "zone=a".
  std::vector<std::string> labels{};
  /// Past this resident size (bytes) it drains and exits, for its supervisor (shoal start,
  /// LocalCluster) to start a fresh one: tasks not started go back to the coordinator and
  /// run elsewhere, running ones get `grace`. Checked every half heartbeat. 0: no limit.
  std::uint64_t max_memory = 0;
  /// A connection to the coordinator made by the embedding program instead of a socket
  /// (the simulation's in-process links, cluster/sim): called on the worker's loop for
  /// each session, before its hello; null when none can be had now (tried again after
  /// the usual backoff). `coordinator` then only names it in the log.
  std::function<std::shared_ptr<link::Connection>()> dial;
  /// A thread that sends heartbeats while a task holds the loop up (worker/src/watchdog.hpp).
  /// Off where the embedding program drives the loop on a virtual clock (the simulation).
  bool watchdog = true;
};

class Worker {
 public:
  explicit Worker(WorkerOptions options, remote::Registry& registry = remote::Registry::global());
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Runs until stopped, told to exit by the coordinator, or unable to reconnect. Must be
  /// awaited on a shoal loop (coroutine tasks run there). Returns the exit status: 0 after
  /// a clean stop, 3 when the coordinator could not be reached. Cancelling the task that
  /// awaits it ends it at once, as a killed process ends (CancelledError): its connection
  /// closes, its jobs are cancelled, nothing is handed back. The Worker must outlive it.
  asio::awaitable<int> run();
  /// Drains (call on the worker's loop, e.g. from a signal handler): tells the
  /// coordinator, hands back tasks not started, lets running ones finish within `grace`.
  void stop();

  struct Engine;

 private:
  std::shared_ptr<Engine> engine_;
};

/// `shoal-worker`'s main: flags (CLI11), `--load`, signals. Returns the exit status.
int worker_main(int argc, char** argv);

}  // namespace shoal::worker
