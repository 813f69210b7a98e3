#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <shoal/cluster/mp_queue.hpp>
#include <shoal/codec/codec.hpp>
#include <shoal/core/error.hpp>

namespace mp = shoal::mp;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Clock = std::chrono::steady_clock;

namespace mpq_test {

struct Reading {
  std::string sensor;
  std::int64_t seq = 0;
  std::vector<double> values;
  friend bool operator==(const Reading&, const Reading&) = default;
};
SHOAL_FIELDS(Reading, sensor, seq, values)

/// What the fork test's producers put: who and which.
struct Tagged {
  std::int32_t producer = 0;
  std::int32_t seq = 0;
  std::string pad;
};
SHOAL_FIELDS(Tagged, producer, seq, pad)

}  // namespace mpq_test

using mpq_test::Reading;
using mpq_test::Tagged;

namespace {

/// Runs `body` in a forked child, which exits with body()'s value (99 on an exception)
/// and never returns into Catch2.
template <typename F>
pid_t fork_child(F&& body) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 99;
    try {
      code = body();
    } catch (...) {
    }
    ::_exit(code);
  }
  return pid;
}

/// Waits (pidfd + poll) at most `limit` for a forked child and returns its wait status;
/// a child still running then is SIGKILLed and the test fails.
int wait_child(pid_t pid, std::chrono::milliseconds limit = 20s) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  REQUIRE(pidfd >= 0);
  pollfd p{pidfd, POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, static_cast<int>(limit.count()));
  while (r < 0 && errno == EINTR);
  ::close(pidfd);
  if (r != 1) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  REQUIRE(r == 1);
  return status;
}

/// True once `cond()` holds, false if it did not within `limit` (polled every 1 ms).
template <typename F>
bool eventually(F&& cond, std::chrono::milliseconds limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (!cond()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

/// A pipe whose ends close with it.
struct Pipe {
  int r = -1, w = -1;
  Pipe() { REQUIRE(::pipe2(&r, O_CLOEXEC) == 0); }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
};

/// One byte from `fd`, or -1 when none came within `limit`.
int read_byte(int fd, std::chrono::milliseconds limit = 10s) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return -1;
  unsigned char c;
  return ::read(fd, &c, 1) == 1 ? c : -1;
}

}  // namespace

TEST_CASE("mp::Queue keeps FIFO order for strings, vectors and SHOAL_FIELDS structs", "[cluster][mp_queue]") {
  SECTION("strings") {
    mp::Queue<std::string> q;
    CHECK(q.empty());
    for (int i = 0; i < 100; ++i) q.put("item " + std::to_string(i));
    CHECK(q.qsize() == 100);
    CHECK_FALSE(q.full());
    for (int i = 0; i < 100; ++i) CHECK(q.get() == "item " + std::to_string(i));
    CHECK(q.empty());
  }
  SECTION("vectors") {
    mp::Queue<std::vector<std::int64_t>> q;
    q.put({});
    q.put({1, 2, 3});
    q.put(std::vector<std::int64_t>(1000, -7));
    CHECK(q.get().empty());
    CHECK(q.get() == std::vector<std::int64_t>{1, 2, 3});
    CHECK(q.get_nowait() == std::vector<std::int64_t>(1000, -7));
  }
  SECTION("structs") {
    mp::Queue<Reading> q(0, {.buffer_bytes = 4096});
    const Reading a{"north", 1, {1.5, 2.5}}, b{"south", 2, {}};
    q.put(a);
    q.put_nowait(b);
    CHECK(q.get() == a);
    CHECK(q.get(1s) == b);
  }
}

