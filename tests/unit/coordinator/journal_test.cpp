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
using shoal::coordinator::JournalActor;
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
    j.accept(std::move(tb));
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
  CHECK(rows[0].args.empty());  // a finished task's arguments leave its row with its outcome
  CHECK(rows[0].function == "square");
  CHECK(rows[0].timeout_ms == 1500);
  CHECK(rows[0].retries == 2);
  CHECK(rows[0].submitter == 7);
  CHECK(rows[1].id == b);
  CHECK(rows[1].state == TaskState::QUEUED);
  CHECK(rows[1].deps == std::vector<std::uint64_t>{a});
  CHECK(rows[1].args.view() == "args");  // unfinished: its arguments are there to run it again
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
  CHECK_THROWS_WITH(Journal(path), Contains("has format 99; this coordinator reads 4"));
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

TEST_CASE("actors and their calls read back after a reopen, and a forgotten actor is gone", "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  const std::uint64_t peer = 7ull << 32;
  {
    Journal j(path);
    j.accept_actor({peer | 1, 7, "Counter", 0xabcdef0123456789ull, Bytes::copy(std::string("ctor")), peer | 2});
    j.accept_actor({peer | 9, 7, "Other", 1, Bytes(), peer | 10});
    auto create = task(peer | 2, "");
    create.kind = JournalTask::actor_create;
    create.actor = peer | 1;
    j.accept(std::move(create));
    auto call = task(peer | 3);
    call.kind = JournalTask::actor_call;
    call.actor = peer | 1;
    call.method = "add";
    j.accept(std::move(call));
    commit(j);
    j.forget_actor(peer | 9);
    commit(j);
  }
  Journal j(path);
  auto actors = j.load_actors();
  REQUIRE(actors.size() == 1);
  CHECK(actors[0].id == (peer | 1));
  CHECK(actors[0].submitter == 7);
  CHECK(actors[0].cls == "Counter");
  CHECK(actors[0].hash == 0xabcdef0123456789ull);
  CHECK(actors[0].args.to_string() == "ctor");
  CHECK(actors[0].create_task == (peer | 2));
  auto tasks = j.load();
  REQUIRE(tasks.size() == 2);
  CHECK(tasks[0].kind == JournalTask::actor_create);
  CHECK(tasks[0].actor == (peer | 1));
  CHECK(tasks[1].kind == JournalTask::actor_call);
  CHECK(tasks[1].actor == (peer | 1));
  CHECK(tasks[1].method == "add");
}

TEST_CASE("a journal of format 1 (before actors) is upgraded in place and its tasks kept", "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  {
    // The layout format 1 wrote, with one unfinished task.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    const char* v1 = R"sql(
      CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE tasks(id INTEGER PRIMARY KEY, submitter INTEGER NOT NULL, function TEXT NOT NULL,
        hash INTEGER NOT NULL, args BLOB, deps BLOB, timeout_ms INTEGER NOT NULL, retries INTEGER NOT NULL,
        detached INTEGER NOT NULL, submitted_wall INTEGER NOT NULL, state INTEGER NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0, value BLOB, error BLOB, finished_wall INTEGER NOT NULL DEFAULT 0);
      INSERT INTO meta VALUES('format', 1);
      INSERT INTO meta VALUES('next_peer', 12);
      INSERT INTO tasks(id, submitter, function, hash, args, timeout_ms, retries, detached, submitted_wall, state)
        VALUES(42, 3, 'square', 5, x'01', 0, 3, 0, 99, 1);
    )sql";
    REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
  }
  {
    Journal j(path);
    CHECK(j.next_peer() == 12);
    auto tasks = j.load();
    REQUIRE(tasks.size() == 1);
    CHECK(tasks[0].id == 42);
    CHECK(tasks[0].function == "square");
    CHECK(tasks[0].kind == JournalTask::plain);
    CHECK(j.load_actors().empty());
    j.accept_actor({99, 3, "Counter", 1, Bytes(), 100});
    commit(j);
  }
  Journal again(path);  // now format 4
  CHECK(again.load_actors().size() == 1);
  CHECK(again.load().size() == 1);
}

