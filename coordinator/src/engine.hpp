#pragma once
// The coordinator engine: owns the I/O and wires the state machines. One thread (the
// executor's) touches everything here. A task's path: Submit -> TaskTable (waiting on
// deps, or ready) -> Scheduler::pick() (once per loop turn that changed anything) ->
// Assign to the worker -> its Result -> TaskTable::finish() -> the submitter, the
// subscribers and the dependents hear of it. Outgoing entries are batched per peer and
// leave at the end of the loop turn.

#include <asio/any_io_executor.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "actor_table.hpp"
#include "failed_keep.hpp"
#include "functions.hpp"
#include "journal.hpp"
#include "metrics.hpp"
#include "observe.hpp"
#include "recovery.hpp"
#include "scheduler.hpp"
#include "shoal/coordinator/coordinator.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/listener.hpp"
#include "shoal/link/timer.hpp"
#include "shoal/link/log.hpp"
#include "task_table.hpp"

namespace shoal::coordinator {

/// A duration as the steady nanoseconds the engine's clocks count in.
[[nodiscard]] inline std::uint64_t ns(std::chrono::nanoseconds d) { return static_cast<std::uint64_t>(d.count()); }

namespace schema = proto::schema;

struct Engine;

/// One connected peer (a client or a worker): its connection, who it said it is, and
/// what is queued for it until the end of the loop turn.
struct Peer final : link::ConnectionHandler {
  Peer(Engine& e, std::shared_ptr<link::Connection> c) : engine(e), conn(std::move(c)) {}
  void on_frames() override;
  void on_frames_done() override;
  void on_message(schema::Envelope::Reader env, const proto::FrameOwner& frame) override;
  void on_protocol_error(const std::string& why) override;
  void on_closed(const std::string& why) override;

  Engine& engine;
  std::shared_ptr<link::Connection> conn;
  std::uint64_t id = 0;  // 0 until its hello
  schema::Role role = schema::Role::CLIENT;
  bool welcomed = false;  // a client after its hello, a worker after its registration
  std::string name, host;
  std::uint32_t pid = 0;
  std::uint64_t accepted_ns = 0;  // when the connection came (its hello is due within hello_timeout)
  bool refused = false;           // its hello was refused: the answer waits out the penalty
  std::unique_ptr<link::Timer> penalty;  // when the refusal is answered
  bool closed_by_us = false;      // close_peer() ended it (a heartbeat timeout, bad input)
  bool challenged = false;        // a TCP peer sent its hello; its proof of the token is due
  std::uint64_t resume = 0;       // a client's hello: the id of the connection it takes over
  bool goodbye = false;           // a client said it closes (Shutdown): no grace for its tasks
  bool superseded = false;        // a client reconnected on a new connection: this one ends quietly
  std::string peer_nonce, challenge_nonce;
  FunctionTable::Cache fn_cache;
  std::uint64_t connected_wall = 0;
  // Outgoing, flushed at the end of the loop turn.
  std::vector<std::uint64_t> out_assigns, out_results, out_cancels;
  // Results of tasks whose submit is not yet on disk (Engine::undurable): they leave once
  // it is, after its acknowledgement, so that a client never holds a result of a task a
  // restarted coordinator does not know.
  std::vector<std::uint64_t> held_results;
  std::vector<std::pair<std::uint64_t, codec::RemoteErrorInfo>> out_errors;  // results for unknown ids
  bool flush_posted = false;
  // A worker values stream to (TCP): the large dependency values it holds (by task id),
  // sent once and named by id after (link::kHeldValue) until released.
  std::unordered_set<std::uint64_t> held;
};

struct Engine : std::enable_shared_from_this<Engine> {
  Engine(asio::any_io_executor e, CoordinatorOptions o);
  ~Engine();

