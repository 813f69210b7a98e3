#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace shoal::cli {

namespace {

using std::chrono::nanoseconds;

constexpr int bar_width = 24;
constexpr nanoseconds redraw_interval = std::chrono::milliseconds(50);

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double ms_of(nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

/// The line plain mode writes for `task`, or "" when its state is not reported.
std::string line_for(const JobRun& run, std::size_t task) {
  const TaskStatus& s = run.status(task);
  const std::string& name = run.name(task);
  std::string where = s.worker.empty() ? "" : " on worker " + s.worker;
  switch (s.state) {
    case TaskState::done: return "done " + name + where + " (" + format_duration(s.elapsed) + ")";
    case TaskState::failed: return "failed " + name + where + " (" + format_duration(s.elapsed) + "): " + s.message;
    case TaskState::skipped:
      if (s.cause) return "skipped " + name + ": " + run.name(*s.cause) + " failed: " + run.status(*s.cause).message;
      return "skipped " + name + ": " + s.message;
    case TaskState::cancelled: return "cancelled " + name;
    default: return {};
  }
}

}  // namespace

ProgressMode detect_progress_mode(int fd) { return ::isatty(fd) ? ProgressMode::tty : ProgressMode::plain; }

std::string format_duration(nanoseconds d) {
  double ms = ms_of(d);
  if (ms < 1000) return fixed(ms, 1) + " ms";
  return fixed(ms / 1000, 2) + " s";
}

Progress::Progress(std::ostream& out, ProgressMode mode, Clock elapsed)
    : out_(out), mode_(mode), elapsed_(std::move(elapsed)) {
  if (!elapsed_) {
    auto start = std::chrono::steady_clock::now();
    elapsed_ = [start] { return std::chrono::steady_clock::now() - start; };
  }
}

std::string Progress::bar(const JobRun& run) const {
  std::size_t total = run.size();
  std::size_t finished = run.count(TaskState::done) + run.count(TaskState::failed) + run.count(TaskState::skipped) +
                         run.count(TaskState::cancelled);
  int filled = total == 0 ? bar_width : static_cast<int>(finished * bar_width / total);
  std::string text = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                     std::string(static_cast<std::size_t>(bar_width - filled), '.') + "] " +
                     std::to_string(run.count(TaskState::done)) + "/" + std::to_string(total) + " done, " +
                     std::to_string(run.count(TaskState::failed)) + " failed";
  if (auto n = run.count(TaskState::skipped)) text += ", " + std::to_string(n) + " skipped";
  if (auto n = run.count(TaskState::cancelled)) text += ", " + std::to_string(n) + " cancelled";
  return text + ", " + fixed(ms_of(elapsed_()) / 1000, 1) + "s";
}

void Progress::draw(const JobRun& run) {
  // "\x1b[K" clears what a longer previous bar left at the end of the line.
  out_ << '\r' << bar(run) << "\x1b[K" << std::flush;
  drawn_ = true;
  last_draw_ = elapsed_();
}

void Progress::update(const JobRun& run, std::size_t task) {
  if (mode_ == ProgressMode::plain) {
    std::string line = line_for(run, task);
    if (!line.empty()) out_ << line << '\n' << std::flush;
    return;
  }
  TaskState s = run.status(task).state;
  if (s == TaskState::failed || s == TaskState::skipped) {
    if (drawn_) out_ << "\r\x1b[K";
    out_ << line_for(run, task) << '\n';
    drawn_ = false;
  }
  if (!drawn_ || run.finished() || last_draw_ < nanoseconds(0) || elapsed_() - last_draw_ >= redraw_interval) draw(run);
}

void Progress::tick(const JobRun& run) {
  if (mode_ == ProgressMode::tty && (!drawn_ || elapsed_() - last_draw_ >= redraw_interval)) draw(run);
}

void Progress::finish(const JobRun& run) {
  if (mode_ == ProgressMode::plain) return;
  draw(run);
  out_ << '\n' << std::flush;
  drawn_ = false;
}

Summary summarize(const JobRun& run, nanoseconds wall) {
  Summary s;
  s.job = run.job_name();
  s.tasks = run.size();
  s.done = run.count(TaskState::done);
  s.failed = run.count(TaskState::failed);
  s.skipped = run.count(TaskState::skipped);
  s.cancelled = run.count(TaskState::cancelled);
  s.wall = wall;
  s.exit_code = run.exit_code();
  for (std::size_t i = 0; i < run.size(); ++i) {
    const TaskStatus& st = run.status(i);
    if (st.state == TaskState::done || st.state == TaskState::failed) {
      WorkerStats& w = s.workers[st.worker];
      (st.state == TaskState::done ? w.done : w.failed) += 1;
      w.busy += st.elapsed;
    }
    if (st.state == TaskState::failed || st.state == TaskState::skipped || st.state == TaskState::cancelled)
      s.problems.push_back({run.name(i), st.state, st.message});
    if (st.state == TaskState::done && run.dependents(i).empty() && !st.result.is_null())
      s.results.emplace_back(run.name(i), st.result);
  }
  return s;
}

std::string Summary::text() const {
  std::string out = "job " + job + ": " + std::to_string(tasks) + " tasks, " + std::to_string(done) + " done, " +
                    std::to_string(failed) + " failed, " + std::to_string(skipped) + " skipped";
  if (cancelled) out += ", " + std::to_string(cancelled) + " cancelled";
  out += " in " + format_duration(wall) + "\n";
  for (const auto& [name, w] : workers)
    out += "  worker " + (name.empty() ? std::string("(unknown)") : name) + ": " + std::to_string(w.done) +
           " done, " + std::to_string(w.failed) + " failed, " + format_duration(w.busy) + " busy\n";
  for (const auto& [task, value] : results) {
    std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > 200) text = text.substr(0, 197) + "...";
    out += "  " + task + " = " + text + "\n";
  }
  for (const auto& p : problems) {
    if (p.state == TaskState::skipped)
      out += "  skipped " + p.task + ": " + p.message.substr(p.message.rfind("skipped: ", 0) == 0 ? 9 : 0) + "\n";
    else
      out += "  " + std::string(to_string(p.state)) + " " + p.task + (p.state == TaskState::failed ? ": " + p.message : "") + "\n";
  }
  return out;
}

nlohmann::json Summary::to_json() const {
  nlohmann::json w = nlohmann::json::object();
  for (const auto& [name, st] : workers)
    w[name] = {{"done", st.done}, {"failed", st.failed}, {"busy_ms", ms_of(st.busy)}};
  nlohmann::json p = nlohmann::json::array();
  for (const auto& x : problems) p.push_back({{"task", x.task}, {"state", to_string(x.state)}, {"message", x.message}});
  nlohmann::json r = nlohmann::json::object();
  for (const auto& [task, value] : results) r[task] = value;
  return {{"job", job},          {"tasks", tasks},         {"done", done},          {"failed", failed},
          {"skipped", skipped},  {"cancelled", cancelled}, {"wall_ms", ms_of(wall)}, {"exit_code", exit_code},
          {"workers", w},        {"problems", p},          {"results", r}};
}

}  // namespace shoal::cli
