#pragma once
/// \file
/// The `shoal` command line: verbs start, stop, submit, result, status, cancel, workers,
/// tasks and run (docs/cli.md). main.cpp calls run_main(); the verbs live in
/// commands.cpp (the client verbs), commands_daemons.cpp (start, stop) and
/// commands_run.cpp (run), sharing what cli_common.hpp declares.
///
///     int main(int argc, char** argv) { return shoal::cli::run_main(argc, argv); }

namespace shoal::cli {

/// The exit codes every verb uses.
enum ExitCode : int {
  exit_ok = 0,              ///< success
  exit_task_failed = 1,     ///< a task failed (or was cancelled), or another runtime error
  exit_usage = 2,           ///< a bad command line or argument
  exit_no_coordinator = 3,  ///< no coordinator reachable (or, for stop, no cluster running)
  exit_timeout = 4,         ///< a wait (--timeout) or a task's own timeout ran out
  exit_interrupted = 130,   ///< Ctrl-C (SIGINT) or SIGTERM: the command's tasks were cancelled
};

/// Parses the command line, runs the verb and returns the exit code. Errors are printed
/// on stderr as one line that says what to do next.
int run_main(int argc, char** argv);

}  // namespace shoal::cli