TEST_CASE("a bounded mp::Queue raises Full and Empty, after the timeout when one is given",
          "[cluster][mp_queue]") {
  mp::Queue<int> q(2);
  CHECK(q.maxsize() == 2);
  q.put(1);
  q.put(2, 1s);
  CHECK(q.full());
  CHECK_THROWS_AS(q.put_nowait(3), shoal::Full);
  CHECK_THROWS_AS(q.put(3, false), shoal::Full);

  auto t0 = Clock::now();
  CHECK_THROWS_AS(q.put(3, 150ms), shoal::Full);
  auto elapsed = Clock::now() - t0;
  CHECK(elapsed >= 150ms);
  CHECK(elapsed < 5s);

  t0 = Clock::now();
  CHECK_THROWS_AS(q.put(3, true, std::chrono::nanoseconds(100ms)), shoal::Full);
  CHECK(Clock::now() - t0 >= 100ms);

  CHECK(q.get_nowait() == 1);
  CHECK(q.get() == 2);
  CHECK_THROWS_AS(q.get_nowait(), shoal::Empty);
  CHECK_THROWS_AS(q.get(false), shoal::Empty);

  t0 = Clock::now();
  CHECK_THROWS_AS(q.get(150ms), shoal::Empty);
  elapsed = Clock::now() - t0;
  CHECK(elapsed >= 150ms);
  CHECK(elapsed < 5s);

  CHECK_THROWS_AS(q.get(0s), shoal::Empty);
  CHECK_THROWS_AS(q.get(-1s), shoal::ValueError);
  CHECK_THROWS_AS(q.put(1, -1ms), shoal::ValueError);
  q.put(4, 0s);  // room: a zero timeout succeeds
  CHECK(q.get(std::chrono::duration<double>(0.5)) == 4);
}

TEST_CASE("an unbounded mp::Queue is Full when its ring has no room for the item", "[cluster][mp_queue]") {
  mp::Queue<std::string> q(0, {.buffer_bytes = 256});
  int n = 0;
  for (;; ++n) {
    try {
      q.put_nowait(std::string(40, 'x'));
    } catch (const shoal::Full&) {
      break;
    }
    REQUIRE(n < 100);
  }
  CHECK(n > 0);
  CHECK_FALSE(q.full());  // full() counts items, and this queue has no bound
  CHECK_THROWS_AS(q.put(std::string(40, 'x'), 50ms), shoal::Full);
  q.get();
  q.put_nowait(std::string(40, 'x'));
  CHECK(q.qsize() == static_cast<std::size_t>(n));
}

TEST_CASE("mp::Queue wraps around its ring with items of varying sizes", "[cluster][mp_queue]") {
  mp::Queue<std::string> q(0, {.buffer_bytes = 300});
  std::deque<std::string> model;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> len(0, 120), coin(0, 2);
  int next = 0, got = 0;
  for (int step = 0; step < 5000; ++step) {
    if (coin(rng) != 0) {
      std::string s(static_cast<std::size_t>(len(rng)), static_cast<char>('a' + next % 26));
      s += std::to_string(next);
      try {
        q.put_nowait(s);
        model.push_back(std::move(s));
        ++next;
      } catch (const shoal::Full&) {
      }
    } else if (!model.empty()) {
      REQUIRE(q.get_nowait() == model.front());
      model.pop_front();
      ++got;
    } else {
      REQUIRE_THROWS_AS(q.get_nowait(), shoal::Empty);
    }
    REQUIRE(q.qsize() == model.size());
  }
  while (!model.empty()) {
    REQUIRE(q.get_nowait() == model.front());
    model.pop_front();
  }
  CHECK(got > 100);  // the ring went round many times
}

TEST_CASE("an item bigger than the ring is a ValueError and the queue stays usable", "[cluster][mp_queue]") {
  mp::Queue<std::string> q(0, {.buffer_bytes = 64});
  REQUIRE_THROWS_AS(q.put(std::string(100, 'x')), shoal::ValueError);
  CHECK_THROWS_WITH(q.put(std::string(100, 'x')), Contains("does not fit"));
  q.put("small");
  CHECK(q.get() == "small");
  CHECK_THROWS_AS((mp::Queue<int>(0, {.buffer_bytes = 8})), shoal::ValueError);
}

