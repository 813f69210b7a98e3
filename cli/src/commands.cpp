// The `shoal` client verbs: submit, result, status, cancel, workers and tasks. The flags:
// cli_main.cpp; start/stop: commands_daemons.cpp; run: commands_run.cpp.

#include "commands.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>

#include <cstdio>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>

#include "cli_common.hpp"
#include "shoal/link/flags.hpp"
#include "shoal/link/placement.hpp"
#include "shoal/proto/frame.hpp"
#include "shoal/remote/link.hpp"

namespace shoal::cli {

namespace {

using namespace std::chrono_literals;

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000.0 + 0.5));
}

/// The name of worker `id`, from a workers() list ("" when unknown).
std::string worker_name(const std::vector<WorkerInfo>& ws, std::uint64_t id) {
  for (const auto& w : ws)
    if (w.id == id) return w.name;
  return id ? "#" + std::to_string(id) : "";
}

nlohmann::json task_json(const TaskInfo& t, const std::vector<WorkerInfo>& ws) {
  nlohmann::json j = {{"id", t.id},           {"function", t.function}, {"state", t.state},
                      {"attempt", t.attempt}, {"worker", worker_name(ws, t.worker)}};
  if (!t.error.empty()) j["error"] = t.error;
  if (!t.note.empty()) j["note"] = t.note;
  if (t.submitted_ns) j["submitted_ns"] = t.submitted_ns;
  if (t.finished_ns) j["finished_ns"] = t.finished_ns;
  return j;
}

nlohmann::json worker_json(const WorkerInfo& w) {
  return {{"id", w.id},           {"name", w.name},         {"host", w.host},         {"pid", w.pid},
          {"capacity", w.capacity}, {"running", w.running}, {"done", w.done},         {"actors", w.actors},
          {"functions", w.functions}, {"draining", w.draining}, {"resources", w.resources},
          {"used", w.used},           {"labels", w.labels}};
}

/// "gpu 1/2, licence 0/2, cpu 0/8, memory 0/16G": in use of offered, the resources tasks
/// hold first.
std::string resources_line(const WorkerInfo& w) {
  std::string busy, idle;
  for (const auto& [name, total] : w.resources) {
    auto it = w.used.find(name);
    double used = it == w.used.end() ? 0 : it->second;
    auto part = name + " " + link::format_amount(name, used) + "/" + link::format_amount(name, total);
    auto& to = used > 0 ? busy : idle;
    to += (to.empty() ? "" : ", ") + part;
  }
  return busy.empty() ? idle : idle.empty() ? busy : busy + ", " + idle;
}

/// The status of task `id`; CliError(1) when the coordinator does not know it.
TaskInfo task_status(Client& client, std::uint64_t id) {
  auto st = client.status(id).result(10s);
  for (const auto& t : st.tasks)
    if (t.id == id && t.state != "unknown") return t;
  throw CliError(exit_task_failed, "no task " + std::to_string(id) +
                                       " at this coordinator (detached results are kept for --result-ttl, "
                                       "1 h by default): list them with `shoal tasks`");
}

/// The signature of `function` from the catalog, or "" when no live worker has it.
std::string signature_of(Client& client, const std::string& function) {
  for (const auto& e : client.catalog())
    if (e.name == function) return e.signature;
  return {};
}

