#include "job.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <queue>
#include <sstream>
#include <unordered_map>

namespace shoal::cli {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t max_count = 1'000'000;  // a fan-out beyond this is a typo

int line_of(const toml::source_region& r) noexcept { return static_cast<int>(r.begin.line); }

/// What a [[task]] says, before fan-out expansion.
struct Decl {
  std::string name;
  std::string function;
  const toml::array* args = nullptr;
  const toml::array* each = nullptr;
  std::size_t members = 1;
  bool fan_out = false;
  const toml::array* after = nullptr;
  std::optional<milliseconds> timeout;
  std::optional<int> retries;
  link::Placement placement;
  RetryPolicy retry;
  int line = 0;
  std::size_t first = 0;  // index of its first member in Parser::tasks_
};

class Parser {
 public:
  Parser(std::string origin, std::filesystem::path dir) : origin_(std::move(origin)), dir_(std::move(dir)) {}

  Job parse(std::string_view text, std::string default_name) {
    toml::table root;
    try {
      root = toml::parse(text, origin_);
    } catch (const toml::parse_error& e) {
      fail(line_of(e.source()), std::string(e.description()));
    }
    Job job;
    job.name = std::move(default_name);
    job.origin = origin_;
    job.dir = dir_;
    check_keys(root, {"name", "defaults", "task"}, "at the top level");
    if (auto* n = root.get("name")) job.name = string_of(*n, "name");
    if (auto* d = root.get("defaults")) parse_defaults(*d);
    auto* t = root.get("task");
    if (!t) fail(0, "no [[task]]: a job needs at least one task");
    auto* arr = t->as_array();
    if (!arr || !arr->is_array_of_tables()) fail(line_of(t->source()), "'task' must be written [[task]], a table per task");
    if (arr->empty()) fail(line_of(t->source()), "no [[task]]: a job needs at least one task");
    for (auto& node : *arr) parse_decl(*node.as_table());
    expand();
    for (auto& d : decls_)
      for (std::size_t m = 0; m < d.members; ++m) convert_args(d, m);
    job.tasks = sorted();
    return job;
  }

 private:
  struct Member {
    const Decl* decl;
    std::size_t index;
    const toml::node* item;  // `each` element
  };

  [[noreturn]] void fail(int line, const std::string& message) const {
    if (line > 0) throw JobError(origin_ + ":" + std::to_string(line) + ": " + message);
    throw JobError(origin_ + ": " + message);
  }
  [[noreturn]] void fail(const toml::node& n, const std::string& message) const { fail(line_of(n.source()), message); }

  void check_keys(const toml::table& t, std::initializer_list<std::string_view> known, std::string_view where) const {
    for (auto&& [key, value] : t) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      std::string expected;
      for (auto k : known) expected += (expected.empty() ? "" : ", ") + std::string(k);
      int line = line_of(key.source());
      fail(line > 0 ? line : line_of(value.source()),
           "unknown key '" + std::string(key.str()) + "' " + std::string(where) + " (expected " + expected + ")");
    }
  }

  std::string string_of(const toml::node& n, std::string_view what) const {
    if (auto* s = n.as_string()) return s->get();
    fail(n, "'" + std::string(what) + "' must be a string, not " + type_name(n));
  }

