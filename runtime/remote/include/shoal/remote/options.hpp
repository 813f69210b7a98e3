#pragma once
/// \file
/// What a Client is given and what it reports: per-submit TaskOptions (timeouts, retries,
/// placement, retries of the task's own errors), ActorOptions, ClientOptions, and the
/// status records of workers, tasks and the cluster (client.hpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "shoal/link/messages.hpp"
#include "shoal/link/placement.hpp"
#include "shoal/link/retry.hpp"
#include "shoal/link/timeline.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/remote/replay.hpp"

namespace shoal {

/// The longest task timeout and the most retries a task may ask for (link/messages.hpp).
using link::kMaxRetries;
using link::kMaxTimeoutMs;

/// Per-submit options. submit() throws ValueError for values outside the ranges below.
struct TaskOptions {
  /// Enforced by the worker from the task's start: the future fails with TimeoutError.
  /// More than 0, at most kMaxTimeoutMs.
  std::optional<std::chrono::milliseconds> timeout{};
  /// Attempts after a worker loss, 0 to kMaxRetries; -1: the coordinator's default for
  /// the function (3).
  int retries = -1;
  /// Keep the result on the coordinator after this client goes (for `shoal result ID`).
  bool detached = false;
  /// What it holds on its worker while it runs: `{{"gpu", 1}, {"memory", 4_GiB}}`. It goes
  /// only to a worker that offers them free (`shoal-worker --resources`), and two tasks
  /// never hold the same unit at once. A request that no worker that registered the
  /// function could ever fit fails at once with Unschedulable; one that a busy (or gone)
  /// worker could fit waits, saying why in `shoal status`. Empty: a thread slot only.
  Resources resources{};
  /// Labels its worker must have (`required`) or should, where one that has them has room
  /// (`preferred`): `{.required = {"zone=a"}}`.
  LabelSelector labels{};
  /// Among the workers that fit: the least loaded (spread) or the most loaded (pack).
  Strategy strategy = Strategy::spread;
  /// Higher starts first among the queued tasks (ties: in submission order), -1000 to
  /// 1000. A running task is never preempted.
  int priority = 0;
  /// Application errors to run it again for, with backoff: `{.on = {"ValueError"},
  /// .attempts = 5}`. Empty `on`: the function's policy on the coordinator
  /// (`shoal-coordinator --retry-on`), else none. `shoal tasks` shows the attempts.
  RetryPolicy retry{};

