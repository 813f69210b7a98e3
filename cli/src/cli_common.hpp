#pragma once
/// \file
/// What the `shoal` verbs share: the global options, one-line errors with their exit
/// code, finding the coordinator, the catalog and the JSON bridge, and Ctrl-C handling.
/// Private to the CLI.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/core/error.hpp"
#include "shoal/remote/client.hpp"

namespace shoal::cli {

/// Options every verb accepts.
struct Globals {
  std::string address;    ///< --address; empty: $SHOAL_ADDRESS, else the default socket
  bool json = false;      ///< --json: machine-readable output on stdout
  std::string state_dir;  ///< --state-dir (start, stop, run's embedded cluster)
};

/// An error that ends the command: one line on stderr and an exit code.
class CliError : public Error {
 public:
  CliError(int code, const std::string& what) : Error(what), code_(code) {}
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int code_;
};

/// --address, else $SHOAL_ADDRESS, else unix:// + the default socket.
[[nodiscard]] std::string resolve_address(const Globals& g);

/// A client of `address`. CliError(3) "no coordinator at ADDRESS: start one with `shoal start`".
[[nodiscard]] std::unique_ptr<Client> connect(const std::string& address,
                                              decltype(ClientOptions::on_output) on_output = {},
                                              const std::string& name = "shoal-cli",
                                              decltype(ClientOptions::on_worker_log) on_worker_log = {});
/// The token file connect() reads for TCP coordinators (--token-file; else $SHOAL_TOKEN_FILE).
void set_token_file(std::string path);
/// The token file in force: --token-file, else $SHOAL_TOKEN_FILE, else "".
std::string current_token_file();
/// The TLS files connect() uses for TCP coordinators (--tls-ca, --tls-cert, --tls-key).
void set_tls(link::TlsOptions tls);
/// Those in force: the flags, each missing one from $SHOAL_TLS_CA, $SHOAL_TLS_CERT, $SHOAL_TLS_KEY.
link::TlsOptions current_tls();

/// The catalog entry of `function`, waiting up to `wait` for a worker that registers it.
/// CliError(1) "no worker has registered FN (known: a, b, c)".
[[nodiscard]] CatalogEntry find_function(Client& client, const std::string& function,
                                         std::chrono::milliseconds wait = std::chrono::milliseconds(500));

/// The encoded argument tuple of a call of `entry` with the JSON array `args`.
/// CliError(2) naming the argument when one does not fit the signature.
[[nodiscard]] Bytes encode_args(const CatalogEntry& entry, const nlohmann::json& args);

/// A result of `signature` as JSON (untyped when the signature is unknown: empty).
[[nodiscard]] nlohmann::json decode_result(const std::string& signature, const Bytes& result);

/// The exit code for a task's failure `e`: 130 never (that is ours), 4 for a TimeoutError,
/// else 1.
[[nodiscard]] int exit_code_of(std::exception_ptr e);
/// What `e` says, one line.
[[nodiscard]] std::string message_of(std::exception_ptr e);

/// The exception a done future `f` holds (CancelledError included), or null.
template <typename T>
[[nodiscard]] std::exception_ptr error_of(const Future<T>& f) {
  try {
    return f.exception();
  } catch (...) {
    return std::current_exception();
  }
}
/// Waits for `f` at most `limit`, ignoring how it ends.
template <typename T>
void settle(const Future<T>& f, std::chrono::milliseconds limit) {
  try {
    (void)f.exception(limit);
  } catch (...) {
  }
}

/// The directory of the running `shoal` executable.
[[nodiscard]] std::filesystem::path self_dir();
/// The task libraries workers load: <dir of shoal>/../lib/libshoal_examples.so when it
/// exists (and `examples`), then `extra`.
[[nodiscard]] std::vector<std::string> worker_loads(const std::vector<std::string>& extra, bool examples = true);
/// <dir of shoal>/shoal-worker (or -coordinator).
[[nodiscard]] std::string sibling_program(const std::string& name);
/// The state directory: --state-dir, else $XDG_RUNTIME_DIR/shoal, else /tmp/shoal-$UID.
[[nodiscard]] std::filesystem::path state_dir(const Globals& g);

/// Wakes a waiting thread: for task completions, signals and timers.
class Wakeup {
 public:
  void notify() {
    {
      std::lock_guard lock(mu_);
      pending_ = true;
    }
    cv_.notify_all();
  }
  /// Waits until notify() or `limit`; returns whether it was notified.
  bool wait_for(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    bool hit = cv_.wait_for(lock, limit, [&] { return pending_; });
    pending_ = false;
    return hit;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
};

/// SIGINT and SIGTERM, taken by a thread (sigtimedwait): construct it before any other
/// thread starts, so that every thread inherits the blocked mask. Until arm() is called,
/// a signal ends the process at once with 130; once armed, it sets interrupted() and wakes
/// `wake`, and the verb cancels its tasks and returns 130.
class Interrupts {
 public:
  Interrupts();
  ~Interrupts();
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;

