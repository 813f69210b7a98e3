// The job file format and the JobRun state (cli/src/job.hpp).

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "job.hpp"
#include "shoal/codec/schema.hpp"
#include "shoal/codec/wire.hpp"
#include "json_bridge.hpp"

using shoal::cli::Job;
using shoal::cli::JobError;
using shoal::cli::JobRun;
using shoal::cli::parse_job;
using shoal::cli::parse_job_string;
using Catch::Matchers::Contains;
using shoal::cli::TaskState;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir = SHOAL_SOURCE_DIR;
const fs::path jobs_dir = source_dir / "examples" / "jobs";

Job parse(std::string_view toml) { return parse_job_string(toml, "/jobs/t.toml"); }

/// The JobError parse(toml) throws, or "no error".
std::string error_of(std::string_view toml) {
  try {
    (void)parse(toml);
  } catch (const JobError& e) {
    return e.what();
  }
  return "no error";
}

json future(std::size_t k) { return json{{"$future", k}}; }

std::size_t index_of(const Job& job, std::string_view name) {
  auto i = job.find(name);
  REQUIRE(i);
  return *i;
}

}  // namespace

// ---- the example jobs ----

TEST_CASE("pi.toml expands to 16 chunks and a reduce over all of them in order", "[cli][job]") {
  Job job = parse_job(jobs_dir / "pi.toml");
  CHECK(job.name == "pi");
  CHECK(job.dir == fs::absolute(jobs_dir).lexically_normal());
  REQUIRE(job.tasks.size() == 17);
  for (std::size_t i = 0; i < 16; ++i) {
    const auto& t = job.tasks[i];
    CHECK(t.name == "chunk[" + std::to_string(i) + "]");
    CHECK(t.group == "chunk");
    CHECK(t.index == i);
    CHECK(t.function == "pi_chunk");
    CHECK(t.args == json::array({1000000, static_cast<std::int64_t>(i + 1)}));
    CHECK(t.deps.empty());
    CHECK(t.timeout == std::chrono::seconds(60));
    CHECK(t.retries == 1);
  }
  const auto& reduce = job.tasks[16];
  CHECK(reduce.name == "estimate");
  CHECK(reduce.function == "pi_reduce");
  CHECK_FALSE(reduce.index);
  json refs = json::array();
  for (std::size_t k = 0; k < 16; ++k) refs.push_back(future(k));
  CHECK(reduce.args == json::array({refs, 1000000}));
  REQUIRE(reduce.deps.size() == 16);
  for (std::size_t k = 0; k < 16; ++k) CHECK(reduce.deps[k] == k);
  CHECK(reduce.line == 19);  // its [[task]] header
}

TEST_CASE("the pi reduce's arguments convert through the JSON bridge with futures inside the list",
          "[cli][job][json_bridge]") {
  Job job = parse_job(jobs_dir / "pi.toml");
  const auto& reduce = job.tasks.at(index_of(job, "estimate"));
  auto sig = shoal::codec::parse_signature("float64(list<int64>,int64)");
  shoal::Bytes bytes = shoal::remote::json_to_args(sig, reduce.args, "pi_reduce");
  // Read back untyped: the refs survive as {"$future": k} inside the list.
  shoal::codec::Reader r(bytes);
  json back = shoal::remote::wire_to_json(r);
  CHECK(back == reduce.args);

  auto chunk_sig = shoal::codec::parse_signature("int64(int64,int64)");
  CHECK_NOTHROW(shoal::remote::json_to_args(chunk_sig, job.tasks[3].args, "pi_chunk"));
}

TEST_CASE("wordcount.toml resolves its paths against the job file's directory", "[cli][job]") {
  Job job = parse_job(jobs_dir / "wordcount.toml");
  REQUIRE(job.tasks.size() == 6);
  const char* files[] = {"harbour", "lighthouse", "orchard", "river"};
  fs::path data = (fs::absolute(jobs_dir) / ".." / "data").lexically_normal();
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& t = job.tasks[i];
    CHECK(t.name == "count[" + std::to_string(i) + "]");
    REQUIRE(t.args.size() == 1);
    fs::path p = t.args[0].at("$path").get<std::string>();
    CHECK(p.is_absolute());
    CHECK(p == data / (std::string(files[i]) + ".txt"));
    CHECK(fs::exists(p));
    CHECK(t.timeout == std::chrono::seconds(30));
    CHECK_FALSE(t.retries);
  }
  const auto& merge = job.tasks[4];
  CHECK(merge.name == "merge");
  CHECK(merge.args == json::array({json::array({future(0), future(1), future(2), future(3)})}));
  CHECK(merge.deps == std::vector<std::size_t>{0, 1, 2, 3});
  const auto& top = job.tasks[5];
  CHECK(top.args == json::array({future(0), 10}));
  CHECK(top.deps == std::vector<std::size_t>{4});

  auto sig = shoal::codec::parse_signature("map<string,int64>(list<map<string,int64>>)");
  CHECK_NOTHROW(shoal::remote::json_to_args(sig, merge.args, "merge_counts"));
}