  asio::any_io_executor ex;
  CoordinatorOptions opt;
  std::vector<std::unique_ptr<link::Listener>> listeners;
  std::shared_ptr<link::TlsContext> tls;  // TCP peers speak TLS (opt.tls)
  std::unordered_map<Peer*, std::shared_ptr<Peer>> connections;  // every open connection
  std::unordered_map<std::uint64_t, Peer*> peers;                 // those past their hello
  FunctionTable functions;
  TaskTable tasks{functions};
  Scheduler scheduler{tasks, functions};
  ActorTable actors;
  std::uint64_t next_peer = 0;
  std::unordered_map<std::string, std::uint64_t> refusals_logged;  // worker name -> steady ns of its last refusal line
  std::uint64_t planted_results = 0;  // results counted for opt.planted.drop_result
  std::uint64_t internal_tasks = 0;  // ids of tasks the coordinator makes itself (an actor's restart): peer 0's space
  bool dispatch_posted = false;
  std::vector<std::uint64_t> flush_due;  // peers whose flush is posted (act_now() runs them sooner)
  std::vector<std::uint64_t> to_free;
  // Large values held by streamed-to workers (Peer::held): task id -> the workers, told
  // to let go when the task is forgotten.
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> held_values;
  bool stopping = false;  // refuses new work; running tasks may finish within the grace
  bool stopped = false;   // everything ended; run() drains and returns
  int services = 0;       // accept loops and housekeeping still running
  std::unique_ptr<link::Timer> stop_timer;
  std::unique_ptr<link::Timer> wake;  // run() sleeps on it until stopped
  std::unique_ptr<link::Timer> tick;  // housekeeping's
  std::uint64_t wall_cache = 0;  // the wall clock, read once per batch of frames
  // Refused hellos per peer address, for the log (one line per address per 10 s).
  struct Refusals {
    std::uint64_t count = 0, logged_at = 0;
    std::uint64_t answer_at = 0;  // steady ns: when its latest refusal is answered
  };
  std::unordered_map<std::string, Refusals> refusals;
  std::uint64_t accept_failures = 0, accept_logged_at = 0;
  // The journal (opt.journal): what this turn changed is committed at its end; submits
  // are acknowledged (Envelope.accepted: the highest durable id, per client) once on disk.
  std::unique_ptr<Journal> journal;
  bool journal_posted = false;
  // Failed tasks kept to be replayed (opt.keep_failed; in the journal too), and while a
  // lost worker's tasks are settled, its slot (it is out of the scheduler by then).
  FailedKeep failed_keep{opt.keep_failed, opt.keep_failed_bytes};
  const WorkerSlot* settling = nullptr;
  std::deque<std::uint64_t> journal_commits;  // steady ns each commit not yet on disk began
  // Tasks accepted by this run whose submit is not yet on disk (and those of the batch
  // this turn will commit): their results wait in their peers' held_results.
  std::unordered_set<std::uint64_t> undurable;
  std::vector<std::uint64_t> accepting;
  std::unordered_set<std::uint64_t> results_held_for;  // peers with held_results
  std::vector<std::uint64_t> free_after_commit;         // collectable, but undurable: freed after
  // Every submit is acknowledged (the highest id per client, each turn): with a journal
  // once on disk, else at the end of the turn. A client resends what was not.
  std::unordered_map<std::uint64_t, std::uint64_t> acks;  // peer -> highest task id this turn
  // Without a journal an acknowledgement rides in its client's next flush (its results),
  // or goes alone when this timer fires (kAckDelay) first: a round trip costs the client
  // one frame and one wake-up, not two.
  bool acks_posted = false;
  std::unique_ptr<link::Timer> ack_timer;
  // Clients whose connection ended without a goodbye: their tasks wait client_grace for
  // them to reconnect (Hello.resumePeerId) before they are cancelled.
  std::unordered_map<std::uint64_t, std::unique_ptr<link::Timer>> away;
  // Plain cancels of running tasks: opt.cancel_grace for the worker to stop them (by task
  // id). Owned here so that a stop ends them: a pending one would hold the executor.
  std::unordered_map<std::uint64_t, std::unique_ptr<link::Timer>> cancel_graces;
  // Tasks waiting out a retry's backoff after an application error (by task id).
  std::unordered_map<std::uint64_t, std::unique_ptr<link::Timer>> retry_timers;
  // Per-function retry policies (opt.function_retry_on), shared by their tasks.
  std::unordered_map<std::string, std::shared_ptr<const RetryPolicy>> function_retry_on;
  // Admission (opt.max_queued, opt.max_queued_bytes): unfinished tasks per submitter, in
  // all, and the clients not read meanwhile.
  struct Load {
    std::uint64_t tasks = 0, bytes = 0;
  };
  std::unordered_map<std::uint64_t, Load> load;
  Load total;
  std::unordered_set<std::uint64_t> paused;
  bool readmit_posted = false;
  std::string journal_trouble;  // why the last write failed ("" while writes succeed)
  // Unschedulable waits until the kinds of worker settle: no new kind (functions,
  // resources, labels) registered for opt.unregistered_wait, so that a cluster starting
  // up (or workers reconnecting) does not fail a GPU task because a CPU worker came first.
  std::size_t kinds_seen = 0;
  std::uint64_t new_kind_at = 0;  // steady ns
  // A cluster still starting registers its kinds of worker within a moment: 2 s (or the
  // NotRegistered grace, when shorter) after the last new kind, they are taken as settled.
  [[nodiscard]] bool kinds_settled(std::uint64_t now) const {
    return now - new_kind_at >= ns(std::min(opt.unregistered_wait, std::chrono::milliseconds(2000)));
  }
  // The verdict for `t`: "" when it may be queued (schedulable, or not yet known).
  std::string unschedulable(const TaskRecord& t);
  // What observers see (metrics.hpp, engine_observe.cpp): counted here, copied for the
  // HTTP server's thread on request.
  Metrics metrics;
  std::string http_address;  // where the HTTP server listens ("" none): status replies say it
  std::uint64_t last_sample = 0;  // steady ns of the last Metrics::sample
  // A task this coordinator accepted (or recovered: `job` ""), and its end.
  void count_submitted(std::uint64_t submitter, const std::string& job, const TaskRecord& t);
  void count_ended(const TaskRecord& t);
  // One attempt of `t` on `worker` ended: its number as it ran (`attempt`).
  void count_attempt(const TaskRecord& t, std::uint64_t worker, std::uint32_t attempt, AttemptRecord::Outcome outcome);
  void take_sample(std::uint64_t now);
  // Tasks' output as kept (TaskLinks::output): per task and stream at most
  // kKeptOutputBytes, in all at most opt.max_output_bytes.
  static constexpr std::size_t kKeptOutputBytes = 64 * 1024 + 1024;
  std::uint64_t kept_output_bytes = 0;
  void keep_output(TaskRecord& t, int stream, std::string_view data);
  [[nodiscard]] std::string kept_output(const TaskRecord& t, int stream) const;
  void replay_output(Peer& p, const TaskRecord& t);
  void output_attempt_begins(TaskRecord& t);  // a retry of a task that printed
  // Workers' logs followed by clients (`shoal logs --worker NAME -f`): worker id -> clients.
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> log_followers;
  void on_log_follow(Peer& client, schema::LogFollow::Reader r);
  void on_log_lines(Peer& worker, schema::LogLines::Reader r);
  void log_followers_gone(Peer& p);  // a follower or a followed worker disconnected
  void send_log_follow(std::uint64_t worker, bool follow);
  // Copies for observers (engine_observe.cpp): on this thread, for the HTTP server's.
  [[nodiscard]] std::string job_name(std::uint64_t submitter) const;
  [[nodiscard]] std::string worker_name(std::uint64_t id) const;
  [[nodiscard]] observe::Counts observe_counts() const;
  [[nodiscard]] std::vector<observe::WorkerRow> observe_workers() const;
  [[nodiscard]] observe::MetricsData observe_metrics() const;
  [[nodiscard]] observe::Summary observe_summary() const;
  [[nodiscard]] observe::TaskRow observe_row(const TaskRecord& t) const;
  [[nodiscard]] observe::TaskPage observe_tasks(const observe::TaskQuery& q) const;
  [[nodiscard]] std::optional<observe::TaskRow> observe_task(std::uint64_t id) const;
  /// The latest failed tasks (kept after they are forgotten), newest first (total: every
  /// failure counted).
  [[nodiscard]] observe::TaskPage observe_failures(std::uint64_t limit) const;
  [[nodiscard]] std::vector<JobCounters> observe_jobs() const;
  /// The attempts that ended at or after `since_ns` (of `job`'s tasks when given): the
  /// newest whose rendering fits `max_bytes` (one frame, one HTTP answer).
  [[nodiscard]] std::vector<link::Attempt> observe_attempts(std::uint64_t since_ns, const std::string& job,
                                                            std::size_t max_bytes = std::size_t{12} << 20) const;
  std::vector<std::uint64_t> held;           // recovered, ready, waiting out adopt_wait
  std::unique_ptr<link::Timer> held_timer;

