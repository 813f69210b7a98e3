// What `shoal run` prints: Progress (plain lines, a TTY bar) and the Summary (cli/src/progress.hpp).

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include "job.hpp"
#include "progress.hpp"

using namespace shoal::cli;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::filesystem::path jobs_dir = std::filesystem::path(SHOAL_SOURCE_DIR) / "examples" / "jobs";

/// A clock the test moves by hand.
struct FakeClock {
  std::chrono::nanoseconds now{0};
  Progress::Clock clock() {
    return [this] { return now; };
  }
};

}  // namespace

TEST_CASE("format_duration writes milliseconds below a second and seconds above", "[cli][progress]") {
  CHECK(format_duration(800us) == "0.8 ms");
  CHECK(format_duration(12345us) == "12.3 ms");
  CHECK(format_duration(1250ms) == "1.25 s");
  CHECK(format_duration(0ns) == "0.0 ms");
}

TEST_CASE("plain progress writes one exact line per finished task", "[cli][progress]") {
  Job job = parse_job(jobs_dir / "failing.toml");
  JobRun run(job);
  std::ostringstream out;
  FakeClock clock;
  Progress progress(out, ProgressMode::plain, clock.clock());

  std::size_t sum = *job.find("sum"), broken = *job.find("broken");
  run.on_submitted(sum);
  progress.update(run, sum);  // submitted: no line
  run.on_running(sum, "w1");
  progress.update(run, sum);  // running: no line
  run.on_done(sum, "w1", 800us, 5);
  progress.update(run, sum);
  run.on_failed(broken, "ValueError: this task fails on purpose", "w2", 1500us);
  progress.update(run, broken);
  for (auto s : run.on_failed(broken, "again")) progress.update(run, s);  // ignored: already failed
  std::size_t after = *job.find("after_broken"), twice = *job.find("twice_after");
  progress.update(run, after);
  progress.update(run, twice);
  progress.finish(run);

  CHECK(out.str() ==
        "done sum on worker w1 (0.8 ms)\n"
        "failed broken on worker w2 (1.5 ms): ValueError: this task fails on purpose\n"
        "skipped after_broken: broken failed: ValueError: this task fails on purpose\n"
        "skipped twice_after: broken failed: ValueError: this task fails on purpose\n");
  CHECK(out.str().find('\r') == std::string::npos);
}

TEST_CASE("plain progress omits an unknown worker and reports cancellations", "[cli][progress]") {
  Job job = parse_job(jobs_dir / "pi.toml");
  JobRun run(job);
  std::ostringstream out;
  Progress progress(out, ProgressMode::plain);
  run.on_done(3, "", 2ms);
  progress.update(run, 3);
  for (auto i : run.cancel_all()) progress.update(run, i);
  std::string text = out.str();
  CHECK(text.rfind("done chunk[3] (2.0 ms)\ncancelled chunk[0]\n", 0) == 0);
  CHECK(text.find("cancelled estimate\n") != std::string::npos);
}

TEST_CASE("tty progress redraws one bar in place and puts failures on their own lines", "[cli][progress]") {
  Job job = parse_job(jobs_dir / "pi.toml");
  JobRun run(job);
  std::ostringstream out;
  FakeClock clock;
  Progress progress(out, ProgressMode::tty, clock.clock());

  clock.now = 100ms;
  run.on_done(0, "w1", 1ms, 785000);
  progress.update(run, 0);
  CHECK(out.str() == "\r[#.......................] 1/17 done, 0 failed, 0.1s\x1b[K");

  // Within 50 ms of the last draw: no redraw.
  clock.now = 120ms;
  run.on_done(1, "w1", 1ms, 785000);
  progress.update(run, 1);
  CHECK(out.str() == "\r[#.......................] 1/17 done, 0 failed, 0.1s\x1b[K");

  clock.now = 1200ms;
  for (std::size_t i = 2; i < 12; ++i) {
    run.on_done(i, "w2", 1ms, 785000);
    progress.update(run, i);
  }
  // A burst inside one interval: the bar lags until the next draw, which a timer's tick() gives.
  std::string s = out.str();
  CHECK(s.substr(s.rfind('\r')) == "\r[####....................] 3/17 done, 0 failed, 1.2s\x1b[K");
  clock.now = 1230ms;
  progress.tick(run);  // too soon
  CHECK(out.str() == s);
  clock.now = 1260ms;
  progress.tick(run);
  s = out.str();
  CHECK(s.substr(s.rfind('\r')) == "\r[################........] 12/17 done, 0 failed, 1.3s\x1b[K");

  // A failure: the bar is cleared, the line printed, the bar drawn again below it.
  out.str("");
  run.on_failed(12, "boom", "w1", 3ms);
  progress.update(run, 12);
  CHECK(out.str() == "\r\x1b[Kfailed chunk[12] on worker w1 (3.0 ms): boom\n"
                     "\r[###################.....] 12/17 done, 1 failed, 1 skipped, 1.3s\x1b[K");

  out.str("");
  for (std::size_t i = 13; i < 16; ++i) {
    run.on_done(i, "w2", 1ms, 785000);
    progress.update(run, i);
  }
  CHECK(run.finished());
  progress.finish(run);
  s = out.str();
  CHECK(s.find('\r') != std::string::npos);
  CHECK(s.substr(s.rfind('\r')) == "\r[########################] 15/17 done, 1 failed, 1 skipped, 1.3s\x1b[K\n");
}