TEST_CASE("failing.toml has a failing task, two dependents and an independent add", "[cli][job]") {
  Job job = parse_job(jobs_dir / "failing.toml");
  REQUIRE(job.tasks.size() == 4);
  CHECK(job.tasks[index_of(job, "broken")].function == "fail");
  CHECK(job.tasks[index_of(job, "broken")].retries == 0);
  CHECK(job.tasks[index_of(job, "after_broken")].deps == std::vector<std::size_t>{index_of(job, "broken")});
  CHECK(job.tasks[index_of(job, "twice_after")].deps == std::vector<std::size_t>{index_of(job, "after_broken")});
  CHECK(job.tasks[index_of(job, "sum")].deps.empty());
  CHECK(job.tasks[index_of(job, "sum")].args == json::array({2, 3}));
}

// ---- the format ----

TEST_CASE("a job without a name takes the file's stem", "[cli][job]") {
  Job job = parse("[[task]]\nname = \"a\"\nfunction = \"f\"\n");
  CHECK(job.name == "t");
  CHECK(job.origin == "/jobs/t.toml");
  CHECK(job.dir == fs::path("/jobs"));
  CHECK(job.tasks.at(0).args == json::array());
  CHECK(job.tasks.at(0).line == 1);
}

TEST_CASE("TOML values become JSON values and plain tables become objects", "[cli][job]") {
  Job job = parse(R"(
[[task]]
name = "a"
function = "f"
args = [1, -2.5, true, "s", [1, [2]], { x = 1, y = { z = "w" } }, { word = 3 }]
)");
  CHECK(job.tasks[0].args == json::parse(R"([1, -2.5, true, "s", [1, [2]], {"x": 1, "y": {"z": "w"}}, {"word": 3}])"));
}

TEST_CASE("fan-out members get their index, offsets, {i} in strings and each elements", "[cli][job]") {
  Job job = parse(R"(
[[task]]
name = "a"
function = "f"
count = 3
args = [{ index = true }, { index = 10 }, "out-{i}.txt", "{{i}}", { literal = "{i}" }]

[[task]]
name = "b"
function = "g"
each = ["x", "y"]
args = [{ item = true }, "{item}-{i}", { path = "data/{item}.txt" }]

[[task]]
name = "c"
function = "h"
each = [{ path = "p.txt" }, { path = "/q.txt" }]
args = [{ item = true }, "{i}"]
)");
  REQUIRE(job.tasks.size() == 7);
  CHECK(job.tasks[0].args == json::parse(R"([0, 10, "out-0.txt", "{0}", "{i}"])"));
  CHECK(job.tasks[2].args == json::parse(R"([2, 12, "out-2.txt", "{2}", "{i}"])"));
  CHECK(job.tasks[3].name == "b[0]");
  CHECK(job.tasks[3].args == json::parse(R"(["x", "x-0", {"$path": "/jobs/data/x.txt"}])"));
  CHECK(job.tasks[4].args == json::parse(R"(["y", "y-1", {"$path": "/jobs/data/y.txt"}])"));
  CHECK(job.tasks[5].args == json::parse(R"([{"$path": "/jobs/p.txt"}, "0"])"));
  CHECK(job.tasks[6].args == json::parse(R"([{"$path": "/q.txt"}, "1"])"));
}

TEST_CASE("outside a fan-out {i} stays as written, and paths resolve against the job's directory", "[cli][job]") {
  Job job = parse(R"(
[[task]]
name = "a"
function = "f"
args = ["{i}", { path = "../data/a.txt" }, { path = "/abs/b.txt" }, { literal = { result = "x" } }]
)");
  CHECK(job.tasks[0].args == json::parse(R"(["{i}", {"$path": "/data/a.txt"}, {"$path": "/abs/b.txt"}, {"result": "x"}])"));
}

