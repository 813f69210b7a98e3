// `shoal start` and `shoal stop`: a coordinator and workers in the background, known by
// the files in the state directory:
//   cluster.json        {"address", "coordinator", "workers": [pid...], "grace"}
//   coordinator.pid     written by the coordinator (--pid-file)
//   worker-N.pid        written here
//   coordinator.out     the coordinator's stdout (its `ready ADDRESS` line)
//   coordinator.log, worker-N.log   their log lines

#include <signal.h>
#include <sys/types.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli_common.hpp"
#include "shoal/cluster/spawn.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/link/private_files.hpp"
#include "shoal/link/tls.hpp"
#include "shoal/remote/link.hpp"

namespace shoal::cli {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// Whether `pid` is a live (not zombie) shoal daemon: the pid may have been reused.
bool is_live_daemon(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  auto stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') return false;
  auto cmdline = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline.find("shoal-") != std::string::npos || cmdline.find("__supervise") != std::string::npos;
}

void remove_state(const fs::path& dir) {
  std::error_code ec;
  fs::remove(dir / "cluster.json", ec);
  fs::remove(dir / "coordinator.pid", ec);
  fs::remove(dir / "coordinator.out", ec);
  fs::remove(dir / "supervisor.json", ec);
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind("worker-", 0) == 0 && e.path().extension() == ".pid") fs::remove(e.path(), ec);
}

/// Signals the pids, waits for them to go until `limit`; returns those still alive.
std::vector<pid_t> wait_gone(std::vector<pid_t> pids, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::erase_if(pids, [](pid_t p) { return !is_live_daemon(p); });
    if (pids.empty() || std::chrono::steady_clock::now() >= deadline) return pids;
    std::this_thread::sleep_for(20ms);
  }
}

void kill_all(std::vector<cluster::Child>& children) {
  for (auto& c : children) {
    try {
      c.kill();
      (void)c.wait(2s);
    } catch (...) {
    }
  }
}

}  // namespace