/// Waits for `f` with Ctrl-C armed: the value, or an exit code (4 on `timeout`, 130 when
/// interrupted, after cancelling task `id`).
struct Waited {
  std::optional<Bytes> value;
  std::exception_ptr error;
  int code = exit_ok;
};
Waited wait_result(Client& client, Future<Bytes>& f, std::uint64_t id, std::optional<std::chrono::milliseconds> timeout,
                   bool cancel_on_interrupt) {
  // Shared: the callback may run after this returns (on a timeout or Ctrl-C).
  auto wake = std::make_shared<Wakeup>();
  interrupts().arm(wake);
  f.add_done_callback([wake](const Future<Bytes>&) { wake->notify(); });
  auto deadline = timeout ? std::optional(std::chrono::steady_clock::now() + *timeout) : std::nullopt;
  Waited w;
  while (!f.done()) {
    if (interrupts().interrupted()) {
      if (cancel_on_interrupt) {
        client.cancel(id);
        // Bounded: the coordinator answers with the cancellation (or the result).
        settle(f, 2s);
      }
      w.code = exit_interrupted;
      return w;
    }
    auto step = 100ms;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        w.code = exit_timeout;
        return w;
      }
      step = std::min(step, left);
    }
    wake->wait_for(step);
  }
  if (auto e = error_of(f)) {
    w.error = e;
    w.code = exit_code_of(e);
  } else {
    w.value = f.result();
  }
  return w;
}

/// Writes a result to `path`: a Bytes or string result as its raw bytes, anything else as
/// its JSON and a newline. Created 0644 (as the umask allows), never through a symlink.
void write_result_file(const std::string& path, const std::string& signature, const Bytes& value) {
  std::string text;
  codec::TypeDesc::Kind kind = codec::TypeDesc::Kind::named;
  if (!signature.empty()) try {
      kind = codec::parse_signature(signature).result.kind;
    } catch (const std::exception&) {
    }
  if (kind == codec::TypeDesc::Kind::bytes)
    text = codec::decode<Bytes>(value).to_string();
  else if (kind == codec::TypeDesc::Kind::string)
    text = codec::decode<std::string>(value);
  else
    text = decode_result(signature, value).dump() + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    throw CliError(exit_task_failed, "cannot write the result to " + path + ": " + std::strerror(errno) +
                                         (errno == ELOOP ? " (a symlink: give the file itself)" : ""));
  std::size_t at = 0;
  while (at < text.size()) {
    auto n = ::write(fd, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      throw CliError(exit_task_failed, "cannot write the result to " + path + ": " + std::strerror(e));
    }
    at += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0)
    throw CliError(exit_task_failed, "cannot write the result to " + path + ": " + std::strerror(errno));
  std::cerr << "wrote " << text.size() << " bytes to " << path << "\n";
}

/// Prints a waited-for result of task `id` of `function` (or writes it to `output`);
/// returns the exit code.
int report_result(Client& client, const Globals& g, std::uint64_t id, const std::string& function, Waited& w,
                  std::optional<double> timeout, const std::string& output = {}) {
  if (w.code == exit_interrupted) {
    std::cerr << "interrupted: task " << id << " cancelled\n";
    return w.code;
  }
  if (!w.value && !w.error) {
    std::ostringstream s;
    s << "task " << id << " not done after " << *timeout << " s: wait longer with `shoal result " << id
      << " --timeout S`, or cancel it with `shoal cancel " << id << "`";
    if (g.json) std::cout << nlohmann::json{{"id", id}, {"state", "pending"}, {"error", "timeout"}}.dump() << "\n";
    std::cerr << s.str() << "\n";
    return exit_timeout;
  }
  if (w.error && w.code == exit_no_coordinator) {
    // Not a task failure: its outcome is unknown here.
    auto msg = message_of(w.error);
    if (g.json) std::cout << nlohmann::json{{"id", id}, {"state", "unknown"}, {"error", msg}}.dump() << "\n";
    std::cerr << "shoal: " << msg << "; task " << id << " (" << function
              << ") may still run there: ask `shoal result " << id << "` once the coordinator is back\n";
    return w.code;
  }
  if (w.error) {
    auto msg = message_of(w.error);
    if (g.json) std::cout << nlohmann::json{{"id", id}, {"state", "failed"}, {"error", msg}}.dump() << "\n";
    std::cerr << "task " << id << " (" << function << ") failed: " << msg << "\n";
    return w.code;
  }
  if (!output.empty()) {
    write_result_file(output, signature_of(client, function), *w.value);
    if (g.json) std::cout << nlohmann::json{{"id", id}, {"state", "done"}, {"output", output}}.dump() << "\n";
    return exit_ok;
  }
  auto value = decode_result(signature_of(client, function), *w.value);
  if (g.json)
    std::cout << nlohmann::json{{"id", id}, {"state", "done"}, {"result", value}}.dump() << "\n";
  else
    std::cout << value.dump() << "\n";
  return exit_ok;
}

}  // namespace