  void arm(std::shared_ptr<Wakeup> wake) {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
    armed_.store(true);
  }
  [[nodiscard]] bool interrupted() const noexcept { return fired_.load(); }

 private:
  std::atomic<bool> stop_{false}, armed_{false}, fired_{false};
  std::mutex mu_;
  std::shared_ptr<Wakeup> wake_;  // guarded by mu_
  std::thread thread_;
};

/// The process's Interrupts (created by run_main before anything else).
Interrupts& interrupts();

// The verbs. Each returns the exit code or throws CliError.
struct StartOptions {
  unsigned workers = 2, threads = 0;
  std::vector<std::string> load;
  std::string listen;
  std::string journal;  ///< the coordinator's --journal (made absolute)
  std::string http = "127.0.0.1:8265";  ///< the coordinator's --http ("" or "off": none)
  double grace = 5;
  bool no_examples = false;
};
int cmd_start(const Globals& g, const StartOptions& o);
int cmd_stop(const Globals& g);
int cmd_supervise(const Globals& g);
/// A file's contents ("" when it cannot be read), and its last line.
[[nodiscard]] std::string slurp(const std::filesystem::path& p);
[[nodiscard]] std::string last_line(const std::filesystem::path& p);
int cmd_cert_init(const Globals& g, const std::string& dir, const std::vector<std::string>& hosts, int days);

struct SubmitOptions {
  std::string function;
  std::vector<std::string> args;
  bool wait = false, exec = false;
  std::optional<double> timeout;
  int retries = -1;
  std::string resources;  // --resources gpu=1,memory=4G
  std::vector<std::string> labels, prefer;
  bool pack = false;
  int priority = 0;
  RetryPolicy retry;                  // --retry-on TYPE, --retry-attempts N
  std::optional<double> retry_backoff;  // --retry-backoff S
};
int cmd_submit(const Globals& g, const SubmitOptions& o);
int cmd_result(const Globals& g, std::uint64_t id, std::optional<double> timeout, const std::string& output);
int cmd_status(const Globals& g, std::optional<std::uint64_t> id);
int cmd_cancel(const Globals& g, std::uint64_t id, bool force = false);
int cmd_workers(const Globals& g);
int cmd_tasks(const Globals& g, const std::string& state, std::uint32_t limit);

struct RunOptions {
  std::string file;
  unsigned workers = 2, threads = 0;
  std::vector<std::string> load;
  std::string timeline;  ///< --timeline FILE: the job's attempts as a Perfetto trace
};
int cmd_run(const Globals& g, const RunOptions& o);

// Watching a cluster (commands_observe.cpp).
int cmd_dashboard(const Globals& g);
struct TopOptions {
  double interval = 1;      ///< seconds between refreshes
  unsigned iterations = 0;  ///< refreshes before it exits (0: until Ctrl-C)
};
int cmd_top(const Globals& g, const TopOptions& o);
struct TimelineOptions {
  std::string job, since, output;
};
int cmd_timeline(const Globals& g, const TimelineOptions& o);
struct ReplayOptions {
  std::uint64_t task = 0;
  std::string bundle, save, debugger;
  std::vector<std::string> load;
};
int cmd_replay(const Globals& g, const ReplayOptions& o);

struct LogsOptions {
  std::uint64_t task = 0;
  std::string worker;
  bool follow = false;
};
int cmd_logs(const Globals& g, const LogsOptions& o);
/// Writes the attempts (since `since_ns`, of `job` when given) as a Chrome trace to `path`.
void write_timeline(Client& client, const std::string& path, std::uint64_t since_ns, const std::string& job);
/// "90s", "15m", "2h", "1d" or a number of seconds, in ns. CliError(2) otherwise.
[[nodiscard]] std::uint64_t parse_duration_ns(const std::string& text);

}  // namespace shoal::cli