int cmd_start(const Globals& g, const StartOptions& o) {
  if (o.workers == 0) throw CliError(exit_usage, "start: --workers must be at least 1");
  auto dir = state_dir(g);
  try {
    link::ensure_private_dir(dir.string());
  } catch (const Error& e) {
    throw CliError(exit_usage, std::string("start: ") + e.what());
  }
  if (fs::exists(dir / "cluster.json")) {
    auto state = nlohmann::json::parse(slurp(dir / "cluster.json"), nullptr, false);
    if (!state.is_discarded() && is_live_daemon(state.value("coordinator", 0)))
      throw CliError(exit_task_failed, "a cluster is already running at " + state.value("address", std::string("?")) +
                                           " (state in " + dir.string() + "): stop it with `shoal stop`");
    remove_state(dir);
  }
  std::string listen = !o.listen.empty() ? o.listen : resolve_address(g);
  try {
    (void)remote::parse_address(listen);
  } catch (const std::exception& e) {
    throw CliError(exit_usage, std::string("start: bad --listen address: ") + e.what());
  }
  auto grace = std::to_string(o.grace);
  // A TCP coordinator needs a token: one is made (0600, in the state directory) unless
  // one was given, and the daemons and this command use it.
  std::string token_file = current_token_file();
  if (listen.rfind("tcp://", 0) == 0 && token_file.empty()) {
    token_file = (dir / "token").string();
    link::write_private_file(token_file, link::new_token() + "\n");
    std::cerr << "shoal: made a token for the TCP coordinator in " << token_file
              << ": give it to workers and clients on other hosts (--token-file or SHOAL_TOKEN_FILE)\n";
  }
  if (!token_file.empty()) {
    try {
      (void)link::read_token_file(token_file);
    } catch (const Error& e) {
      throw CliError(exit_usage, std::string("start: ") + e.what());
    }
    set_token_file(token_file);
  }
  // TLS: the coordinator presents --tls-cert; the workers (which dial `listen`) and this
  // command check it against --tls-ca and present the same certificate where the
  // coordinator asks for one (mutual TLS). Only a TCP address uses it.
  auto tls = current_tls();
  bool tcp = listen.rfind("tcp://", 0) == 0;
  if (tcp && tls.enabled()) {
    try {
      (void)link::TlsContext::server(tls);
      (void)link::TlsContext::client(tls);
    } catch (const Error& e) {
      throw CliError(exit_usage, std::string("start: ") + e.what());
    }
  }
  auto tls_args = [&](std::vector<std::string>& argv) {
    if (!tcp || !tls.enabled()) return;
    if (!tls.cert.empty()) argv.insert(argv.end(), {"--tls-cert", tls.cert, "--tls-key", tls.key});
    if (!tls.ca.empty()) argv.insert(argv.end(), {"--tls-ca", tls.ca});
  };

  // A Ctrl-C from here on stops what this command started (exit 130) rather than leave
  // half a cluster behind.
  interrupts().arm(std::make_shared<Wakeup>());
  auto check_interrupt = [&](std::vector<cluster::Child>& started) {
    if (!interrupts().interrupted()) return;
    kill_all(started);
    remove_state(dir);
    throw CliError(exit_interrupted, "interrupted: the daemons started so far were stopped");
  };
  std::vector<cluster::Child> children;
  cluster::SpawnOptions c;
  c.program = sibling_program("shoal-coordinator");
  c.argv = {c.program, "--listen", listen, "--pid-file", (dir / "coordinator.pid").string(), "--grace", grace};
  if (!token_file.empty()) c.argv.insert(c.argv.end(), {"--token-file", token_file});
  if (!o.http.empty() && o.http != "off") {
    c.argv.insert(c.argv.end(), {"--http", o.http});
    if (o.http == StartOptions{}.http) c.argv.push_back("--http-any-port");  // the default: any port when taken
  }
  // Absolute: the coordinator runs in its own session, and a relative path would be read
  // against wherever that is.
  if (!o.journal.empty()) c.argv.insert(c.argv.end(), {"--journal", std::filesystem::absolute(o.journal).string()});
  tls_args(c.argv);
  c.new_session = true;
  c.stdin_path = "/dev/null";
  c.stdout_path = (dir / "coordinator.out").string();
  c.stderr_path = (dir / "coordinator.log").string();
  children.push_back(cluster::spawn(c));

  // Its `ready ADDRESS` line (with a TCP port 0 resolved), within 10 s.
  std::string address;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    auto out = slurp(dir / "coordinator.out");
    if (auto p = out.find("ready "); p != std::string::npos && out.find('\n', p) != std::string::npos) {
      address = out.substr(p + 6, out.find('\n', p) - p - 6);
      break;
    }
    if (!children[0].running())
      throw CliError(exit_task_failed, "the coordinator did not start: " + last_line(dir / "coordinator.log") +
                                           " (log: " + (dir / "coordinator.log").string() + ")");
    check_interrupt(children);
    if (std::chrono::steady_clock::now() >= deadline) {
      kill_all(children);
      throw CliError(exit_timeout, "the coordinator was not ready within 10 s (log: " +
                                       (dir / "coordinator.log").string() + ")");
    }
    std::this_thread::sleep_for(10ms);
  }

  // The workers, under a supervisor (`shoal __supervise`) that restarts any that dies.
  auto loads = worker_loads(o.load, !o.no_examples);
  nlohmann::json spec = {{"grace", o.grace}, {"workers", nlohmann::json::array()}};
  for (unsigned i = 0; i < o.workers; ++i) {
    std::string n = std::to_string(i + 1);
    std::vector<std::string> argv = {sibling_program("shoal-worker"), "-c", address, "--name", "w" + n, "--grace", grace};
    if (o.threads) argv.insert(argv.end(), {"-t", std::to_string(o.threads)});
    if (!token_file.empty()) argv.insert(argv.end(), {"--token-file", token_file});
    tls_args(argv);
    for (const auto& l : loads) argv.insert(argv.end(), {"--load", l});
    spec["workers"].push_back({{"name", "w" + n},
                               {"argv", argv},
                               {"log", (dir / ("worker-" + n + ".log")).string()},
                               {"pid_file", (dir / ("worker-" + n + ".pid")).string()}});
  }
  link::write_private_file(dir / "supervisor.json", spec.dump() + "\n");
  cluster::SpawnOptions sv;
  sv.program = cluster::self_exe();
  sv.argv = {sv.program, "--state-dir", dir.string(), "__supervise"};
  sv.new_session = true;
  sv.stdin_path = "/dev/null";
  sv.stdout_path = sv.stderr_path = (dir / "supervisor.log").string();
  children.push_back(cluster::spawn(sv));
  auto worker_pids = [&] {
    std::vector<pid_t> pids;
    for (unsigned i = 1; i <= o.workers; ++i) {
      auto t = slurp(dir / ("worker-" + std::to_string(i) + ".pid"));
      pids.push_back(t.empty() ? 0 : static_cast<pid_t>(std::stol(t)));
    }
    return pids;
  };
  nlohmann::json state = {{"address", address},
                          {"coordinator", children[0].pid()},
                          {"supervisor", children[1].pid()},
                          {"grace", o.grace}};
  link::write_private_file(dir / "cluster.json", state.dump() + "\n");

  // Every worker registered, within 10 s; else stop what was started and say why.
  try {
    auto client = connect(address);
    deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      auto ws = client->workers().result(5s);
      if (ws.size() >= o.workers) break;
      // A worker that died while starting (the supervisor logs each exit) is reported
      // now, with the last line of its log, rather than restarted in a loop.
      auto sup = slurp(dir / "supervisor.log");
      for (unsigned i = 1; i <= o.workers; ++i)
        if (sup.find("worker w" + std::to_string(i) + " exited") != std::string::npos)
          throw CliError(exit_task_failed, "worker w" + std::to_string(i) + " exited: " +
                                               last_line(dir / ("worker-" + std::to_string(i) + ".log")) + " (log: " +
                                               (dir / ("worker-" + std::to_string(i) + ".log")).string() + ")");
      if (!children[1].running())
        throw CliError(exit_task_failed, "the worker supervisor exited: " + last_line(dir / "supervisor.log"));
      if (interrupts().interrupted())
        throw CliError(exit_interrupted, "interrupted: the daemons started so far were stopped");
      if (std::chrono::steady_clock::now() >= deadline)
        throw CliError(exit_timeout, std::to_string(ws.size()) + " of " + std::to_string(o.workers) +
                                         " workers registered within 10 s (logs in " + dir.string() + ")");
      std::this_thread::sleep_for(20ms);
    }
  } catch (...) {
    children[1].terminate();  // the supervisor stops its workers
    (void)children[1].wait(std::chrono::seconds(static_cast<long>(o.grace)) + 3s);
    for (auto p : worker_pids())
      if (p > 0 && is_live_daemon(p)) ::kill(p, SIGKILL);
    kill_all(children);
    remove_state(dir);
    throw;
  }
  auto started_pids = worker_pids();
  state["workers"] = started_pids;  // as started: the supervisor keeps worker-N.pid current
  link::write_private_file(dir / "cluster.json", state.dump() + "\n");
  // They outlive this command; init reaps them.
  for (auto& ch : children) (void)ch.detach();
  // The coordinator printed where its dashboard is right after its `ready` lines.
  std::string dashboard;
  if (auto out = slurp(dir / "coordinator.out"); out.find("\nhttp ") != std::string::npos) {
    auto p = out.find("\nhttp ") + 6;
    dashboard = out.substr(p, out.find('\n', p) - p);
  }
  if (g.json)
    std::cout << nlohmann::json{{"address", address},
                                {"dashboard", dashboard},
                                {"state_dir", dir.string()},
                                {"coordinator", state["coordinator"]},
                                {"supervisor", state["supervisor"]},
                                {"workers", started_pids}}
                     .dump()
              << "\n";
  else
    std::cout << address << "\n";
  std::cerr << "started a coordinator and " << o.workers << " workers (logs in " << dir.string()
            << "); stop them with `shoal stop`\n";
  if (!dashboard.empty()) std::cerr << "dashboard: " << dashboard << " (metrics: " << dashboard << "/metrics)\n";
  return exit_ok;
}

