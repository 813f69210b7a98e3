// SCHED: the coordinator's scheduler alone, no sockets: decisions per second in the
// steady state of a saturated cluster. Each decision is what a result causes: the
// worker's slot is released, and pick() assigns the next queued task. Printed for 1,000
// workers with 1,000,000 queued tasks (the figure) beside 10 workers with 1,000
// queued (the peer: the ratio shows how the cost grows with scale), and for a mix where
// one task in ten asks for a GPU that only 10 of the 1,000 workers offer.
//
//   bench_sched [decisions] [rounds]

#include <chrono>
#include <cstdlib>
#include <deque>
#include <memory>
#include <vector>

#include "common.hpp"
#include "scheduler.hpp"

using namespace shoal::coordinator;

namespace {

struct Setup {
  std::size_t workers = 1000;
  std::size_t queued = 1'000'000;
  bool gpu_mix = false;  // one task in ten asks for gpu=1, offered by 10 workers
};

// Decisions per second over `decisions` result+pick cycles.
double run(const Setup& s, std::size_t decisions) {
  FunctionTable functions;
  TaskTable tasks(functions);
  Scheduler scheduler(tasks, functions);
  auto fn = functions.intern("f", 1);
  std::uint32_t gpu = 0;
  if (s.gpu_mix) gpu = scheduler.placements().intern({.resources = {{"gpu", 1}}});
  for (std::size_t i = 0; i < s.workers; ++i) {
    WorkerSlot w;
    w.id = i + 1;
    w.capacity = 4;
    w.fns = {fn};
    if (s.gpu_mix && i % (s.workers / 10 ? s.workers / 10 : 1) == 0)
      w.total = scheduler.placements().units({{"gpu", 1}});
    w.ewma_run_ns = 1e6;  // 1 ms tasks: a window of a few per worker
    scheduler.add_worker(std::move(w));
  }
  std::uint64_t next_id = 1;
  auto submit = [&] {
    auto& t = tasks.insert(next_id);
    t.id = next_id++;
    t.fn = fn;
    t.state = TaskState::QUEUED;
    if (s.gpu_mix && t.id % 10 == 0) t.req = gpu;
    scheduler.enqueue(t, 1);
  };
  for (std::size_t i = 0; i < s.queued; ++i) submit();
  std::deque<Scheduler::Assignment> running;
  for (auto a : scheduler.pick()) running.push_back(a);
  auto start = std::chrono::steady_clock::now();
  std::size_t made = 0;
  while (made < decisions && !running.empty()) {
    auto [task, worker, held] = running.front();
    (void)held;
    running.pop_front();
    auto* t = tasks.find(task);
    auto* w = scheduler.worker(worker);
    scheduler.release_slot(*w, task, 1'000'000);
    t->state = TaskState::DONE;
    tasks.erase(task);
    submit();  // keep the queue at its size
    for (auto a : scheduler.pick()) {
      running.push_back(a);
      ++made;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(made) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t decisions = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  std::vector<double> big, small, mix;
  for (int r = 0; r < rounds; ++r) {
    big.push_back(run({}, decisions));
    small.push_back(run({.workers = 10, .queued = 1000}, decisions));
    mix.push_back(run({.gpu_mix = true}, decisions / 4));
  }
  shoal::bench::print_result("SCHED", nullptr, "decisions/s", big);
  shoal::bench::print_result("SCHED", "10 workers, 1,000 queued", "decisions/s", small);
  shoal::bench::print_result("SCHEDgpu", nullptr, "decisions/s", mix);
  shoal::bench::print_result("SCHEDgpu", "no requests", "decisions/s", big);
  return 0;
}
