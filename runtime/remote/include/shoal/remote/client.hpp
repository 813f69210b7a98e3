#pragma once
/// \file
/// Client: submits tasks to a coordinator and returns the same shoal::Future a thread pool
/// returns: await it, block on it, gather it, cancel it.
///
///     shoal::Client client("unix:///run/user/1000/shoal/coordinator.sock");
///     auto f = client.submit(&fib, 30);            // fib is SHOAL_REMOTE'd in this program
///     auto g = client.submit(&add, f, 1);          // a future argument: a dependency
///     std::int64_t v = g.result();                 // or co_await g.wait()
///
///     auto h = client.submit<std::int64_t(std::int64_t)>("fib", 20);  // by name and signature
///     auto counter = client.spawn<Counter>(10);    // an actor, kept in one worker
///     auto r = counter.call(&Counter::add, 5);     // Future<int64>: calls run in order
///
/// A remote failure fails the future with the original exception type where shoal knows it
/// (ValueError, TimeoutError, TypeMismatch, NotRegistered, WorkerLost, DependencyFailed,
/// and types given to register_remote_exception), else with RemoteError carrying the remote
/// type name, message, function, task id, host and pid. cancel() on a pending remote future
/// asks the coordinator to cancel it and returns true; the future ends with the real
/// outcome (cancelled, or the result if it finished first).
///
/// The connection runs on the client's own I/O thread; submit() may be called from any
/// thread and never blocks on the network (submits made together leave in one frame).

#include <chrono>
#include <functional>
#include <future>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "shoal/codec/codec.hpp"
#include "shoal/core/future.hpp"
#include "shoal/exec/map_results.hpp"
#include "shoal/remote/client_link.hpp"
#include "shoal/remote/errors.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/remote/options.hpp"
#include "shoal/remote/link.hpp"
#include "shoal/remote/map.hpp"
#include "shoal/remote/object_ref.hpp"
#include "shoal/remote/registry.hpp"

namespace shoal::link {
class Connection;
}

namespace shoal {

/// A call by name with encoded arguments (the CLI's path): `deps[i]` is the task that
/// `future_ref i` in `args` names.
struct RawCall {
  std::string function;
  std::uint64_t signature_hash = 0;
  Bytes args;
  std::vector<std::uint64_t> deps;
  TaskOptions options;
};

/// A submitted raw call: its id and the future of its encoded result.
struct RawTask {
  std::uint64_t id = 0;
  Future<Bytes> result;
};

namespace remote::detail {

class ClientCore;

/// The state behind a remote Future<T>: cancel() is a request sent to the coordinator.
template <typename T>
class RemoteCall final : public shoal::detail::State<T>, public RemoteCallInfo {
 public:
  bool cancel() override;
  [[nodiscard]] bool is_task() const noexcept override { return true; }
  ~RemoteCall() override;

  /// Completes with an encoded value (decoding it as T, a Bytes result too).
  static void complete(shoal::detail::StateBase* base, const Bytes& value) {
    auto* self = static_cast<RemoteCall*>(base);
    try {
      if constexpr (std::is_void_v<T>) {
        self->try_set_value();
      } else {
        self->try_set_value(codec::decode<T>(value));
      }
    } catch (...) {
      self->try_set_exception(std::current_exception());
    }
  }

  /// Completes with the encoded value itself (submit_raw, subscribe).
  static void complete_raw(shoal::detail::StateBase* base, const Bytes& value)
    requires std::is_same_v<T, Bytes>
  {
    static_cast<RemoteCall*>(base)->try_set_value(value);
  }
};

/// The client's connection and its tables; shared by the Client and its futures.
class ClientCore : public std::enable_shared_from_this<ClientCore> {
 public:
  using Completer = void (*)(shoal::detail::StateBase*, const Bytes&);

