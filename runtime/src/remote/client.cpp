#include "shoal/remote/client.hpp"

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "shoal/proto/describe.hpp"
#include "shoal/proto/frame.hpp"

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

std::uint64_t task_id_of(shoal::detail::StateBase* state) noexcept {
  if (auto* info = dynamic_cast<RemoteCallInfo*>(state)) return info->task_id;
  return 0;
}

namespace {

constexpr std::size_t kBatchMax = 512;

std::string state_name(schema::TaskState s) {
  switch (s) {
    case schema::TaskState::WAITING: return "waiting";
    case schema::TaskState::QUEUED: return "queued";
    case schema::TaskState::ASSIGNED: return "assigned";
    case schema::TaskState::RUNNING: return "running";
    case schema::TaskState::DONE: return "done";
    case schema::TaskState::FAILED: return "failed";
    case schema::TaskState::CANCELLED: return "cancelled";
    default: return "unknown";
  }
}

schema::TaskState parse_state(const std::string& s) {
  for (auto st : {schema::TaskState::WAITING, schema::TaskState::QUEUED, schema::TaskState::ASSIGNED,
                  schema::TaskState::RUNNING, schema::TaskState::DONE, schema::TaskState::FAILED,
                  schema::TaskState::CANCELLED})
    if (state_name(st) == s) return st;
  if (s.empty()) return schema::TaskState::UNKNOWN;
  throw ValueError("unknown task state '" + s + "': one of waiting, queued, assigned, running, done, failed, cancelled");
}

}  // namespace

struct ClientCore::Impl {
  struct SubmitOut {
    std::uint64_t id;
    std::string function;
    std::uint64_t hash;
    Bytes args;
    std::vector<std::uint64_t> deps;
    TaskOptions options;
    std::uint64_t actor;
    std::string method;
  };
  struct CreateOut {
    std::uint64_t actor;
    std::string cls;
    std::uint64_t hash;
    Bytes args;
    std::uint64_t task;
  };
  struct StatusOut {
    std::uint64_t request;
    std::uint64_t task;
    bool list;
    schema::TaskState filter;
    std::uint32_t limit;
  };
  struct Pending {
    shoal::detail::Ref<shoal::detail::StateBase> state;
    Completer complete;
  };

  ClientCore* owner;
  asio::io_context io{1};
  asio::any_io_executor ex;  // io's, or the coordinator's for an in-process link
  // In-process link (LocalCluster): frames go out through `local_send`.
  bool local = false;
  bool local_open = false;
  std::shared_ptr<std::atomic<bool>> local_alive = std::make_shared<std::atomic<bool>>(true);
  std::function<void(std::vector<std::uint64_t>&&)> local_send;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<proto::Socket> socket;
  std::unique_ptr<proto::FrameReader> reader;
  std::shared_ptr<proto::FrameWriter> writer;
  std::thread thread;
  std::thread::id thread_id;

  // Filled from any thread under `mu`, sent by flush() on the I/O thread.
  std::mutex mu;
  std::vector<SubmitOut> submits;
  std::vector<CreateOut> creates;
  std::vector<Pending> registrations;  // subscriptions and actor readiness, with their ids
  std::vector<std::uint64_t> cancels, releases, release_actors, subscribes;
  std::vector<StatusOut> statuses;
  std::unordered_map<std::uint64_t, Promise<ClusterStatus>> status_waiting;
  bool flush_posted = false;
  bool closed = false;
  std::string closed_why;

  // I/O thread only.
  std::unordered_multimap<std::uint64_t, Pending> pending;

  mutable std::mutex catalog_mu;
  std::vector<CatalogEntry> catalog;
  std::uint64_t catalog_version = 1, checked_version = 0, checked_hash = 0;
  std::string checked_name;

  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint64_t> status_seq{0};
  std::promise<void> welcomed;
  bool welcome_seen = false;

  void post_flush_locked() {
    if (flush_posted || closed) return;
    flush_posted = true;
    asio::post(ex, [this] { flush(); });
  }

