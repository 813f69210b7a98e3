// The verbs that watch a cluster: dashboard (where its web page is), top (a live view in
// the terminal), timeline (a Perfetto trace of the tasks' attempts).

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/link/private_files.hpp"
#include "shoal/link/timeline.hpp"

namespace shoal::cli {

using namespace std::chrono_literals;

std::uint64_t parse_duration_ns(const std::string& text) {
  // "90", "90s", "15m", "2h", "1d", "1.5h".
  double value = 0;
  auto* begin = text.data();
  auto* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(begin, end, value);
  std::string unit(rest, end);
  double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : -1;
  if (ec != std::errc() || rest == begin || scale < 0 || !(value >= 0) || value * scale > 1e9)
    throw CliError(exit_usage, "--since " + text + ": expected a duration such as 90s, 15m, 2h or 1d");
  return static_cast<std::uint64_t>(value * scale * 1e9);
}

int cmd_dashboard(const Globals& g) {
  auto client = connect(resolve_address(g));
  auto st = client->status().result(10s);
  if (st.http.empty())
    throw CliError(exit_task_failed, "the coordinator at " + client->address() +
                                         " serves no dashboard: start it with --http 127.0.0.1:8265 (`shoal start` "
                                         "does by default)");
  if (g.json)
    std::cout << nlohmann::json{{"url", st.http}, {"metrics", st.http + "/metrics"}}.dump() << "\n";
  else
    std::cout << st.http << "\n";
  return exit_ok;
}

void write_timeline(Client& client, const std::string& path, std::uint64_t since_ns, const std::string& job) {
  auto attempts = client.attempts(since_ns, job).result(30s);
  try {
    link::write_private_file(path, link::chrome_trace(attempts));
  } catch (const Error& e) {
    throw CliError(exit_task_failed, std::string("timeline: ") + e.what());
  }
  std::cerr << "timeline: " << attempts.size() << " attempt(s) written to " << path
            << " (open it in https://ui.perfetto.dev or chrome://tracing)\n";
}

int cmd_timeline(const Globals& g, const TimelineOptions& o) {
  if (o.output.empty()) throw CliError(exit_usage, "timeline: where to? -o trace.json");
  std::uint64_t since = 0;
  if (!o.since.empty()) {
    auto back = parse_duration_ns(o.since);
    auto now = link::wall_ns();
    since = back < now ? now - back : 0;
  }
  auto client = connect(resolve_address(g));
  write_timeline(*client, o.output, since, o.job);
  return exit_ok;
}

int cmd_top(const Globals& g, const TopOptions& o) {
  auto client = connect(resolve_address(g));
  auto wake = std::make_shared<Wakeup>();
  interrupts().arm(wake);
  bool tty = ::isatty(1) && !g.json;
  std::uint64_t last_ended = 0;
  auto last_at = std::chrono::steady_clock::now();
  bool first = true;
  for (unsigned round = 0; o.iterations == 0 || round < o.iterations; ++round) {
    if (round > 0 && wake->wait_for(std::chrono::milliseconds(static_cast<long>(o.interval * 1000)))) {}
    if (interrupts().interrupted()) break;
    auto st = client->status().result(10s);
    auto failures = client->tasks("failed", 5).result(10s);
    auto now = std::chrono::steady_clock::now();
    auto ended = st.done + st.failed + st.cancelled;
    double secs = std::chrono::duration<double>(now - last_at).count();
    double rate = first || secs <= 0 ? 0 : static_cast<double>(ended - std::min(ended, last_ended)) / secs;
    last_ended = ended;
    last_at = now;
    first = false;
    if (g.json) {
      nlohmann::json ws = nlohmann::json::array();
      for (const auto& w : st.workers)
        ws.push_back({{"name", w.name}, {"capacity", w.capacity}, {"running", w.running}, {"done", w.done}});
      std::cout << nlohmann::json{{"waiting", st.waiting}, {"queued", st.queued},   {"running", st.running},
                                  {"done", st.done},       {"failed", st.failed},   {"cancelled", st.cancelled},
                                  {"rate", rate},          {"workers", ws}}
                       .dump()
                << std::endl;
      continue;
    }
    std::ostringstream s;
    if (tty) s << "\x1b[H\x1b[2J";  // home and clear: one screen, redrawn
    s << "shoal top — " << client->address() << (st.http.empty() ? "" : "   dashboard " + st.http) << "\n\n";
    s << "tasks  waiting " << st.waiting << "  queued " << st.queued << "  running " << st.running << "  done "
      << st.done << "  failed " << st.failed << "  cancelled " << st.cancelled << "\n";
    s << "rate   " << std::fixed << std::setprecision(1) << rate << " tasks/s\n\n";
    s << std::left << std::setw(14) << "WORKER" << std::setw(16) << "HOST" << std::setw(10) << "PID" << std::setw(22)
      << "LOAD" << std::setw(10) << "DONE" << "\n";
    for (const auto& w : st.workers) {
      unsigned cap = std::max(1u, w.capacity);
      unsigned filled = std::min(10u, (std::min(w.running, cap) * 10 + cap - 1) / cap);
      std::string bar = "[" + std::string(filled, '#') + std::string(10 - filled, '.') + "] ";
      s << std::left << std::setw(14) << w.name << std::setw(16) << w.host << std::setw(10) << w.pid << std::setw(22)
        << (bar + std::to_string(w.running) + "/" + std::to_string(w.capacity)) << std::setw(10) << w.done
        << (w.draining ? "draining" : "") << "\n";
    }
    if (st.workers.empty()) s << "(no workers)\n";
    if (!failures.tasks.empty()) {
      s << "\nrecent failures\n";
      for (const auto& t : failures.tasks) {
        auto err = t.error.size() > 90 ? t.error.substr(0, 90) + "..." : t.error;
        s << "  " << t.id << "  " << t.function << "  " << err << "\n";
      }
    }
    if (o.iterations == 0) s << "\n(Ctrl-C to quit)\n";
    std::cout << s.str() << std::flush;
  }
  return exit_ok;
}

namespace {

// A worker's log file, from the cluster `shoal start` made here (its supervisor.json);
// "" when it is not one of those (it may run on another host).
std::filesystem::path worker_log(const Globals& g, const std::string& name) {
  auto spec = nlohmann::json::parse(slurp(state_dir(g) / "supervisor.json"), nullptr, false);
  if (spec.is_object() && spec.contains("workers"))
    for (const auto& w : spec.at("workers"))
      if (w.value("name", std::string()) == name) return w.value("log", std::string());
  return {};
}

// Follows a worker's log through the coordinator (any host), until Ctrl-C or the worker
// goes: what it writes from now on.
int follow_remote_log(const Globals& g, const std::string& name) {
  auto wake = std::make_shared<Wakeup>();
  interrupts().arm(wake);
  auto problem = std::make_shared<std::string>();
  auto mu = std::make_shared<std::mutex>();
  auto client = connect(
      resolve_address(g), {}, "shoal-cli",
      [wake, problem, mu](std::string_view, std::string_view data, std::string_view error) {
        if (!error.empty()) {
          std::lock_guard lock(*mu);
          *problem = error;
          wake->notify();
          return;
        }
        std::cout << data << std::flush;
      });
  client->follow_worker_log(name);
  for (int beat = 0;; ++beat) {
    (void)wake->wait_for(1s);
    if (interrupts().interrupted()) return exit_ok;
    {
      std::lock_guard lock(*mu);
      if (!problem->empty()) {
        bool unknown = problem->rfind("no worker named", 0) == 0;
        throw CliError(unknown ? exit_usage : exit_task_failed, "logs --worker: " + *problem);
      }
    }
    // Nothing says a lost coordinator but a request: ask every few seconds (exit 3).
    if (beat % 3 == 2) (void)client->status().result(10s);
  }
}

int follow_file(const std::filesystem::path& path, bool follow) {
  auto wake = std::make_shared<Wakeup>();
  if (follow) interrupts().arm(wake);
  std::uintmax_t at = 0;
  ino_t inode = 0;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
      throw CliError(exit_task_failed, "logs: cannot read " + path.string() + ": " + std::strerror(errno));
    auto size = static_cast<std::uintmax_t>(st.st_size);
    // Another file there (rotated), or this one cut short: from its start.
    if (st.st_ino != inode || size < at) at = 0;
    inode = st.st_ino;
    if (size > at) {
      std::ifstream in(path, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(at));
      while (at < size && in) {  // in pieces: a log of gigabytes is never in memory at once
        in.read(buf.data(), static_cast<std::streamsize>(std::min<std::uintmax_t>(buf.size(), size - at)));
        auto got = static_cast<std::size_t>(in.gcount());
        if (got == 0) break;
        std::cout.write(buf.data(), static_cast<std::streamsize>(got));
        at += got;
      }
      std::cout << std::flush;
    }
    if (!follow) return exit_ok;
    (void)wake->wait_for(200ms);
    if (interrupts().interrupted()) return exit_ok;
  }
}

}  // namespace