  ClientCore(std::string address, ClientOptions options);
  ~ClientCore();
  /// Connects and waits for the coordinator's Welcome (ConnectionError, TimeoutError).
  void start();
  /// As start(), over an in-process link; everything runs on the link's executor.
  void start_local(LocalLink link);
  /// Over connections the embedding program dials (DialledLink), reconnecting as start()'s
  /// does (ClientOptions::reconnect); returns at once.
  void start_dialled(DialledLink link);
  void close() noexcept;
  /// Closed for good: by close(), refused, or the coordinator lost beyond
  /// ClientOptions::reconnect (pending futures failed with ConnectionError then).
  [[nodiscard]] bool closed() const;

  std::uint64_t next_id();
  /// Queues a submit of `state` (already holding task_id) and registers it as pending.
  void submit(CallRef call, Completer complete, const std::string& function,
              std::uint64_t hash, Bytes args, std::vector<std::uint64_t> deps, const TaskOptions& options,
              std::uint64_t actor = 0, const std::string& method = {});
  void actor_create(std::uint64_t actor, std::shared_ptr<const remote::ActorEntry> type, Bytes args,
                    CallRef ready, Completer complete,
                    const ActorOptions& options = {});
  void subscribe(CallRef call, Completer complete);
  void cancel(std::uint64_t task, bool force = false);
  void release(std::uint64_t task);
  void release_actor(std::uint64_t actor);
  /// Asks the coordinator to end `actor` whoever made it (Release.killActors).
  void kill_actor(std::uint64_t actor);
  /// The live actor named `name` (ClusterStatus::actor).
  Future<ClusterStatus> find_actor(const std::string& name);
  /// What the coordinator kept to replay failed task `task` (ClusterStatus::replay).
  Future<ClusterStatus> replay_info(std::uint64_t task);
  Future<ClusterStatus> status(std::uint64_t task, bool list, std::string state_filter, std::uint32_t limit,
                               bool attempts = false, std::uint64_t since_ns = 0, std::string job = {},
                               bool logs = false);
  void follow_worker_log(const std::string& name, bool follow);

  /// Throws TypeMismatch when the catalog has `name` with other signatures only.
  void check_signature(const std::string& name, std::uint64_t hash, const std::string& signature) const;
  std::vector<CatalogEntry> catalog() const;
  std::uint64_t peer_id() const noexcept { return peer_id_.load(std::memory_order_relaxed); }
  const std::string& address() const noexcept { return address_text_; }
  bool journaled() const noexcept { return journaled_.load(std::memory_order_acquire); }
  bool wait_accepted(std::uint64_t id, std::chrono::milliseconds timeout);

  struct Impl;

 private:
  std::string address_text_;
  ClientOptions options_;
  std::atomic<std::uint64_t> peer_id_{0};
  std::atomic<bool> journaled_{false};
  std::unique_ptr<Impl> impl_;
  void wait_welcome(std::future<void>& welcomed);
  template <typename Add>
  void enqueue(CallRef call, Completer complete, Add&& add,
               bool submit = false);
  void room_for(Impl& im, std::unique_lock<std::mutex>& lock, std::uint64_t id);
  [[nodiscard]] std::uint64_t window() const;  // submits that may be unacknowledged
  [[nodiscard]] bool has_room(const Impl& im, std::uint64_t id) const;

