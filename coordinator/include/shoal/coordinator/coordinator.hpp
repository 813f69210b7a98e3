#pragma once
/// \file
/// The coordinator engine: accepts clients and workers, keeps the task table, schedules
/// ready tasks to workers (least loaded first, with a window of tasks in flight per worker
/// so that trivial tasks stream), holds tasks on their dependencies, routes results and
/// cancellations, retries the tasks of lost workers, places actors, answers status
/// queries. Single-threaded: everything runs on the executor it is given.
///
///     asio::io_context io;
///     shoal::coordinator::Coordinator c(io.get_executor(), {.listen = {"unix:///tmp/c.sock"}});
///     c.start();                                   // listens (throws when it cannot)
///     asio::co_spawn(io, c.run(), on_done);        // serves until stop() has drained
///     io.run();
///
/// `shoal-coordinator` (coordinator/src/main.cpp) is this plus flags and signals;
/// LocalCluster embeds it on a thread of the user's process.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shoal/link/retry.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/proto/stream.hpp"

namespace shoal::link {
class Connection;
}

namespace shoal::coordinator {

struct Engine;

/// The deterministic simulation's disk (cluster/sim): a journal given one has no
/// thread of its own, and writes what was committed only when told.
struct JournalPacer {
  /// Set by the coordinator once its journal is open (and reset when the journal goes):
  /// writes everything committed so far, or with `fail` not empty fails as a refusing disk
  /// would (the commits wait for the next call). Returns whether anything was waiting.
  std::function<bool(const std::string& fail)> write;
  /// Whether commits wait to be written.
  std::function<bool()> waiting;
  const void* owner = nullptr;  // the journal these belong to
};

/// Test-only faults the deterministic simulation plants in the engine, to show that its
/// invariants catch them. Never set outside tests.
struct PlantedFaults {
  /// The nth result a worker reports (counting from 1) is dropped as if never sent (0: none).
  std::uint64_t drop_result = 0;
};

struct CoordinatorOptions {
  /// Addresses to listen on (`unix:///path`, `tcp://host:port`); empty: none (a
  /// coordinator fed only by adopt(), as in LocalCluster) unless `listen_default`.
  std::vector<std::string> listen;
  bool listen_default = false;  ///< add remote::default_address() when `listen` is empty
  std::string token;            ///< required from TCP peers
  /// TLS for every TCP connection (cert and key; with ca, peers must present a
  /// certificate that chains to it: mutual TLS). Unix sockets stay plain.
  link::TlsOptions tls;
  int retries = 3;              ///< attempts after a worker loss, unless a submit or function says
  /// A task that killed its worker this many times (named by the dying worker, or
  /// running alone) fails with TaskCrashed instead of being retried.
  std::uint32_t max_crashes = 1;
  std::map<std::string, int> function_retries;
  /// Per function: the application errors its tasks run again for (a submit's own
  /// TaskOptions::retry wins). `shoal-coordinator --retry-on NAME=TYPE[,TYPE...]`.
  std::map<std::string, RetryPolicy> function_retry_on;
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds heartbeat_timeout{5000};
  std::chrono::milliseconds grace{30000};  ///< on stop(): how long running tasks may finish
  /// How long a queued task waits for a worker that registered its function (also while no
  /// worker is connected) before it fails with NotRegistered.
  std::chrono::milliseconds unregistered_wait{30000};
  std::chrono::milliseconds cancel_grace{2000};
  /// Failed tasks kept to be replayed (`shoal replay`): their encoded arguments and their
  /// dependencies' values, the newest `keep_failed` of them within `keep_failed_bytes`
  /// (in the journal too, when there is one). 0 keeps none.
  std::size_t keep_failed = 100;
  std::size_t keep_failed_bytes = std::size_t{64} << 20;
  std::chrono::seconds result_ttl{3600};  ///< detached results, and those of gone clients
  bool exit_workers_on_stop = false;      ///< Shutdown{exit} to workers (LocalCluster's children)
  bool log = true;                        ///< one line per notable event on stderr
  /// Before its hello a peer is a stranger: it must say hello within this, its frames may
  /// not exceed 64 KiB, and strangers over TCP are capped (the oldest go first), so that
  /// they can never crowd out Unix-socket clients or pin the coordinator's memory.
  std::chrono::milliseconds hello_timeout{5000};
  std::size_t max_strangers = 256;              ///< TCP connections before their hello, in all
  std::size_t max_strangers_per_address = 32;   ///< the same, from one IP address
  /// A refused hello (bad token, another uid) is answered only after this, so that
  /// guessing the token is slow.
  std::chrono::milliseconds auth_penalty{1000};
  /// What may wait to be written to one peer; a peer that stops reading while more
  /// queues for it is disconnected (its tasks settled as for any lost peer).
  std::size_t max_peer_queue_bytes = std::size_t{512} << 20;
  /// The journal (an SQLite file; empty: none). With one, a submit is acknowledged as
  /// accepted once it is on disk, and a coordinator started again on the same file after
  /// a crash or a stop runs every accepted task that had not finished and keeps every
  /// result not yet released (see docs/durability.md). start() opens it.
  std::string journal;
  /// After a restart on a journal, the unfinished tasks wait this long before they are
  /// queued: a worker that reconnects meanwhile adopts the ones it still runs (and
  /// delivers their results) instead of them running again elsewhere.
  std::chrono::milliseconds adopt_wait{1000};
  /// A client whose connection ends without a goodbye (a crash, a network cut) may
  /// reconnect within this and find its tasks; after it they are cancelled (unless
  /// detached) as for a client that closed. 0: at once.
  std::chrono::milliseconds client_grace{10000};
  /// Admission: unfinished tasks (and their argument bytes) the coordinator holds, at
  /// most. Past either, a client over its fair share (the limit over the clients with
  /// unfinished tasks) is no longer read until it drops below: its socket fills and its
  /// submits wait (then fail Overloaded). 0: no limit.
  std::uint64_t max_queued = 1'000'000;
  std::uint64_t max_queued_bytes = std::uint64_t{1} << 30;
  /// The object store: bytes of large values (1 MiB or more: puts, arguments and results
  /// in shared memory) this coordinator may hold. Past it, a put or a submit with a large
  /// argument fails with ObjectStoreFull (retry once objects were released). 0: no limit
  /// but memory.
  std::uint64_t object_store_memory = 0;
  std::string name = "shoal-coordinator";
  /// The HTTP server: Prometheus metrics at /metrics, the JSON API at /api/v1/, the
  /// dashboard at / (docs/observability.md). "HOST:PORT" ("" none; port 0: any free one).
  /// Beyond loopback it needs `token` (clients not on this machine send it as a bearer)
  /// or `tls` (HTTPS; with `tls.ca`, clients present a certificate).
  std::string http;
  /// When `http`'s port is taken, serve on any free one instead (the defaults of
  /// LocalCluster and `shoal start`, 127.0.0.1:8265, do this; an address given does not).
  bool http_any_port = false;
  /// Task attempts remembered for the timeline (the oldest go first; 0: none).
  std::size_t timeline_attempts = 100'000;
  /// What tasks printed, kept until their result is released (`shoal logs TASK`): per
  /// task and stream at most 64 KiB, in all at most this (what comes past it is counted,
  /// not kept).
  std::uint64_t max_output_bytes = std::uint64_t{256} << 20;
  /// The first peer id it gives out (0: a random one, so that a coordinator restarted
  /// without a journal does not give a new client an old client's ids). The simulation
  /// fixes it: the same seed, the same ids.
  std::uint64_t first_peer = 0;
  /// With `journal`: its writes are paced by the simulation (JournalPacer). nullptr: the
  /// journal's own thread writes.
  std::shared_ptr<JournalPacer> journal_pacer;
  PlantedFaults planted;  ///< test-only (the simulation's self-check)
};

class Coordinator {
 public:
  Coordinator(asio::any_io_executor ex, CoordinatorOptions options);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  /// Opens the journal (recovering what it holds) and the listeners. Throws shoal::Error
  /// ("a coordinator is already listening at ...", "cannot listen at ...", "the journal
  /// at ... is in use by another coordinator").
  void start();
  /// Serves until stop() has drained: its accept loops and housekeeping are its children,
  /// and it returns once they ended and every connection closed. Run it on the executor
  /// given to the constructor.
  asio::awaitable<void> run();
  /// Graceful stop (call on the executor): no new connections or submits, queued tasks
  /// cancelled, running ones get `grace`, then workers get Shutdown and run() returns.
  void stop();
  /// stop() with no grace.
  void stop_now();
  /// Serves a connected socket (a socketpair end given to a child worker). Any thread.
  void adopt(proto::Socket socket);
  /// Serves a connection: one end of link::Connection::local_pair() on this coordinator's
  /// executor for an in-process peer (LocalCluster's client). Any thread.
  void adopt(std::shared_ptr<link::Connection> connection);
  /// The executor the engine runs on.
  [[nodiscard]] asio::any_io_executor executor() const;
  /// The addresses listened on (TCP ports resolved).
  [[nodiscard]] std::vector<std::string> addresses() const;
  /// Where the HTTP server listens ("http://127.0.0.1:8265"; "" when it does not).
  [[nodiscard]] std::string http_url() const;

 private:
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<class HttpServer> http_;
};

/// `shoal-coordinator`'s main: flags (CLI11), signals, prints `ready ADDRESS` once
/// listening. Returns the process exit status.
int coordinator_main(int argc, char** argv);

}  // namespace shoal::coordinator