  static std::string type_name(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::table: return "a table";
      case toml::node_type::array: return "an array";
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a float";
      case toml::node_type::boolean: return "a boolean";
      default: return "a date or time";
    }
  }

  milliseconds duration_of(const toml::node& n, std::string_view what) const {
    std::optional<milliseconds> d;
    if (auto* i = n.as_integer()) {
      if (i->get() >= 0 && i->get() <= 1'000'000'000) d = milliseconds(i->get() * 1000);
    } else if (auto* f = n.as_floating_point()) {
      double s = f->get();
      if (std::isfinite(s) && s >= 0 && s <= 1e9) d = milliseconds(static_cast<std::int64_t>(std::llround(s * 1000)));
    } else if (auto* s = n.as_string()) {
      d = try_parse_duration(s->get());
    }
    std::string shown = n.is_string() ? "\"" + n.as_string()->get() + "\"" : type_name(n);
    if (n.is_integer()) shown = std::to_string(n.as_integer()->get());
    if (n.is_floating_point()) shown = std::to_string(n.as_floating_point()->get());
    if (!d)
      fail(n, "bad duration " + shown + " for '" + std::string(what) +
                  "' (write \"500ms\", \"30s\", \"2m\", \"1h\", or a number of seconds)");
    if (d->count() == 0) fail(n, "'" + std::string(what) + "' must be more than zero");
    return *d;
  }

  int retries_of(const toml::node& n) const {
    auto* i = n.as_integer();
    if (!i) fail(n, "'retries' must be an integer, not " + type_name(n));
    if (i->get() < 0 || i->get() > 1000) fail(n, "'retries' must be between 0 and 1000, not " + std::to_string(i->get()));
    return static_cast<int>(i->get());
  }

  // The placement keys of a [[task]] or [defaults]: resources ("gpu=1,memory=4G" or a
  // table { gpu = 1, memory = "4G" }), labels and prefer (arrays of "zone=a", "disk!=hdd"),
  // strategy ("spread" or "pack"), priority (an integer). Each overrides its default.
  void placement_of(const toml::table& t, link::Placement& p, RetryPolicy& retry) const {
    if (auto* v = t.get("resources")) {
      try {
        if (auto* s = v->as_string()) {
          p.resources = link::parse_resources(s->get());
        } else if (auto* tab = v->as_table()) {
          std::string text;
          for (auto&& [k, val] : *tab) {
            std::string amount;
            if (auto* i = val.as_integer()) amount = std::to_string(i->get());
            else if (auto* f = val.as_floating_point()) amount = std::to_string(f->get());
            else if (auto* str = val.as_string()) amount = str->get();
            else fail(val, "resource '" + std::string(k.str()) + "' must be a number or a string such as \"16G\", not " + type_name(val));
            text += (text.empty() ? "" : ",") + std::string(k.str()) + "=" + amount;
          }
          p.resources = link::parse_resources(text);
        } else {
          fail(*v, "'resources' must be a string (\"gpu=1,memory=4G\") or a table, not " + type_name(*v));
        }
      } catch (const ValueError& e) {
        fail(*v, e.what());
      }
    }
    auto terms = [&](const char* key, std::vector<std::string>& out) {
      auto* v = t.get(key);
      if (!v) return;
      auto* a = v->as_array();
      if (!a) fail(*v, "'" + std::string(key) + "' must be an array of labels (\"zone=a\"), not " + type_name(*v));
      out.clear();
      for (auto& e : *a) {
        auto* s = e.as_string();
        if (!s) fail(e, "'" + std::string(key) + "' must be an array of labels, not of " + type_name(e));
        try {
          link::check_selector_term(s->get());
        } catch (const ValueError& err) {
          fail(e, err.what());
        }
        out.push_back(s->get());
      }
      if (out.size() > link::kMaxLabels) fail(*v, "'" + std::string(key) + "' has more than " + std::to_string(link::kMaxLabels) + " labels");
    };
    terms("labels", p.labels.required);
    terms("prefer", p.labels.preferred);
    if (auto* v = t.get("strategy")) {
      auto s = string_of(*v, "strategy");
      if (s != "spread" && s != "pack") fail(*v, "'strategy' must be \"spread\" or \"pack\", not \"" + s + "\"");
      p.strategy = s == "pack" ? Strategy::pack : Strategy::spread;
    }
    if (auto* v = t.get("retry_on")) {
      auto* a = v->as_array();
      if (!a) fail(*v, "'retry_on' must be an array of exception types (\"ValueError\"), not " + type_name(*v));
      retry.on.clear();
      for (auto& e : *a) {
        auto* s = e.as_string();
        if (!s) fail(e, "'retry_on' must be an array of exception types, not of " + type_name(e));
        retry.on.push_back(s->get());
      }
    }
    if (auto* v = t.get("retry_attempts")) {
      auto* i = v->as_integer();
      if (!i || i->get() < 0 || i->get() > 1000) fail(*v, "'retry_attempts' must be an integer from 0 to 1000");
      retry.attempts = static_cast<int>(i->get());
    }
    if (auto* v = t.get("retry_backoff")) {
      retry.backoff = duration_of(*v, "retry_backoff");
      retry.max_backoff = std::max(retry.max_backoff, retry.backoff);
    }
    try {
      if (!retry.on.empty()) link::check_retry(retry);
    } catch (const ValueError& e) {
      fail(line_of(t.source()), e.what());
    }
    if (auto* v = t.get("priority")) {
      auto* i = v->as_integer();
      if (!i) fail(*v, "'priority' must be an integer, not " + type_name(*v));
      if (i->get() < -link::kMaxPriority || i->get() > link::kMaxPriority)
        fail(*v, "'priority' must be between -1000 and 1000, not " + std::to_string(i->get()));
      p.priority = static_cast<std::int32_t>(i->get());
    }
  }

  void parse_defaults(const toml::node& n) {
    auto* t = n.as_table();
    if (!t) fail(n, "'defaults' must be a table ([defaults])");
    check_keys(*t,
               {"timeout", "retries", "resources", "labels", "prefer", "strategy", "priority", "retry_on",
                "retry_attempts", "retry_backoff"},
               "in [defaults]");
    if (auto* v = t->get("timeout")) default_timeout_ = duration_of(*v, "timeout");
    if (auto* v = t->get("retries")) default_retries_ = retries_of(*v);
    placement_of(*t, default_placement_, default_retry_);
  }

  static bool valid_name(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
             c == '.';
    });
  }

  void parse_decl(const toml::table& t) {
    Decl d;
    d.line = line_of(t.source());
    check_keys(t,
               {"name", "function", "args", "count", "each", "after", "timeout", "retries", "resources", "labels",
                "prefer", "strategy", "priority", "retry_on", "retry_attempts", "retry_backoff"},
               "in [[task]]");
    auto* name = t.get("name");
    if (!name) fail(d.line, "a [[task]] without a 'name'");
    d.name = string_of(*name, "name");
    if (!valid_name(d.name))
      fail(*name, "bad task name \"" + d.name + "\" (use letters, digits, '_', '-' and '.')");
    std::string label = "task '" + d.name + "'";
    if (auto it = names_.find(d.name); it != names_.end())
      fail(*name, "duplicate task name '" + d.name + "' (first at line " + std::to_string(decls_[it->second].line) + ")");
    auto* function = t.get("function");
    if (!function) fail(d.line, label + " has no 'function'");
    d.function = string_of(*function, "function");
    if (d.function.empty()) fail(*function, label + " has an empty 'function'");
    if (auto* a = t.get("args")) {
      d.args = a->as_array();
      if (!d.args) fail(*a, "'args' of " + label + " must be an array, not " + type_name(*a));
    }
    auto* count = t.get("count");
    auto* each = t.get("each");
    if (count && each) fail(*each, label + " has both 'count' and 'each': choose one");
    if (count) {
      auto* i = count->as_integer();
      if (!i) fail(*count, "'count' of " + label + " must be an integer, not " + type_name(*count));
      if (i->get() < 1) fail(*count, "'count' of " + label + " must be at least 1, not " + std::to_string(i->get()));
      if (static_cast<std::uint64_t>(i->get()) > max_count)
        fail(*count, "'count' of " + label + " is over " + std::to_string(max_count));
      d.members = static_cast<std::size_t>(i->get());
      d.fan_out = true;
    }
    if (each) {
      d.each = each->as_array();
      if (!d.each) fail(*each, "'each' of " + label + " must be an array, not " + type_name(*each));
      if (d.each->empty()) fail(*each, "'each' of " + label + " is empty: a fan-out needs at least 1 member");
      if (d.each->size() > max_count) fail(*each, "'each' of " + label + " has over " + std::to_string(max_count) + " elements");
      d.members = d.each->size();
      d.fan_out = true;
    }
    if (auto* a = t.get("after")) {
      d.after = a->as_array();
      if (!d.after) fail(*a, "'after' of " + label + " must be an array of task names, not " + type_name(*a));
      for (auto& e : *d.after)
        if (!e.is_string()) fail(e, "'after' of " + label + " must be an array of task names, not of " + type_name(e));
    }
    d.timeout = default_timeout_;
    d.retries = default_retries_;
    if (auto* v = t.get("timeout")) d.timeout = duration_of(*v, "timeout");
    if (auto* v = t.get("retries")) d.retries = retries_of(*v);
    d.placement = default_placement_;
    d.retry = default_retry_;
    placement_of(t, d.placement, d.retry);
    names_.emplace(d.name, decls_.size());
    decls_.push_back(std::move(d));
  }

  void expand() {
    for (auto& d : decls_) {
      d.first = tasks_.size();
      for (std::size_t m = 0; m < d.members; ++m) {
        JobTask t;
        t.name = d.fan_out ? d.name + "[" + std::to_string(m) + "]" : d.name;
        t.function = d.function;
        t.timeout = d.timeout;
        t.retries = d.retries;
        t.placement = d.placement;
        t.retry = d.retry;
        t.line = d.line;
        t.group = d.name;
        if (d.fan_out) t.index = m;
        tasks_.push_back(std::move(t));
      }
    }
  }

  // --- arguments ---

  /// `s` with "{i}" and "{item}" replaced for a fan-out member.
  std::string substitute(const std::string& s, const Member& m, const toml::node& where) const {
    if (!m.decl->fan_out || s.find('{') == std::string::npos) return s;
    std::string out;
    for (std::size_t p = 0; p < s.size();) {
      if (s.compare(p, 3, "{i}") == 0) {
        out += std::to_string(m.index);
        p += 3;
      } else if (s.compare(p, 6, "{item}") == 0) {
        if (!m.item) fail(where, "\"{item}\" in task '" + m.decl->name + "', which has no 'each'");
        if (auto* str = m.item->as_string())
          out += str->get();
        else if (auto* i = m.item->as_integer())
          out += std::to_string(i->get());
        else
          fail(where, "\"{item}\" needs 'each' elements that are strings or integers, not " + type_name(*m.item));
        p += 6;
      } else {
        out += s[p++];
      }
    }
    return out;
  }

  /// The member index of `ref` ("prep", "chunk[3]").
  std::size_t resolve(const std::string& ref, const toml::node& where) const {
    std::string group = ref;
    std::optional<std::size_t> index;
    if (auto open = ref.find('['); open != std::string::npos && ref.back() == ']') {
      group = ref.substr(0, open);
      std::string_view digits(ref.data() + open + 1, ref.size() - open - 2);
      std::size_t i = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
        fail(where, "bad task reference \"" + ref + "\" (write \"name\" or \"name[i]\")");
      index = i;
    }
    auto it = names_.find(group);
    if (it == names_.end()) fail(where, "a reference to an unknown task '" + ref + "'");
    const Decl& d = decls_[it->second];
    if (index) {
      if (!d.fan_out) fail(where, "'" + ref + "': task '" + group + "' is not a fan-out (no count or each)");
      if (*index >= d.members)
        fail(where, "a reference to an unknown task '" + ref + "' ('" + group + "' has " + std::to_string(d.members) +
                        " members: " + group + "[0] .. " + group + "[" + std::to_string(d.members - 1) + "])");
      return d.first + *index;
    }
    if (d.fan_out)
      fail(where, "'" + group + "' is a fan-out of " + std::to_string(d.members) + " tasks: use { results = \"" + group +
                      "\" } for all their results, or \"" + group + "[i]\" for one");
    return d.first;
  }

  /// A task's dependency list while its arguments are read, with an index so that a
  /// reduce over a large fan-out stays linear.
  struct Deps {
    std::vector<std::size_t>& list;
    std::unordered_map<std::size_t, std::size_t> position{};

    /// Adds `task` if new; returns its position in the list.
    std::size_t add(std::size_t task) {
      auto [it, added] = position.emplace(task, list.size());
      if (added) list.push_back(task);
      return it->second;
    }
  };

  /// {"$future": k} for the dependency on `task`, adding it to `deps`.
  static json future(Deps& deps, std::size_t task) { return json{{"$future", deps.add(task)}}; }

  /// A TOML value as JSON, nothing special.
  json literal(const toml::node& n) const {
    switch (n.type()) {
      case toml::node_type::string: return n.as_string()->get();
      case toml::node_type::integer: return n.as_integer()->get();
      case toml::node_type::boolean: return n.as_boolean()->get();
      case toml::node_type::floating_point: {
        double d = n.as_floating_point()->get();
        if (!std::isfinite(d)) fail(n, "an argument that is not a finite number (JSON has no nan or inf)");
        return d;
      }
      case toml::node_type::array: {
        json out = json::array();
        for (auto& e : *n.as_array()) out.push_back(literal(e));
        return out;
      }
      case toml::node_type::table: {
        json out = json::object();
        for (auto&& [k, v] : *n.as_table()) out[std::string(k.str())] = literal(v);
        return out;
      }
      default: fail(n, "dates and times are not supported as arguments: write them as strings");
    }
  }

  json convert(const toml::node& n, const Member& m, Deps& deps, bool in_item) const {
    if (auto* s = n.as_string()) return substitute(s->get(), m, n);
    if (auto* a = n.as_array()) {
      json out = json::array();
      for (auto& e : *a) out.push_back(convert(e, m, deps, in_item));
      return out;
    }
    auto* t = n.as_table();
    if (!t) return literal(n);
    if (t->size() == 1) {
      auto first = t->begin();  // toml++'s iterator owns the pair that *first refers to
      auto&& [key, v] = *first;
      std::string_view k = key.str();
      const std::string& task = m.decl->name;
      if (k == "literal") return literal(v);
      if (k == "result") {
        auto* s = v.as_string();
        if (!s) fail(v, "{ result = ... } takes a task name, not " + type_name(v));
        return future(deps, resolve(substitute(s->get(), m, v), v));
      }
      if (k == "results") {
        auto* s = v.as_string();
        if (!s) fail(v, "{ results = ... } takes a task name, not " + type_name(v));
        std::string group = substitute(s->get(), m, v);
        auto it = names_.find(group);
        if (it == names_.end()) {
          if (group.find('[') != std::string::npos)
            fail(v, "{ results = \"" + group + "\" } takes a [[task]] name without [i]");
          fail(v, "a reference to an unknown task '" + group + "'");
        }
        const Decl& d = decls_[it->second];
        json out = json::array();
        for (std::size_t i = 0; i < d.members; ++i) out.push_back(future(deps, d.first + i));
        return out;
      }
      if (k == "index") {
        if (!m.decl->fan_out) fail(v, "{ index = ... } in task '" + task + "', which is not a fan-out (add count = N)");
        if (auto* b = v.as_boolean()) {
          if (!b->get()) fail(v, "{ index = false } means nothing: write { index = true } or { index = OFFSET }");
          return m.index;
        }
        if (auto* i = v.as_integer()) return i->get() + static_cast<std::int64_t>(m.index);
        fail(v, "{ index = ... } takes true or an integer offset, not " + type_name(v));
      }
      if (k == "item") {
        if (!m.item) fail(v, "{ item = true } in task '" + task + "', which has no 'each'");
        if (in_item) fail(v, "{ item = true } inside an 'each' element");
        auto* b = v.as_boolean();
        if (!b || !b->get()) fail(v, "write { item = true }");
        return convert(*m.item, m, deps, true);
      }
      if (k == "path") {
        auto* s = v.as_string();
        if (!s) fail(v, "{ path = ... } takes a string, not " + type_name(v));
        std::filesystem::path p(substitute(s->get(), m, v));
        if (p.is_relative()) p = dir_ / p;
        // A string parameter gets the path, a bytes one the file's contents (json_to_wire).
        return json{{"$path", p.lexically_normal().string()}};
      }
    }
    for (auto&& [k, v] : *t)
      if (is_special(k.str()))
        fail(v, "a table with '" + std::string(k.str()) +
                    "' and other keys: a special argument has one key (to pass such a table as it is, "
                    "write { literal = { ... } })");
    json out = json::object();
    for (auto&& [k, v] : *t) out[std::string(k.str())] = convert(v, m, deps, in_item);
    return out;
  }

  static bool is_special(std::string_view k) {
    return k == "result" || k == "results" || k == "index" || k == "item" || k == "path" || k == "literal";
  }

  void convert_args(const Decl& d, std::size_t index) {
    Member m{&d, index, d.each ? d.each->get(index) : nullptr};
    JobTask& t = tasks_[d.first + index];
    Deps deps{t.deps};
    json args = json::array();
    if (d.args)
      for (auto& a : *d.args) args.push_back(convert(a, m, deps, false));
    t.args = std::move(args);
    if (d.after)
      for (auto& e : *d.after) {
        std::string ref = substitute(e.as_string()->get(), m, e);
        std::vector<std::size_t> targets;
        auto it = names_.find(ref);
        if (it != names_.end() && decls_[it->second].fan_out) {
          for (std::size_t i = 0; i < decls_[it->second].members; ++i) targets.push_back(decls_[it->second].first + i);
        } else {
          targets.push_back(resolve(ref, e));
        }
        for (auto x : targets) deps.add(x);
      }
  }

  // --- order ---

  /// tasks_ in a topological order, file order otherwise; JobError naming a cycle.
  std::vector<JobTask> sorted() {
    std::size_t n = tasks_.size();
    std::vector<std::size_t> missing(n);  // unfinished dependencies
    std::vector<std::vector<std::size_t>> dependents(n);
    for (std::size_t i = 0; i < n; ++i) {
      missing[i] = tasks_[i].deps.size();
      for (auto d : tasks_[i].deps) dependents[d].push_back(i);
    }
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (std::size_t i = 0; i < n; ++i)
      if (missing[i] == 0) ready.push(i);
    std::vector<std::size_t> order;
    std::vector<std::size_t> position(n, n);
    while (!ready.empty()) {
      std::size_t i = ready.top();
      ready.pop();
      position[i] = order.size();
      order.push_back(i);
      for (auto x : dependents[i])
        if (--missing[x] == 0) ready.push(x);
    }
    if (order.size() < n) report_cycle(position);
    std::vector<JobTask> out;
    out.reserve(n);
    for (auto i : order) {
      JobTask t = std::move(tasks_[i]);
      for (auto& d : t.deps) d = position[d];
      out.push_back(std::move(t));
    }
    return out;
  }

  /// Every unsorted task (position == n) depends on an unsorted one: walk until a repeat.
  [[noreturn]] void report_cycle(const std::vector<std::size_t>& position) const {
    std::size_t n = tasks_.size();
    std::size_t start = 0;
    while (position[start] != n) ++start;
    std::vector<std::size_t> path;
    std::vector<std::size_t> seen(n, n);  // index in path
    std::size_t at = start;
    while (seen[at] == n) {
      seen[at] = path.size();
      path.push_back(at);
      for (auto d : tasks_[at].deps)
        if (position[d] == n) {
          at = d;
          break;
        }
    }
    std::vector<std::size_t> cycle(path.begin() + static_cast<std::ptrdiff_t>(seen[at]), path.end());
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    std::string text;
    for (auto i : cycle) text += tasks_[i].name + " -> ";
    text += tasks_[cycle.front()].name;
    fail(tasks_[cycle.front()].line, "a cycle of dependencies: " + text + " (each needs the next)");
  }

  std::string origin_;
  std::filesystem::path dir_;
  std::optional<milliseconds> default_timeout_;
  std::optional<int> default_retries_;
  link::Placement default_placement_;
  RetryPolicy default_retry_;
  std::vector<Decl> decls_;
  std::unordered_map<std::string, std::size_t> names_;  // Decl::name -> index in decls_
  std::vector<JobTask> tasks_;                          // expanded, in file order
};

}  // namespace

