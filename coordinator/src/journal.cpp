#include "journal.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "shoal/codec/codec.hpp"

namespace shoal::coordinator {

namespace {

constexpr std::int64_t kFormat = 4;  // meta 'format': the layout below (1: no actors, 2: no placements, 3: no actor
                                     // policies; upgraded in place)

// auto_vacuum takes effect only before the first table exists.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tasks(
  id INTEGER PRIMARY KEY,
  submitter INTEGER NOT NULL,
  function TEXT NOT NULL,
  hash INTEGER NOT NULL,
  args BLOB,
  deps BLOB,
  timeout_ms INTEGER NOT NULL,
  retries INTEGER NOT NULL,
  detached INTEGER NOT NULL,
  submitted_wall INTEGER NOT NULL,
  state INTEGER NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  value BLOB,
  error BLOB,
  finished_wall INTEGER NOT NULL DEFAULT 0,
  kind INTEGER NOT NULL DEFAULT 0,
  actor INTEGER NOT NULL DEFAULT 0,
  method TEXT,
  placement TEXT,
  retry TEXT);
CREATE TABLE IF NOT EXISTS actors(
  id INTEGER PRIMARY KEY,
  submitter INTEGER NOT NULL,
  cls TEXT NOT NULL,
  hash INTEGER NOT NULL,
  args BLOB,
  create_task INTEGER NOT NULL,
  placement TEXT,
  policy TEXT);
CREATE TABLE IF NOT EXISTS failures(
  id INTEGER PRIMARY KEY,
  record BLOB NOT NULL);
)sql";

// Format 1 had no actors: its tasks table gains their columns (the actors table is made
// by kSchema).
constexpr const char* kUpgrade1 = R"sql(
ALTER TABLE tasks ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN actor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN method TEXT;
)sql";

// Format 2 had no placement requests (link::placement_key; NULL: none). A format 1 file
// got its actors table from kSchema, placement included.
constexpr const char* kUpgrade2Tasks = "ALTER TABLE tasks ADD COLUMN placement TEXT; ALTER TABLE tasks ADD COLUMN retry TEXT;";
constexpr const char* kUpgrade2Actors = "ALTER TABLE actors ADD COLUMN placement TEXT;";
// Format 3 had no actor policies (restarts, concurrency, name, detached; NULL: defaults).
constexpr const char* kUpgrade3Actors = "ALTER TABLE actors ADD COLUMN policy TEXT;";

std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t u64(std::int64_t v) { return static_cast<std::uint64_t>(v); }

