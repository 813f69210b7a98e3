// shoal replay: run a failed task again on this machine (docs/replay.md).

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "json_bridge.hpp"
#include "shoal/codec/schema.hpp"
#include "shoal/remote/map.hpp"
#include "shoal/remote/replay.hpp"

extern char** environ;

namespace shoal::cli {

namespace {

using namespace std::chrono_literals;

std::string signal_text(int sig) {
  const char* d = ::strsignal(sig);
  return "signal " + std::to_string(sig) + (d ? std::string(" (") + d + ")" : std::string());
}

// A private directory for the bundle and the outcome, removed on the way out.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/shoal-replay-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw CliError(exit_task_failed, "replay: cannot make a directory in " + tmpl);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Runs argv with `env` added to this process's environment, signals unblocked (its
// stdout on our stderr when `quiet_stdout`: --json owns stdout); returns its wait status.
// A Ctrl-C meanwhile is the child's (gdb interrupts the task): this process waits on.
int spawn_and_wait(const std::vector<std::string>& argv, const std::vector<std::string>& env, bool quiet_stdout) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (quiet_stdout) posix_spawn_file_actions_adddup2(&fa, 2, 1);
  interrupts().arm(std::make_shared<Wakeup>());  // not _Exit(130) on Ctrl-C while it runs
  pid_t pid = 0;
  // An absolute program runs as named, never looked up in PATH.
  int rc = argv[0].starts_with("/") ? ::posix_spawn(&pid, args[0], &fa, &attr, args.data(), envp.data())
                                    : ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw CliError(exit_usage, "replay: cannot run " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw CliError(exit_task_failed, std::string("replay: waitpid: ") + std::strerror(errno));
  return status;
}

std::optional<remote::MapOutcome> read_outcome(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), {});
  try {
    return codec::decode<remote::MapOutcome>(Bytes::copy(text));
  } catch (const std::exception& e) {
    throw CliError(exit_usage, std::string("replay: the task's outcome cannot be read: ") + e.what());
  }
}

// The worker program `b` ran in, if it can run the task here: absolute, present, and not
// replaced since (/proc/self/exe says " (deleted)" then).
std::string program_of(const remote::ReplayBundle& b) {
  const auto& exe = b.executable;
  std::error_code ec;
  if (exe.empty() || !exe.starts_with("/") || exe.ends_with(" (deleted)") || !std::filesystem::is_regular_file(exe, ec))
    throw CliError(exit_usage, "replay: " + b.function + " was built into the program its worker ran (" +
                                   (exe.empty() ? std::string("unknown") : exe) +
                                   "), which is not here: give the task library that has it with --load PATH");
  return exe;
}

nlohmann::json value_json(const remote::ReplayBundle& b, const Bytes& value) {
  if (b.signature.empty() || b.method == "map") return {{"bytes", value.size()}};
  try {
    return remote::result_to_json(codec::parse_signature(b.signature), value);
  } catch (const std::exception&) {
    return {{"bytes", value.size()}};
  }
}

}  // namespace