TEST_CASE("references become $future indices into the task's own deps in first-use order", "[cli][job]") {
  Job job = parse(R"(
[[task]]
name = "sum"
function = "add"
args = [{ result = "y" }, { result = "x" }, { nested = [{ result = "y" }] }]
after = ["z"]

[[task]]
name = "x"
function = "f"

[[task]]
name = "y"
function = "f"

[[task]]
name = "z"
function = "f"
)");
  // Topological order: x, y, z (file order among the ready), then sum.
  REQUIRE(job.tasks.size() == 4);
  CHECK(job.tasks[0].name == "x");
  CHECK(job.tasks[1].name == "y");
  CHECK(job.tasks[2].name == "z");
  const auto& sum = job.tasks[3];
  CHECK(sum.name == "sum");
  CHECK(sum.args == json::parse(R"([{"$future": 0}, {"$future": 1}, {"nested": [{"$future": 0}]}])"));
  CHECK(sum.deps == std::vector<std::size_t>{1, 0, 2});  // y, x, then z from `after`
}

TEST_CASE("a fan-out can take one member of another by index", "[cli][job]") {
  Job job = parse(R"(
[[task]]
name = "square"
function = "f"
count = 3
args = [{ result = "gen[{i}]" }]

[[task]]
name = "gen"
function = "g"
count = 3
args = [{ index = true }]

[[task]]
name = "last"
function = "h"
args = [{ result = "square[2]" }]
after = ["gen"]
)");
  REQUIRE(job.tasks.size() == 7);
  // The order is topological and otherwise prefers the earlier [[task]] in the file: each
  // square[i] follows gen[i] as soon as it can.
  std::vector<std::string> names;
  for (const auto& t : job.tasks) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"gen[0]", "square[0]", "gen[1]", "square[1]", "gen[2]", "square[2]", "last"});
  for (std::size_t i = 0; i < job.tasks.size(); ++i)
    for (auto d : job.tasks[i].deps) CHECK(d < i);
  CHECK(job.tasks[3].deps == std::vector<std::size_t>{2});
  CHECK(job.tasks[6].deps == std::vector<std::size_t>{5, 0, 2, 4});
  CHECK(job.tasks[6].args == json::array({future(0)}));
}

TEST_CASE("per-task timeout and retries override [defaults], in every duration form", "[cli][job]") {
  Job job = parse(R"(
[defaults]
timeout = "2m"
retries = 3

[[task]]
name = "a"
function = "f"

[[task]]
name = "b"
function = "f"
timeout = "500ms"
retries = 0

[[task]]
name = "c"
function = "f"
timeout = 1.5

[[task]]
name = "d"
function = "f"
timeout = 7
)");
  CHECK(job.tasks[0].timeout == std::chrono::minutes(2));
  CHECK(job.tasks[0].retries == 3);
  CHECK(job.tasks[1].timeout == std::chrono::milliseconds(500));
  CHECK(job.tasks[1].retries == 0);
  CHECK(job.tasks[2].timeout == std::chrono::milliseconds(1500));
  CHECK(job.tasks[3].timeout == std::chrono::seconds(7));
  CHECK(shoal::cli::try_parse_duration("1h") == std::chrono::hours(1));
  CHECK(shoal::cli::try_parse_duration("2.5s") == std::chrono::milliseconds(2500));
  CHECK_FALSE(shoal::cli::try_parse_duration("30"));
  CHECK_FALSE(shoal::cli::try_parse_duration("-1s"));
  CHECK_FALSE(shoal::cli::try_parse_duration("1.s"));
  CHECK_FALSE(shoal::cli::try_parse_duration("s"));
  CHECK_FALSE(shoal::cli::try_parse_duration("3 s"));
}

// ---- errors: one line, file:line ----