  void flush() {
    std::vector<SubmitOut> s;
    std::vector<CreateOut> c;
    std::vector<Pending> regs;
    std::vector<std::uint64_t> can, rel, rela, sub;
    std::vector<StatusOut> st;
    {
      std::lock_guard lock(mu);
      flush_posted = false;
      s.swap(submits);
      c.swap(creates);
      regs.swap(registrations);
      can.swap(cancels);
      rel.swap(releases);
      rela.swap(release_actors);
      sub.swap(subscribes);
      st.swap(statuses);
    }
    for (auto& r : regs) {
      auto id = dynamic_cast<RemoteCallInfo*>(r.state.get())->task_id;
      pending.emplace(id, std::move(r));
    }
    if (local ? !local_open : (!writer || writer->failed())) return;
    try {
      // Actors first: calls in this flush may be on them.
      for (auto& o : c) {
        capnp::MallocMessageBuilder msg;
        auto a = msg.initRoot<schema::Envelope>().initActorCreate();
        a.setActorId(o.actor);
        a.setClassName(o.cls);
        a.setConstructorHash(o.hash);
        a.setArgs(data(o.args));
        a.setTaskId(o.task);
        send_msg(msg);
      }
      for (std::size_t at = 0; at < s.size(); at += kBatchMax) {
        std::size_t n = std::min(kBatchMax, s.size() - at);
        std::size_t bytes = 0;
        for (std::size_t i = 0; i < n; ++i) bytes += s[at + i].args.size() + s[at + i].function.size() + 8 * s[at + i].deps.size();
        // One segment for the whole batch: readers take a lock for every other segment.
        capnp::MallocMessageBuilder msg(static_cast<unsigned>(std::min<std::size_t>(8 + n * 20 + bytes / 8 + n * 3, 1u << 20)));
        auto env = msg.initRoot<schema::Envelope>();
        auto fill = [&](schema::Submit::Builder b, SubmitOut& o) {
          b.setTaskId(o.id);
          b.setFunction(o.function);
          b.setSignatureHash(o.hash);
          b.setArgs(data(o.args));
          if (!o.deps.empty()) {
            auto d = b.initDeps(static_cast<unsigned>(o.deps.size()));
            for (unsigned i = 0; i < o.deps.size(); ++i) d.set(i, o.deps[i]);
          }
          if (o.options.timeout || o.options.retries >= 0 || o.options.detached) {
            auto opt = b.initOptions();
            opt.setTimeoutMs(o.options.timeout ? static_cast<std::uint64_t>(o.options.timeout->count()) : 0);
            opt.setRetries(o.options.retries);
            opt.setDetached(o.options.detached);
          } else {
            b.initOptions().setRetries(-1);
          }
          if (o.actor) {
            b.setActorId(o.actor);
            b.setMethod(o.method);
          }
        };
        if (n == 1) {
          fill(env.initSubmit(), s[at]);
        } else {
          auto list = env.initSubmitBatch(static_cast<unsigned>(n));
          for (std::size_t i = 0; i < n; ++i) fill(list[static_cast<unsigned>(i)], s[at + i]);
        }
        send_msg(msg);
      }
      for (auto id : can) {
        capnp::MallocMessageBuilder msg;
        msg.initRoot<schema::Envelope>().initCancel().setTaskId(id);
        send_msg(msg);
      }
      if (!sub.empty()) {
        capnp::MallocMessageBuilder msg;
        auto l = msg.initRoot<schema::Envelope>().initSubscribe().initTaskIds(static_cast<unsigned>(sub.size()));
        for (unsigned i = 0; i < sub.size(); ++i) l.set(i, sub[i]);
        send_msg(msg);
      }
      if (!rel.empty() || !rela.empty()) {
        capnp::MallocMessageBuilder msg;
        auto r = msg.initRoot<schema::Envelope>().initRelease();
        auto t = r.initTasks(static_cast<unsigned>(rel.size()));
        for (unsigned i = 0; i < rel.size(); ++i) t.set(i, rel[i]);
        auto a = r.initActors(static_cast<unsigned>(rela.size()));
        for (unsigned i = 0; i < rela.size(); ++i) a.set(i, rela[i]);
        send_msg(msg);
      }
      for (auto& q : st) {
        capnp::MallocMessageBuilder msg;
        auto r = msg.initRoot<schema::Envelope>().initStatusRequest();
        r.setRequestId(q.request);
        r.setTaskId(q.task);
        r.setListTasks(q.list);
        r.setStateFilter(q.filter);
        r.setLimit(q.limit);
        send_msg(msg);
      }
    } catch (const std::exception& e) {
      lost(std::string("cannot send to the coordinator: ") + e.what());
    }
  }

