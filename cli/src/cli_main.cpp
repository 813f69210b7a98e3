// The `shoal` command line (commands.hpp): its verbs, their flags and --help, and the
// dispatch to the verbs (commands.cpp, commands_daemons.cpp, commands_run.cpp).

#include <CLI/CLI.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "shoal/link/flags.hpp"

namespace shoal::cli {

namespace {

/// A number of seconds (link::seconds_flag_error): finite, above zero (or zero when
/// `zero_ok`), at most 1e9. Checked before CLI11 converts it (exit 2).
CLI::Validator seconds(bool zero_ok) {
  return CLI::Validator([zero_ok](std::string& text) { return link::seconds_flag_error(text, zero_ok); }, "SECONDS");
}

}  // namespace

int run_main(int argc, char** argv) {
  // Before any thread: every thread inherits SIGINT and SIGTERM blocked.
  Interrupts signals;

  CLI::App app{"shoal: run tasks on a shoal cluster.\n"
               "Address: --address, else $SHOAL_ADDRESS, else the default socket.\n"
               "Exit codes: 0 ok, 1 a task failed, 2 usage error, 3 no coordinator reachable, 4 timeout, "
               "130 interrupted."};
  app.name("shoal");
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
  app.add_option("-a,--address", g.address, "coordinator address: unix:///PATH or tcp://HOST:PORT");
  app.add_flag("--json", g.json, "machine-readable output (one JSON document on stdout)");
  std::string token_file;
  app.add_option("--token-file", token_file, "file holding a TCP coordinator's token (else $SHOAL_TOKEN_FILE)");
  link::TlsOptions tls;
  app.add_option("--tls-ca", tls.ca,
                 "TLS to a TCP coordinator: CA certificates its certificate must chain to (else $SHOAL_TLS_CA)");
  app.add_option("--tls-cert", tls.cert,
                 "TLS: the certificate to present (mutual TLS; with start, the coordinator's) (else $SHOAL_TLS_CERT)");
  app.add_option("--tls-key", tls.key, "TLS: the key of --tls-cert (else $SHOAL_TLS_KEY)");
  app.add_option("--state-dir", g.state_dir,
                 "where start keeps pid and log files (default: $XDG_RUNTIME_DIR/shoal, else /tmp/shoal-$UID)");

  StartOptions start;
  auto* s = app.add_subcommand("start", "start a coordinator and workers in the background");
  s->add_option("-w,--workers", start.workers, "workers to start")->capture_default_str();
  s->add_option("-t,--threads", start.threads, "threads per worker (default: one per core)");
  s->add_option("-l,--load", start.load, "a task library (.so) for the workers; repeatable");
  s->add_option("--listen", start.listen, "the coordinator's address (default: --address, $SHOAL_ADDRESS, the default socket)");
  s->add_option("--grace", start.grace, "seconds running tasks get to finish on `shoal stop`")
      ->check(seconds(true))
      ->capture_default_str();
  s->add_option("--journal", start.journal,
                "the coordinator's journal (an SQLite file): accepted tasks survive its crash and run when it is "
                "started again on the same file (docs/durability.md)");
  s->add_flag("--no-examples", start.no_examples, "do not load the bundled example library (libshoal_examples.so)");
  s->add_option("--http", start.http,
                "where the coordinator serves its dashboard and /metrics (HOST:PORT; another free port when the "
                "default's is taken; off: none)")
      ->capture_default_str();

  app.add_subcommand("stop", "stop the cluster that `shoal start` started");
  // The process `shoal start` leaves to restart dead workers (supervise.cpp); not for users.
  app.add_subcommand("__supervise", "")->group("");

  SubmitOptions submit;
  auto* sub = app.add_subcommand("submit", "submit a task: shoal submit FN [ARG]... (arguments in JSON)");
  sub->add_option("function", submit.function, "the registered function (with --exec: the command)");
  sub->add_option("args", submit.args, "arguments, each a JSON value: 3, '\"text\"', '[1,2]', '{\"k\":1}'");
  sub->add_flag("-w,--wait", submit.wait, "wait and print the result instead of the task id");
  sub->add_flag("--exec", submit.exec,
                "run a command on a worker: shoal submit --exec -- CMD ARG... (prints its output, exits with its code)");
  sub->add_option("--timeout", submit.timeout, "seconds the task may run (enforced by the worker)")->check(seconds(false));
  sub->add_option("--retries", submit.retries, "attempts after a worker loss, 0 to 1000 (default: the coordinator's)")
      ->check(CLI::Range(0, 1000));
  sub->add_option("--resources", submit.resources,
                  "what the task holds on its worker while it runs, e.g. gpu=1,memory=4G (the worker must offer "
                  "them: shoal-worker --resources)");
  sub->add_option("--label", submit.labels, "a label its worker must have: zone=a, or disk!=hdd; repeatable");
  sub->add_option("--prefer", submit.prefer, "a label its worker should have where one with it has room; repeatable");
  sub->add_flag("--pack", submit.pack, "fill the busiest worker that fits first (default: the least loaded)");
  sub->add_option("--priority", submit.priority, "higher starts first among the queued tasks (default 0)");
  sub->add_option("--retry-on", submit.retry.on,
                  "run it again when it fails with this exception type (ValueError, my::Flaky, or * for any); "
                  "repeatable");
  sub->add_option("--retry-attempts", submit.retry.attempts, "with --retry-on: runs after the first, at most")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  sub->add_option("--retry-backoff", submit.retry_backoff,
                  "with --retry-on: seconds before the first retry, doubling after each (default 0.1, at most 60 "
                  "between runs)")
      ->check(seconds(true));

  std::uint64_t result_id = 0;
  std::optional<double> result_timeout;
  auto* res = app.add_subcommand("result", "wait for a task's result and print it as JSON");
  res->add_option("id", result_id, "the task id `shoal submit` printed")->required();
  res->add_option("--timeout", result_timeout, "seconds to wait (exit 4 when it runs out)")->check(seconds(false));
  std::string result_output;
  res->add_option("--output,-o", result_output,
                  "write the result to this file instead: a Bytes or string result as its raw bytes, anything "
                  "else as JSON (never through a symlink)");

  std::optional<std::uint64_t> status_id;
  auto* st = app.add_subcommand("status", "the cluster's counts, or one task's state");
  st->add_option("id", status_id, "a task id");

  std::uint64_t cancel_id = 0;
  bool cancel_force = false;
  auto* can = app.add_subcommand("cancel", "cancel a task");
  can->add_option("id", cancel_id, "the task id")->required();
  can->add_flag("--force", cancel_force,
                "a plain task that ignores its stop request is stopped by replacing its worker process "
                "(the worker exits after the coordinator's cancel grace; its supervisor restarts it)");

  app.add_subcommand("workers", "list the connected workers");

  std::string tasks_state;
  std::uint32_t tasks_limit = 0;
  auto* ts = app.add_subcommand("tasks", "list the tasks the coordinator knows");
  ts->add_option("--state", tasks_state, "only tasks in this state")
      ->check(CLI::IsMember({"waiting", "queued", "assigned", "running", "done", "failed", "cancelled"}));
  ts->add_option("--limit", tasks_limit, "at most this many (0: all)");

  RunOptions run;
  auto* rn = app.add_subcommand("run", "run a job file (docs/jobs.md): shoal run JOB.toml");
  rn->add_option("job", run.file, "the job file")->required();
  rn->add_option("-w,--workers", run.workers, "workers of the embedded cluster (when none is running)")
      ->capture_default_str();
  rn->add_option("-t,--threads", run.threads, "threads per embedded worker (default: cores / workers)");
  rn->add_option("-l,--load", run.load, "a task library for the embedded workers; repeatable");
  rn->add_option("--timeline", run.timeline,
                 "write the job's task attempts to this file as a trace (Perfetto, chrome://tracing) once it ends");

  app.add_subcommand("dashboard", "print the URL of the coordinator's dashboard (its /metrics beside it)");
  LogsOptions logs;
  auto* lg = app.add_subcommand("logs", "what a task printed (shoal logs TASK), or a worker's log (--worker NAME)");
  lg->add_option("task", logs.task, "the task id");
  lg->add_option("--worker", logs.worker, "a worker's log instead (one `shoal start` started here)");
  lg->add_flag("-f,--follow", logs.follow, "go on printing as it prints, until it ends (a worker's log: until Ctrl-C)");
  ReplayOptions replay;
  auto* rp = app.add_subcommand(
      "replay",
      "run a failed task again here, with the arguments it had (shoal replay TASK): prints its result or the "
      "same exception; exit 0 it returned, 1 it raised, 2 it cannot be replayed, 128+N it crashed with signal N");
  rp->add_option("task", replay.task, "the failed task's id (the coordinator keeps the newest: --keep-failed)");
  rp->add_option("-l,--load", replay.load,
                 "a task library to load (default: those its worker had loaded, where they exist here); repeatable")
      ->check(CLI::ExistingFile);
  rp->add_option("--debugger", replay.debugger, "run it under this debugger, stopped at the function")
      ->check(CLI::IsMember({"gdb"}));
  rp->add_option("--save", replay.save,
                 "write a self-contained bundle of the task (function, arguments, where it ran) to this file "
                 "instead of running it (mode 0600, never through a symlink)");
  rp->add_option("--bundle", replay.bundle, "run the task of a bundle --save wrote, instead of asking the coordinator");
  TopOptions top;
  auto* tp = app.add_subcommand("top", "a live view of the cluster: workers, queue, rate, failures (Ctrl-C to quit)");
  tp->add_option("--interval", top.interval, "seconds between refreshes")->check(seconds(false))->capture_default_str();
  tp->add_option("-n,--iterations", top.iterations, "refresh this many times, then exit (0: until Ctrl-C)")
      ->capture_default_str();
  TimelineOptions timeline;
  auto* tl = app.add_subcommand("timeline",
                                "write the tasks' attempts as a trace to open in Perfetto or chrome://tracing: "
                                "shoal timeline -o trace.json");
  tl->add_option("-o,--output", timeline.output, "the trace file to write (never through a symlink)")->required();
  tl->add_option("--job", timeline.job, "only the tasks of this job (as `shoal run` named it)");
  tl->add_option("--since", timeline.since, "only attempts that ended in the last DURATION (90s, 15m, 2h, 1d)");

  std::string cert_dir;
  std::vector<std::string> cert_hosts;
  int cert_days = 825;
  auto* cert = app.add_subcommand("cert", "make certificates for TLS between hosts");
  cert->require_subcommand(1);
  auto* cert_init = cert->add_subcommand(
      "init", "make a CA, a coordinator certificate, worker and client certificates and a token in DIR");
  cert_init->add_option("dir", cert_dir, "where to write them (made private, 0700)")->required();
  cert_init->add_option("--host", cert_hosts,
                        "a name or address the coordinator is reached at; repeatable (localhost, 127.0.0.1, ::1 "
                        "and this host's name are always in)");
  cert_init->add_option("--days", cert_days, "how long the certificates are valid")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();

  for (auto* verb : app.get_subcommands([](CLI::App*) { return true; }))
    verb->footer("Global options (before or after the verb): -a,--address ADDR, --json, --state-dir DIR, --token-file F,\n"
                 "--tls-ca F, --tls-cert F, --tls-key F.\n"
                 "Exit codes: 0 ok, 1 a task failed, 2 usage error, 3 no coordinator, 4 timeout, 130 interrupted.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.empty() || what == "A subcommand is required") what = "which verb? " + std::string(e.what());
    std::cerr << "shoal: " << what << " (see `shoal --help`)\n";
    return exit_usage;
  }

  set_token_file(token_file);
  set_tls(tls);
  try {
    if (cert_init->parsed()) return cmd_cert_init(g, cert_dir, cert_hosts, cert_days);
    if (s->parsed()) return cmd_start(g, start);
    if (app.got_subcommand("stop")) return cmd_stop(g);
    if (app.got_subcommand("__supervise")) return cmd_supervise(g);
    if (sub->parsed()) return cmd_submit(g, submit);
    if (res->parsed()) return cmd_result(g, result_id, result_timeout, result_output);
    if (st->parsed()) return cmd_status(g, status_id);
    if (can->parsed()) return cmd_cancel(g, cancel_id, cancel_force);
    if (app.got_subcommand("workers")) return cmd_workers(g);
    if (ts->parsed()) return cmd_tasks(g, tasks_state, tasks_limit);
    if (rn->parsed()) return cmd_run(g, run);
    if (app.got_subcommand("dashboard")) return cmd_dashboard(g);
    if (tp->parsed()) return cmd_top(g, top);
    if (lg->parsed()) return cmd_logs(g, logs);
    if (tl->parsed()) return cmd_timeline(g, timeline);
    if (rp->parsed()) return cmd_replay(g, replay);
  } catch (const CliError& e) {
    std::cerr << "shoal: " << e.what() << "\n";
    return e.code();
  } catch (const ConnectionError& e) {
    std::cerr << "shoal: lost the coordinator: " << e.what() << " (is it still running? `shoal status`)\n";
    return exit_no_coordinator;
  } catch (const TimeoutError& e) {
    std::cerr << "shoal: " << e.what() << "\n";
    return exit_timeout;
  } catch (const std::exception& e) {
    std::cerr << "shoal: " << e.what() << "\n";
    return exit_task_failed;
  }
  return exit_usage;
}

}  // namespace shoal::cli