TEST_CASE("each validation error names the file and the line", "[cli][job][errors]") {
  const std::string task = "[[task]]\nname = \"a\"\nfunction = \"f\"\n";  // lines 1-3

  // A TOML syntax error keeps toml++'s text.
  CHECK_THAT(error_of("name = \"x\"\n[[task]\n"), Catch::StartsWith("/jobs/t.toml:2: "));

  CHECK(error_of("name = \"x\"\n") == "/jobs/t.toml: no [[task]]: a job needs at least one task");
  CHECK(error_of("nmae = \"x\"\n" + task) ==
        "/jobs/t.toml:1: unknown key 'nmae' at the top level (expected name, defaults, task)");
  CHECK(error_of(task + "fucntion = \"g\"\n") ==
        "/jobs/t.toml:4: unknown key 'fucntion' in [[task]] (expected name, function, args, count, each, after, "
        "timeout, retries, resources, labels, prefer, strategy, priority, retry_on, retry_attempts, retry_backoff)");
  CHECK(error_of("[defaults]\ntimeout = \"1s\"\nretry = 2\n" + task) ==
        "/jobs/t.toml:3: unknown key 'retry' in [defaults] (expected timeout, retries, resources, labels, prefer, "
        "strategy, priority, retry_on, retry_attempts, retry_backoff)");
  CHECK(error_of(task + "\n" + task) == "/jobs/t.toml:6: duplicate task name 'a' (first at line 1)");
  CHECK(error_of("[[task]]\nname = \"a\"\n") == "/jobs/t.toml:1: task 'a' has no 'function'");
  CHECK(error_of("[[task]]\nfunction = \"f\"\n") == "/jobs/t.toml:1: a [[task]] without a 'name'");
  CHECK(error_of("[[task]]\nname = \"a b\"\nfunction = \"f\"\n") ==
        "/jobs/t.toml:2: bad task name \"a b\" (use letters, digits, '_', '-' and '.')");
  CHECK(error_of(task + "args = [{ result = \"nope\" }]\n") ==
        "/jobs/t.toml:4: a reference to an unknown task 'nope'");
  CHECK(error_of(task + "after = [\"nope\"]\n") == "/jobs/t.toml:4: a reference to an unknown task 'nope'");
  CHECK(error_of(task + "count = 0\n") == "/jobs/t.toml:4: 'count' of task 'a' must be at least 1, not 0");
  CHECK(error_of(task + "count = -3\n") == "/jobs/t.toml:4: 'count' of task 'a' must be at least 1, not -3");
  CHECK(error_of(task + "each = []\n") == "/jobs/t.toml:4: 'each' of task 'a' is empty: a fan-out needs at least 1 member");
  CHECK(error_of(task + "count = 2\neach = [1, 2]\n") == "/jobs/t.toml:5: task 'a' has both 'count' and 'each': choose one");
  CHECK(error_of(task + "timeout = \"30\"\n") ==
        "/jobs/t.toml:4: bad duration \"30\" for 'timeout' (write \"500ms\", \"30s\", \"2m\", \"1h\", or a number of seconds)");
  CHECK(error_of(task + "timeout = \"5 minutes\"\n") ==
        "/jobs/t.toml:4: bad duration \"5 minutes\" for 'timeout' (write \"500ms\", \"30s\", \"2m\", \"1h\", or a number of seconds)");
  CHECK(error_of(task + "timeout = -1\n") ==
        "/jobs/t.toml:4: bad duration -1 for 'timeout' (write \"500ms\", \"30s\", \"2m\", \"1h\", or a number of seconds)");
  CHECK(error_of(task + "timeout = \"0s\"\n") == "/jobs/t.toml:4: 'timeout' must be more than zero");
  CHECK(error_of("[defaults]\ntimeout = \"1d\"\n" + task) ==
        "/jobs/t.toml:2: bad duration \"1d\" for 'timeout' (write \"500ms\", \"30s\", \"2m\", \"1h\", or a number of seconds)");
  CHECK(error_of(task + "retries = -1\n") == "/jobs/t.toml:4: 'retries' must be between 0 and 1000, not -1");
  CHECK(error_of(task + "args = 3\n") == "/jobs/t.toml:4: 'args' of task 'a' must be an array, not an integer");
  CHECK(error_of("task = 3\n") == "/jobs/t.toml:1: 'task' must be written [[task]], a table per task");
}