  void send_msg(capnp::MessageBuilder& msg) {
    if (local) {
      std::vector<std::uint64_t> words;
      proto::append_frame(msg, words);
      local_send(std::move(words));
    } else {
      writer->send(msg);
    }
  }

  // In-process link: a frame from the coordinator, on its thread (empty: link closed).
  void deliver(std::vector<std::uint64_t>&& words) {
    if (words.empty()) {
      local_open = false;
      lost("the coordinator closed the connection");
      return;
    }
    try {
      capnp::FlatArrayMessageReader reader(
          kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(words.data()), words.size()));
      proto::guarded([&] { handle(reader.getRoot<schema::Envelope>()); });
    } catch (const std::exception& e) {
      local_open = false;
      local_send({});
      lost(std::string("bad message from the coordinator: ") + e.what());
    }
  }

  void complete_result(schema::Result::Reader r) {
    auto range = pending.equal_range(r.getTaskId());
    if (range.first == range.second) return;
    std::vector<Pending> done;
    for (auto it = range.first; it != range.second; ++it) done.push_back(std::move(it->second));
    pending.erase(range.first, range.second);
    switch (r.which()) {
      case schema::Result::VALUE: {
        Bytes value = bytes(r.getValue());
        for (auto& p : done) p.complete(p.state.get(), value);
        break;
      }
      case schema::Result::ERROR: {
        auto info = get_error(r.getError());
        for (auto& p : done) {
          auto e = make_remote_exception(info);
          if (info.kind == "cancelled")
            p.state->try_set_cancelled(e);
          else
            p.state->try_set_exception(e);
        }
        break;
      }
      default:
        for (auto& p : done) p.state->try_set_cancelled();
    }
  }

  void status_reply(schema::StatusReply::Reader r) {
    ClusterStatus s;
    s.waiting = r.getWaiting();
    s.queued = r.getQueued();
    s.running = r.getRunning();
    s.done = r.getDone();
    s.failed = r.getFailed();
    s.cancelled = r.getCancelled();
    for (auto w : r.getWorkers()) {
      WorkerInfo i;
      i.id = w.getPeerId();
      i.name = text(w.getName());
      i.host = text(w.getHost());
      i.pid = w.getPid();
      i.capacity = w.getCapacity();
      i.running = w.getRunning();
      i.draining = w.getDraining();
      i.actors = w.getActors();
      i.done = w.getDone();
      i.functions = w.getFunctions();
      s.workers.push_back(std::move(i));
    }
    for (auto t : r.getTasks()) {
      TaskInfo i;
      i.id = t.getTaskId();
      i.function = text(t.getFunction());
      i.state = state_name(t.getState());
      i.attempt = t.getAttempt();
      i.worker = t.getWorker();
      i.actor = t.getActorId();
      i.submitted_ns = t.getSubmittedNs();
      i.finished_ns = t.getFinishedNs();
      i.error = text(t.getError());
      i.run_ns = t.getRunNs();
      s.tasks.push_back(std::move(i));
    }
    std::optional<Promise<ClusterStatus>> p;
    {
      std::lock_guard lock(mu);
      auto it = status_waiting.find(r.getRequestId());
      if (it == status_waiting.end()) return;
      p.emplace(std::move(it->second));
      status_waiting.erase(it);
    }
    p->set_result(std::move(s));
  }

  void set_catalog(schema::Catalog::Reader c) {
    std::vector<CatalogEntry> entries;
    for (auto f : c.getFunctions())
      entries.push_back({text(f.getName()), text(f.getSignature()), f.getSignatureHash(), f.getIsCoroutine()});
    for (auto a : c.getActors())
      for (auto m : a.getMethods())
        entries.push_back({text(a.getName()) + "." + text(m.getName()), text(m.getSignature()), m.getSignatureHash(),
                           m.getIsCoroutine()});
    std::lock_guard lock(catalog_mu);
    catalog = std::move(entries);
    ++catalog_version;
  }

  asio::awaitable<void> read_loop() {
    std::string why = "the coordinator closed the connection";
    try {
      co_await read_frames(*reader, [this](schema::Envelope::Reader env) { handle(env); }, [] {});
    } catch (const std::exception& e) {
      why = e.what();
    }
    lost("lost the connection to the coordinator at " + owner->address() + ": " + why);
  }

  void handle(schema::Envelope::Reader env) {
    switch (env.which()) {
      case schema::Envelope::WELCOME: {
        auto w = env.getWelcome();
        owner->peer_id_ = w.getPeerId();
        set_catalog(w.getCatalog());
        if (!welcome_seen) {
          welcome_seen = true;
          welcomed.set_value();
        }
        break;
      }
      case schema::Envelope::RESULT:
        complete_result(env.getResult());
        break;
      case schema::Envelope::RESULT_BATCH:
        for (auto r : env.getResultBatch()) complete_result(r);
        break;
      case schema::Envelope::CATALOG:
        set_catalog(env.getCatalog());
        break;
      case schema::Envelope::STATUS_REPLY:
        status_reply(env.getStatusReply());
        break;
      case schema::Envelope::ERROR: {
        auto e = env.getError();
        std::string msg = text(e.getMessage());
        if (!welcome_seen) {
          welcome_seen = true;
          welcomed.set_exception(std::make_exception_ptr(ConnectionError("the coordinator at " + owner->address() +
                                                                         " refused the connection: " + msg)));
        }
        if (e.getFatal()) throw ConnectionError("the coordinator reported: " + msg);
        break;
      }
      case schema::Envelope::HEARTBEAT:
      case schema::Envelope::SHUTDOWN:
      case schema::Envelope::ACCEPTED:
        break;
      default:
        throw ProtocolError("unexpected message from the coordinator: " + proto::describe(env));
    }
  }

  // I/O thread: fails everything pending; later submits fail at once.
  void lost(const std::string& why) {
    std::vector<Promise<ClusterStatus>> statuses_lost;
    {
      std::lock_guard lock(mu);
      if (!closed) {
        closed = true;
        closed_why = why;
      }
      for (auto& [id, p] : status_waiting) statuses_lost.push_back(std::move(p));
      status_waiting.clear();
      for (auto& r : registrations) pending.emplace(dynamic_cast<RemoteCallInfo*>(r.state.get())->task_id, std::move(r));
      registrations.clear();
      for (auto& s : submits) (void)s;  // their states are in registrations
      submits.clear();
      creates.clear();
    }
    if (!welcome_seen) {
      welcome_seen = true;
      welcomed.set_exception(std::make_exception_ptr(ConnectionError(why)));
    }
    auto failing = std::move(pending);
    pending.clear();
    for (auto& [id, p] : failing) p.state->try_set_exception(std::make_exception_ptr(ConnectionError(why)));
    for (auto& p : statuses_lost) p.set_exception(std::make_exception_ptr(ConnectionError(why)));
    std::error_code ec;
    if (socket && socket->is_open()) socket->close(ec);
  }
};

