// The journal alone: what it writes it reads back after a reopen, it refuses files that
// are not its own, and it stays bounded as tasks come and go.

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "journal.hpp"
#include "support/daemons.hpp"

using shoal::Bytes;
using shoal::coordinator::Journal;
using shoal::coordinator::JournalTask;
using shoal::coordinator::TaskState;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

JournalTask task(std::uint64_t id, std::string args = "args") {
  JournalTask t;
  t.id = id;
  t.submitter = id >> 32;
  t.function = "square";
  t.hash = 0xfeedfacecafebeefull;  // over 2^63: stored as the same 64 bits
  t.args = Bytes::copy(args);
  t.timeout_ms = 1500;
  t.retries = 2;
  t.submitted_wall = 123456789;
  return t;
}

// Commits what is buffered and waits until it is on disk.
void commit(Journal& j) {
  std::promise<void> done;
  auto f = done.get_future();
  j.commit([&] { done.set_value(); });
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
}

}  // namespace

TEST_CASE("the journal reads back after a reopen what it was told: tasks, edges, outcomes, the next peer",
          "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  const std::uint64_t a = (7ull << 32) | 1, b = (7ull << 32) | 2, c = (7ull << 32) | 3, gone = (7ull << 32) | 4;
  {
    Journal j(path);
    CHECK(j.next_peer() == 0);
    CHECK(j.load().empty());
    j.accept(task(a));
    auto tb = task(b);
    tb.deps = {a};
    tb.detached = true;
    j.accept(tb);
    j.accept(task(c));
    j.accept(task(gone));
    j.note_next_peer(9);
    commit(j);
    j.finish(a, TaskState::DONE, 1, Bytes::copy(std::string_view("forty-nine")), nullptr, 99);
    shoal::codec::RemoteErrorInfo e;
    e.type_name = "shoal::ValueError";
    e.message = "no";
    e.kind = shoal::ErrorKind::failed;
    j.finish(c, TaskState::FAILED, 2, {}, &e, 100);
    j.forget(gone);
    commit(j);
  }
  Journal j(path);
  CHECK(j.next_peer() == 9);
  auto rows = j.load();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].id == a);
  CHECK(rows[0].state == TaskState::DONE);
  CHECK(rows[0].attempt == 1);
  CHECK(rows[0].value.view() == "forty-nine");
  CHECK(rows[0].finished_wall == 99);
  CHECK(rows[0].hash == 0xfeedfacecafebeefull);
  CHECK(rows[0].args.view() == "args");
  CHECK(rows[0].function == "square");
  CHECK(rows[0].timeout_ms == 1500);
  CHECK(rows[0].retries == 2);
  CHECK(rows[0].submitter == 7);
  CHECK(rows[1].id == b);
  CHECK(rows[1].state == TaskState::QUEUED);
  CHECK(rows[1].deps == std::vector<std::uint64_t>{a});
  CHECK(rows[1].detached);
  CHECK(rows[2].id == c);
  CHECK(rows[2].state == TaskState::FAILED);
  REQUIRE(rows[2].error);
  CHECK(rows[2].error->type_name == "shoal::ValueError");
  CHECK(rows[2].error->message == "no");
}

TEST_CASE("changes the engine never handed to the journal's thread are not on disk, and all handed ones are",
          "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  {
    Journal j(path);
    j.accept(task(1));
    commit(j);
    j.accept(task(2));  // handed over by the destructor, which writes it before it returns
  }
  CHECK(Journal(path).load().size() == 2);
}

TEST_CASE("a second coordinator on the same journal is refused, and so are files that are not its own",
          "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  {
    Journal first(path);
    REQUIRE_THROWS_WITH(Journal(path), Contains("in use by another coordinator"));
  }
  CHECK_NOTHROW(Journal(path));  // free again once the first has closed

  auto link = d.file("link.db");
  std::filesystem::create_symlink(path, link);
  CHECK_THROWS_WITH(Journal(link), Contains("symbolic link"));

  auto text = d.file("notes.txt");
  std::ofstream(text) << std::string(8192, 'x');
  ::chmod(text.c_str(), 0600);
  CHECK_THROWS_WITH(Journal(text), Contains("not a shoal journal"));

  auto open = d.file("open.db");
  std::ofstream(open).flush();
  ::chmod(open.c_str(), 0666);
  CHECK_THROWS_WITH(Journal(open), Contains("writable by others"));

  CHECK_THROWS_WITH(Journal(d.file("no/such/dir/j.db")), Contains("cannot open the journal"));

  // A new journal is private to its owner.
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("tasks that come and go leave the journal bounded", "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  Journal j(path);
  const std::string args(1000, 'a');
  std::uint64_t peak = 0;
  for (std::uint64_t round = 0; round < 20; ++round) {
    for (std::uint64_t i = 0; i < 1000; ++i) j.accept(task((round << 32) | (i + 1), args));
    commit(j);
    for (std::uint64_t i = 0; i < 1000; ++i) j.forget((round << 32) | (i + 1));
    commit(j);
    peak = std::max(peak, j.size().bytes);
  }
  // 20 MB went through it; what stays is about one round's worth.
  auto end = j.size();
  CHECK(end.rows == 0);
  INFO("peak " << peak << " bytes, end " << end.bytes);
  CHECK(peak < 8u << 20);
  CHECK(end.bytes < 8u << 20);
}

TEST_CASE("a journal of another format is refused with both formats named", "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  { Journal j(path); }
  // As a later version would have left it.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE key = 'format'", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  CHECK_THROWS_WITH(Journal(path), Contains("has format 99; this coordinator reads 1"));
}

TEST_CASE("within one write, a task accepted and finished is one finished row, one also forgotten is none",
          "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  {
    Journal j(path);
    j.accept(task(1));
    j.finish(1, TaskState::DONE, 1, Bytes::copy(std::string_view("one")), nullptr, 5);
    j.accept(task(2));
    j.finish(2, TaskState::DONE, 1, {}, nullptr, 6);
    j.forget(2);
    commit(j);
    CHECK(j.size().rows == 1);  // task 1, finished; task 2 never written
    j.forget(1);  // a later write: the row goes
    j.accept(task(3));
    commit(j);
  }
  Journal j(path);
  auto rows = j.load();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == 3);
  CHECK(rows[0].state == TaskState::QUEUED);
  {
    Journal::Size s = j.size();
    CHECK(s.rows == 1);
  }
}