// A prepared statement, reset after each use.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql, const std::string& path) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) != SQLITE_OK)
      throw Error("the journal at " + path + ": " + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(s_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& bind(int i, std::uint64_t v) {
    sqlite3_bind_int64(s_, i, i64(v));
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bind(int i, const Bytes& v) {
    if (v.empty())
      sqlite3_bind_null(s_, i);
    else
      sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_STATIC);
    return *this;
  }
  // One step: true while it yields rows.
  bool step(sqlite3* db, const std::string& path) {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    if (rc != SQLITE_DONE) throw Error("the journal at " + path + " cannot be written: " + sqlite3_errmsg(db));
    return false;
  }
  [[nodiscard]] std::int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
  [[nodiscard]] std::string text(int col) const {
    auto* p = sqlite3_column_text(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
             : std::string();
  }
  [[nodiscard]] Bytes blob(int col) const {
    const void* p = sqlite3_column_blob(s_, col);
    return p ? Bytes::copy(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : Bytes();
  }
  void done() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// The file is created private, and never reached through a symlink (the last component;
// SQLite is asked the same).
void prepare_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP) throw Error("the journal at " + path + " is a symbolic link: give the file itself");
    throw Error("cannot open the journal at " + path + ": " + std::strerror(e));
  }
  struct stat st {};
  int rc = ::fstat(fd, &st);
  ::close(fd);
  if (rc != 0) throw Error("cannot open the journal at " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error("the journal at " + path + " is not a regular file");
  if (st.st_uid != ::geteuid())
    throw Error("the journal at " + path + " belongs to another user (uid " + std::to_string(st.st_uid) + ")");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw Error("the journal at " + path + " is writable by others: chmod 600 it");
}

}  // namespace

Journal::Journal(std::string path, bool paced) : path_(std::move(path)), paced_(paced) {
  prepare_file(path_);
  int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    throw Error("cannot open the journal at " + path_ + ": " + why);
  }
  try {
    // Exclusive: no shared-memory index, and a second coordinator is refused.
    exec("PRAGMA locking_mode=EXCLUSIVE");
    exec("PRAGMA auto_vacuum=INCREMENTAL");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA journal_size_limit=67108864");  // the WAL shrinks back to 64 MiB after a burst
    if (sqlite3_exec(db_, "BEGIN EXCLUSIVE; COMMIT;", nullptr, nullptr, nullptr) != SQLITE_OK) {
      if (sqlite3_errcode(db_) == SQLITE_BUSY || sqlite3_errcode(db_) == SQLITE_LOCKED)
        throw Error("the journal at " + path_ + " is in use by another coordinator");
      if (sqlite3_errcode(db_) == SQLITE_NOTADB)
        throw Error("the journal at " + path_ + " is not a shoal journal (not an SQLite database)");
      throw Error("cannot open the journal at " + path_ + ": " + sqlite3_errmsg(db_));
    }
    exec(kSchema);
    Statement get(db_, "SELECT key, value FROM meta", path_);
    std::int64_t format = 0;
    while (get.step(db_, path_)) {
      auto key = get.text(0);
      if (key == "format") format = get.integer(1);
      if (key == "next_peer") next_peer_ = u64(get.integer(1));
    }
    if (format >= 0 && format < kFormat) {
      // One transaction: a crash within the upgrade leaves the old format as it was.
      exec("BEGIN IMMEDIATE");
      try {
        if (format == 1) exec(kUpgrade1);
        if (format == 1 || format == 2) exec(kUpgrade2Tasks);
        if (format == 2) exec(kUpgrade2Actors);
        if (format == 2 || format == 3) exec(kUpgrade3Actors);
        Statement put(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('format', ?)", path_);
        put.bind(1, kFormat).step(db_, path_);
        exec("COMMIT");
      } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    } else if (format != kFormat) {
      throw Error("the journal at " + path_ + " has format " + std::to_string(format) + "; this coordinator reads " +
                  std::to_string(kFormat));
    }
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
  if (!paced_) thread_ = std::thread([this] { writer(); });
}

Journal::~Journal() {
  if (has_pending() && !paced_) commit({});
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  sqlite3_close(db_);
}

void Journal::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    if (sqlite3_errcode(db_) == SQLITE_NOTADB)
      throw Error("the journal at " + path_ + " is not a shoal journal (not an SQLite database)");
    if (sqlite3_errcode(db_) == SQLITE_BUSY || sqlite3_errcode(db_) == SQLITE_LOCKED)
      throw Error("the journal at " + path_ + " is in use by another coordinator");
    throw Error("the journal at " + path_ + ": " + why);
  }
}