ClientCore::ClientCore(std::string address, ClientOptions options)
    : address_text_(address.empty() ? default_address() : std::move(address)),
      options_(std::move(options)),
      impl_(std::make_unique<Impl>()) {
  impl_->owner = this;
}

ClientCore::~ClientCore() { close(); }

namespace {
void build_hello(capnp::MallocMessageBuilder& msg, const ClientOptions& options) {
  auto h = msg.initRoot<schema::Envelope>().initHello();
  h.setProtocolVersion(schema::PROTOCOL_VERSION);
  h.setRole(schema::Role::CLIENT);
  h.setName(options.name);
  h.setHost(this_host());
  h.setPid(static_cast<std::uint32_t>(::getpid()));
  h.setToken(options.token);
}
}  // namespace

void ClientCore::wait_welcome(std::future<void>& welcomed) {
  if (welcomed.wait_for(options_.connect_timeout) != std::future_status::ready) {
    close();
    throw TimeoutError("the coordinator at " + address_text_ + " did not answer within " +
                       std::to_string(options_.connect_timeout.count()) + " ms");
  }
  try {
    welcomed.get();
  } catch (...) {
    close();
    throw;
  }
}

void ClientCore::start() {
  auto& im = *impl_;
  auto addr = parse_address(address_text_);
  address_text_ = addr.to_string();
  im.ex = im.io.get_executor();
  im.socket.emplace(connect_socket(im.io.get_executor(), addr));
  im.reader = std::make_unique<proto::FrameReader>(*im.socket, proto::FrameLimits{}, 1 << 20);
  im.writer = proto::FrameWriter::create(*im.socket);
  auto welcomed = im.welcomed.get_future();
  im.work.emplace(im.io.get_executor());
  asio::post(im.io, [this] {
    auto& im = *impl_;
    capnp::MallocMessageBuilder msg;
    build_hello(msg, options_);
    try {
      im.writer->send(msg);
    } catch (const std::exception& e) {
      im.lost(e.what());
      return;
    }
    asio::co_spawn(im.io, im.read_loop(), asio::detached);
  });
  im.thread = std::thread([this] {
    impl_->thread_id = std::this_thread::get_id();
    impl_->io.run();
  });
  wait_welcome(welcomed);
}