std::optional<std::size_t> Job::find(std::string_view task) const {
  for (std::size_t i = 0; i < tasks.size(); ++i)
    if (tasks[i].name == task) return i;
  return std::nullopt;
}

std::optional<milliseconds> try_parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) ++digits;
  std::string_view number = text.substr(0, digits), unit = text.substr(digits);
  if (number.empty() || number.front() == '.' || number.back() == '.' || std::count(number.begin(), number.end(), '.') > 1)
    return std::nullopt;
  double scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else return std::nullopt;
  double value = std::strtod(std::string(number).c_str(), nullptr) * scale;
  if (!std::isfinite(value) || value > 1e15) return std::nullopt;
  return milliseconds(static_cast<std::int64_t>(std::llround(value)));
}

Job parse_job_string(std::string_view toml, std::string_view origin) {
  std::filesystem::path o(origin);
  std::filesystem::path dir = o.has_parent_path() ? std::filesystem::absolute(o.parent_path())
                                                  : std::filesystem::current_path();
  std::string stem = o.stem().string();
  Parser p(std::string(origin), dir.lexically_normal());
  return p.parse(toml, stem.empty() ? "job" : stem);
}

Job parse_job(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw JobError(file.string() + ": cannot read the job file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw JobError(file.string() + ": cannot read the job file");
  return parse_job_string(text.str(), file.string());
}

}  // namespace shoal::cli
