// shoal-coordinator: flags and signals around the Coordinator engine.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <charconv>
#include <cmath>
#include <csignal>
#include <fstream>
#include <iostream>
#include <string_view>

#include "shoal/coordinator/coordinator.hpp"
#include "shoal/core/error.hpp"
#include "shoal/link/log.hpp"
#include "shoal/link/address.hpp"
#include "shoal/link/flags.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/private_files.hpp"
#include "shoal/link/tls.hpp"

namespace shoal::coordinator {

namespace {

CLI::Validator seconds_flag(bool zero_ok) {
  return CLI::Validator([zero_ok](std::string& text) { return link::seconds_flag_error(text, zero_ok); }, "SECONDS");
}

}  // namespace

int coordinator_main(int argc, char** argv) {
  CLI::App app{"shoal-coordinator: queues tasks and dispatches them to shoal workers.\n"
               "Prints `ready ADDRESS` on stdout once it listens."};
  app.name("shoal-coordinator");
  CoordinatorOptions opt;
  std::string token_file, pid_file;
  std::vector<std::string> fn_retries;
  long heartbeat_ms = 1000, heartbeat_timeout_ms = 5000, unregistered_ms = 30000, ttl_s = 3600;
  long keep_failed = 100, keep_failed_mib = 64;
  long adopt_wait_ms = 1000, client_grace_ms = 10000;
  long hello_timeout_ms = 5000, auth_penalty_ms = 1000, cancel_grace_ms = 2000, max_peer_queue_mib = 512;
  double grace_s = 30;
  bool quiet = false;
  app.add_option("--listen,-l", opt.listen,
                 "address to listen on, repeatable: unix:///PATH or tcp://HOST:PORT (default: $SHOAL_ADDRESS, "
                 "else " + link::default_address() + ")");
  app.add_option("--token-file", token_file, "file holding the token TCP peers must present")
      ->envname("SHOAL_TOKEN_FILE");
  app.add_option("--tls-cert", opt.tls.cert, "TLS for TCP peers: this coordinator's certificate (PEM)")
      ->envname("SHOAL_TLS_CERT");
  app.add_option("--tls-key", opt.tls.key, "TLS: the key of --tls-cert (a file only you can read)")
      ->envname("SHOAL_TLS_KEY");
  app.add_option("--tls-ca", opt.tls.ca,
                 "TLS: CA certificates a peer's certificate must chain to; with it, every TCP peer needs one "
                 "(mutual TLS)")
      ->envname("SHOAL_TLS_CA");
  app.add_option("--retries", opt.retries, "attempts after a worker loss before a task fails with WorkerLost")
      ->check(CLI::Range(0, link::kMaxRetries))
      ->capture_default_str();
  app.add_option("--function-retries", fn_retries, "NAME=N: retries for one function; repeatable");
  std::vector<std::string> retry_on;
  RetryPolicy retry_defaults;
  long retry_backoff_ms = 100, retry_max_backoff_ms = 60000;
  app.add_option("--retry-on", retry_on,
                 "NAME=TYPE[,TYPE...]: run a task of function NAME again when it fails with one of these "
                 "exception types (\"ValueError\", \"my::Flaky\", \"*\" for any); repeatable. A submit's own "
                 "retry policy wins");
  app.add_option("--retry-attempts", retry_defaults.attempts, "with --retry-on: runs after the first, at most")
      ->check(CLI::Range(0, link::kMaxRetries))
      ->capture_default_str();
  app.add_option("--retry-backoff-ms", retry_backoff_ms, "with --retry-on: the wait before the first retry (doubling)")
      ->check(CLI::Range(0L, 3'600'000L))
      ->capture_default_str();
  app.add_option("--retry-max-backoff-ms", retry_max_backoff_ms, "with --retry-on: the longest wait between runs")
      ->check(CLI::Range(0L, 86'400'000L))
      ->capture_default_str();
  app.add_option("--max-crashes", opt.max_crashes,
                 "a task that killed its worker this many times (named by the dying worker, or running alone) "
                 "fails with TaskCrashed")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval")
      ->check(CLI::Range(1L, 600'000L))
      ->capture_default_str();
  app.add_option("--heartbeat-timeout-ms", heartbeat_timeout_ms, "a worker silent this long is lost")
      ->check(CLI::Range(1L, 3'600'000L))
      ->capture_default_str();
  app.add_option("--unregistered-wait-ms", unregistered_ms,
                 "how long a task waits for a worker with its function (connected or not) before failing NotRegistered")
      ->check(CLI::Range(0L, 3'600'000L))
      ->capture_default_str();
  app.add_option("--keep-failed", keep_failed,
                 "failed tasks whose arguments are kept to be replayed (shoal replay TASK); 0 keeps none")
      ->check(CLI::Range(0L, 1'000'000L))
      ->capture_default_str();
  app.add_option("--keep-failed-mib", keep_failed_mib, "the most those kept arguments may take, in all")
      ->check(CLI::Range(0L, 1L << 20))
      ->capture_default_str();
  app.add_option("--max-peer-queue-mib", max_peer_queue_mib,
                 "what may wait to be written to one peer; a peer that stops reading beyond it is disconnected")
      ->check(CLI::Range(1L, 1L << 20))
      ->capture_default_str();
  app.add_option("--cancel-grace-ms", cancel_grace_ms,
                 "how long a running task may take to stop after a cancel (then: reported cancelled; with "
                 "cancel --force, its worker exits)")
      ->check(CLI::Range(0L, 600'000L))
      ->capture_default_str();
  app.add_option("--grace", grace_s, "seconds running tasks get to finish on SIGTERM")
      ->check(seconds_flag(true))
      ->capture_default_str();
  app.add_option("--result-ttl", ttl_s, "seconds detached results are kept")
      ->check(CLI::Range(1L, 10L * 365 * 86400))
      ->capture_default_str();
  app.add_option("--pid-file", pid_file, "write the pid here (mode 0600; a symlink there is refused)");
  app.add_option("--hello-timeout-ms", hello_timeout_ms, "a connection must say hello within this")
      ->check(CLI::Range(1L, 600'000L))
      ->capture_default_str();
  app.add_option("--max-strangers", opt.max_strangers,
                 "TCP connections without a hello yet, in all (beyond it the oldest are closed)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--max-strangers-per-address", opt.max_strangers_per_address,
                 "the same, from one IP address")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--auth-penalty-ms", auth_penalty_ms, "a refused hello is answered after this")
      ->check(CLI::Range(0L, 60'000L))
      ->capture_default_str();
  app.add_option("--journal", opt.journal,
                 "an SQLite file (created 0600 if missing): submits are acknowledged once on disk, and a "
                 "coordinator started again on it runs every accepted task that had not finished and keeps "
                 "every result not yet fetched (docs/durability.md)")
      ->envname("SHOAL_JOURNAL");
  app.add_option("--client-grace-ms", client_grace_ms,
                 "a client whose connection ends without a goodbye may reconnect within this and find its "
                 "tasks; after it they are cancelled (unless detached)")
      ->check(CLI::Range(0L, 3'600'000L))
      ->capture_default_str();
  app.add_option("--max-queued", opt.max_queued,
                 "unfinished tasks held at most; past it, clients over their fair share are not read (their "
                 "submits wait, then fail Overloaded); 0: no limit")
      ->capture_default_str();
  app.add_option("--max-queued-bytes", opt.max_queued_bytes,
                 "the same for the unfinished tasks' argument bytes; 0: no limit")
      ->capture_default_str();
  app.add_option("--object-store-memory", opt.object_store_memory,
                 "bytes of large values (puts, and arguments and results of 1 MiB or more) held at most: past "
                 "it a put or such a submit fails with ObjectStoreFull; 0: no limit but memory (accepts 512MiB, 4GiB)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--adopt-wait-ms", adopt_wait_ms,
                 "after a restart on a journal, how long unfinished tasks wait for the workers still running "
                 "them to reconnect and claim them before they are queued again")
      ->check(CLI::Range(0L, 600'000L))
      ->capture_default_str();
  app.add_option("--http", opt.http,
                 "serve Prometheus metrics (/metrics), the JSON API (/api/v1/) and the dashboard (/) at HOST:PORT "
                 "(e.g. 127.0.0.1:8265; port 0: any free one). Beyond loopback, clients not on this machine must "
                 "send the token as a bearer (needs --token-file) or the server speaks HTTPS (--tls-cert)");
  app.add_flag("--http-any-port", opt.http_any_port,
               "when --http's port is taken, serve on any free one instead (printed as `http URL`)");
  app.add_option("--timeline-size", opt.timeline_attempts,
                 "task attempts remembered for `shoal timeline` and the dashboard (the oldest go first)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10'000'000}))
      ->capture_default_str();
  std::string log_level = "info", log_format = "text";
  app.add_option("--log-level", log_level, "trace, debug (a line per task's submit, assign and end), info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text, or json (one object per line: time, level, daemon, task, msg)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_flag("--quiet,-q", quiet, "no log lines on stderr (--log-level off)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is 0; a usage error is 2, as for `shoal`
  }
  try {
    for (auto& f : fn_retries) {
      auto eq = f.find('=');
      if (eq == std::string::npos || eq == 0) throw ValueError("--function-retries wants NAME=N, not " + f);
      int n = -1;
      auto digits = std::string_view(f).substr(eq + 1);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec != std::errc() || end != digits.data() + digits.size() || n < 0 || n > link::kMaxRetries)
        throw ValueError("--function-retries " + f + ": N must be 0 to " + std::to_string(link::kMaxRetries));
      opt.function_retries[f.substr(0, eq)] = n;
    }
    retry_defaults.backoff = std::chrono::milliseconds(retry_backoff_ms);
    retry_defaults.max_backoff = std::chrono::milliseconds(retry_max_backoff_ms);
    for (auto& f : retry_on) {
      auto eq = f.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == f.size())
        throw ValueError("--retry-on wants NAME=TYPE[,TYPE...], not " + f);
      auto policy = retry_defaults;
      std::string_view types = std::string_view(f).substr(eq + 1);
      while (!types.empty()) {
        auto comma = types.find(',');
        policy.on.emplace_back(types.substr(0, comma));
        if (comma == std::string_view::npos) break;
        types.remove_prefix(comma + 1);
      }
      link::check_retry(policy);
      opt.function_retry_on[f.substr(0, eq)] = std::move(policy);
    }
    if (!token_file.empty()) opt.token = link::read_token_file(token_file);
    if (opt.tls.enabled()) (void)link::TlsContext::server(opt.tls);  // a bad file: one line, exit 2
    opt.heartbeat = std::chrono::milliseconds(heartbeat_ms);
    opt.hello_timeout = std::chrono::milliseconds(hello_timeout_ms);
    opt.cancel_grace = std::chrono::milliseconds(cancel_grace_ms);
    opt.adopt_wait = std::chrono::milliseconds(adopt_wait_ms);
    opt.client_grace = std::chrono::milliseconds(client_grace_ms);
    opt.max_peer_queue_bytes = static_cast<std::size_t>(max_peer_queue_mib) << 20;
    opt.auth_penalty = std::chrono::milliseconds(auth_penalty_ms);
    opt.heartbeat_timeout = std::chrono::milliseconds(heartbeat_timeout_ms);
    opt.unregistered_wait = std::chrono::milliseconds(unregistered_ms);
    opt.keep_failed = static_cast<std::size_t>(keep_failed);
    opt.keep_failed_bytes = static_cast<std::size_t>(keep_failed_mib) << 20;
    opt.grace = std::chrono::milliseconds(std::llround(grace_s * 1000));
    opt.result_ttl = std::chrono::seconds(ttl_s);
    opt.log = !quiet;
    link::log::configure({quiet ? link::log::Level::off : link::log::parse_level(log_level),
                          link::log::parse_format(log_format)});
    opt.listen_default = true;
    if (opt.listen.empty()) opt.listen.push_back(link::default_address());
  } catch (const std::exception& e) {
    std::cerr << "shoal-coordinator: " << e.what() << std::endl;
    return 2;
  }
  link::raise_open_files_limit();  // strangers are capped; the rest may use what the system allows
  asio::io_context io(1);
  Coordinator coordinator(io.get_executor(), opt);
  try {
    coordinator.start();
  } catch (const std::exception& e) {
    std::cerr << "shoal-coordinator: " << e.what() << std::endl;
    return 1;
  }
  try {
    if (!pid_file.empty()) link::write_private_file(pid_file, std::to_string(::getpid()) + "\n");
  } catch (const std::exception& e) {
    std::cerr << "shoal-coordinator: " << e.what() << std::endl;
    return 1;
  }
  for (auto& a : coordinator.addresses()) std::cout << "ready " << a << std::endl;
  if (auto url = coordinator.http_url(); !url.empty()) std::cout << "http " << url << std::endl;
  asio::signal_set signals(io, SIGTERM, SIGINT);
  int seen = 0;
  std::function<void()> arm = [&] {
    signals.async_wait([&](std::error_code ec, int) {
      if (ec) return;
      if (++seen == 1)
        coordinator.stop();
      else
        coordinator.stop_now();
      arm();
    });
  };
  arm();
  bool done = false;
  asio::co_spawn(io, coordinator.run(), [&](std::exception_ptr e) {
    done = true;
    signals.cancel();
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::cerr << "shoal-coordinator: " << x.what() << std::endl;
      }
    }
  });
  io.run();
  if (!pid_file.empty()) ::unlink(pid_file.c_str());
  return done ? 0 : 1;
}

}  // namespace shoal::coordinator