 public:
  Future<void> room();
};

/// Registry::global()'s entry for the function at `address` (a one-entry cache per
/// thread: submit loops call one function); null when it is not registered.
const std::shared_ptr<const remote::FunctionEntry>& find_cached(void (*address)());

/// The task id behind a remote future's state, or 0.
std::uint64_t task_id_of(shoal::detail::StateBase* state) noexcept;

template <typename T>
bool RemoteCall<T>::cancel() {
  if (this->done()) return false;
  if (auto c = core.lock()) {
    c->cancel(task_id);
    return true;
  }
  return shoal::detail::State<T>::cancel();
}

template <typename T>
RemoteCall<T>::~RemoteCall() {
  if (owned)
    if (auto c = core.lock()) c->release(task_id);
}

template <typename T>
struct result_of_callable;
template <typename R, typename... P>
struct result_of_callable<R(P...)> {
  using coro = remote::detail::coro_traits<R>;
  using type = typename coro::value;
};
template <typename R, typename... P>
struct result_of_callable<R(P...) noexcept> : result_of_callable<R(P...)> {};

template <typename T>
struct is_future : std::false_type {};
template <typename T>
struct is_future<Future<T>> : std::true_type {};

}  // namespace remote::detail

namespace remote {
template <typename Sig>
struct SignatureTraits;
template <typename R, typename... P>
struct SignatureTraits<R(P...)> {
  using value = typename detail::coro_traits<R>::value;
  static CallableInfo info() {
    CallableInfo i;
    detail::describe_callable<R, P...>(i);
    return i;
  }
};

/// The signature text and hash of a callable type, as the registry computes them:
/// `signature_of<std::int64_t(std::int64_t)>().signature` is "int64(int64)".
template <typename Sig>
CallableInfo signature_of() {
  return SignatureTraits<Sig>::info();
}
}  // namespace remote

template <typename A>
class Actor;

class Client {
 public:
  /// Connects to `address` (empty: remote::default_address()) and waits for the
  /// coordinator's welcome. ConnectionError ("no coordinator at ...") when none answers.
  explicit Client(std::string address = {}, ClientOptions options = {});
  /// A client over an in-process link (LocalCluster::client()).
  explicit Client(remote::detail::LocalLink link, ClientOptions options = {});
  /// A client over connections this program dials and on an executor it runs itself
  /// (remote::detail::DialledLink: the deterministic simulation). Returns at once; submit
  /// once peer_id() is not 0 (the Welcome came).
  explicit Client(remote::detail::DialledLink link, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&&) noexcept = default;
  Client& operator=(Client&&) noexcept = default;