int cmd_submit(const Globals& g, const SubmitOptions& o) {
  // The arguments first: a usage error needs no coordinator.
  nlohmann::json args = nlohmann::json::array();
  std::string function = o.function;
  if (o.exec) {
    if (o.function.empty()) throw CliError(exit_usage, "submit --exec: give the command after `--`: shoal submit --exec -- CMD ARG...");
    nlohmann::json argv = nlohmann::json::array({o.function});
    for (const auto& a : o.args) argv.push_back(a);
    args.push_back(std::move(argv));
    function = "shoal.exec";
  } else {
    if (function.empty()) throw CliError(exit_usage, "submit: which function? shoal submit FN [ARG]... (see `shoal workers` or --help)");
    for (std::size_t i = 0; i < o.args.size(); ++i) {
      try {
        args.push_back(nlohmann::json::parse(o.args[i]));
      } catch (const nlohmann::json::exception&) {
        throw CliError(exit_usage, "argument " + std::to_string(i + 1) + " of " + function + " is not JSON: " + o.args[i] +
                                       " (quote strings for the shell: '\"text\"')");
      }
    }
  }
  // shoal.exec streams the command's output as it comes: on ours at once, or, with --json,
  // gathered for the one JSON line (at most 4 MiB a stream: the worker caps it).
  struct Streamed {
    std::mutex mu;
    std::string out, err;
  };
  auto streamed = std::make_shared<Streamed>();
  decltype(ClientOptions::on_output) on_output;
  if (o.exec)
    on_output = [streamed, json = g.json](std::uint64_t, int stream, std::string_view data) {
      if (json) {
        std::lock_guard lock(streamed->mu);
        (stream == 2 ? streamed->err : streamed->out).append(data);
        return;
      }
      std::FILE* f = stream == 2 ? stderr : stdout;
      std::fwrite(data.data(), 1, data.size(), f);
      std::fflush(f);
    };
  auto client = connect(resolve_address(g), std::move(on_output));
  auto entry = find_function(*client, function);
  RawCall call;
  call.function = entry.name;
  call.signature_hash = entry.signature_hash;
  call.args = encode_args(entry, args);
  if (o.timeout) call.options.timeout = seconds_to_ms(*o.timeout);
  call.options.retries = o.retries;
  try {
    call.options.resources = link::parse_resources(o.resources);
    call.options.labels = {o.labels, o.prefer};
    call.options.strategy = o.pack ? Strategy::pack : Strategy::spread;
    call.options.priority = o.priority;
    link::check_placement(call.options.placement());
    call.options.retry = o.retry;
    if (o.retry_backoff) {
      call.options.retry.backoff = seconds_to_ms(*o.retry_backoff);
      call.options.retry.max_backoff = std::max(call.options.retry.max_backoff, call.options.retry.backoff);
    }
    if (!o.retry.on.empty()) link::check_retry(call.options.retry);
  } catch (const ValueError& e) {
    throw CliError(exit_usage, std::string("submit: ") + e.what());
  }
  bool wait = o.wait || o.exec;
  call.options.detached = !wait;
  auto task = client->submit_raw(std::move(call));

  if (!wait) {
    // With a journal the id printed is durable: the coordinator says so first (a submit
    // it answers at once, refused or failed, is never journaled: its result shows it).
    if (client->journaled()) {
      auto deadline = std::chrono::steady_clock::now() + 30s;
      while (!task.result.done() && !client->wait_accepted(task.id, 20ms))
        if (std::chrono::steady_clock::now() > deadline)
          throw CliError(exit_no_coordinator, "the coordinator did not confirm task " + std::to_string(task.id) +
                                                  " as journaled within 30 s: it may not be kept if the coordinator dies");
    }
    if (g.json)
      std::cout << nlohmann::json{{"id", task.id}, {"function", entry.name}}.dump() << "\n";
    else
      std::cout << task.id << "\n";
    // Sends the submit before the future goes (a detached task outlives this client);
    // the future then fails with ConnectionError, which is expected here.
    client->close();
    if (task.result.done()) (void)error_of(task.result);
    return exit_ok;
  }
  auto w = wait_result(*client, task.result, task.id, std::nullopt, true);
  if (!o.exec || !w.value) return report_result(*client, g, task.id, entry.name, w, std::nullopt);
  // shoal.exec: the command's output on ours, and its exit code as ours (as ssh does).
  auto r = decode_result(entry.signature, *w.value);
  int code = r.at(0).get<int>();
  // What was not streamed: the note of what was dropped (or, from a worker that does not
  // stream, all of it). The streamed part came before the result.
  std::string out = r.at(1).get<std::string>(), err = r.at(2).get<std::string>();
  if (g.json) {
    client->close();  // no more output can come
    std::lock_guard lock(streamed->mu);
    out = streamed->out + out;
    err = streamed->err + err;
    std::cout << nlohmann::json{{"id", task.id}, {"exit_code", code}, {"stdout", out}, {"stderr", err}}.dump() << "\n";
    return exit_ok;
  }
  std::cout << out << std::flush;
  std::cerr << err << std::flush;
  return code < 0 ? 128 - code : code;
}