TEST_CASE("the summary counts tasks, workers and outputs, as text and as JSON", "[cli][summary]") {
  Job job = parse_job(jobs_dir / "pi.toml");
  JobRun run(job);
  for (std::size_t i = 0; i < 16; ++i) run.on_done(i, i % 2 ? "w2" : "w1", 10ms, 785000);
  run.on_done(16, "w1", 1ms, 3.14);
  Summary s = summarize(run, 1250ms);
  CHECK(s.tasks == 17);
  CHECK(s.done == 17);
  CHECK(s.exit_code == 0);
  CHECK(s.workers.at("w1").done == 9);
  CHECK(s.workers.at("w1").busy == 81ms);
  CHECK(s.workers.at("w2").done == 8);
  CHECK(s.text() ==
        "job pi: 17 tasks, 17 done, 0 failed, 0 skipped in 1.25 s\n"
        "  worker w1: 9 done, 0 failed, 81.0 ms busy\n"
        "  worker w2: 8 done, 0 failed, 80.0 ms busy\n"
        "  estimate = 3.14\n");

  json j = s.to_json();
  CHECK(j["job"] == "pi");
  CHECK(j["tasks"] == 17);
  CHECK(j["done"] == 17);
  CHECK(j["failed"] == 0);
  CHECK(j["skipped"] == 0);
  CHECK(j["cancelled"] == 0);
  CHECK(j["wall_ms"] == 1250.0);
  CHECK(j["exit_code"] == 0);
  CHECK(j["workers"]["w1"] == json{{"done", 9}, {"failed", 0}, {"busy_ms", 81.0}});
  CHECK(j["workers"]["w2"]["done"] == 8);
  CHECK(j["problems"] == json::array());
  CHECK(j["results"] == json{{"estimate", 3.14}});
}

TEST_CASE("the summary of a failed job lists what failed and what was skipped", "[cli][summary]") {
  Job job = parse_job(jobs_dir / "failing.toml");
  JobRun run(job);
  run.on_failed(*job.find("broken"), "ValueError: this task fails on purpose", "w1", 2ms);
  run.on_done(*job.find("sum"), "w1", 1ms, 5);
  Summary s = summarize(run, 10ms);
  CHECK(s.exit_code == 1);
  CHECK(s.text() ==
        "job failing: 4 tasks, 1 done, 1 failed, 2 skipped in 10.0 ms\n"
        "  worker w1: 1 done, 1 failed, 3.0 ms busy\n"
        "  sum = 5\n"
        "  failed broken: ValueError: this task fails on purpose\n"
        "  skipped after_broken: broken failed: ValueError: this task fails on purpose\n"
        "  skipped twice_after: broken failed: ValueError: this task fails on purpose\n");
  json j = s.to_json();
  CHECK(j["failed"] == 1);
  CHECK(j["skipped"] == 2);
  CHECK(j["exit_code"] == 1);
  REQUIRE(j["problems"].size() == 3);
  CHECK(j["problems"][0] ==
        json{{"task", "broken"}, {"state", "failed"}, {"message", "ValueError: this task fails on purpose"}});
  CHECK(j["problems"][2] == json{{"task", "twice_after"},
                                 {"state", "skipped"},
                                 {"message", "skipped: broken failed: ValueError: this task fails on purpose"}});
  CHECK(j["results"] == json{{"sum", 5}});
}