int cmd_logs(const Globals& g, const LogsOptions& o) {
  if (!o.worker.empty()) {
    if (o.task) throw CliError(exit_usage, "logs: a task id or --worker NAME, not both");
    if (auto file = worker_log(g, o.worker); !file.empty()) return follow_file(file, o.follow);
    // Not one `shoal start` started here: through the coordinator, from now on.
    if (!o.follow)
      throw CliError(exit_usage, "logs --worker " + o.worker +
                                     ": not a worker `shoal start` started here; its log file is on its host "
                                     "(-f follows what it writes from now on, through the coordinator)");
    return follow_remote_log(g, o.worker);
  }
  if (!o.task) throw CliError(exit_usage, "logs: which task? shoal logs TASK (or --worker NAME)");
  if (!o.follow) {
    auto client = connect(resolve_address(g));
    TaskInfo t;
    try {
      t = client->logs(o.task).result(10s);
    } catch (const ValueError& e) {
      throw CliError(exit_usage, std::string("logs: ") + e.what());
    }
    if (g.json) {
      std::cout << nlohmann::json{{"id", t.id}, {"state", t.state}, {"stdout", t.stdout_text}, {"stderr", t.stderr_text}}
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    } else {
      std::cout << t.stdout_text << std::flush;
      std::cerr << t.stderr_text << std::flush;
    }
    return exit_ok;
  }
  // --follow: what it printed so far, then what it prints, until it ends (or Ctrl-C).
  auto wake = std::make_shared<Wakeup>();
  interrupts().arm(wake);
  auto client = connect(resolve_address(g), [](std::uint64_t, int stream, std::string_view data) {
    (stream == 2 ? std::cerr : std::cout) << data << std::flush;
  });
  auto f = client->subscribe(o.task);
  f.add_done_callback([wake](const Future<Bytes>&) { wake->notify(); });
  while (!f.done() && !interrupts().interrupted()) (void)wake->wait_for(1s);
  if (f.done() && f.exception()) {
    try {
      std::rethrow_exception(f.exception());
    } catch (const ConnectionError&) {
      throw;  // the coordinator went away: exit 3, not a quiet end
    } catch (const ValueError& e) {
      if (std::string_view(e.what()).find(link::kUnknownTask) != std::string_view::npos)
        throw CliError(exit_usage, std::string("logs: ") + e.what());
    } catch (...) {
      // The task's own failure or cancellation: its output was the point, and it ended.
    }
  }
  return exit_ok;
}

}  // namespace shoal::cli