  // The log (link/log.hpp): info lines, and debug ones (build them only when
  // debug_enabled(): a line per task's submit, assign and end).
  void log(const std::string& line, std::uint64_t task = 0) const;
  void debug(const std::string& line, std::uint64_t task = 0) const;
  [[nodiscard]] bool debug_enabled() const noexcept { return opt.log && link::log::enabled(link::log::Level::debug); }
  std::uint64_t now_wall();
  Peer* peer(std::uint64_t id);

  // Connections (engine.cpp).
  void start_peer(std::shared_ptr<link::Connection> conn);
  void admit_stranger(Peer& p);
  void refuse(Peer& p, const link::HelloCheck& check);
  void note_refusal(const std::string& address, const std::string& reason);
  void close_late_hellos(std::uint64_t now);
  void hello(Peer& p, schema::Envelope::Reader env);
  void welcome(Peer& p);
  void handle(Peer& p, schema::Envelope::Reader env, const proto::FrameOwner& frame);
  void on_disconnect(Peer& p, const std::string& why);
  void close_peer(Peer& p, const std::string& why);
  void send(Peer& p, capnp::MessageBuilder& msg);
  void send_error(Peer& p, schema::ErrorCode code, const std::string& message, bool fatal);
  void send_shutdown(Peer& p);
  void touch_flush(Peer& p);
  void flush(Peer& p);
  Coro<void> accept_loop(link::Listener* l);
  Coro<void> housekeeping();
  void begin_stop(std::chrono::milliseconds grace);
  void maybe_finish_stop();
  void finish_stop();
  Coro<void> run();