void ClientCore::start_local(LocalLink link) {
  auto& im = *impl_;
  im.ex = link.executor;
  im.local = true;
  im.local_open = true;
  auto welcomed = im.welcomed.get_future();
  // The coordinator's frames arrive on its thread; `alive` stops them once we are gone.
  auto alive = im.local_alive;
  im.local_send = link.connect([alive, &im](std::vector<std::uint64_t>&& words) {
    if (*alive) im.deliver(std::move(words));
  });
  asio::post(im.ex, [this] {
    capnp::MallocMessageBuilder msg;
    build_hello(msg, options_);
    impl_->send_msg(msg);
  });
  wait_welcome(welcomed);
}

void ClientCore::close() noexcept {
  auto& im = *impl_;
  if (im.local) {
    if (!*im.local_alive) return;
    // On the coordinator's thread: send what is queued (releases included), close the
    // link, fail what is pending. Bounded: a stopped coordinator cannot hold us up.
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    asio::post(im.ex, [&im, done] {
      if (*im.local_alive) {
        im.flush();
        if (im.local_open) {
          im.local_open = false;
          im.local_send({});
        }
        im.lost("the client was closed");
        *im.local_alive = false;
      }
      done->set_value();
    });
    if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) *im.local_alive = false;
    return;
  }
  if (!im.thread.joinable()) return;
  {
    std::lock_guard lock(im.mu);
    if (!im.closed) {
      // Send what is queued first (releases included), then close.
      im.flush_posted = true;
      asio::post(im.io, [&im] { im.flush(); });
    }
  }
  asio::post(im.io, [&im] {
    auto drain = [&im]() -> asio::awaitable<void> {
      try {
        if (im.writer && !im.writer->failed()) {
          asio::steady_timer t(im.io, std::chrono::seconds(1));
          // Bounded: a coordinator that stopped reading cannot hold the close up.
          auto done = std::make_shared<bool>(false);
          asio::co_spawn(im.io, [&im, done]() -> asio::awaitable<void> {
            try { co_await im.writer->drain(); } catch (...) {}
            *done = true;
          }, asio::detached);
          while (!*done && t.expiry() > std::chrono::steady_clock::now()) {
            asio::steady_timer tick(im.io, std::chrono::milliseconds(2));
            co_await tick.async_wait(asio::use_awaitable);
          }
        }
      } catch (...) {
      }
      im.lost("the client was closed");
      im.work.reset();
      im.io.stop();
    };
    asio::co_spawn(im.io, drain, asio::detached);
  });
  if (std::this_thread::get_id() == im.thread_id) {
    im.thread.detach();  // closing from a completion on our own thread: it ends by itself
  } else {
    im.thread.join();
  }
}

std::uint64_t ClientCore::next_id() {
  auto seq = impl_->seq.fetch_add(1, std::memory_order_relaxed) + 1;
  return (peer_id_ << 32) | seq;
}

// Registers `state` as pending and queues what `add` puts in the outbox (under the lock);
// once the connection is closed the state fails at once with ConnectionError instead.
template <typename Add>
void ClientCore::enqueue(shoal::detail::Ref<shoal::detail::StateBase> state, Completer complete, Add&& add) {
  auto& im = *impl_;
  auto id = dynamic_cast<RemoteCallInfo*>(state.get())->task_id;
  std::unique_lock lock(im.mu);
  if (im.closed) {
    auto why = im.closed_why;
    lock.unlock();
    state->try_set_exception(std::make_exception_ptr(ConnectionError(why)));
    return;
  }
  im.registrations.push_back({std::move(state), complete});
  add(im, id);
  im.post_flush_locked();
}

