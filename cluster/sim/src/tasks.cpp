#include "tasks.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <capnp/message.h>

#include <chrono>
#include <cstring>
#include <set>
#include <stdexcept>
#include <tuple>

#include "peers.hpp"
#include "shoal/codec/codec.hpp"
#include "shoal/detail/wait_set.hpp"
#include "shoal/link/timer.hpp"
#include "shoal/remote/this_task.hpp"

namespace shoal::sim {

std::string u64_bytes(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

bool bytes_u64(capnp::Data::Reader d, std::uint64_t& out) {
  if (d.size() != 8) return false;
  out = 0;
  for (int i = 7; i >= 0; --i) out = (out << 8) | d[static_cast<std::size_t>(i)];
  return true;
}

// "simtask" + run_ms (4) + behaviour (1) + gpu (1) + value (8) + seq (4).
std::string encode(const TaskSpec& s) {
  std::string out = "simtask";
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(s.run_ms >> (8 * i)));
  out.push_back(static_cast<char>(s.behaviour));
  out.push_back(static_cast<char>(s.gpu));
  out += u64_bytes(s.value);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(s.seq >> (8 * i)));
  return out;
}

bool decode(capnp::Data::Reader d, TaskSpec& out) {
  if (d.size() != 7 + 4 + 2 + 8 + 4 || std::memcmp(d.begin(), "simtask", 7) != 0) return false;
  out.run_ms = 0;
  for (int i = 3; i >= 0; --i) out.run_ms = (out.run_ms << 8) | d[7 + static_cast<std::size_t>(i)];
  if (d[11] > TaskSpec::crashes) return false;
  out.behaviour = static_cast<TaskSpec::Behaviour>(d[11]);
  out.gpu = d[12];
  out.seq = 0;
  for (int i = 3; i >= 0; --i) out.seq = (out.seq << 8) | d[21 + static_cast<std::size_t>(i)];
  return bytes_u64(d.slice(13, 21), out.value);
}

struct SimError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace {

thread_local SimWorker* t_worker = nullptr;

// Waits `ns` of the world's virtual time (shoal::sleep waits on the machine's clock).
// Cancellable: CancelledError, as a coroutine task is cancelled.
Coro<void> nap(std::uint64_t ns) {
  link::Timer timer(co_await asio::this_coro::executor, std::chrono::nanoseconds(ns));
  auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(use_coro));
  (void)ec;  // operation_aborted means cancelled: delivered just below
  SHOAL_DETAIL_DELIVER_CANCELLATION();
}

SimWorker& here() {
  if (!t_worker) throw InvalidStateError("a simulated task ran outside the simulation's poll of its worker");
  return *t_worker;
}

TaskSpec spec_of(const std::string& bytes, SimWorker& w) {
  TaskSpec spec;
  if (!decode(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(bytes.data()), bytes.size()), spec)) {
    w.world().violation(w.name() + " ran task " + std::to_string(this_task::id()) + " with arguments no client gave");
    throw ValueError("not a simulated task's arguments");
  }
  return spec;
}

// A task holding its worker's gpu while it runs: no two at once, none on a worker without.
class GpuHold {
 public:
  GpuHold(SimWorker& w, std::uint64_t task, bool gpu) : w_(w), task_(task), incarnation_(w.incarnation()), gpu_(gpu) {
    if (!gpu_) return;
    if (!w_.has_gpu()) {
      w_.world().violation("task " + std::to_string(task_) + " asks for gpu:1 and ran on " + w_.name() +
                           ", which has no gpu");
    } else if (!w_.gpu_running.empty()) {
      std::string holders;
      for (auto id : w_.gpu_running) holders += (holders.empty() ? "" : ", ") + std::to_string(id);
      w_.world().violation("task " + std::to_string(task_) + " asks for gpu:1 and ran on " + w_.name() +
                           " while task " + holders + " held its only gpu");
    }
    w_.gpu_running.insert(task_);
  }
  ~GpuHold() {
    if (gpu_ && incarnation_ == w_.incarnation()) w_.gpu_running.erase(task_);
  }
  GpuHold(const GpuHold&) = delete;
  GpuHold& operator=(const GpuHold&) = delete;

 private:
  SimWorker& w_;
  std::uint64_t task_, incarnation_;
  bool gpu_;
};

std::uint64_t mixed(const TaskSpec& spec, std::uint64_t dep0, std::uint64_t dep1) {
  return spec.value ^ dep_mix(dep0, 0) ^ dep_mix(dep1, 1);
}