  // The journal (engine_journal.cpp).
  void open_journal();
  void journal_accept(TaskRecord& t, std::uint64_t created_actor = 0);
  void journal_actor_gone(ActorRecord& a);
  std::size_t recover_actors(std::vector<JournalActor> rows);  // how many
  void settle_recovering_actors();
  void adopt_actors(Peer& p, WorkerSlot& slot, schema::RegisterWorker::Reader r);
  void journal_touch();
  void note_ack(std::uint64_t peer_id, std::uint64_t task_id);
  // Results held for submits not then on disk go out (a commit is done).
  void release_results();
  void send_acks(const std::unordered_map<std::uint64_t, std::uint64_t>& acks);
  // Every submit of `p` up to `highest` is known here (with a journal: on disk), or was answered.
  void send_ack(Peer& p, std::uint64_t highest);
  void forget(std::uint64_t id);
  void release_held();
  [[nodiscard]] static bool adoptable(const TaskRecord& t) {
    return t.state == TaskState::QUEUED && !t.actor && !t.actor_create;
  }

  // Tasks (engine_tasks.cpp).
  void on_submit(Peer& p, schema::Submit::Reader s, const proto::FrameOwner& frame);
  // Interns a task's or an actor's placement into `req`: "" or why it is refused.
  std::string intern_placement(std::uint32_t& req, schema::TaskOptions::Reader o);
  void on_actor_create(Peer& p, schema::ActorCreate::Reader c, const proto::FrameOwner& frame);
  void on_result(Peer& w, schema::Result::Reader r, const proto::FrameOwner& frame);
  void on_output(Peer& w, schema::TaskOutput::Reader o);
  bool drained_away(TaskRecord& t, WorkerSlot& w);
  /// A cancelled result of a run we asked to stop (`stopped_run`) that became the task's
  /// attempt: queued again (true), unless the task was asked to be cancelled.
  bool run_again(TaskRecord& t, bool stopped_run);
  // A failure `t`'s retry policy covers: queues it again after the backoff (true).
  bool retry_after_error(TaskRecord& t, const codec::RemoteErrorInfo& info);
  void on_cancel(std::uint64_t id, bool force = false);
  // on_cancel() of one task, not its children.
  void cancel_one(std::uint64_t id, bool force);
  // Records `child` as submitted by `parent` (recursive cancel).
  void add_child(TaskRecord& parent, std::uint64_t child);
  void on_release(Peer& p, schema::Release::Reader r);
  void on_subscribe(Peer& p, schema::Subscribe::Reader s);
  // Actors (engine_actors.cpp): a kill ends one whoever made it (its calls not yet sent
  // fail with ActorDied); a worker's death restarts it or ends it (ActorOptions).
  void kill_actor(ActorRecord& a, const std::string& why);
  void actor_worker_died(ActorRecord& a, const std::string& why, const std::vector<std::uint64_t>& lost);
  // Checks a new actor's restart policy, concurrency and name (taking the name): "" or why not.
  std::string check_actor_policy(ActorRecord& a, std::string name);
  // The policy as the journal keeps it ("" for the defaults), and back.
  static std::string policy_key(const ActorRecord& a);
  void apply_policy_key(ActorRecord& a, const std::string& key);
  // The live actor named `name`, for a status reply.
  void fill_actor_info(schema::ActorInfo::Builder b, const std::string& name);
  void on_register(Peer& w, schema::RegisterWorker::Reader r);
  /// Why a worker's registration cannot be taken ("" when it can): a name the live
  /// workers registered with another signature.
  [[nodiscard]] std::string registration_conflict(schema::RegisterWorker::Reader r) const;
  /// For a function no live worker registered: nanoseconds until its queued tasks fail
  /// with NotRegistered, and the note a status gives them.
  [[nodiscard]] std::uint64_t unserved_fails_in(std::uint32_t fn) const;
  [[nodiscard]] std::string unserved_note(std::uint32_t fn) const;
  void on_blocked(Peer& w, schema::Blocked::Reader b);
  void worker_lost(Peer& p, const std::string& why);
  void client_gone(std::uint64_t peer_id);
  void client_away(Peer& p);
  void resume_client(Peer& p);

