#include "shoal/remote/client.hpp"

#include <unistd.h>


#include <algorithm>
#include <thread>
#include <utility>

#include "client_impl.hpp"
#include "shoal/remote/this_task.hpp"
#include "shoal/link/address.hpp"
#include "shoal/link/messages.hpp"

namespace shoal {

namespace schema = proto::schema;

namespace remote::detail {

const std::shared_ptr<const remote::FunctionEntry>& find_cached(void (*address)()) {
  thread_local void (*last)() = nullptr;
  thread_local std::shared_ptr<const remote::FunctionEntry> entry;
  if (address != last || !entry) {
    entry = remote::Registry::global().find_function_at(address);
    last = address;
  }
  return entry;
}

void release_task(const std::weak_ptr<ClientCore>& core, std::uint64_t id) noexcept {
  if (auto c = core.lock()) c->release(id);
}

std::uint64_t task_id_of(shoal::detail::StateBase* state) noexcept {
  if (auto* info = dynamic_cast<RemoteCallInfo*>(state)) return info->task_id;
  return 0;
}

ClientCore::ClientCore(std::string address, ClientOptions options)
    : address_text_(address.empty() ? link::default_address() : std::move(address)),
      options_(std::move(options)),
      impl_(std::make_unique<Impl>()) {
  impl_->owner = this;
  // A million pending futures: short chains cost less than a bucket per future (B9client).
  impl_->pending.max_load_factor(4.0f);
}

ClientCore::~ClientCore() { close(); }

std::uint64_t ClientCore::next_id() {
  auto seq = impl_->seq.fetch_add(1, std::memory_order_relaxed) + 1;
  return (peer_id() << 32) | seq;
}

// Backpressure: no more than max_unacknowledged submits ahead of the coordinator's
// acknowledgements; throws Overloaded when none came in time.
std::uint64_t ClientCore::window() const {
  // A journaled coordinator acknowledges only once on disk (a group commit and an fsync
  // later): a window 8 times as wide keeps the same pace.
  return std::uint64_t{options_.max_unacknowledged} * (journaled() ? 8 : 1);
}

bool ClientCore::has_room(const Impl& im, std::uint64_t id) const {
  return (id & 0xffffffffu) - std::min(id & 0xffffffffu, im.accepted & 0xffffffffu) <= window();
}

Future<void> ClientCore::room() {
  auto& im = *impl_;
  std::lock_guard lock(im.mu);
  if (im.closed || has_room(im, im.seq.load(std::memory_order_relaxed) + 1)) {
    Promise<void> now;
    now.set_result();
    return now.get_future();
  }
  im.room_waiters.emplace_back();
  return im.room_waiters.back().get_future();
}

void ClientCore::room_for(Impl& im, std::unique_lock<std::mutex>& lock, std::uint64_t id) {
  if (has_room(im, id)) return;
  bool may_wait = !im.local ? std::this_thread::get_id() != im.thread_id
                            : im.gate->loop_thread.load(std::memory_order_relaxed) != std::this_thread::get_id();
  if (!may_wait ||
      im.accepted_cv.wait_for(lock, options_.submit_timeout, [&] { return im.closed || has_room(im, id); }))
    return;
  lock.unlock();
  throw Overloaded("the coordinator at " + address_text_ + " acknowledged none of this client's last " +
                   std::to_string(window()) + " submits within " + std::to_string(options_.submit_timeout.count()) +
                   " ms: it is overloaded (retry later)");
}

// Registers `state` as pending and queues what `add` puts in the outbox (under the lock);
// once the connection is closed the state fails at once with ConnectionError instead.
template <typename Add>
void ClientCore::enqueue(CallRef call, Completer complete, Add&& add, bool submit) {
  auto& im = *impl_;
  auto* info = call.info;
  auto& state = call.state;
  auto id = info->task_id;
  std::unique_lock lock(im.mu);
  if (submit) try {
      room_for(im, lock, id);
    } catch (const Overloaded&) {
      info->owned = false;  // never sent: nothing to release
      throw;
    }
  if (im.closed) {
    auto why = im.closed_why;
    lock.unlock();
    state->try_set_exception(std::make_exception_ptr(ConnectionError(why)));
    return;
  }
  im.registrations.push_back({std::move(state), complete, id});
  add(im, id);
  im.post_flush_locked();
}

void ClientCore::submit(CallRef call, Completer complete,
                        const std::string& function, std::uint64_t hash, Bytes args, std::vector<std::uint64_t> deps,
                        const TaskOptions& options, std::uint64_t actor, const std::string& method) {
  if (options.timeout && (options.timeout->count() <= 0 || options.timeout->count() > kMaxTimeoutMs))
    throw ValueError("the timeout of " + function + " must be more than 0 ms and at most " +
                     std::to_string(kMaxTimeoutMs) + " ms (about 31 years), not " +
                     std::to_string(options.timeout->count()) + " ms");
  if (options.retries < -1 || options.retries > kMaxRetries)
    throw ValueError("the retries of " + function + " must be 0 to " + std::to_string(kMaxRetries) +
                     " (or -1: the coordinator's default), not " + std::to_string(options.retries));
  if (Impl::has_placement(options)) try {
      link::check_placement(options.placement());
    } catch (const ValueError& e) {
      throw ValueError("the placement of " + function + ": " + e.what());
    }
  if (!options.retry.on.empty()) try {
      link::check_retry(options.retry);
    } catch (const ValueError& e) {
      throw ValueError("the retry policy of " + function + ": " + e.what());
    }
  auto parent = this_task::id();  // submitted from a task on a worker: its child
  enqueue(std::move(call), complete, [&](Impl& im, std::uint64_t id) {
    im.submits.push_back({id, function, hash, std::move(args), std::move(deps), Impl::share(options), actor, method, parent});
  }, /*submit=*/true);
}

void ClientCore::actor_create(std::uint64_t actor, std::shared_ptr<const remote::ActorEntry> type, Bytes args,
                              CallRef ready, Completer complete,
                              const ActorOptions& options) {
  link::Placement placement{options.resources, options.labels};
  try {
    link::check_placement(placement);
  } catch (const ValueError& e) {
    throw ValueError("the placement of actor " + type->name + ": " + e.what());
  }
  if (options.max_restarts < -1 || options.max_task_retries < -1)
    throw ValueError("actor " + type->name + ": max_restarts and max_task_retries are -1 (always) or more");
  if (options.max_concurrency > link::kMaxActorConcurrency)
    throw ValueError("actor " + type->name + ": max_concurrency is at most " + std::to_string(link::kMaxActorConcurrency));
  if (options.name.size() > link::kMaxActorName)
    throw ValueError("an actor's name is at most " + std::to_string(link::kMaxActorName) + " bytes");
  for (char ch : options.name)
    if (ch < 0x20 || ch > 0x7e) throw ValueError("an actor's name is printable ASCII");
  if (options.detached && options.name.empty())
    throw ValueError("actor " + type->name + ": a detached actor needs a name (nobody else could reach it)");
  enqueue(std::move(ready), complete, [&](Impl& im, std::uint64_t id) {
    Impl::CreateOut o{actor, type->name, type->constructor_hash, std::move(args), id, std::move(placement)};
    o.max_restarts = options.max_restarts;
    o.max_task_retries = options.max_task_retries;
    o.max_concurrency = std::max(1u, options.max_concurrency);
    o.name = options.name;
    o.detached = options.detached;
    im.creates.push_back(std::move(o));
  });
}

void ClientCore::kill_actor(std::uint64_t actor) {
  std::lock_guard lock(impl_->mu);
  if (impl_->closed) throw ConnectionError(impl_->closed_why);
  impl_->kill_actors.push_back(actor);
  impl_->post_flush_locked();
}

namespace {

// Queues a status request (its id is given here) and returns the future of its reply.
Future<ClusterStatus> ask(ClientCore::Impl& im, ClientCore::Impl::StatusOut q) {
  Promise<ClusterStatus> p;
  auto f = p.get_future();
  std::lock_guard lock(im.mu);
  if (im.closed) {
    p.set_exception(std::make_exception_ptr(ConnectionError(im.closed_why)));
    return f;
  }
  q.request = im.status_seq.fetch_add(1) + 1;
  im.status_waiting.emplace(q.request, std::move(p));
  im.statuses.push_back(std::move(q));
  im.post_flush_locked();
  return f;
}

}  // namespace

Future<ClusterStatus> ClientCore::find_actor(const std::string& name) {
  Impl::StatusOut q{0, 0, false, schema::TaskState::UNKNOWN, 0};
  q.actor_name = name;
  return ask(*impl_, std::move(q));
}

Future<ClusterStatus> ClientCore::replay_info(std::uint64_t task) {
  Impl::StatusOut q{0, task, false, schema::TaskState::UNKNOWN, 0};
  q.replay = true;
  return ask(*impl_, std::move(q));
}

void ClientCore::subscribe(CallRef call, Completer complete) {
  enqueue(std::move(call), complete, [](Impl& im, std::uint64_t id) { im.subscribes.push_back(id); });
}

void ClientCore::cancel(std::uint64_t task, bool force) {
  std::lock_guard lock(impl_->mu);
  impl_->cancels.push_back(task);
  if (force) impl_->forced.insert(task);
  impl_->post_flush_locked();
}

void ClientCore::release(std::uint64_t task) {
  std::lock_guard lock(impl_->mu);
  if (impl_->closed) return;
  impl_->releases.push_back(task);
  impl_->post_flush_locked();
}

void ClientCore::release_actor(std::uint64_t actor) {
  std::lock_guard lock(impl_->mu);
  if (impl_->closed) return;
  impl_->release_actors.push_back(actor);
  impl_->post_flush_locked();
}

Future<ClusterStatus> ClientCore::status(std::uint64_t task, bool list, std::string state_filter, std::uint32_t limit,
                                         bool attempts, std::uint64_t since_ns, std::string job, bool logs) {
  return ask(*impl_, {0, task, list, parse_state(state_filter), limit, attempts, since_ns, std::move(job), logs});
}

void ClientCore::check_signature(const std::string& name, std::uint64_t hash, const std::string& signature) const {
  std::lock_guard lock(impl_->catalog_mu);
  // Checked once per catalog version: a stream of submits is mostly one function.
  if (impl_->checked_version == impl_->catalog_version && impl_->checked_hash == hash && impl_->checked_name == name)
    return;
  std::string theirs;
  for (const auto& e : impl_->catalog) {
    if (e.name != name) continue;
    if (e.signature_hash == hash) return;
    if (!theirs.empty()) theirs += " or ";
    theirs += e.signature;
  }
  if (theirs.empty()) {
    impl_->checked_version = impl_->catalog_version;
    impl_->checked_hash = hash;
    impl_->checked_name = name;
  }
  if (!theirs.empty())
    throw TypeMismatch("'" + name + "' is " + theirs + " in the workers but " + signature +
                       " here: rebuild the caller or the task library so that they agree");
}

std::vector<CatalogEntry> ClientCore::catalog() const {
  std::lock_guard lock(impl_->catalog_mu);
  return impl_->catalog;
}

void ClientCore::follow_worker_log(const std::string& name, bool follow) {
  std::lock_guard lock(impl_->mu);
  if (impl_->closed) return;
  impl_->log_follows.emplace_back(name, follow);
  impl_->post_flush_locked();
}

}  // namespace remote::detail

// ---- Client ----

Client::Client(std::string address, ClientOptions options)
    : core_(std::make_shared<remote::detail::ClientCore>(std::move(address), std::move(options))) {
  core_->start();
}

Client::Client(remote::detail::LocalLink in_process, ClientOptions options)
    : core_(std::make_shared<remote::detail::ClientCore>(in_process.address, std::move(options))) {
  core_->start_local(std::move(in_process));
}

Client::Client(remote::detail::DialledLink dialled, ClientOptions options)
    : core_(std::make_shared<remote::detail::ClientCore>(dialled.address, std::move(options))) {
  core_->start_dialled(std::move(dialled));
}

Client::~Client() { close(); }

bool remote::detail::ClientCore::wait_accepted(std::uint64_t id, std::chrono::milliseconds timeout) {
  auto& im = *impl_;
  std::unique_lock lock(im.mu);
  bool done = im.accepted_cv.wait_for(lock, timeout, [&] { return im.closed || im.accepted >= id; });
  if (done && im.accepted < id)
    throw ConnectionError(im.closed_why.empty() ? "the client was closed" : im.closed_why);
  return done;
}

bool Client::wait_accepted(std::uint64_t id, std::chrono::milliseconds timeout) {
  return core_->wait_accepted(id, timeout);
}

Future<void> Client::room() { return core_->room(); }

void Client::close() noexcept {
  if (core_) core_->close();
}

RawTask Client::submit_raw(RawCall call) {
  auto state = shoal::detail::Ref<remote::detail::RemoteCall<Bytes>>::adopt(new remote::detail::RemoteCall<Bytes>());
  state->task_id = core_->next_id();
  state->core = core_;
  // A detached raw task (the CLI's) is kept by the coordinator: no release when dropped.
  state->owned = !call.options.detached;
  RawTask out{state->task_id, Future<Bytes>::from_state(state)};
  core_->submit(state, &remote::detail::RemoteCall<Bytes>::complete_raw,
                call.function, call.signature_hash, std::move(call.args), std::move(call.deps), call.options);
  return out;
}

Future<Bytes> Client::subscribe(std::uint64_t task_id) {
  auto state = shoal::detail::Ref<remote::detail::RemoteCall<Bytes>>::adopt(new remote::detail::RemoteCall<Bytes>());
  state->task_id = task_id;
  state->core = core_;
  state->owned = false;
  auto f = Future<Bytes>::from_state(state);
  core_->subscribe(state, &remote::detail::RemoteCall<Bytes>::complete_raw);
  return f;
}

void Client::cancel(std::uint64_t task_id, bool force) { core_->cancel(task_id, force); }

Future<ClusterStatus> Client::status(std::uint64_t task_id) { return core_->status(task_id, false, {}, 0); }

remote::ReplayBundle Client::replay_bundle(std::uint64_t task_id, std::chrono::milliseconds timeout) {
  auto s = core_->replay_info(task_id).result(timeout);
  if (!s.replay_missing.empty()) throw LookupError(s.replay_missing);
  if (s.replay.task_id != task_id) throw LookupError("the coordinator kept nothing to replay task " + std::to_string(task_id));
  return std::move(s.replay);
}

Bytes Client::replay(std::uint64_t task_id, std::chrono::milliseconds timeout) {
  return remote::run_replay(replay_bundle(task_id, timeout));
}

Future<ClusterStatus> Client::tasks(std::string state, std::uint32_t limit) {
  return core_->status(0, true, std::move(state), limit);
}

Future<std::vector<WorkerInfo>> Client::workers() {
  auto s = core_->status(0, false, {}, 0);
  Promise<std::vector<WorkerInfo>> p;
  auto f = p.get_future();
  s.add_done_callback([p = std::move(p)](const Future<ClusterStatus>& done) mutable {
    try {
      p.set_result(done.result().workers);
    } catch (...) {
      p.set_current_exception();
    }
  });
  return f;
}

Future<std::vector<TaskAttempt>> Client::attempts(std::uint64_t since_ns, std::string job) {
  auto s = core_->status(0, false, {}, 0, true, since_ns, std::move(job));
  Promise<std::vector<TaskAttempt>> p;
  auto f = p.get_future();
  s.add_done_callback([p = std::move(p)](const Future<ClusterStatus>& done) mutable {
    try {
      p.set_result(done.result().attempts);
    } catch (...) {
      p.set_current_exception();
    }
  });
  return f;
}

Future<TaskInfo> Client::logs(std::uint64_t id) {
  auto s = core_->status(id, false, {}, 0, false, 0, {}, true);
  Promise<TaskInfo> p;
  auto f = p.get_future();
  s.add_done_callback([p = std::move(p), id](const Future<ClusterStatus>& done) mutable {
    try {
      auto st = done.result();
      if (st.tasks.empty())
        throw ValueError("task " + std::to_string(id) +
                         " is unknown to the coordinator (never submitted, or its result was released or expired)");
      p.set_result(std::move(st.tasks.front()));
    } catch (...) {
      p.set_current_exception();
    }
  });
  return f;
}

void Client::follow_worker_log(const std::string& name, bool follow) { core_->follow_worker_log(name, follow); }

std::vector<CatalogEntry> Client::catalog() const { return core_->catalog(); }

namespace {
std::mutex current_mu;
std::string current_address;
ClientOptions current_options;
std::unique_ptr<Client> current_client;
}  // namespace

void Client::set_current_address(std::string address, ClientOptions options) {
  std::lock_guard lock(current_mu);
  current_address = std::move(address);
  current_options = std::move(options);
}

Client& Client::current() {
  std::lock_guard lock(current_mu);
  if (!current_client) {
    if (current_address.empty())
      throw InvalidStateError("Client::current() is only available inside a task running on a shoal worker");
    ClientOptions o = current_options;
    o.name = "nested";
    current_client = std::make_unique<Client>(current_address, o);
  }
  return *current_client;
}

std::size_t Client::cluster_slots() {
  std::size_t n = 0;
  try {
    for (const auto& w : workers().result(std::chrono::seconds(5))) n += w.capacity;
  } catch (const std::exception&) {
    n = 0;  // not answered (or asked on a loop's thread): a guess serves as well
  }
  return n ? n : std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace shoal
