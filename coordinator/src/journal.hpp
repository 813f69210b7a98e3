#pragma once
// The journal (`--journal PATH`): every accepted task, its dependency edges and its
// outcome, in SQLite (WAL mode, synchronous=FULL), so that a coordinator restarted on the
// same file after a crash knows every task it had accepted. The engine buffers what
// changed during a loop turn; commit() hands the batch to the journal's own thread, which
// writes everything queued in one transaction (one fsync however many tasks) and then
// says so, off the engine's thread: the engine acknowledges submits as accepted only
// then. A task is forgotten (its row deleted) when the engine frees it, so the file stays
// bounded by the tasks alive; freed pages are reclaimed as it goes.
//
// The file is the coordinator's alone: created 0600, never opened through a symlink, and
// locked (a second coordinator on it is refused with why).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shoal/codec/bytes.hpp"
#include "shoal/codec/error_info.hpp"
#include "task_table.hpp"

struct sqlite3;

namespace shoal::coordinator {

/// The largest value (arguments, result) a journal keeps: SQLite's own limit on a blob
/// (SQLITE_MAX_LENGTH, 10^9 bytes) with room for the row. A journaled coordinator fails a
/// task whose value is larger with ResultTooLarge rather than keep what it cannot restore.
inline constexpr std::size_t kMaxJournalValueBytes = 999'000'000;

/// One journaled task, as written and as read back.
struct JournalTask {
  std::uint64_t id = 0, submitter = 0;
  std::string function;
  std::uint64_t hash = 0;
  Bytes args;
  std::vector<std::uint64_t> deps;
  std::uint64_t timeout_ms = 0;
  int retries = 0;
  bool detached = false;
  std::uint64_t submitted_wall = 0;
  TaskState state = TaskState::QUEUED;  // QUEUED: not finished (whatever it was doing)
  std::uint32_t attempt = 0;
  Bytes value;
  std::unique_ptr<codec::RemoteErrorInfo> error;  // boxed: most tasks have none (an Op is one of these)
  std::uint64_t finished_wall = 0;
  enum Kind : std::uint8_t { plain = 0, actor_create = 1, actor_call = 2 };
  Kind kind = plain;
  std::uint64_t actor = 0;  // actor_create, actor_call: the actor's id
  std::string method;       // actor_call
  std::string placement;    // link::placement_key() of its request ("": none)
  std::string retry;        // link::retry_key() of its retry policy ("": none)
};

/// One journaled actor (alive when written: spawned, not released nor dead).
struct JournalActor {
  std::uint64_t id = 0, submitter = 0;
  std::string cls;
  std::uint64_t hash = 0;  // its constructor's signature hash
  Bytes args;              // the constructor's arguments
  std::uint64_t create_task = 0;
  std::string placement;   // link::placement_key() of its request ("": none)
  std::string policy;      // restarts, concurrency, name, detached (Engine::policy_key; "": defaults)
};

class Journal {
 public:
  /// Opens the journal at `path`, creating it (0600) if missing. Throws shoal::Error
  /// naming the path and why ("is a symbolic link", "in use by another coordinator", "not
  /// a shoal journal", SQLite's message).
  /// `paced`: no thread of its own; what is committed is written by write_paced() (the
  /// deterministic simulation's disk), and what was not when it closes is lost, as in a crash.
  explicit Journal(std::string path, bool paced = false);
  /// Writes what is still pending (trying for a few seconds if the disk refuses), then
  /// stops its thread. A paced journal writes nothing more: what was not written is lost.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// Every task it holds, in id order (read once, before the engine serves). Throws
  /// shoal::Error on a row it cannot decode.
  [[nodiscard]] std::vector<JournalTask> load();
  /// Every actor it holds, in id order.
  [[nodiscard]] std::vector<JournalActor> load_actors();
  /// The failed tasks kept to be replayed (FailedKeep records, encoded), in id order.
  [[nodiscard]] std::vector<Bytes> load_failures();
  /// The first peer id not yet given out by an earlier run (0: none recorded).
  [[nodiscard]] std::uint64_t next_peer() const noexcept { return next_peer_; }

  // The engine's thread: what changed this turn.
  void accept(JournalTask task);
  void finish(std::uint64_t id, TaskState state, std::uint32_t attempt, const Bytes& value,
              const codec::RemoteErrorInfo* error, std::uint64_t wall);
  void forget(std::uint64_t id);
  void accept_actor(const JournalActor& actor);
  void forget_actor(std::uint64_t id);
  void note_next_peer(std::uint64_t next);
  /// A failed task kept to be replayed (its FailedKeep record, encoded), and its end.
  void keep_failure(std::uint64_t id, Bytes record);
  void forget_failure(std::uint64_t id);
  [[nodiscard]] bool has_pending() const noexcept { return !buffer_.ops.empty() || buffer_.next_peer != 0; }
  /// Hands the buffered changes to the journal's thread; `durable` runs there once they
  /// are on disk. A write that fails is retried (every 500 ms) until it succeeds; while it
  /// fails, `trouble` (set_trouble) hears why, and hears "" once writes succeed again.
  void commit(std::function<void()> durable);
  void set_trouble(std::function<void(const std::string&)> trouble);
  /// A paced journal: writes everything committed so far in one transaction, or, with
  /// `fail` not empty, fails as a refusing disk would (trouble hears it; the commits wait
  /// for the next call). Returns whether anything was waiting.
  bool write_paced(const std::string& fail);
  /// A paced journal: whether commits wait to be written.
  [[nodiscard]] bool paced_waiting();

  /// Rows and file size, for status and tests.
  struct Size {
    std::uint64_t rows = 0, bytes = 0;
  };
  [[nodiscard]] Size size();

 private:
  struct Op {
    enum Kind : std::uint8_t { accept, finish, forget, skip, accept_actor, forget_actor, keep_failure, forget_failure } kind;
    JournalTask task;  // accept: the whole task; finish: id, state, attempt, value, error, finished_wall
    // accept_actor: task.id, submitter, function (the class), hash, args, and actor (the
    // create task); forget_actor: task.id. keep_failure: task.id and the record in
    // task.value; forget_failure: task.id.
  };
  struct Batch {
    std::vector<Op> ops;
    std::uint64_t next_peer = 0;
    std::function<void()> durable;
  };

  void writer();
  // Writes `work` (`injected`: fails with it instead): true once written and its durable
  // callbacks ran; on failure tells trouble once per failing spell and keeps `work`.
  bool write_out(std::vector<Batch>& work, const std::function<void(const std::string&)>& trouble,
                 const std::string& injected);
  void write(std::vector<Batch>& batches);  // throws shoal::Error
  static void coalesce(std::vector<Batch>& batches);
  void exec(const char* sql);

  std::string path_;
  sqlite3* db_ = nullptr;
  std::uint64_t next_peer_ = 0;
  Batch buffer_;  // the engine's, until commit()

  std::mutex db_mu_;  // the connection: the writer's, load()'s, size()'s
  std::mutex mu_;     // the queue
  std::condition_variable cv_;
  std::vector<Batch> queue_;
  bool stopping_ = false;
  std::function<void(const std::string&)> trouble_;
  bool failing_ = false;  // the last write failed (the writer's thread, or write_paced's caller)
  bool paced_ = false;
  std::vector<Batch> paced_work_;  // a paced journal's commits that failed to be written
  std::thread thread_;
};

}  // namespace shoal::coordinator
