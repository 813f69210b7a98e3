// local<T>, after CPython's Lib/test/test_threading_local.py: each thread sees its own
// value; values die with their thread or with the local.

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "unit/thread/helpers.hpp"

#include <shoal/sync/event.hpp>
#include <shoal/thread/local.hpp>
#include <shoal/thread/thread.hpp>

using namespace std::chrono_literals;

namespace {

/// Counts live instances (Python's test_local_refs counts weakrefs).
struct Counted {
  static inline std::atomic<int> alive{0};
  int value = 0;
  Counted() { alive.fetch_add(1); }
  explicit Counted(int v) : value(v) { alive.fetch_add(1); }
  Counted(const Counted& o) : value(o.value) { alive.fetch_add(1); }
  ~Counted() { alive.fetch_sub(1); }
};

}  // namespace

TEST_CASE("a local gives each thread its own value", "[thread][local]") {
  shoal::test::Watchdog dog(10s);
  shoal::local<int> mine;
  *mine = -1;
  constexpr int n = 8;
  shoal::Event all_set;
  std::atomic<int> set_count{0}, wrong{0};
  std::vector<shoal::Thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      if (*mine != 0) wrong.fetch_add(1);  // a new thread starts from int()
      *mine = i;
      if (set_count.fetch_add(1) + 1 == n) all_set.set();
      all_set.wait();  // every thread has written its own before any reads
      if (mine.get() != i) wrong.fetch_add(1);
    });
    threads.back().start();
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
  CHECK(*mine == -1);
}

TEST_CASE("a local makes each thread's value with its init function, in that thread", "[thread][local]") {
  std::atomic<int> calls{0};
  shoal::local<std::uint64_t> ident([&] {
    calls.fetch_add(1);
    return shoal::get_ident();
  });
  CHECK(*ident == shoal::get_ident());
  std::atomic<bool> right{false};
  shoal::Thread t([&] { right = *ident == shoal::get_ident() && *ident == ident.get(); });
  t.start();
  t.join();
  CHECK(right);
  CHECK(calls == 2);
}

TEST_CASE("a local's value is destroyed when its Thread ends, before join returns", "[thread][local]") {
  shoal::local<Counted> data;
  const int before = Counted::alive;
  for (int i = 0; i < 20; ++i) {
    shoal::Thread t([&] { data->value = 1; });
    t.start();
    t.join();
    REQUIRE(Counted::alive == before);
  }
}

TEST_CASE("a local's value in a thread shoal did not start is destroyed when that thread exits",
          "[thread][local]") {
  shoal::local<Counted> data;
  const int before = Counted::alive;
  std::thread([&] { data->value = 1; }).join();
  CHECK(Counted::alive == before);
}

TEST_CASE("destroying a local destroys every thread's value", "[thread][local]") {
  shoal::test::Watchdog dog(10s);
  const int before = Counted::alive;
  auto data = std::make_unique<shoal::local<Counted>>([] { return Counted(7); });
  constexpr int n = 5;
  shoal::Event ready, finish;
  std::atomic<int> made{0};
  std::vector<shoal::Thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      (*data)->value += 1;
      if (made.fetch_add(1) + 1 == n) ready.set();
      finish.wait();  // the thread outlives the local
    });
    threads.back().start();
  }
  REQUIRE(ready.wait(5s));
  CHECK(Counted::alive == before + n);
  data.reset();
  CHECK(Counted::alive == before);
  finish.set();
  for (auto& t : threads) t.join();  // the threads end without a second destruction
  CHECK(Counted::alive == before);
}

TEST_CASE("reset drops this thread's value of a local and the next get makes another", "[thread][local]") {
  shoal::local<Counted> data([] { return Counted(3); });
  const int before = Counted::alive;
  CHECK_FALSE(data.has_value());
  data->value = 10;
  CHECK(data.has_value());
  CHECK(Counted::alive == before + 1);
  data.reset();
  CHECK_FALSE(data.has_value());
  CHECK(Counted::alive == before);
  CHECK(data->value == 3);
  data.reset();
  data.reset();  // nothing to drop
}

TEST_CASE("a local's value may use another local while its thread ends", "[thread][local]") {
  static shoal::local<std::string> log;
  struct Writer {
    ~Writer() { *log += "writer gone;"; }  // makes a value of `log` during the cleanup
  };
  shoal::local<Writer> writer;
  std::atomic<bool> ok{false};
  shoal::Thread t([&] {
    writer.get();
    ok = true;
  });
  t.start();
  t.join();
  CHECK(ok);
}

TEST_CASE("locals made and destroyed while threads come and go lose and leak nothing", "[thread][local][stress]") {
  shoal::test::Watchdog dog(20s);
  const int before = Counted::alive;
  constexpr int n = 8, rounds = 40;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int id = 0; id < n; ++id)
    threads.emplace_back([&, id] {
      for (int r = 0; r < rounds; ++r) {
        shoal::local<Counted> a, b;
        a->value = id;
        b->value = r;
        std::thread inner([&] {  // a thread that uses the same locals and ends first
          a->value = -1;
          b->value = -1;
        });
        inner.join();
        if (a->value != id || b->value != r) wrong.fetch_add(1);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
  CHECK(Counted::alive == before);
}