TEST_CASE("a task's placement and retry policy, and an actor's placement, read back after a reopen",
          "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  {
    Journal j(path);
    auto t = task(7);
    t.placement = "gpu=1;zone=a;;pack;10";
    t.retry = "3;100;60000;ValueError";
    j.accept(std::move(t));
    j.accept_actor({99, 3, "Model", 1, Bytes(), 100, "gpu=1;;;spread;0"});
    commit(j);
  }
  Journal j(path);
  auto tasks = j.load();
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].placement == "gpu=1;zone=a;;pack;10");
  CHECK(tasks[0].retry == "3;100;60000;ValueError");
  auto actors = j.load_actors();
  REQUIRE(actors.size() == 1);
  CHECK(actors[0].placement == "gpu=1;;;spread;0");
}

TEST_CASE("an actor's restart policy, concurrency, name and lifetime read back after a reopen, and a format 3 journal "
          "gains them",
          "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    const char* v3 = R"sql(
      CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE tasks(id INTEGER PRIMARY KEY, submitter INTEGER NOT NULL, function TEXT NOT NULL,
        hash INTEGER NOT NULL, args BLOB, deps BLOB, timeout_ms INTEGER NOT NULL, retries INTEGER NOT NULL,
        detached INTEGER NOT NULL, submitted_wall INTEGER NOT NULL, state INTEGER NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0, value BLOB, error BLOB, finished_wall INTEGER NOT NULL DEFAULT 0,
        kind INTEGER NOT NULL DEFAULT 0, actor INTEGER NOT NULL DEFAULT 0, method TEXT, placement TEXT, retry TEXT);
      CREATE TABLE actors(id INTEGER PRIMARY KEY, submitter INTEGER NOT NULL, cls TEXT NOT NULL,
        hash INTEGER NOT NULL, args BLOB, create_task INTEGER NOT NULL, placement TEXT);
      INSERT INTO meta VALUES('format', 3);
      INSERT INTO actors(id, submitter, cls, hash, args, create_task) VALUES(7, 3, 'Counter', 1, x'01', 8);
    )sql";
    REQUIRE(sqlite3_exec(db, v3, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
  }
  {
    Journal j(path);
    auto old = j.load_actors();
    REQUIRE(old.size() == 1);
    CHECK(old[0].policy.empty());  // the defaults
    j.accept_actor({99, 3, "Model", 1, Bytes(), 100, "", "2 -1 8 1 the model"});
    commit(j);
  }
  Journal j(path);
  auto actors = j.load_actors();
  REQUIRE(actors.size() == 2);
  CHECK(actors[1].policy == "2 -1 8 1 the model");
}

TEST_CASE("a journal of format 2 (before placements) is upgraded in place and keeps its tasks and actors",
          "[coordinator][journal]") {
  shoal::test::TempDir d;
  auto path = d.file("j.db");
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    const char* v2 = R"sql(
      CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE tasks(id INTEGER PRIMARY KEY, submitter INTEGER NOT NULL, function TEXT NOT NULL,
        hash INTEGER NOT NULL, args BLOB, deps BLOB, timeout_ms INTEGER NOT NULL, retries INTEGER NOT NULL,
        detached INTEGER NOT NULL, submitted_wall INTEGER NOT NULL, state INTEGER NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0, value BLOB, error BLOB, finished_wall INTEGER NOT NULL DEFAULT 0,
        kind INTEGER NOT NULL DEFAULT 0, actor INTEGER NOT NULL DEFAULT 0, method TEXT);
      CREATE TABLE actors(id INTEGER PRIMARY KEY, submitter INTEGER NOT NULL, cls TEXT NOT NULL,
        hash INTEGER NOT NULL, args BLOB, create_task INTEGER NOT NULL);
      INSERT INTO meta VALUES('format', 2);
      INSERT INTO tasks(id, submitter, function, hash, args, timeout_ms, retries, detached, submitted_wall, state)
        VALUES(42, 3, 'square', 5, x'01', 0, 3, 0, 99, 1);
      INSERT INTO actors VALUES(9, 3, 'Counter', 1, NULL, 43);
    )sql";
    REQUIRE(sqlite3_exec(db, v2, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
  }
  Journal j(path);
  auto tasks = j.load();
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].placement.empty());
  CHECK(tasks[0].retry.empty());
  auto actors = j.load_actors();
  REQUIRE(actors.size() == 1);
  CHECK(actors[0].placement.empty());
}