int cmd_stop(const Globals& g) {
  auto dir = state_dir(g);
  auto text = slurp(dir / "cluster.json");
  auto state = nlohmann::json::parse(text, nullptr, false);
  if (text.empty() || state.is_discarded())
    throw CliError(exit_no_coordinator, "no cluster running (no state in " + dir.string() + "; started with another --state-dir?)");
  // The supervisor stops its workers (no restarts from then on); the coordinator drains.
  // Workers are signalled directly only when their supervisor is gone.
  std::vector<pid_t> pids, workers;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind("worker-", 0) == 0 && e.path().extension() == ".pid") {
      auto t = slurp(e.path());
      if (!t.empty()) workers.push_back(static_cast<pid_t>(std::stol(t)));
    }
  for (const auto& p : state.value("workers", nlohmann::json::array())) workers.push_back(p.get<pid_t>());
  pid_t supervisor = state.value("supervisor", 0);
  bool supervised = supervisor > 0 && is_live_daemon(supervisor);
  if (supervised) pids.push_back(supervisor);
  pids.push_back(state.value("coordinator", 0));
  std::erase_if(pids, [](pid_t p) { return !is_live_daemon(p); });
  std::erase_if(workers, [](pid_t p) { return !is_live_daemon(p); });
  std::sort(workers.begin(), workers.end());
  workers.erase(std::unique(workers.begin(), workers.end()), workers.end());
  if (!supervised) pids.insert(pids.end(), workers.begin(), workers.end());
  if (pids.empty()) {
    remove_state(dir);
    throw CliError(exit_no_coordinator, "no cluster running (its processes are gone; removed the stale state in " +
                                            dir.string() + ")");
  }
  // Together: each drains for `grace`, then exits.
  for (auto p : pids) ::kill(p, SIGTERM);
  if (supervised) pids.insert(pids.end(), workers.begin(), workers.end());  // waited for, not signalled
  auto grace = std::chrono::milliseconds(static_cast<std::int64_t>(state.value("grace", 5.0) * 1000)) + 2s;
  auto killed = wait_gone(pids, grace);
  for (auto p : killed) ::kill(p, SIGKILL);
  auto left = wait_gone(killed, 2s);
  if (!left.empty())
    throw CliError(exit_task_failed, std::to_string(left.size()) + " processes survived SIGKILL (pid " +
                                         std::to_string(left.front()) + "): check `ps` and the state in " + dir.string());
  remove_state(dir);
  if (g.json)
    std::cout << nlohmann::json{{"address", state.value("address", "")}, {"stopped", pids.size()}, {"killed", killed.size()}}
                     .dump()
              << "\n";
  else
    std::cout << "stopped the cluster at " << state.value("address", std::string("?")) << "\n";
  return exit_ok;
}