std::vector<JournalTask> Journal::load() {
  std::lock_guard lock(db_mu_);
  std::vector<JournalTask> out;
  Statement q(db_,
              "SELECT id, submitter, function, hash, args, deps, timeout_ms, retries, detached, submitted_wall, "
              "state, attempt, value, error, finished_wall, kind, actor, method, placement, retry FROM tasks ORDER BY id",
              path_);
  while (q.step(db_, path_)) {
    JournalTask t;
    t.id = u64(q.integer(0));
    try {
      t.submitter = u64(q.integer(1));
      t.function = q.text(2);
      t.hash = u64(q.integer(3));
      t.args = q.blob(4);
      if (auto d = q.blob(5); !d.empty()) t.deps = codec::decode<std::vector<std::uint64_t>>(d);
      t.timeout_ms = u64(q.integer(6));
      t.retries = static_cast<int>(q.integer(7));
      t.detached = q.integer(8) != 0;
      t.submitted_wall = u64(q.integer(9));
      auto state = q.integer(10);
      if (state < 0 || state > static_cast<std::int64_t>(TaskState::CANCELLED)) throw Error("bad state");
      t.state = static_cast<TaskState>(state);
      if (!is_finished(t.state)) t.state = TaskState::QUEUED;
      t.attempt = static_cast<std::uint32_t>(q.integer(11));
      t.value = q.blob(12);
      if (auto e = q.blob(13); !e.empty()) t.error = std::make_unique<codec::RemoteErrorInfo>(codec::decode<codec::RemoteErrorInfo>(e));
      t.finished_wall = u64(q.integer(14));
      auto kind = q.integer(15);
      if (kind < 0 || kind > JournalTask::actor_call) throw Error("bad kind");
      t.kind = static_cast<JournalTask::Kind>(kind);
      t.actor = u64(q.integer(16));
      t.method = q.text(17);
      t.placement = q.text(18);
      t.retry = q.text(19);
    } catch (const std::exception& e) {
      q.done();
      throw Error("the journal at " + path_ + " has a task it cannot read (" + std::to_string(t.id) + "): " + e.what());
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<JournalActor> Journal::load_actors() {
  std::lock_guard lock(db_mu_);
  std::vector<JournalActor> out;
  Statement q(db_, "SELECT id, submitter, cls, hash, args, create_task, placement, policy FROM actors ORDER BY id", path_);
  while (q.step(db_, path_)) {
    JournalActor a;
    a.id = u64(q.integer(0));
    a.submitter = u64(q.integer(1));
    a.cls = q.text(2);
    a.hash = u64(q.integer(3));
    a.args = q.blob(4);
    a.create_task = u64(q.integer(5));
    a.placement = q.text(6);
    a.policy = q.text(7);
    out.push_back(std::move(a));
  }
  return out;
}

Journal::Size Journal::size() {
  std::lock_guard lock(db_mu_);
  Size s;
  Statement q(db_, "SELECT count(*) FROM tasks", path_);
  if (q.step(db_, path_)) s.rows = u64(q.integer(0));
  q.done();
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) s.bytes += static_cast<std::uint64_t>(st.st_size);
  if (::stat((path_ + "-wal").c_str(), &st) == 0) s.bytes += static_cast<std::uint64_t>(st.st_size);
  return s;
}

void Journal::accept(JournalTask task) { buffer_.ops.push_back({Op::accept, std::move(task)}); }

void Journal::finish(std::uint64_t id, TaskState state, std::uint32_t attempt, const Bytes& value,
                     const codec::RemoteErrorInfo* error, std::uint64_t wall) {
  Op op{Op::finish, {}};
  op.task.id = id;
  op.task.state = state;
  op.task.attempt = attempt;
  op.task.value = value;
  if (error) op.task.error = std::make_unique<codec::RemoteErrorInfo>(*error);
  op.task.finished_wall = wall;
  buffer_.ops.push_back(std::move(op));
}

void Journal::forget(std::uint64_t id) {
  Op op{Op::forget, {}};
  op.task.id = id;
  buffer_.ops.push_back(std::move(op));
}

void Journal::accept_actor(const JournalActor& actor) {
  Op op{Op::accept_actor, {}};
  op.task.id = actor.id;
  op.task.submitter = actor.submitter;
  op.task.function = actor.cls;
  op.task.hash = actor.hash;
  op.task.args = actor.args;
  op.task.actor = actor.create_task;
  op.task.placement = actor.placement;
  op.task.retry = actor.policy;  // a task's retry column is the actor's policy column
  buffer_.ops.push_back(std::move(op));
}

void Journal::forget_actor(std::uint64_t id) {
  Op op{Op::forget_actor, {}};
  op.task.id = id;
  buffer_.ops.push_back(std::move(op));
}

void Journal::keep_failure(std::uint64_t id, Bytes record) {
  Op op{Op::keep_failure, {}};
  op.task.id = id;
  op.task.value = std::move(record);
  buffer_.ops.push_back(std::move(op));
}

void Journal::forget_failure(std::uint64_t id) {
  Op op{Op::forget_failure, {}};
  op.task.id = id;
  buffer_.ops.push_back(std::move(op));
}

std::vector<Bytes> Journal::load_failures() {
  std::lock_guard lock(db_mu_);
  std::vector<Bytes> out;
  Statement q(db_, "SELECT record FROM failures ORDER BY id", path_);
  while (q.step(db_, path_)) out.push_back(q.blob(0));
  return out;
}

void Journal::note_next_peer(std::uint64_t next) { buffer_.next_peer = next; }

void Journal::set_trouble(std::function<void(const std::string&)> trouble) {
  std::lock_guard lock(mu_);
  trouble_ = std::move(trouble);
}

void Journal::commit(std::function<void()> durable) {
  Batch b = std::move(buffer_);
  buffer_ = Batch{};
  b.durable = std::move(durable);
  bool first;
  {
    std::lock_guard lock(mu_);
    first = queue_.empty();
    queue_.push_back(std::move(b));
  }
  // Only the first batch wakes the writer: what comes while it writes waits for the next
  // transaction, and the engine commits every loop turn (a wake-up each would cost more
  // than the writing).
  if (first) cv_.notify_one();
}

// A task accepted and finished before its row was written is written once, finished; one
// also forgotten meanwhile is not written at all (short tasks never touch the disk twice).
void Journal::coalesce(std::vector<Batch>& batches) {
  std::unordered_map<std::uint64_t, Op*> accepted;
  for (auto& b : batches)
    for (auto& op : b.ops) {
      switch (op.kind) {
        case Op::accept:
          accepted[op.task.id] = &op;
          break;
        case Op::finish:
          if (auto it = accepted.find(op.task.id); it != accepted.end()) {
            auto& t = it->second->task;
            t.state = op.task.state;
            t.attempt = op.task.attempt;
            t.value = std::move(op.task.value);
            t.error = std::move(op.task.error);
            t.finished_wall = op.task.finished_wall;
            op.kind = Op::skip;
          }
          break;
        case Op::forget:
          if (auto it = accepted.find(op.task.id); it != accepted.end()) {
            it->second->kind = Op::skip;
            accepted.erase(it);
            op.kind = Op::skip;
          }
          break;
        case Op::skip:
        case Op::accept_actor:
        case Op::forget_actor:
        case Op::keep_failure:
        case Op::forget_failure:
          break;
      }
    }
}

void Journal::write(std::vector<Batch>& batches) {
  coalesce(batches);
  // Prepared once per call: a few microseconds against the fsync.
  Statement insert(db_,
                   "INSERT OR REPLACE INTO tasks(id, submitter, function, hash, args, deps, timeout_ms, retries, "
                   "detached, submitted_wall, state, attempt, value, error, finished_wall, kind, actor, method, placement, retry) "
                   "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   path_);
  Statement insert_actor(db_,
                         "INSERT OR REPLACE INTO actors(id, submitter, cls, hash, args, create_task, placement, policy) "
                         "VALUES(?,?,?,?,?,?,?,?)",
                         path_);
  Statement erase_actor(db_, "DELETE FROM actors WHERE id=?", path_);
  Statement insert_failure(db_, "INSERT OR REPLACE INTO failures(id, record) VALUES(?,?)", path_);
  Statement erase_failure(db_, "DELETE FROM failures WHERE id=?", path_);
  // A finished task's arguments are not needed again, and a row holds at most 10^9 bytes.
  Statement update(db_, "UPDATE tasks SET state=?, attempt=?, value=?, error=?, finished_wall=?, args=NULL WHERE id=?",
                   path_);
  Statement erase(db_, "DELETE FROM tasks WHERE id BETWEEN ? AND ?", path_);
  Statement peer(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('next_peer', ?)", path_);
  exec("BEGIN IMMEDIATE");
  try {
    std::uint64_t next_peer = 0;
    std::vector<std::uint64_t> forgotten;  // deleted at the end, in runs of consecutive ids
    for (auto& b : batches) {
      if (b.next_peer) next_peer = b.next_peer;
      for (auto& op : b.ops) {
        auto& t = op.task;
        switch (op.kind) {
          case Op::accept: {
            Bytes deps = t.deps.empty() ? Bytes() : codec::encode(t.deps);
            Bytes error = t.error ? codec::encode(*t.error) : Bytes();
            insert.bind(1, t.id).bind(2, t.submitter).bind(3, t.function).bind(4, t.hash).bind(5, t.args);
            insert.bind(6, deps).bind(7, t.timeout_ms).bind(8, std::int64_t{t.retries});
            insert.bind(9, std::int64_t{t.detached}).bind(10, t.submitted_wall);
            insert.bind(11, static_cast<std::int64_t>(t.state)).bind(12, std::uint64_t{t.attempt});
            insert.bind(13, t.value).bind(14, error).bind(15, t.finished_wall);
            insert.bind(16, std::int64_t{t.kind}).bind(17, t.actor).bind(18, t.method).bind(19, t.placement).bind(20, t.retry);
            insert.step(db_, path_);
            break;
          }
          case Op::accept_actor:
            insert_actor.bind(1, t.id).bind(2, t.submitter).bind(3, t.function).bind(4, t.hash).bind(5, t.args);
            insert_actor.bind(6, t.actor).bind(7, t.placement).bind(8, t.retry).step(db_, path_);  // retry: the policy
            break;
          case Op::forget_actor:
            erase_actor.bind(1, t.id).step(db_, path_);
            break;
          case Op::keep_failure:
            insert_failure.bind(1, t.id).bind(2, t.value).step(db_, path_);
            break;
          case Op::forget_failure:
            erase_failure.bind(1, t.id).step(db_, path_);
            break;
          case Op::finish: {
            Bytes error = t.error ? codec::encode(*t.error) : Bytes();
            update.bind(1, static_cast<std::int64_t>(t.state)).bind(2, std::uint64_t{t.attempt}).bind(3, t.value);
            update.bind(4, error).bind(5, t.finished_wall).bind(6, t.id);
            update.step(db_, path_);
            break;
          }
          case Op::forget:
            forgotten.push_back(t.id);  // ids are never reused: deleting later is the same
            break;
          case Op::skip:
            break;
        }
      }
    }
    // A client's ids run consecutively, and so do the releases of its results: one
    // range delete where there were thousands of single ones.
    std::sort(forgotten.begin(), forgotten.end());
    for (std::size_t i = 0; i < forgotten.size();) {
      std::size_t j = i + 1;
      while (j < forgotten.size() && forgotten[j] == forgotten[j - 1] + 1) ++j;
      erase.bind(1, forgotten[i]).bind(2, forgotten[j - 1]).step(db_, path_);
      i = j;
    }
    if (next_peer) {
      peer.bind(1, next_peer).step(db_, path_);
      next_peer_ = next_peer;
    }
    exec("COMMIT");
    // Give freed pages back (a few at a time, so that no commit pays for a big purge).
    if (!forgotten.empty()) exec("PRAGMA incremental_vacuum(256)");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void Journal::writer() {
  std::vector<Batch> work;
  int last_tries = 0;
  for (;;) {
    std::function<void(const std::string&)> trouble;
    {
      std::unique_lock lock(mu_);
      if (work.empty()) {
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything is written
        // Group commit without a window: what queued while the last write ran goes in the
        // next transaction (one fsync however many), and the first batch after an idle
        // spell goes at once (a lone submit's acknowledgement, and its result, which
        // waits for it, cost one write).
      }
      for (auto& b : queue_) work.push_back(std::move(b));
      queue_.clear();
      trouble = trouble_;
      if (stopping_ && failing_ && ++last_tries > 10) return;  // on the way out, and the disk still refuses
    }
    if (!write_out(work, trouble, {})) {
      // Kept, and tried again: nothing acknowledged is lost, nothing new is acknowledged.
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(500));  // or sooner, when more comes
    }
  }
}

bool Journal::write_out(std::vector<Batch>& work, const std::function<void(const std::string&)>& trouble,
                        const std::string& injected) {
  try {
    if (!injected.empty()) throw Error("cannot write the journal at " + path_ + ": " + injected);
    std::lock_guard db(db_mu_);  // load() and size() wait for it; the engine's commit() does not
    write(work);
  } catch (const std::exception& e) {
    if (!failing_ && trouble) trouble(e.what());
    failing_ = true;
    return false;
  }
  if (failing_ && trouble) trouble("");
  failing_ = false;
  for (auto& b : work)
    if (b.durable) b.durable();
  work.clear();
  return true;
}

bool Journal::paced_waiting() {
  std::lock_guard lock(mu_);
  return !queue_.empty() || !paced_work_.empty();
}

bool Journal::write_paced(const std::string& fail) {
  std::function<void(const std::string&)> trouble;
  {
    std::lock_guard lock(mu_);
    for (auto& b : queue_) paced_work_.push_back(std::move(b));
    queue_.clear();
    trouble = trouble_;
  }
  if (paced_work_.empty()) return false;
  write_out(paced_work_, trouble, fail);
  return true;
}

}  // namespace shoal::coordinator
