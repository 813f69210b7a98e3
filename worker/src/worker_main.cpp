// shoal-worker: flags, --load, signals, around the Worker engine.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio/signal_set.hpp>

#include <cmath>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include "shoal/core/loop.hpp"
#include "shoal/link/flags.hpp"
#include "shoal/link/placement.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/log.hpp"
#include "shoal/link/private_files.hpp"
#include "shoal/remote/link.hpp"
#include "shoal/worker/loader.hpp"
#include "shoal/worker/replay.hpp"
#include "shoal/worker/worker.hpp"

namespace shoal::worker {

namespace {

CLI::Validator seconds_flag(bool zero_ok) {
  return CLI::Validator([zero_ok](std::string& text) { return link::seconds_flag_error(text, zero_ok); }, "SECONDS");
}

}  // namespace

int worker_main(int argc, char** argv) {
  CLI::App app{"shoal-worker: runs tasks for a shoal coordinator.\n"
               "Functions come from this binary and from task libraries given with --load."};
  app.name("shoal-worker");
  WorkerOptions opt;
  opt.capture_output = true;
  std::vector<std::string> loads;
  std::string token_file;
  double grace_s = 30, reconnect_s = 0;
  bool quiet = false;
  app.add_option("--coordinator,-c", opt.coordinator,
                 "coordinator address: unix:///PATH or tcp://HOST:PORT (default: $SHOAL_ADDRESS, else the "
                 "default socket " + remote::default_address() + ")");
  app.add_option("--threads,-t", opt.threads, "threads for plain (blocking) tasks (default: one per core)")
      ->check(CLI::Range(1u, 4096u));
  app.add_option("--coroutines", opt.coroutines, "coroutine tasks run at once")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--load,-l", loads, "a task library (.so) to load; repeatable")->check(CLI::ExistingFile);
  app.add_option("--name,-n", opt.name, "this worker's name (default: w<pid>)");
  app.add_option("--token-file", token_file, "file holding the coordinator's token (TCP)")->envname("SHOAL_TOKEN_FILE");
  app.add_option("--tls-ca", opt.tls.ca,
                 "TLS to a TCP coordinator: CA certificates its certificate must chain to (default with "
                 "--tls-cert: the system's roots)")
      ->envname("SHOAL_TLS_CA");
  app.add_option("--tls-cert", opt.tls.cert, "TLS: this worker's certificate, for a coordinator that asks (mutual TLS)")
      ->envname("SHOAL_TLS_CERT");
  app.add_option("--tls-key", opt.tls.key, "TLS: the key of --tls-cert (a file only you can read)")
      ->envname("SHOAL_TLS_KEY");
  app.add_option("--grace", grace_s, "seconds running tasks get to finish on SIGTERM")
      ->check(seconds_flag(true))
      ->capture_default_str();
  app.add_option("--reconnect-timeout", reconnect_s,
                 "seconds to keep trying when the coordinator goes away (0: forever, -1: never)")
      ->check(CLI::Validator(
          [](std::string& text) { return text == "-1" ? std::string() : link::seconds_flag_error(text, true); },
          "SECONDS"))
      ->capture_default_str();
  app.add_option("--max-tasks", opt.max_tasks, "exit after this many tasks (0: never)")->capture_default_str();
  std::string resources;
  app.add_option("--resources,-r", resources,
                 "what this worker offers to tasks that ask, e.g. cpu=8,memory=16G,gpu=1,licence=2 (K M G T: "
                 "powers of 1024; cpu and memory default to this machine's cores and RAM)");
  app.add_option("--label", opt.labels, "a label tasks can select it by, e.g. zone=a; repeatable");
  std::string max_memory;
  app.add_option("--max-memory", max_memory,
                 "past this resident size (e.g. 4G) drain and exit, to be replaced by its supervisor (shoal start, "
                 "LocalCluster); tasks not started run elsewhere. Tasks' memory requests are bookkeeping for "
                 "placement: the kernel does not limit a task inside a worker (its threads share one address space)");
  app.add_option("--fd", opt.adopted_fd, "use this inherited, connected socket (set by LocalCluster)")
      ->group("");
  std::string log_level = "info", log_format = "text";
  app.add_option("--log-level", log_level, "trace, debug (a line per task's submit, assign and end), info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text, or json (one object per line: time, level, daemon, task, msg)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_flag("--quiet,-q", quiet, "no log lines on stderr (--log-level off)");
  std::string replay_bundle, replay_out;
  app.add_option("--replay", replay_bundle, "run the task of this replay bundle once, here (shoal replay runs this)")
      ->group("");
  app.add_option("--replay-out", replay_out, "where --replay writes the outcome")->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is 0; a usage error is 2, as for `shoal`
  }
  if (!replay_bundle.empty()) {
    if (replay_out.empty()) {
      std::cerr << "shoal-worker: --replay needs --replay-out" << std::endl;
      return 2;
    }
    return replay_child(replay_bundle, replay_out, loads, true);
  }
  opt.log = !quiet;
  link::log::configure({quiet ? link::log::Level::off : link::log::parse_level(log_level),
                        link::log::parse_format(log_format)});
  opt.report_crashes = true;  // a worker process: its last words name the task that killed it
  opt.grace = std::chrono::milliseconds(std::llround(grace_s * 1000));
  opt.reconnect_timeout = std::chrono::milliseconds(std::llround(reconnect_s * 1000));
  try {
    if (!token_file.empty()) opt.token = link::read_token_file(token_file);
    opt.resources = link::parse_resources(resources);
    auto offered = link::machine_resources();
    for (const auto& [name, amount] : opt.resources) offered[name] = amount;
    link::check_resources(offered);  // with cpu and memory added, still within the limits
    if (!max_memory.empty()) {
      auto parsed = link::parse_resources("max-memory=" + max_memory);
      opt.max_memory = static_cast<std::uint64_t>(parsed.begin()->second);
      if (opt.max_memory < (16u << 20)) throw ValueError("--max-memory " + max_memory + " is under 16M");
    }
    for (const auto& l : opt.labels) link::check_label(l);
    if (!opt.coordinator.empty()) (void)remote::parse_address(opt.coordinator);
    if (opt.tls.enabled()) (void)link::TlsContext::client(opt.tls);  // a bad file: one line, exit 2
    for (const auto& lib : loads) {
      auto loaded = load_task_library(lib);
      link::log::write(link::log::Level::info, opt.name.empty() ? "shoal-worker" : "shoal-worker " + opt.name,
                       "loaded " + lib + " (" + std::to_string(loaded.functions.size()) + " functions, " +
                           std::to_string(loaded.actors.size()) + " actor types)");
    }
    remote::Registry::global().verify();
  } catch (const std::exception& e) {
    std::cerr << "shoal-worker: " << e.what() << std::endl;
    return 2;
  }
  // A worker on an inherited socket belongs to a parent (LocalCluster) in the same
  // process group: a Ctrl-C at the terminal is the parent's to handle.
  const bool ignore_int = opt.adopted_fd >= 0;
  if (ignore_int) std::signal(SIGINT, SIG_IGN);
  Loop loop;
  link::raise_open_files_limit();
  Worker worker(opt);
  int status = loop.run_until_complete([&]() -> Coro<int> {
    asio::signal_set signals(co_await asio::this_coro::executor, SIGTERM);
    if (!ignore_int) signals.add(SIGINT);
    int seen = 0;
    std::function<void()> arm = [&] {
      signals.async_wait([&](std::error_code ec, int) {
        if (ec) return;
        if (++seen == 1) {
          worker.stop();
          arm();
        } else {
          std::_Exit(1);  // a second signal: stop now
        }
      });
    };
    arm();
    int s = co_await worker.run();
    signals.cancel();
    co_return s;
  }());
  loop.shutdown();
  return status;
}

}  // namespace shoal::worker