TEST_CASE("two forked producers put 1000 items each, and the parent gets them all in order",
          "[cluster][mp_queue][fork]") {
  // A small ring, so that the producers block on it and wake on the parent's gets.
  mp::Queue<Tagged> q(0, {.buffer_bytes = 4096});
  std::vector<pid_t> kids;
  for (int p = 0; p < 2; ++p) {
    kids.push_back(fork_child([&q, p] {
      // The second child maps the queue anew from the inherited fd.
      auto mine = p == 0 ? std::move(q) : mp::Queue<Tagged>::attach(q.fd());
      for (int i = 0; i < 1000; ++i) mine.put(Tagged{p, i, std::string(static_cast<std::size_t>(i % 50), 'p')}, 10s);
      return 0;
    }));
  }
  int next[2] = {0, 0};
  for (int n = 0; n < 2000; ++n) {
    Tagged t = q.get(10s);
    REQUIRE((t.producer == 0 || t.producer == 1));
    REQUIRE(t.seq == next[t.producer]);
    REQUIRE(t.pad.size() == static_cast<std::size_t>(t.seq % 50));
    ++next[t.producer];
  }
  CHECK(q.empty());
  for (pid_t k : kids) {
    const int status = wait_child(k);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

TEST_CASE("a get blocked in one process is woken by a put from another", "[cluster][mp_queue][fork]") {
  mp::Queue<std::string> q;
  auto& ring = mp::detail::QueueTestAccess::ring(q);
  const pid_t kid = fork_child([&] {
    // Put only once the parent is really waiting.
    if (!eventually([&] { return ring.getters_waiting_for_test() == 1; })) return 2;
    q.put("wake up");
    return 0;
  });
  const auto t0 = Clock::now();
  CHECK(q.get(10s) == "wake up");
  CHECK(Clock::now() - t0 < 10s);
  const int status = wait_child(kid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a process SIGKILLed while holding the lock leaves the queue usable", "[cluster][mp_queue][fork]") {
  mp::Queue<int> q(10);
  for (int i = 0; i < 3; ++i) q.put(i);
  Pipe locked;
  const pid_t kid = fork_child([&] {
    mp::detail::QueueTestAccess::ring(q).lock_for_test();
    const char c = 'L';
    if (::write(locked.w, &c, 1) != 1) return 3;
    for (;;) ::pause();  // killed here, holding the lock
    return 0;
  });
  REQUIRE(read_byte(locked.r) == 'L');
  REQUIRE(::kill(kid, SIGKILL) == 0);
  const int status = wait_child(kid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  q.put(3, 5s);  // takes the dead owner's lock (EOWNERDEAD) and repairs
  CHECK(q.qsize() == 4);
  for (int i = 0; i < 4; ++i) CHECK(q.get(5s) == i);
  CHECK(q.empty());
}

TEST_CASE("consumers SIGKILLed while blocked in get do not hang later puts and gets",
          "[cluster][mp_queue][fork]") {
  // glibc's process-shared condition variables hang the next broadcast after a waiter
  // died inside pthread_cond_wait; the queue's futex words must not.
  mp::Queue<std::string> q;
  auto& ring = mp::detail::QueueTestAccess::ring(q);
  std::uint32_t dead = 0;
  for (int round = 0; round < 3; ++round) {
    const pid_t getter = fork_child([&] {
      q.get(30s);
      return 0;
    });
    REQUIRE(eventually([&] { return ring.getters_waiting_for_test() == dead + 1; }));
    REQUIRE(::kill(getter, SIGKILL) == 0);
    CHECK(WIFSIGNALED(wait_child(getter)));
    ++dead;  // it still counts as waiting: only extra wakeups

    // Puts run in a child, so that a hang is bounded by wait_child.
    const pid_t putter = fork_child([&] {
      for (int i = 0; i < 5; ++i) q.put("r" + std::to_string(round) + "i" + std::to_string(i), 5s);
      return 0;
    });
    const int status = wait_child(putter, 10s);
    CHECK(WIFEXITED(status));
    for (int i = 0; i < 5; ++i) CHECK(q.get(5s) == "r" + std::to_string(round) + "i" + std::to_string(i));
  }
  // A live getter blocked beside the dead ones is woken by a put from another process.
  const pid_t live = fork_child([&] { return q.get(10s) == "live" ? 0 : 4; });
  REQUIRE(eventually([&] { return ring.getters_waiting_for_test() == dead + 1; }));
  const pid_t putter = fork_child([&] {
    q.put("live", 5s);
    return 0;
  });
  CHECK(WEXITSTATUS(wait_child(putter, 10s)) == 0);
  const int status = wait_child(live, 10s);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(q.empty());
}

TEST_CASE("a producer dying in the middle of a put leaves no torn item", "[cluster][mp_queue][fork]") {
  using Crash = mp::detail::ShmRing::CrashPoint;
  const auto at = GENERATE(Crash::after_data, Crash::after_tail);
  mp::Queue<std::string> q(0, {.buffer_bytes = 200});
  // Start near the end of the ring, so that the dying put wraps around.
  for (int i = 0; i < 3; ++i) q.put(std::string(40, 'a'));
  for (int i = 0; i < 3; ++i) q.get();
  q.put("before");
  const pid_t kid = fork_child([&] {
    const shoal::Bytes b = shoal::codec::encode(std::string(50, 'z'));
    mp::detail::QueueTestAccess::ring(q).put_and_die_for_test(b.span(), at);
    return 0;
  });
  const int status = wait_child(kid);
  CHECK(WIFSIGNALED(status));

  q.put("after", 5s);
  CHECK(q.get(5s) == "before");
  if (at == Crash::after_tail) {
    // Its tail was stored: the item is whole and counts.
    CHECK(q.get(5s) == std::string(50, 'z'));
  }
  CHECK(q.get(5s) == "after");
  CHECK(q.empty());
  CHECK_THROWS_AS(q.get_nowait(), shoal::Empty);
}

TEST_CASE("attach maps the same queue, and refuses what is not a queue of T", "[cluster][mp_queue]") {
  mp::Queue<std::string> q(5);
  SECTION("the same queue") {
    auto other = mp::Queue<std::string>::attach(q.fd());
    CHECK(other.fd() != q.fd());
    CHECK(other.maxsize() == 5);
    q.put("from q");
    CHECK(other.get(1s) == "from q");
  }
  SECTION("another item type") {
    CHECK_THROWS_AS(mp::Queue<std::int64_t>::attach(q.fd()), shoal::TypeMismatch);
    CHECK_THROWS_WITH(mp::Queue<std::int64_t>::attach(q.fd()), Contains("string") && Contains("int64"));
  }
  SECTION("a memfd that is not a queue") {
    const int fd = ::memfd_create("not-a-queue", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, 1 << 16) == 0);
    CHECK_THROWS_AS(mp::Queue<std::string>::attach(fd), shoal::Error);
    CHECK_THROWS_WITH(mp::Queue<std::string>::attach(fd), Contains("not a queue") && Contains("magic"));
    REQUIRE(::ftruncate(fd, 10) == 0);
    CHECK_THROWS_WITH(mp::Queue<std::string>::attach(fd), Contains("not a queue"));
    ::close(fd);
  }
  SECTION("a pipe") {
    Pipe p;
    CHECK_THROWS_AS(mp::Queue<std::string>::attach(p.r), shoal::Error);
  }
}

TEST_CASE("close makes later puts and gets on this object raise ValueError", "[cluster][mp_queue]") {
  mp::Queue<int> q;
  auto other = mp::Queue<int>::attach(q.fd());
  q.put(1);
  q.close();
  CHECK_THROWS_AS(q.put(2), shoal::ValueError);
  CHECK_THROWS_AS(q.get_nowait(), shoal::ValueError);
  CHECK(q.qsize() == 1);
  CHECK(other.get_nowait() == 1);  // other objects are not affected

  SECTION("a get blocked in another thread wakes and raises") {
    std::exception_ptr seen;
    std::thread t([&] {
      try {
        other.get(10s);
      } catch (...) {
        seen = std::current_exception();
      }
    });
    auto& ring = mp::detail::QueueTestAccess::ring(other);
    REQUIRE(eventually([&] { return ring.getters_waiting_for_test() == 1; }));
    const auto t0 = Clock::now();
    other.close();
    t.join();
    CHECK(Clock::now() - t0 < 5s);
    REQUIRE(seen);
    CHECK_THROWS_AS(std::rethrow_exception(seen), shoal::ValueError);
  }
}

TEST_CASE("threads of one process share an mp::Queue", "[cluster][mp_queue][threads]") {
  mp::Queue<std::tuple<int, int>> q(8, {.buffer_bytes = 1024});
  constexpr int kThreads = 3, kEach = 500;
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t)
    producers.emplace_back([&q, t] {
      for (int i = 0; i < kEach; ++i) q.put({t, i}, 10s);
    });
  std::vector<int> next(kThreads, 0);
  bool ordered = true;
  for (int n = 0; n < kThreads * kEach; ++n) {
    auto [t, i] = q.get(10s);
    ordered = ordered && i == next[static_cast<std::size_t>(t)]++;
  }
  for (auto& p : producers) p.join();
  CHECK(ordered);
  CHECK(q.empty());
}