int cmd_result(const Globals& g, std::uint64_t id, std::optional<double> timeout, const std::string& output) {
  auto client = connect(resolve_address(g));
  auto info = task_status(*client, id);
  auto f = client->subscribe(id);
  std::optional<std::chrono::milliseconds> limit;
  if (timeout) limit = seconds_to_ms(*timeout);
  // Ctrl-C stops waiting; the task was submitted elsewhere (detached), so it stays.
  auto w = wait_result(*client, f, id, limit, false);
  return report_result(*client, g, id, info.function, w, timeout, output);
}

int cmd_status(const Globals& g, std::optional<std::uint64_t> id) {
  auto client = connect(resolve_address(g));
  auto workers = client->workers().result(10s);
  if (id) {
    auto t = task_status(*client, *id);
    if (g.json) {
      std::cout << task_json(t, workers).dump() << "\n";
    } else {
      std::cout << "task " << t.id << " " << t.function << ": " << t.state;
      if (t.worker) std::cout << " on worker " << worker_name(workers, t.worker);
      if (t.attempt > 1) std::cout << " (attempt " << t.attempt << ")";
      if (!t.error.empty()) std::cout << ": " << t.error;
      if (!t.note.empty()) std::cout << " (" << t.note << ")";
      std::cout << "\n";
    }
    return t.state == "failed" ? exit_task_failed : exit_ok;
  }
  auto st = client->status().result(10s);
  std::uint64_t threads = 0;
  for (const auto& w : workers) threads += w.capacity;
  if (g.json) {
    nlohmann::json ws = nlohmann::json::array();
    for (const auto& w : workers) ws.push_back(worker_json(w));
    nlohmann::json unserved = nlohmann::json::array();
    for (const auto& u : st.unserved)
      unserved.push_back({{"function", u.function}, {"tasks", u.tasks}, {"fails_in_ms", u.fails_in.count()}});
    std::cout << nlohmann::json{{"address", client->address()}, {"workers", ws},     {"waiting", st.waiting},
                                {"queued", st.queued},          {"running", st.running}, {"done", st.done},
                                {"failed", st.failed},          {"cancelled", st.cancelled}, {"unserved", unserved}}
                     .dump()
              << "\n";
  } else {
    std::cout << "coordinator " << client->address() << ": " << workers.size() << " workers (" << threads
              << " threads)\n"
              << "tasks: " << st.waiting << " waiting, " << st.queued << " queued, " << st.running << " running, "
              << st.done << " done, " << st.failed << " failed, " << st.cancelled << " cancelled\n";
    for (const auto& u : st.unserved)
      std::cout << "waiting for a worker with " << u.function << ": " << u.tasks << " task(s), NotRegistered in "
                << (u.fails_in.count() + 999) / 1000 << " s\n";
  }
  return exit_ok;
}