  /// The placement fields as one request.
  [[nodiscard]] link::Placement placement() const { return {resources, labels, strategy, priority}; }
};

/// How an actor is placed (Client::spawn): the resources it holds on its worker for its
/// whole life, and the labels its worker must or should have.
struct ActorOptions {
  Resources resources{};
  LabelSelector labels{};
  /// Times the actor is constructed again (with its constructor's arguments) on another
  /// worker after its worker died (Ray's max_restarts); -1: always. 0: it dies with its
  /// worker, and its calls fail with ActorDied.
  int max_restarts = 0;
  /// Times a call that was with the actor's worker when it died (sent to it, running or
  /// waiting in its mailbox: as in Ray, submitted and not finished) runs again on the
  /// restarted actor (Ray's max_task_retries); -1: always. 0: it fails with ActorDied.
  /// Calls still at the coordinator (waiting for their arguments) wait for the restart.
  int max_task_retries = 0;
  /// Calls that run at once (Ray's max_concurrency): coroutine methods interleave on the
  /// worker's loop (an async actor), plain ones run on its threads (a threaded actor:
  /// the methods must then be thread-safe). 1: one after another, in order.
  std::uint32_t max_concurrency = 1;
  /// A name other clients find it by (Client::get_actor); unique among live actors.
  std::string name{};
  /// It outlives its creator (Ray's lifetime="detached"): neither dropping every handle
  /// nor the creator's exit ends it; Client::kill_actor does, or the coordinator's stop.
  bool detached = false;
};

/// Whether a spawn's first argument is its ActorOptions.
template <typename... Args>
inline constexpr bool first_is_actor_options = false;
template <typename First, typename... Rest>
inline constexpr bool first_is_actor_options<First, Rest...> = std::is_same_v<std::remove_cvref_t<First>, ActorOptions>;

struct ClientOptions {
  std::string name = "client";  ///< shown in the coordinator's logs
  std::string token{};            ///< shared secret for TCP coordinators
  /// TLS to a TCP coordinator (ca, and cert and key for mutual TLS); empty fields are
  /// taken from SHOAL_TLS_CA, SHOAL_TLS_CERT, SHOAL_TLS_KEY. Unix sockets ignore it.
  link::TlsOptions tls{};
  std::chrono::milliseconds connect_timeout{5000};
  /// A lost connection (the coordinator restarted, a network cut) is dialled again, with
  /// backoff (50 ms doubling to 2 s), for up to this long; the client then takes its
  /// identity back, sends again the submits the coordinator had not acknowledged (ids
  /// make that safe) and asks again for every pending result. Futures fail only for
  /// tasks the coordinator no longer knows (CoordinatorLost), or when this runs out. 0: no
  /// reconnecting (pending futures fail at once). In-process links never reconnect.
  std::chrono::milliseconds reconnect{30000};
  /// Submits the coordinator has not yet acknowledged, at most: a submit beyond them
  /// blocks its thread until acknowledgements make room (the coordinator's pace bounds
  /// this client's memory), for up to `submit_timeout`, then throws Overloaded. Not on
  /// the client's own thread or an in-process coordinator's loop (they would wait on
  /// themselves): there it never blocks. With a journaled coordinator (acknowledgements
  /// wait for the disk) the bound is 8 times this.
  std::uint32_t max_unacknowledged = 1u << 13;
  std::chrono::milliseconds submit_timeout{60000};
  /// The output of this client's running tasks as it comes (stream 1: stdout, 2: stderr;
  /// shoal.exec, this_task::write_output), called on the client's I/O thread, before the
  /// task's result. Empty: output is not wanted (it is then never kept anywhere).
  std::function<void(std::uint64_t task, int stream, std::string_view data)> on_output{};
  /// A worker's log as it comes, for Client::follow_worker_log (on the client's I/O
  /// thread): its name, what it wrote, and, when there is nothing (more) to follow, why
  /// ("no worker named w9 is connected", "worker w1 disconnected").
  std::function<void(std::string_view worker, std::string_view data, std::string_view error)> on_worker_log{};
};

/// A worker, as `Client::workers()` reports it.
struct WorkerInfo {
  std::uint64_t id = 0;
  std::string name, host;
  std::uint32_t pid = 0, capacity = 0, running = 0, actors = 0, functions = 0;
  std::uint64_t done = 0;
  bool draining = false;
  Resources resources{};            ///< what it offers (shoal-worker --resources)
  Resources used{};                 ///< of that, what running tasks and live actors hold
  std::vector<std::string> labels;  ///< "zone=a"
};

/// A task, as `Client::status(id)` and `Client::tasks()` report it.
struct TaskInfo {
  std::uint64_t id = 0;
  std::string function;
  std::string state;  ///< unknown, waiting, queued, assigned, running, done, failed, cancelled
  std::uint32_t attempt = 0;
  std::uint64_t worker = 0;  ///< peer id of the worker that ran it (0: none yet)
  std::uint64_t actor = 0;
  std::uint64_t submitted_ns = 0, finished_ns = 0;  ///< wall clock
  std::uint64_t run_ns = 0;  ///< how long it ran on its worker
  std::string error;         ///< a failed task's error
  std::string note;          ///< why a queued task waits ("waiting: no worker has fib"), else ""
  std::string job;           ///< the name its submitting client gave (`shoal run`: the job's)
  std::uint64_t started_ns = 0;  ///< wall clock: its latest attempt was sent to its worker
  std::string stdout_text, stderr_text;  ///< Client::logs(): what it printed, as kept
};

/// One attempt of a task on a worker, as the timeline shows it (Client::attempts,
/// shoal::link::chrome_trace writes them as a Perfetto / chrome://tracing trace).
using TaskAttempt = link::Attempt;

/// The cluster as the coordinator sees it.
/// A function whose queued tasks wait for a worker that registered it.
struct UnservedFunction {
  std::string function;
  std::uint64_t tasks = 0;
  /// When they fail with NotRegistered unless a worker with it joins
  /// (CoordinatorOptions::unregistered_wait after the first of them was queued).
  std::chrono::milliseconds fails_in{0};
};

struct ClusterStatus {
  std::vector<WorkerInfo> workers;
  std::uint64_t waiting = 0, queued = 0, running = 0, done = 0, failed = 0, cancelled = 0;
  std::vector<TaskInfo> tasks;  ///< status(id): that task; tasks(): the list
  std::string http;  ///< where the coordinator serves its dashboard and metrics ("" nowhere)
  std::vector<TaskAttempt> attempts;  ///< attempts(): the timeline
  std::vector<UnservedFunction> unserved;  ///< status(): what waits for a worker with its function
  /// A lookup of a named actor (Client::get_actor): the live one, or why there is none.
  struct NamedActor {
    std::uint64_t id = 0;
    std::string class_name;
    std::uint64_t constructor_hash = 0;
    std::string error;
  } actor;
  /// A failed task kept for replay (Client::replay_bundle); `replay_missing` says why
  /// there is none.
  remote::ReplayBundle replay;
  std::string replay_missing;
};

/// A function or actor method the live workers registered.
struct CatalogEntry {
  std::string name;
  std::string signature;
  std::uint64_t signature_hash = 0;
  bool is_coroutine = false;
};

}  // namespace shoal