TEST_CASE("bad references and misplaced special arguments are errors with their line", "[cli][job][errors]") {
  const std::string fan = "[[task]]\nname = \"c\"\nfunction = \"f\"\ncount = 4\n";  // lines 1-4
  const std::string one = "[[task]]\nname = \"a\"\nfunction = \"f\"\n";             // lines 5-7
  CHECK(error_of(fan + one + "args = [{ result = \"c\" }]\n") ==
        "/jobs/t.toml:8: 'c' is a fan-out of 4 tasks: use { results = \"c\" } for all their results, or \"c[i]\" for one");
  CHECK(error_of(fan + one + "args = [{ result = \"c[4]\" }]\n") ==
        "/jobs/t.toml:8: a reference to an unknown task 'c[4]' ('c' has 4 members: c[0] .. c[3])");
  CHECK(error_of(fan + one + "args = [{ result = \"c[x]\" }]\n") ==
        "/jobs/t.toml:8: bad task reference \"c[x]\" (write \"name\" or \"name[i]\")");
  CHECK(error_of(fan + one + "args = [{ results = \"c[1]\" }]\n") ==
        "/jobs/t.toml:8: { results = \"c[1]\" } takes a [[task]] name without [i]");
  CHECK(error_of(fan + one + "args = [{ result = \"a[0]\" }]\n") ==
        "/jobs/t.toml:8: 'a[0]': task 'a' is not a fan-out (no count or each)");
  CHECK(error_of(one + "args = [{ index = true }]\n") ==
        "/jobs/t.toml:4: { index = ... } in task 'a', which is not a fan-out (add count = N)");
  CHECK(error_of(one + "args = [{ item = true }]\n") == "/jobs/t.toml:4: { item = true } in task 'a', which has no 'each'");
  CHECK(error_of(one + "args = [{ result = 3 }]\n") ==
        "/jobs/t.toml:4: { result = ... } takes a task name, not an integer");
  CHECK(error_of(one + "args = [{ result = \"a\", extra = 1 }]\n") ==
        "/jobs/t.toml:4: a table with 'result' and other keys: a special argument has one key (to pass such a "
        "table as it is, write { literal = { ... } })");
  CHECK(error_of(fan + "args = [\"{item}\"]\n") == "/jobs/t.toml:5: \"{item}\" in task 'c', which has no 'each'");
  CHECK(error_of(one + "each = [[1], [2]]\nargs = [\"{item}\"]\n") ==
        "/jobs/t.toml:5: \"{item}\" needs 'each' elements that are strings or integers, not an array");
  CHECK(error_of(one + "each = [{ item = true }]\nargs = [{ item = true }]\n") ==
        "/jobs/t.toml:4: { item = true } inside an 'each' element");
  CHECK(error_of(one + "args = [nan]\n") ==
        "/jobs/t.toml:4: an argument that is not a finite number (JSON has no nan or inf)");
  CHECK(error_of(one + "args = [1979-05-27]\n") ==
        "/jobs/t.toml:4: dates and times are not supported as arguments: write them as strings");
}