int cmd_cancel(const Globals& g, std::uint64_t id, bool force) {
  auto client = connect(resolve_address(g));
  auto before = task_status(*client, id);
  bool finished = before.state == "done" || before.state == "failed" || before.state == "cancelled";
  if (!finished) client->cancel(id, force);
  // The coordinator handles the request in order: a status after it sees its effect on a
  // queued task; a running one may take until the worker stops it.
  auto after = finished ? before : task_status(*client, id);
  if (g.json) {
    std::cout << nlohmann::json{{"id", id}, {"state", after.state}, {"requested", !finished}}.dump() << "\n";
  } else if (finished) {
    std::cout << "task " << id << " already " << before.state << "\n";
  } else {
    std::cout << "cancel requested for task " << id << " (" << after.state << ")\n";
  }
  client->close();
  return exit_ok;
}

int cmd_workers(const Globals& g) {
  auto client = connect(resolve_address(g));
  auto workers = client->workers().result(10s);
  if (g.json) {
    nlohmann::json ws = nlohmann::json::array();
    for (const auto& w : workers) ws.push_back(worker_json(w));
    std::cout << ws.dump() << "\n";
    return exit_ok;
  }
  if (workers.empty()) {
    std::cout << "no workers (start some with `shoal start`, or shoal-worker -c " << client->address() << ")\n";
    return exit_ok;
  }
  std::cout << std::left << std::setw(12) << "NAME" << std::setw(16) << "HOST" << std::setw(9) << "PID"
            << std::setw(9) << "THREADS" << std::setw(9) << "RUNNING" << std::setw(9) << "DONE"
            << std::setw(11) << "FUNCTIONS" << "RESOURCES (in use/offered), LABELS\n";
  for (const auto& w : workers) {
    std::string labels;
    for (const auto& l : w.labels) labels += (labels.empty() ? "" : " ") + l;
    std::cout << std::left << std::setw(12) << w.name << std::setw(16) << w.host << std::setw(9) << w.pid
              << std::setw(9) << w.capacity << std::setw(9) << w.running << std::setw(9) << w.done << std::setw(11)
              << (std::to_string(w.functions) + (w.draining ? " (drain)" : "")) << resources_line(w)
              << (labels.empty() ? "" : "; " + labels) << "\n";
  }
  return exit_ok;
}

int cmd_tasks(const Globals& g, const std::string& state, std::uint32_t limit) {
  auto client = connect(resolve_address(g));
  auto workers = client->workers().result(10s);
  auto st = client->tasks(state, limit).result(10s);
  if (g.json) {
    nlohmann::json ts = nlohmann::json::array();
    for (const auto& t : st.tasks) ts.push_back(task_json(t, workers));
    std::cout << ts.dump() << "\n";
    return exit_ok;
  }
  if (st.tasks.empty()) {
    std::cout << "no " << (state.empty() ? "" : state + " ") << "tasks\n";
    return exit_ok;
  }
  std::cout << std::left << std::setw(22) << "ID" << std::setw(16) << "FUNCTION" << std::setw(11) << "STATE"
            << std::setw(9) << "ATTEMPT" << std::setw(12) << "WORKER"
            << "ERROR\n";
  for (const auto& t : st.tasks)
    std::cout << std::left << std::setw(22) << t.id << std::setw(16) << t.function << std::setw(11) << t.state
              << std::setw(9) << t.attempt << std::setw(12) << worker_name(workers, t.worker)
              << (t.error.empty() ? t.note : t.error) << "\n";
  return exit_ok;
}

}  // namespace shoal::cli
