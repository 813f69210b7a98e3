#pragma once
// ClientCore::Impl: the client's connection and its tables. Submits, cancels and the
// rest are queued under `mu` from any thread and sent by flush() on the connection's
// executor (the client's own I/O thread, or the coordinator's for an in-process link),
// so that what is submitted together leaves in one frame.

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "shoal/link/connection.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/timer.hpp"
#include "shoal/remote/client.hpp"

namespace shoal::remote::detail {

namespace schema = proto::schema;

/// The handler of an in-process link: forwards to the client while it lives. The link's
/// other end runs on the coordinator's loop, which a closing client cannot always reach
/// in time (a stopped loop): it then detaches the gate, and late frames go nowhere.
struct LocalGate final : link::ConnectionHandler {
  std::recursive_mutex mu;  // held while forwarding; recursive: a callback may close the client
  link::ConnectionHandler* client = nullptr;
  std::atomic<std::thread::id> loop_thread{};  // the loop's thread, once it called us
  void on_frames() override;
  void on_message(proto::schema::Envelope::Reader env, const proto::FrameOwner& frame) override;
  void on_protocol_error(const std::string& why) override;
  void on_closed(const std::string& why) override;
};

struct ClientCore::Impl final : link::ConnectionHandler {
  static bool has_placement(const TaskOptions& o) noexcept {
    return !o.resources.empty() || !o.labels.required.empty() || !o.labels.preferred.empty() ||
           o.strategy != Strategy::spread || o.priority != 0;
  }
  /// `o` shared: one instance for every submit with the default options (most), a copy
  /// for the others. A SubmitOut moves twice (to the outbox, to the unacknowledged) and a
  /// TaskOptions' maps and vectors cost a few hundred instructions each time.
  static std::shared_ptr<const TaskOptions> share(const TaskOptions& o) {
    static const auto plain = std::make_shared<const TaskOptions>();
    if (!o.timeout && o.retries == -1 && !o.detached && !has_placement(o) && o.retry.on.empty()) return plain;
    return std::make_shared<const TaskOptions>(o);
  }
  struct SubmitOut {
    std::uint64_t id;
    std::string function;
    std::uint64_t hash;
    Bytes args;
    std::vector<std::uint64_t> deps;
    std::shared_ptr<const TaskOptions> options;  // never null (share())
    std::uint64_t actor;
    std::string method;
    std::uint64_t parent = 0;  // the remote task that submitted it (this_task::id())
  };
  struct CreateOut {
    std::uint64_t actor;
    std::string cls;
    std::uint64_t hash;
    Bytes args;
    std::uint64_t task;
    link::Placement placement;
    int max_restarts = 0;
    int max_task_retries = 0;
    std::uint32_t max_concurrency = 1;
    std::string name;
    bool detached = false;
  };
  struct StatusOut {
    std::uint64_t request;
    std::uint64_t task;
    bool list;
    schema::TaskState filter;
    std::uint32_t limit;
    bool attempts = false;
    std::uint64_t since_ns = 0;
    std::string job;
    bool logs = false;
    std::string actor_name;  // only the live actor of this name (Client::get_actor)
    bool replay = false;     // with task: what the coordinator kept to replay it
  };
  struct Pending {
    shoal::detail::Ref<shoal::detail::StateBase> state;
    Completer complete;
    std::uint64_t task_id = 0;  // its RemoteCallInfo's (a cross-cast costs ~500 instructions)
  };

  ClientCore* owner = nullptr;
  // Gone with the client: a handler it posted to an executor that outlives it (a dialled
  // link's, the coordinator's) holds a weak reference and does nothing once it is gone.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  asio::io_context io{1};
  asio::any_io_executor ex;  // io's, or the coordinator's for an in-process link
  bool local = false;        // an in-process link (LocalCluster): no thread of our own
  // A dialled link (DialledLink): connections from the embedding program, on its executor.
  std::function<std::shared_ptr<link::Connection>()> dial;
  bool dialled_closing = false;
  std::shared_ptr<LocalGate> gate;      // the in-process link's handler
  std::atomic<bool> local_closing{false};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::shared_ptr<link::Connection> conn;  // touched on `ex` only
  std::thread thread;
  std::thread::id thread_id;

