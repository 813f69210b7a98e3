// When the coordinator acknowledges a submit (Envelope.accepted) without a journal: with
// the client's next results, in the same write, or alone once kAckDelay (1 ms) passed.
// A round trip then costs the client one frame and one wake-up, not two (B3d).

#include <catch2/catch.hpp>

#include <atomic>

#include "engine_rig.hpp"
#include "shoal/link/clock.hpp"

namespace {

// The engine's clock, moved only by the test: its timers fire when the test says.
struct HeldClock final : shoal::link::ClockSource {
  std::atomic<std::uint64_t> now{1'000'000'000};
  std::uint64_t steady_ns() noexcept override { return now.load(); }
  std::uint64_t wall_ns() noexcept override { return 1'700'000'000'000'000'000 + now.load(); }
};

struct ClockScope {
  explicit ClockScope(shoal::link::ClockSource* c) { shoal::link::set_clock_source(c); }
  ~ClockScope() { shoal::link::set_clock_source(nullptr); }
};

// The delivery that carried the first message of kind `w` naming `id` (0: none yet).
std::size_t delivery_of(const engine_rig::End& e, schema::Envelope::Which w, std::uint64_t id) {
  for (const auto& s : e.seen)
    if (s.which == w)
      for (auto i : s.ids)
        if (i == id) return s.delivery;
  return 0;
}

}  // namespace

TEST_CASE("coordinator: a submit's acknowledgement rides with its result, or goes alone after 1 ms",
          "[coordinator][ack]") {
  HeldClock clock;
  ClockScope scope(&clock);
  engine_rig::Rig rig;
  auto c = rig.connect();
  auto w = rig.connect(0, schema::Role::WORKER);
  engine_rig::register_gpu_worker(rig, *w, {});
  rig.settle();
  auto id = c->seen.front().peer;
  auto quick = (id << 32) | 1, slow = (id << 32) | 2;

  // The task goes to the worker in the turn that read its submit; the client hears
  // nothing yet (the clock does not move: the ack's timer cannot fire).
  engine_rig::gpu_submit(rig, *c, quick);
  REQUIRE(rig.until([&] { return w->count(schema::Envelope::ASSIGN, quick) == 1; }));
  rig.settle();
  CHECK(c->count(schema::Envelope::ACCEPTED, quick) == 0);
  // Its result comes back: the acknowledgement is in the same write, before it.
  engine_rig::send_value(rig, *w, quick);
  REQUIRE(rig.until([&] { return c->count(schema::Envelope::RESULT, quick) == 1; }));
  CHECK(c->count(schema::Envelope::ACCEPTED, quick) == 1);
  CHECK(delivery_of(*c, schema::Envelope::ACCEPTED, quick) == delivery_of(*c, schema::Envelope::RESULT, quick));

  // A task with no result to carry it (its worker does not answer): acknowledged alone
  // once 1 ms passed, and not before.
  engine_rig::gpu_submit(rig, *c, slow);
  rig.settle();
  rig.settle();
  CHECK(c->count(schema::Envelope::ACCEPTED, slow) == 0);
  clock.now += 2'000'000;
  CHECK(rig.until([&] { return c->count(schema::Envelope::ACCEPTED, slow) == 1; }));
  CHECK(c->count(schema::Envelope::RESULT, slow) == 0);
}