int cmd_replay(const Globals& g, const ReplayOptions& o) {
  if (!o.task && o.bundle.empty()) throw CliError(exit_usage, "replay: which task? shoal replay TASK (or --bundle FILE)");
  if (o.task && !o.bundle.empty()) throw CliError(exit_usage, "replay: a task id or --bundle FILE, not both");
  remote::ReplayBundle b;
  if (!o.bundle.empty()) {
    try {
      b = remote::load_bundle(o.bundle);
    } catch (const std::exception& e) {
      throw CliError(exit_usage, std::string("replay: ") + e.what());
    }
  } else {
    auto client = connect(resolve_address(g));
    try {
      b = client->replay_bundle(o.task);
    } catch (const LookupError& e) {
      throw CliError(exit_usage, std::string("replay: nothing to replay: ") + e.what());
    }
  }
  if (!o.save.empty()) {
    try {
      remote::save_bundle(b, o.save);
    } catch (const std::exception& e) {
      throw CliError(exit_usage, std::string("replay: ") + e.what());
    }
    if (g.json)
      std::cout << nlohmann::json{{"task", b.task_id}, {"saved", o.save}}.dump() << "\n";
    else
      std::cerr << "saved task " << b.task_id << " (" << b.function << ") to " << o.save
                << ": run it anywhere its library is with shoal replay --bundle " << o.save << "\n";
    return exit_ok;
  }
  if (!g.json) std::cerr << remote::describe_bundle(b) << "\nreplaying it here...\n";

  // Which program: shoal-worker with the task libraries (given, else those its worker
  // had), or, for functions built into the worker's own program (a LocalCluster
  // program), that program in its replay role.
  TempDir dir;
  std::string bundle_path = dir.path + "/task.replay", out_path = dir.path + "/outcome";
  remote::save_bundle(b, bundle_path);
  std::vector<std::string> argv, env;
  // shoal-worker with the libraries (its own functions too), unless the task's worker was
  // a program with its functions built in (a LocalCluster program): that program, in its
  // replay role.
  bool own_program = o.load.empty() && b.libraries.empty() && !b.executable.empty() &&
                     std::filesystem::path(b.executable).filename() != "shoal-worker";
  if (!own_program) {
    argv = {sibling_program("shoal-worker"), "--replay", bundle_path, "--replay-out", out_path};
    for (const auto& l : o.load) argv.insert(argv.end(), {"--load", l});
  } else {
    argv = {program_of(b)};
    env = {"SHOAL_CHILD=replay", "SHOAL_REPLAY_BUNDLE=" + bundle_path, "SHOAL_REPLAY_OUT=" + out_path};
  }
  if (!g.json) {
    std::cerr << "running:";
    for (const auto& e : env) std::cerr << " " << e;
    for (const auto& a : argv) std::cerr << " " << a;
    std::cerr << "\n";
  }
  if (!o.debugger.empty()) {
    std::vector<std::string> gdb = {"gdb",  "-q",  "-ex", "set breakpoint pending on", "-ex", "break shoal_replay_breakpoint",
                                     "-ex", "run", "-ex", "tbreak **(void **)&shoal_replay_function", "-ex", "continue", "--args"};
    argv.insert(argv.begin(), gdb.begin(), gdb.end());
  }
  int status = spawn_and_wait(argv, env, g.json);

  nlohmann::json out{{"task", b.task_id}, {"function", b.function}};
  out["original"] = {{"error_type", b.error_type}, {"error_message", b.error_message}, {"signal", b.crash_signal},
                     {"worker", b.worker},         {"host", b.host},                   {"pid", b.pid}};
  int code = exit_ok;
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    out["outcome"] = "crashed";
    out["signal"] = sig;
    code = 128 + sig;
    if (!g.json)
      std::cerr << "the replay crashed: " << signal_text(sig)
                << (b.crash_signal == sig      ? " (its worker died of the same)"
                    : b.crash_signal           ? " (its worker died of " + signal_text(b.crash_signal) + ")"
                                               : std::string(" (it did not crash its worker)"))
                << "\n";
  } else if (auto outcome = WEXITSTATUS(status) <= 1 ? read_outcome(out_path) : std::nullopt) {
    if (outcome->error) {
      const auto& e = *outcome->error;
      out["outcome"] = "raised";
      out["error"] = {{"type", e.type_name}, {"message", e.message}};
      code = exit_task_failed;
      if (!g.json) {
        std::cerr << e.type_name << ": " << e.message << "\n";
        bool same = e.type_name == b.error_type && e.message == b.error_message;
        std::cerr << (same ? "(the same as on its worker)" : "(on its worker: " + b.error_type + ": " + b.error_message + ")")
                  << "\n";
      }
    } else {
      out["outcome"] = "returned";
      out["result"] = value_json(b, outcome->value);
      if (!g.json) {
        std::cout << out["result"].dump() << "\n";
        std::cerr << "(it returned here; on its worker it failed with " << b.error_type << ": " << b.error_message << ")\n";
      }
    }
  } else {
    // The child said why on stderr (a library missing, the function absent), or the
    // debugger ended before the task did (killed there, or crashed under it).
    out["outcome"] = "not run";
    code = exit_usage;
    if (!g.json && !o.debugger.empty()) std::cerr << "the task did not run to its end under the debugger\n";
  }
  if (interrupts().interrupted() && WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) code = exit_interrupted;
  if (g.json) std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return code;
}

}  // namespace shoal::cli