  // Filled from any thread under `mu`, sent by flush() on `ex`.
  std::mutex mu;
  std::vector<SubmitOut> submits;
  std::vector<CreateOut> creates;
  std::vector<Pending> registrations;  // submits, subscriptions and actor readiness, by id
  std::vector<std::uint64_t> cancels, releases, release_actors, kill_actors, subscribes;
  std::unordered_set<std::uint64_t> forced;  // of `cancels`, those to force
  std::vector<StatusOut> statuses;
  std::vector<std::pair<std::string, bool>> log_follows;  // worker name, start or stop
  std::unordered_map<std::uint64_t, Promise<ClusterStatus>> status_waiting;
  bool flush_posted = false;
  bool closed = false;
  std::string closed_why;
  bool user_closed = false;            // close() was called: never reconnect
  std::uint64_t accepted = 0;          // every submit up to this id is acknowledged
  std::condition_variable accepted_cv;  // accepted or closed moved
  std::vector<Promise<void>> room_waiters;  // room(): set once a submit would not wait

  // On `ex` only.
  std::unordered_multimap<std::uint64_t, Pending> pending;
  bool output_callback_failed = false;  // ClientOptions::on_output threw (said once)
  // Reconnecting (ClientOptions::reconnect), on `ex` only.
  std::deque<SubmitOut> unacked;                   // sent, not yet acknowledged: sent again after a reconnect
  std::deque<CreateOut> unacked_creates;           // the same, of actors' creates
  std::map<std::uint64_t, bool> cancels_asked;     // tasks asked to be cancelled (forced?) that have not ended
  std::unordered_set<std::uint64_t> resubscribed;  // asked for again after a reconnect
  bool reconnecting = false;
  std::uint64_t lost_at = 0;  // link::steady_ns(): the simulation's clock in one
  std::chrono::milliseconds backoff{50};
  std::string lost_why;
  std::unique_ptr<link::Timer> retry_timer;

  mutable std::mutex catalog_mu;
  std::vector<CatalogEntry> catalog;
  std::uint64_t catalog_version = 1, checked_version = 0, checked_hash = 0;
  std::string checked_name;

  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint64_t> status_seq{0};
  std::promise<void> welcomed;
  bool welcome_seen = false;
  bool awaiting_welcome = false;  // a hello is out: messages go to the handshake first
  std::optional<link::PeerHandshake> handshake;  // until the Welcome

  void post_flush_locked();
  /// `accepted` or `closed` moved (called without `mu`): wakes submits and room() waiters.
  void accepted_moved();
  void flush();
  void send_hello(const ClientOptions& options);
  void send_cancel(std::uint64_t id, bool force);
  void on_message(schema::Envelope::Reader env, const proto::FrameOwner& frame) override;
  void on_closed(const std::string& why) override;
  void complete_result(schema::Result::Reader r, const proto::FrameOwner& frame);
  void status_reply(schema::StatusReply::Reader r, const proto::FrameOwner& frame);
  void set_catalog(schema::Catalog::Reader c);
  /// Fails everything pending with ConnectionError(why); later submits fail at once.
  void lost(const std::string& why);
  void begin_reconnect(const std::string& why);
  /// A new connection to the coordinator: dialled, or a socket (TLS over TCP when set).
  [[nodiscard]] std::shared_ptr<link::Connection> open_connection();
  void try_reconnect();
  /// The Welcome after a reconnect: sends again what the coordinator may not have.
  void resumed(schema::Welcome::Reader w);
  void send_creates(std::vector<CreateOut>& c);
  /// Release.killActors for `actors` (nothing when empty).
  void send_kills(const std::vector<std::uint64_t>& actors);
  void send_submits(std::vector<SubmitOut>& s);
  /// Tells the coordinator this client closes (its tasks need no grace), when connected.
  void goodbye();
  [[nodiscard]] bool keeps_unacked() const { return !local && owner->options_.reconnect.count() > 0; }
};

/// The wire's task state for a name ("running"); ValueError for an unknown one.
[[nodiscard]] schema::TaskState parse_state(const std::string& s);
/// A task state's name.
[[nodiscard]] std::string state_name(schema::TaskState s);

}  // namespace shoal::remote::detail