void ClientCore::submit(shoal::detail::Ref<shoal::detail::StateBase> state, Completer complete,
                        const std::string& function, std::uint64_t hash, Bytes args, std::vector<std::uint64_t> deps,
                        const TaskOptions& options, std::uint64_t actor, const std::string& method) {
  if (args.size() > (48u << 20))
    throw ValueError("the arguments of " + function + " are " + std::to_string(args.size() >> 20) +
                     " MiB: more than the 48 MiB a task may carry");
  enqueue(std::move(state), complete, [&](Impl& im, std::uint64_t id) {
    im.submits.push_back({id, function, hash, std::move(args), std::move(deps), options, actor, method});
  });
}

void ClientCore::actor_create(std::uint64_t actor, std::shared_ptr<const remote::ActorEntry> type, Bytes args,
                              shoal::detail::Ref<shoal::detail::StateBase> ready, Completer complete) {
  enqueue(std::move(ready), complete, [&](Impl& im, std::uint64_t id) {
    im.creates.push_back({actor, type->name, type->constructor_hash, std::move(args), id});
  });
}

void ClientCore::subscribe(shoal::detail::Ref<shoal::detail::StateBase> state, Completer complete) {
  enqueue(std::move(state), complete, [](Impl& im, std::uint64_t id) { im.subscribes.push_back(id); });
}

void ClientCore::cancel(std::uint64_t task) {
  std::lock_guard lock(impl_->mu);
  impl_->cancels.push_back(task);
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

Future<ClusterStatus> ClientCore::status(std::uint64_t task, bool list, std::string state_filter, std::uint32_t limit) {
  auto& im = *impl_;
  Promise<ClusterStatus> p;
  auto f = p.get_future();
  auto filter = parse_state(state_filter);
  std::lock_guard lock(im.mu);
  if (im.closed) {
    p.set_exception(std::make_exception_ptr(ConnectionError(im.closed_why)));
    return f;
  }
  auto request = im.status_seq.fetch_add(1) + 1;
  im.status_waiting.emplace(request, std::move(p));
  im.statuses.push_back({request, task, list, filter, limit});
  im.post_flush_locked();
  return f;
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

}  // namespace remote::detail

// ---- Client ----

Client::Client(std::string address, ClientOptions options)
    : core_(std::make_shared<remote::detail::ClientCore>(std::move(address), std::move(options))) {
  core_->start();
}

Client::Client(remote::detail::LocalLink link, ClientOptions options)
    : core_(std::make_shared<remote::detail::ClientCore>(link.address, std::move(options))) {
  core_->start_local(std::move(link));
}

Client::~Client() { close(); }

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
  core_->submit(shoal::detail::Ref<shoal::detail::StateBase>(state), &remote::detail::RemoteCall<Bytes>::complete,
                call.function, call.signature_hash, std::move(call.args), std::move(call.deps), call.options);
  return out;
}

Future<Bytes> Client::subscribe(std::uint64_t task_id) {
  auto state = shoal::detail::Ref<remote::detail::RemoteCall<Bytes>>::adopt(new remote::detail::RemoteCall<Bytes>());
  state->task_id = task_id;
  state->core = core_;
  state->owned = false;
  auto f = Future<Bytes>::from_state(state);
  core_->subscribe(shoal::detail::Ref<shoal::detail::StateBase>(state), &remote::detail::RemoteCall<Bytes>::complete);
  return f;
}

void Client::cancel(std::uint64_t task_id) { core_->cancel(task_id); }

Future<ClusterStatus> Client::status(std::uint64_t task_id) { return core_->status(task_id, false, {}, 0); }

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

std::vector<CatalogEntry> Client::catalog() const { return core_->catalog(); }

namespace {
std::mutex current_mu;
std::string current_address;
std::unique_ptr<Client> current_client;
}  // namespace

void Client::set_current_address(std::string address) {
  std::lock_guard lock(current_mu);
  current_address = std::move(address);
}

Client& Client::current() {
  std::lock_guard lock(current_mu);
  if (!current_client) {
    if (current_address.empty())
      throw InvalidStateError("Client::current() is only available inside a task running on a shoal worker");
    ClientOptions o;
    o.name = "nested";
    current_client = std::make_unique<Client>(current_address, o);
  }
  return *current_client;
}

}  // namespace shoal