  /// Submits `fn` (registered in this program with SHOAL_REMOTE) with `args` converted to
  /// its parameter types. A Future argument makes a dependency (a done one is inlined).
  template <typename R, typename... P, typename... A>
  auto submit(R (*fn)(P...), A&&... args) {
    return submit(TaskOptions{}, fn, std::forward<A>(args)...);
  }
  template <typename R, typename... P, typename... A>
  auto submit(const TaskOptions& options, R (*fn)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A), "submit: wrong number of arguments for this function");
    const auto& entry = remote::detail::find_cached(reinterpret_cast<void (*)()>(fn));
    if (!entry) throw NotRegistered("the function passed to Client::submit", "this process (register it with SHOAL_REMOTE)");
    using T = typename remote::detail::coro_traits<R>::value;
    return submit_typed<T, std::decay_t<P>...>(options, entry->name, entry->signature_hash, entry->signature,
                                               std::forward<A>(args)...);
  }
  /// Submits the function registered as `name` in the workers, given its signature type
  /// (`std::int64_t(std::int64_t)`): no need to link the function itself.
  template <typename Sig, typename... A>
  auto submit(const std::string& name, A&&... args) {
    return submit<Sig>(TaskOptions{}, name, std::forward<A>(args)...);
  }
  template <typename Sig, typename... A>
  auto submit(const TaskOptions& options, const std::string& name, A&&... args) {
    return submit_named(options, name, std::forward<A>(args)..., static_cast<Sig*>(nullptr));
  }

  /// Python's Executor.map over the cluster: fn(x, y, ...) for every element of the ranges
  /// (zipped, shortest wins), submitted at once in chunks of MapOptions::chunksize items
  /// (0: automatic), each chunk one task whose worker calls fn once per item. The results
  /// are read lazily, in input order: reading an item waits for it and throws its own
  /// exception (the items before a failing one are delivered; a chunk's failure as a whole,
  /// NotRegistered or WorkerLost, is every item's). A trailing MapOptions, or a duration
  /// (the timeout), may follow the ranges:
  ///
  ///     for (auto v : client.map(&square, xs, MapOptions{.chunksize = 100})) ...
  ///
  /// Dropping the results once an item was read cancels the chunks not finished.
  template <typename R, typename... P, typename... Args>
  auto map(R (*fn)(P...), const Args&... args) {
    const auto& entry = remote::detail::find_cached(reinterpret_cast<void (*)()>(fn));
    if (!entry) throw NotRegistered("the function passed to Client::map", "this process (register it with SHOAL_REMOTE)");
    using T = typename remote::detail::coro_traits<R>::value;
    return map_entry<T, std::decay_t<P>...>(*entry, 0, args...);
  }

  /// map() given how many threads the cluster has (ProcessPoolExecutor), for the automatic
  /// chunk size; 0 asks the coordinator.
  template <typename T, typename... P, typename... Args>
  MapResults<T> map_entry(const remote::FunctionEntry& entry, std::size_t slots, const Args&... args) {
    constexpr std::size_t n = sizeof...(Args);
    auto all = std::forward_as_tuple(args...);
    using Last = std::remove_cvref_t<std::tuple_element_t<n - 1, std::tuple<Args...>>>;
    if constexpr (std::is_same_v<Last, MapOptions>) {
      static_assert(sizeof...(P) == n - 1, "map: one range per parameter of the function");
      return map_chunks<T, P...>(entry, std::get<n - 1>(all), slots, all, std::make_index_sequence<n - 1>{});
    } else if constexpr (shoal::detail::is_duration<Last>::value) {
      static_assert(sizeof...(P) == n - 1, "map: one range per parameter of the function");
      MapOptions o;
      o.timeout = shoal::detail::saturate_ns(std::get<n - 1>(all));
      return map_chunks<T, P...>(entry, o, slots, all, std::make_index_sequence<n - 1>{});
    } else {
      static_assert(sizeof...(P) == n, "map: one range per parameter of the function");
      return map_chunks<T, P...>(entry, MapOptions{}, slots, all, std::make_index_sequence<n>{});
    }
  }

  /// Puts `value` in the cluster's object store (see ObjectRef): encoded once here, then
  /// passed to any number of tasks as an argument of type T without being sent again.
  template <typename T>
  ObjectRef<T> put(const T& value) {
    auto state = shoal::detail::Ref<remote::detail::PutCall<T>>::adopt(new remote::detail::PutCall<T>());
    state->task_id = core_->next_id();
    state->core = core_;
    state->kept = codec::encode(value);
    core_->submit(state, &remote::detail::PutCall<T>::complete,
                  std::string(link::kPutFunction), 0, state->kept, {}, TaskOptions{});
    return ObjectRef<T>(Future<T>::from_state(std::move(state)));
  }
  /// The value of `ref` (Ray's get): waits for the store's answer.
  template <typename T>
  decltype(auto) get(const ObjectRef<T>& ref) const {
    return ref.get();
  }

  /// Places an actor A (registered with SHOAL_ACTOR) on a worker, constructed from `args`.
  template <typename A, typename... Args>
    requires(!first_is_actor_options<Args...>)
  Actor<A> spawn(Args&&... args) {
    return spawn_placed<A>(ActorOptions{}, std::forward<Args>(args)...);
  }
  /// The same, on a worker that has `options`' resources free and its labels; the actor
  /// holds the resources until it is released or dies. ValueError for a malformed
  /// request; its ready() fails with Unschedulable when no worker with its type could
  /// ever hold it.
  template <typename A, typename... Args>
  Actor<A> spawn(const ActorOptions& options, Args&&... args) {
    return spawn_placed<A>(options, std::forward<Args>(args)...);
  }

  /// The live actor another client spawned with ActorOptions::name (Ray's get_actor): a
  /// handle whose calls go to it. ValueError when no live actor has that name;
  /// TypeMismatch when it is not an A (another class, or another constructor). Dropping
  /// this handle leaves the actor alone (its creator's handles, or a kill, end it).
  template <typename A>
  Actor<A> get_actor(const std::string& name, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Ends `actor` now, whoever spawned it, detached or not (Ray's kill): its calls not yet
  /// started fail with ActorDied; it is not restarted.
  template <typename A>
  void kill_actor(const Actor<A>& actor) {
    core_->kill_actor(actor.id());
  }

  /// What the coordinator kept of failed task `task_id` to replay it (its arguments, its
  /// dependencies' values, where and how it failed; shoal-coordinator --keep-failed).
  /// LookupError saying why when it kept nothing (not failed, evicted, too large).
  remote::ReplayBundle replay_bundle(std::uint64_t task_id,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Runs failed task `task_id` again in this process, on this thread: the same function
  /// (registered here too) with the same arguments. Returns its encoded result
  /// (codec::decode<R>) or throws what it throws; a crash crashes this process, under
  /// your debugger (remote::run_replay; `shoal replay` runs it in a child instead).
  Bytes replay(std::uint64_t task_id, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// The CLI's path: a call by name with encoded arguments.
  RawTask submit_raw(RawCall call);
  /// The result of a task submitted elsewhere (retained by the coordinator), encoded.
  Future<Bytes> subscribe(std::uint64_t task_id);
  /// Asks the coordinator to cancel task `id` (any client of the same user may). With
  /// `force`, a plain task that does not stop within the coordinator's cancel grace (it
  /// ignores this_task::stop_requested()) has its worker process replaced: the worker
  /// reports it cancelled and exits, its supervisor restarts it, and the tasks that shared
  /// it run again elsewhere at no cost (Ray's cancel(force=True)). The task is reported
  /// cancelled only once it no longer runs.
  void cancel(std::uint64_t task_id, bool force = false);
  /// Counts and workers; with a task id, that task too.
  Future<ClusterStatus> status(std::uint64_t task_id = 0);
  /// Tasks the coordinator still knows, optionally of one state ("running").
  Future<ClusterStatus> tasks(std::string state = {}, std::uint32_t limit = 0);
  Future<std::vector<WorkerInfo>> workers();
  /// The timeline: the attempts of tasks the coordinator remembers (its last
  /// --timeline-size), those that ended at or after `since_ns` (wall clock), of one job's
  /// tasks when `job` is given. shoal::link::chrome_trace() makes a Perfetto trace of them.
  Future<std::vector<TaskAttempt>> attempts(std::uint64_t since_ns = 0, std::string job = {});
  /// Task `id` with what it printed so far (TaskInfo::stdout_text, stderr_text: a plain
  /// task's std::cout, std::cerr and printf on a worker, the first 64 KiB of each, kept
  /// until its result is released). ValueError when the coordinator does not know it.
  /// To follow it as it prints, set ClientOptions::on_output and subscribe(id).
  Future<TaskInfo> logs(std::uint64_t id);
  /// Starts (or stops) receiving the log of worker `name` as it writes it (its log lines
  /// and its tasks' output): ClientOptions::on_worker_log gets it. For a worker on any
  /// host; `shoal logs --worker NAME -f`.
  void follow_worker_log(const std::string& name, bool follow = true);
  /// What the live workers registered (as of the last update from the coordinator).
  [[nodiscard]] std::vector<CatalogEntry> catalog() const;

  /// The task id behind a future this client returned (0 for another future).
  template <typename T>
  static std::uint64_t task_id(const Future<T>& f) noexcept {
    return remote::detail::task_id_of(f.state());
  }
  [[nodiscard]] std::uint64_t peer_id() const noexcept { return core_->peer_id(); }
  [[nodiscard]] const std::string& address() const noexcept { return core_->address(); }

  /// Whether the coordinator keeps a journal (--journal): then what it accepted survives
  /// its crash (docs/durability.md).
  [[nodiscard]] bool journaled() const noexcept { return core_->journaled(); }
  /// Waits until the coordinator acknowledges the task `id` submitted here (true), or
  /// `timeout` passed (false). With a journal an acknowledged task is on disk; without
  /// one it is in the coordinator's memory. ConnectionError when the connection is lost
  /// for good first.
  bool wait_accepted(std::uint64_t id, std::chrono::milliseconds timeout);
  /// Completes once a submit would not wait for the coordinator's acknowledgements
  /// (ClientOptions::max_unacknowledged), or the client is closed. A coroutine that
  /// submits in a loop awaits it first, so that a full window suspends the coroutine
  /// rather than blocking its loop's thread:
  ///
  ///     co_await client.room().wait();
  ///     auto f = client.submit(&fn, x);
  Future<void> room();

  /// Inside a task running on a worker: a client connected to that worker's coordinator
  /// (nested tasks). InvalidStateError elsewhere.
  static Client& current();
  /// Where current() connects, and with what token and TLS (set by the worker at start;
  /// the name is set to "nested").
  static void set_current_address(std::string address, ClientOptions options = {});

  /// Sends what is queued and closes the connection; pending futures fail with
  /// ConnectionError. The destructor calls it.
  void close() noexcept;

 private:
  template <typename>
  friend class Actor;

  template <typename A, typename... Args>
  Actor<A> spawn_placed(const ActorOptions& options, Args&&... args);

  template <typename P, typename A>
  static void encode_arg(codec::Writer& w, A&& a, std::vector<std::uint64_t>& deps) {
    using D = std::decay_t<A>;
    if constexpr (remote::detail::is_object_ref<D>::value) {
      // Always a reference: the store sends the object, never this client again.
      if (auto id = a.id(); id != 0) {
        codec::encode(w, codec::FutureRef{static_cast<std::uint32_t>(deps.size())});
        deps.push_back(id);
      } else {
        throw ValueError("an empty ObjectRef cannot be a task's argument");
      }
    } else if constexpr (remote::detail::is_future<D>::value) {
      const auto& f = a;
      // A done future's value is inlined. A remote task's future stays a dependency even
      // when it failed, so that the task fails with DependencyFailed whenever its
      // argument's failure arrives: before or after this submit, the same outcome.
      if (f.done() && !f.state()->exception_ptr()) {
        codec::encode(w, static_cast<P>(f.result()));
      } else if (auto id = remote::detail::task_id_of(f.state()); id != 0) {
        codec::encode(w, codec::FutureRef{static_cast<std::uint32_t>(deps.size())});
        deps.push_back(id);
      } else if (f.done()) {
        throw DependencyFailed("an argument of this task failed: " + describe(f.state()->exception_ptr()));
      } else {
        throw ValueError("a pending future that is not a remote task cannot be a task's argument: await it first");
      }
    } else {
      codec::encode(w, static_cast<const P&>(P(std::forward<A>(a))));
    }
  }

  template <typename... P, typename... A>
  static Bytes encode_args(std::vector<std::uint64_t>& deps, A&&... args) {
    codec::Writer w;
    w.tag(codec::Tag::tuple);
    w.varint(sizeof...(P));
    (encode_arg<P>(w, std::forward<A>(args), deps), ...);
    return w.finish();
  }

  template <typename T, typename... P, typename... A>
  Future<T> submit_typed(const TaskOptions& options, const std::string& name, std::uint64_t hash,
                         const std::string& signature, A&&... args) {
    core_->check_signature(name, hash, signature);
    std::vector<std::uint64_t> deps;
    Bytes encoded = encode_args<P...>(deps, std::forward<A>(args)...);
    auto state = shoal::detail::Ref<remote::detail::RemoteCall<T>>::adopt(new remote::detail::RemoteCall<T>());
    state->task_id = core_->next_id();
    state->core = core_;
    core_->submit(state, &remote::detail::RemoteCall<T>::complete, name,
                  hash, std::move(encoded), std::move(deps), options);
    return Future<T>::from_state(std::move(state));
  }

  /// The number of threads of the live workers (this machine's cores while none is
  /// connected, or when the coordinator does not answer in time).
  std::size_t cluster_slots();

  template <typename T, typename... P, typename Tuple, std::size_t... I>
  MapResults<T> map_chunks(const remote::FunctionEntry& entry, const MapOptions& options, std::size_t slots,
                           const Tuple& ranges, std::index_sequence<I...>) {
    static_assert(((!remote::detail::is_future<std::decay_t<decltype(*std::begin(std::get<I>(ranges)))>>::value &&
                    !remote::detail::is_object_ref<std::decay_t<decltype(*std::begin(std::get<I>(ranges)))>>::value) &&
                   ...),
                  "map: the items are values (a future or an ObjectRef cannot be a map's item)");
    core_->check_signature(entry.name, entry.signature_hash, entry.signature);
    std::vector<Bytes> items;
    auto its = std::make_tuple(std::begin(std::get<I>(ranges))...);
    auto ends = std::make_tuple(std::end(std::get<I>(ranges))...);
    std::vector<std::uint64_t> no_deps;
    while (((std::get<I>(its) != std::get<I>(ends)) && ...)) {
      items.push_back(encode_args<P...>(no_deps, *std::get<I>(its)...));
      (++std::get<I>(its), ...);
    }
    std::size_t size = options.chunksize;
    if (size == 0) size = items.size() <= 4 ? 1 : remote::auto_chunksize(items.size(), slots ? slots : cluster_slots());
    std::vector<Future<T>> out;
    out.reserve(items.size());
    for (std::size_t start = 0; start < items.size(); start += size) {
      std::size_t end = std::min(items.size(), start + size);
      std::vector<Bytes> chunk(std::make_move_iterator(items.begin() + static_cast<std::ptrdiff_t>(start)),
                               std::make_move_iterator(items.begin() + static_cast<std::ptrdiff_t>(end)));
      using Outcomes = std::vector<remote::MapOutcome>;
      auto state = shoal::detail::Ref<remote::detail::RemoteCall<Outcomes>>::adopt(new remote::detail::RemoteCall<Outcomes>());
      state->task_id = core_->next_id();
      state->core = core_;
      auto cancel = std::make_shared<remote::detail::ChunkCancel>();
      cancel->cancel_task = [core = std::weak_ptr<remote::detail::ClientCore>(core_), id = state->task_id] {
        if (auto c = core.lock()) c->cancel(id);
      };
      std::vector<shoal::detail::Ref<remote::detail::MapItem<T>>> states;
      states.reserve(chunk.size());
      for (std::size_t k = 0; k < chunk.size(); ++k) {
        states.push_back(shoal::detail::Ref<remote::detail::MapItem<T>>::adopt(new remote::detail::MapItem<T>(cancel)));
        out.push_back(Future<T>::from_state(states.back()));
      }
      auto chunk_future = Future<Outcomes>::from_state(state);
      core_->submit(state, &remote::detail::RemoteCall<Outcomes>::complete,
                    entry.name, entry.signature_hash, codec::encode(std::make_tuple(std::move(chunk))), {},
                    options.task, 0, std::string(remote::kMapMethod));
      (void)chunk_future.add_done_callback([states = std::move(states)](Future<Outcomes> f) mutable {
        remote::detail::complete_items(states, f);
      });
    }
    return MapResults<T>(std::move(out), options.timeout);
  }

  template <typename... Rest>
  auto submit_named(const TaskOptions& options, const std::string& name, Rest&&... rest) {
    // The last argument is a null pointer to the signature type, which names R and P.
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      [[maybe_unused]] auto tuple = std::forward_as_tuple(std::forward<Rest>(rest)...);
      using SigPtr = std::tuple_element_t<sizeof...(Rest) - 1, std::tuple<Rest...>>;
      return submit_sig(options, name, static_cast<SigPtr>(nullptr), std::get<I>(std::move(tuple))...);
    }(std::make_index_sequence<sizeof...(Rest) - 1>{});
  }
  template <typename R, typename... P, typename... A>
  auto submit_sig(const TaskOptions& options, const std::string& name, R (*)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A), "submit: wrong number of arguments for this signature");
    auto info = remote::signature_of<R(P...)>();
    using T = typename remote::detail::coro_traits<R>::value;
    return submit_typed<T, std::decay_t<P>...>(options, name, info.signature_hash, info.signature,
                                               std::forward<A>(args)...);
  }

  std::shared_ptr<remote::detail::ClientCore> core_;
};

}  // namespace shoal

#include "shoal/remote/actor.hpp"  // Actor<A>, and Client's templates that make one