// A task's run: its time, then its end (a crash takes its worker with it).
Coro<std::uint64_t> run(SimWorker& w, const TaskSpec& spec, std::uint64_t dep0, std::uint64_t dep1) {
  auto id = this_task::id();
  GpuHold gpu(w, id, spec.gpu != 0);
  co_await nap(std::uint64_t{spec.run_ms} * kMs + 1000);
  if (spec.behaviour == TaskSpec::crashes && w.world().first_crash(id)) {
    w.crash(id);  // its report goes out, then the process is gone
    co_await nap(std::uint64_t{1} << 62);
  }
  if (spec.behaviour == TaskSpec::throws) throw SimError("task " + std::to_string(id) + " threw");
  co_return mixed(spec, dep0, dep1);
}

Coro<std::uint64_t> sim_work(std::string spec, std::uint64_t dep0, std::uint64_t dep1) {
  auto& w = here();
  auto s = spec_of(spec, w);
  co_return co_await run(w, s, dep0, dep1);
}

// An actor: its calls run one at a time, in the order they were made, none twice.
struct SimCounter {
  std::uint32_t last_seq = 0;
  std::uint64_t last_generation = 0;  // the coordinator's run that gave it its latest call
  bool busy = false;
  std::set<std::uint64_t> ran;

  Coro<std::uint64_t> add(std::string spec, std::uint64_t dep0, std::uint64_t dep1) {
    auto& w = here();
    auto s = spec_of(spec, w);
    auto id = this_task::id();
    auto& world = w.world();
    if (busy) world.violation("call " + std::to_string(id) + " ran on an actor on " + w.name() + " beside another call");
    if (!ran.insert(id).second) world.violation("call " + std::to_string(id) + " ran twice on one actor on " + w.name());
    // The engine sends an actor's calls in the order they were made. Across a coordinator
    // restart, calls whose submits it had not written are sent again by their client and
    // may reach an instance that survived after later ones (docs/durability.md): that is
    // not the engine's order to keep.
    if (s.seq <= last_seq && last_generation == world.coordinator_generation())
      world.violation("an actor on " + w.name() + " ran call " + std::to_string(s.seq) + " (task " + std::to_string(id) +
                      ") after call " + std::to_string(last_seq));
    last_seq = s.seq;
    last_generation = world.coordinator_generation();
    busy = true;
    struct Idle {
      bool& busy;
      ~Idle() { busy = false; }
    } idle{busy};
    co_return co_await run(w, s, dep0, dep1);
  }
};

remote::Registry& filled() {
  static remote::Registry r;
  static const bool once = [] {
    r.add(remote::detail::make_function<&sim_work>("sim.work"));
    r.add(remote::detail::make_actor<SimCounter, &SimCounter::add>(kActorClass, "&SimCounter::add"));
    return true;
  }();
  (void)once;
  return r;
}

}  // namespace

remote::Registry& registry() { return filled(); }

// Looked up once: a client asks for them with every submit.
std::uint64_t work_hash() {
  static const auto hash = registry().get("sim.work")->signature_hash;
  return hash;
}
std::uint64_t actor_hash() {
  static const auto hash = registry().get_actor(kActorClass)->constructor_hash;
  return hash;
}
std::uint64_t method_hash() {
  static const auto hash = registry().get_actor(kActorClass)->method("add").signature_hash;
  return hash;
}

Bytes call_args(const TaskSpec& spec, std::size_t deps) {
  auto s = encode(spec);
  using codec::FutureRef;
  if (deps >= 2) return codec::encode(std::tuple<std::string, FutureRef, FutureRef>{s, FutureRef{0}, FutureRef{1}});
  if (deps == 1) return codec::encode(std::tuple<std::string, FutureRef, std::uint64_t>{s, FutureRef{0}, 0});
  return codec::encode(std::tuple<std::string, std::uint64_t, std::uint64_t>{s, 0, 0});
}

Bytes create_args() { return codec::encode(std::tuple<>{}); }

bool decode_value(const void* data, std::size_t size, std::uint64_t& out) {
  try {
    out = codec::decode<std::uint64_t>(Bytes::copy(data, size));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

SimWorker* running_worker() noexcept { return t_worker; }
void set_running_worker(SimWorker* w) noexcept { t_worker = w; }

}  // namespace shoal::sim