int cmd_cert_init(const Globals& g, const std::string& dir, const std::vector<std::string>& hosts, int days) {
  std::string written;
  try {
    written = link::init_certificates(dir, hosts, days);
  } catch (const Error& e) {
    throw CliError(exit_usage, std::string("cert init: ") + e.what());
  }
  if (g.json) {
    nlohmann::json files = nlohmann::json::array();
    std::istringstream in(written);
    for (std::string line; std::getline(in, line);) files.push_back(line);
    std::cout << nlohmann::json{{"dir", dir}, {"files", files}}.dump() << "\n";
    return exit_ok;
  }
  std::cout << written;
  auto at = [&](const char* f) { return (fs::path(dir) / f).string(); };
  std::cout << "\nThe coordinator:  shoal-coordinator --listen tcp://0.0.0.0:7000 --token-file " << at("token")
            << " \\\n                    --tls-cert " << at("coordinator.crt") << " --tls-key " << at("coordinator.key")
            << " --tls-ca " << at("ca.crt") << "\n"
            << "Each worker:      shoal-worker -c tcp://HOST:7000 --token-file " << at("token") << " \\\n"
            << "                    --tls-ca " << at("ca.crt") << " --tls-cert " << at("worker.crt") << " --tls-key "
            << at("worker.key") << "\n"
            << "Clients:          shoal -a tcp://HOST:7000 --token-file " << at("token") << " --tls-ca " << at("ca.crt")
            << " \\\n                    --tls-cert " << at("client.crt") << " --tls-key " << at("client.key")
            << " status\n"
            << "Copy ca.crt, the token and each host's certificate and key to it (keys and the token stay 0600);\n"
            << "ca.key signs new certificates: keep it off the cluster.\n";
  return exit_ok;
}

}  // namespace shoal::cli