TEST_CASE("a cycle is an error that names the cycle", "[cli][job][errors]") {
  CHECK(error_of(R"([[task]]
name = "a"
function = "f"
args = [{ result = "b" }]

[[task]]
name = "b"
function = "f"
args = [{ result = "c" }]

[[task]]
name = "c"
function = "f"
after = ["a"]

[[task]]
name = "free"
function = "f"
)") == "/jobs/t.toml:1: a cycle of dependencies: a -> b -> c -> a (each needs the next)");

  CHECK(error_of("[[task]]\nname = \"self\"\nfunction = \"f\"\nargs = [{ result = \"self\" }]\n") ==
        "/jobs/t.toml:1: a cycle of dependencies: self -> self (each needs the next)");

  // A task outside the cycle that depends on it is not named.
  CHECK(error_of(R"([[task]]
name = "head"
function = "f"
args = [{ result = "x[0]" }]

[[task]]
name = "x"
function = "f"
count = 2
args = [{ result = "y" }]

[[task]]
name = "y"
function = "f"
after = ["x[1]"]
)") == "/jobs/t.toml:6: a cycle of dependencies: x[1] -> y -> x[1] (each needs the next)");
}

TEST_CASE("an unreadable job file is a JobError naming it", "[cli][job][errors]") {
  CHECK_THROWS_MATCHES(parse_job("/nonexistent/job.toml"), JobError,
                       Catch::Matchers::Message("/nonexistent/job.toml: cannot read the job file"));
}

// ---- JobRun ----

namespace {

/// a -> b -> c (a chain), d independent, e needs a and d.
Job chain_job() {
  return parse(R"(
[[task]]
name = "a"
function = "f"
[[task]]
name = "b"
function = "f"
args = [{ result = "a" }]
[[task]]
name = "c"
function = "f"
args = [{ result = "b" }]
[[task]]
name = "d"
function = "f"
[[task]]
name = "e"
function = "f"
args = [{ result = "a" }, { result = "d" }]
)");
}

}  // namespace

TEST_CASE("ready() offers the tasks whose dependencies are done", "[cli][jobrun]") {
  Job job = chain_job();
  JobRun run(job);
  std::size_t a = *job.find("a"), b = *job.find("b"), c = *job.find("c"), d = *job.find("d"), e = *job.find("e");
  CHECK(run.size() == 5);
  CHECK(run.ready() == std::vector<std::size_t>{a, d});
  CHECK(run.on_submitted(a));
  CHECK_FALSE(run.on_submitted(a));
  CHECK(run.ready() == std::vector<std::size_t>{d});
  CHECK(run.on_running(a, "w1"));
  CHECK(run.status(a).state == TaskState::running);
  CHECK(run.on_done(a, "w1", std::chrono::milliseconds(2), 42));
  CHECK(run.ready() == std::vector<std::size_t>{b, d});
  CHECK(run.on_done(d));
  CHECK(run.ready() == std::vector<std::size_t>{b, e});
  CHECK(run.on_done(b));
  CHECK(run.on_done(e));
  CHECK_FALSE(run.finished());
  CHECK(run.exit_code() == 1);
  CHECK(run.on_done(c));
  CHECK(run.finished());
  CHECK(run.exit_code() == 0);
  CHECK(run.count(TaskState::done) == 5);
  CHECK(run.status(a).result == 42);
  CHECK(run.status(a).worker == "w1");
  CHECK_FALSE(run.on_done(c));  // terminal: ignored
}

TEST_CASE("submittable_all() gives every pending task in topological order with its deps", "[cli][jobrun]") {
  Job job = parse_job(jobs_dir / "pi.toml");
  JobRun run(job);
  auto all = run.submittable_all();
  REQUIRE(all.size() == 17);
  for (std::size_t i = 0; i < 17; ++i) {
    CHECK(all[i].task == i);
    CHECK(all[i].deps == job.tasks[i].deps);
  }
  run.on_submitted(0);
  CHECK(run.submittable_all().size() == 16);
  CHECK(run.dependents(0) == std::vector<std::size_t>{16});
}

TEST_CASE("a failure skips its dependents two levels down and spares the rest", "[cli][jobrun]") {
  Job job = chain_job();
  JobRun run(job);
  std::size_t a = *job.find("a"), b = *job.find("b"), c = *job.find("c"), d = *job.find("d"), e = *job.find("e");
  run.on_submitted(a);
  run.on_submitted(d);
  auto skipped = run.on_failed(a, "ValueError: boom", "w2", std::chrono::milliseconds(1));
  CHECK(skipped == std::vector<std::size_t>{b, c, e});
  CHECK(run.status(a).state == TaskState::failed);
  CHECK(run.status(a).message == "ValueError: boom");
  for (auto s : {b, c, e}) {
    CHECK(run.status(s).state == TaskState::skipped);
    CHECK(run.status(s).message == "skipped: a failed: ValueError: boom");
    CHECK(run.status(s).cause == a);
  }
  CHECK(run.status(d).state == TaskState::submitted);
  CHECK(run.ready().empty());
  CHECK_FALSE(run.finished());
  // The coordinator may still report a skipped dependent's failure: ignored.
  CHECK(run.on_failed(e, "dependency failed").empty());
  CHECK(run.status(e).state == TaskState::skipped);
  CHECK(run.on_done(d));
  CHECK(run.finished());
  CHECK(run.count(TaskState::failed) == 1);
  CHECK(run.count(TaskState::skipped) == 3);
  CHECK(run.count(TaskState::done) == 1);
  CHECK(run.exit_code() == 1);
}

TEST_CASE("failing.toml's run: one failed, two skipped, one done, exit code 1", "[cli][jobrun]") {
  Job job = parse_job(jobs_dir / "failing.toml");
  JobRun run(job);
  CHECK(run.job_name() == "failing");
  auto skipped = run.on_failed(*job.find("broken"), "ValueError: this task fails on purpose");
  CHECK(skipped.size() == 2);
  CHECK(run.status(*job.find("twice_after")).message ==
        "skipped: broken failed: ValueError: this task fails on purpose");
  run.on_done(*job.find("sum"), "w1", {}, 5);
  CHECK(run.finished());
  CHECK(run.exit_code() == 1);
}

TEST_CASE("cancellation cascades to dependents as cancelled, and cancel_all ends the rest", "[cli][jobrun]") {
  Job job = chain_job();
  JobRun run(job);
  std::size_t a = *job.find("a"), b = *job.find("b"), c = *job.find("c"), d = *job.find("d");
  run.on_done(a);
  CHECK(run.on_cancelled(b) == std::vector<std::size_t>{c});
  CHECK(run.status(c).state == TaskState::cancelled);
  CHECK(run.status(c).message == "cancelled: b was cancelled");
  CHECK(run.cancel_all() == std::vector<std::size_t>{d, *job.find("e")});
  CHECK(run.finished());
  CHECK(run.count(TaskState::cancelled) == 4);
  CHECK(run.count(TaskState::failed) == 0);
  CHECK(run.exit_code() == 1);
}

TEST_CASE("JobRun rejects unknown task indices and jobs out of topological order", "[cli][jobrun]") {
  Job job = chain_job();
  JobRun run(job);
  CHECK_THROWS_AS(run.on_done(99), shoal::ValueError);
  CHECK_THROWS_AS(run.status(5), shoal::ValueError);
  std::swap(job.tasks[0], job.tasks[1]);
  job.tasks[0].deps = {1};
  CHECK_THROWS_AS(JobRun(job), shoal::ValueError);
}

TEST_CASE("a reduce over a fan-out of 20000 parses with one future per member", "[cli][job]") {
  Job job = parse(R"(
[[task]]
name = "map"
function = "f"
count = 20000
args = [{ index = true }]

[[task]]
name = "reduce"
function = "g"
args = [{ results = "map" }]
)");
  REQUIRE(job.tasks.size() == 20001);
  const auto& reduce = job.tasks.back();
  REQUIRE(reduce.deps.size() == 20000);
  CHECK(reduce.deps[19999] == 19999);
  CHECK(reduce.args[0][19999] == future(19999));
  JobRun run(job);
  CHECK(run.on_failed(7, "boom") == std::vector<std::size_t>{20000});
}

TEST_CASE("placement and retry keys: per task, from [defaults], and their errors with the line", "[cli][job]") {
  auto job = parse(R"(
[defaults]
resources = "memory=4G"
labels = ["zone=a"]
priority = 1
retry_on = ["ValueError"]

[[task]]
name = "train"
function = "f"
resources = { gpu = 1, memory = "8G" }
prefer = ["disk=ssd"]
strategy = "pack"
priority = 10
retry_attempts = 5
retry_backoff = "250ms"

[[task]]
name = "plain"
function = "f"
labels = []
retry_on = []
)");
  REQUIRE(job.tasks.size() == 2);
  const auto& train = job.tasks[*job.find("train")];
  CHECK(train.placement.resources.at("gpu") == 1);
  CHECK(train.placement.resources.at("memory") == 8.0 * (1 << 30));
  CHECK(train.placement.labels.required == std::vector<std::string>{"zone=a"});
  CHECK(train.placement.labels.preferred == std::vector<std::string>{"disk=ssd"});
  CHECK(train.placement.strategy == shoal::Strategy::pack);
  CHECK(train.placement.priority == 10);
  CHECK(train.retry.on == std::vector<std::string>{"ValueError"});
  CHECK(train.retry.attempts == 5);
  CHECK(train.retry.backoff == std::chrono::milliseconds(250));
  const auto& plain = job.tasks[*job.find("plain")];
  CHECK(plain.placement.resources.at("memory") == 4.0 * (1 << 30));
  CHECK(plain.placement.labels.required.empty());
  CHECK(plain.placement.priority == 1);
  CHECK(plain.retry.on.empty());

  const std::string head = "[[task]]\nname = \"a\"\nfunction = \"f\"\n";  // lines 1-3
  CHECK_THAT(error_of(head + "resources = \"gpu\"\n"), Catch::StartsWith("/jobs/t.toml:4: resources: 'gpu' is not NAME=AMOUNT"));
  CHECK_THAT(error_of(head + "resources = { gpu = true }\n"), Contains("must be a number or a string"));
  CHECK_THAT(error_of(head + "labels = [\"zone\"]\n"), Contains("is not KEY=VALUE or KEY!=VALUE"));
  CHECK_THAT(error_of(head + "strategy = \"sideways\"\n"), Contains("'strategy' must be \"spread\" or \"pack\""));
  CHECK_THAT(error_of(head + "priority = \"high\"\n"), Contains("'priority' must be an integer"));
  CHECK_THAT(error_of(head + "retry_on = [\"a,b\"]\n"), Contains("is not an exception type name"));
}