  // Admission (engine.cpp).
  void count_in(TaskRecord& t);
  void count_out(TaskRecord& t);
  void admit(Peer& p);
  void readmit();
  void finish(std::uint64_t id, TaskState state, Bytes value = {}, std::optional<codec::RemoteErrorInfo> error = {});
  void fail(std::uint64_t id, std::string type, std::string message, ErrorKind kind);
  void notify(TaskRecord& t);
  void maybe_free(std::uint64_t id);
  void make_ready(TaskRecord& t);
  void schedule_dispatch();
  void dispatch();
  // The end of one read's messages (Peer::on_frames_done): the dispatch pass, the flushes
  // and the acknowledgements they made due go out now, assigns first.
  void act_now();
  void pump_actor(ActorRecord& a);
  // The actor ends on its worker: after the calls it was sent, or at once when `kill`.
  void release_actor(ActorRecord& a, bool kill = false);
  void free_actor(ActorRecord& a);  // the resources it held on its worker
  void fail_unregistered(std::uint32_t fn);
  void expire_unplaced_actors(std::uint64_t now);
  int retries_for(const std::string& fn, int requested) const;

  // Replays (engine_replay.cpp): a task failed for good is kept (before its arguments go);
  // a StatusRequest.replay is answered from what was kept; a journal's are taken back.
  void keep_failed(const TaskRecord& t);
  void fill_replay(Peer& p, schema::ReplayInfo::Builder b, std::uint64_t id);
  void recover_failures();

  // Status and catalog (status.cpp).
  void on_status(Peer& p, schema::StatusRequest::Reader q);
  void fill_catalog(schema::Catalog::Builder c) const;
  void broadcast_catalog();
};

}  // namespace shoal::coordinator
