#pragma once
// A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line
// is a HELP or TYPE comment or a sample; a sample's family was declared by TYPE before it;
// names and labels are well formed, values are numbers; no series appears twice;
// histograms have cumulative buckets ending in le="+Inf" equal to their _count. Throws
// std::runtime_error naming the line otherwise.

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace shoal::test {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromText {
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram, ...
  std::vector<PromSample> samples;

  /// The value of the first series `name` whose labels include `some`, or NaN.
  [[nodiscard]] double with(const std::string& name, const std::map<std::string, std::string>& some) const {
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : some) all = all && s.labels.count(k) && s.labels.at(k) == v;
      if (all) return s.value;
    }
    return std::nan("");
  }
  /// The value of the series `name{labels}` (labels exactly), or NaN when absent.
  [[nodiscard]] double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    return std::nan("");
  }
};

namespace prom_detail {

inline bool name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

inline std::string read_name(const std::string& l, std::size_t& i, bool label) {
  auto start = i;
  while (i < l.size() && name_char(l[i], i == start) && !(label && l[i] == ':')) ++i;
  if (i == start) throw std::runtime_error("expected a name at column " + std::to_string(start) + ": " + l);
  return l.substr(start, i - start);
}

inline double read_value(const std::string& v, const std::string& l) {
  if (v == "+Inf") return INFINITY;
  if (v == "-Inf") return -INFINITY;
  if (v == "NaN") return NAN;
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') throw std::runtime_error("not a number: '" + v + "' in: " + l);
  return d;
}

// The family a sample belongs to: its name less a histogram's or summary's suffix.
inline std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  if (types.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      auto base = name.substr(0, name.size() - s.size());
      if (auto it = types.find(base); it != types.end() && (it->second == "histogram" || it->second == "summary"))
        return base;
    }
  }
  return {};
}

}  // namespace prom_detail

inline PromText parse_prometheus(const std::string& text) {
  using namespace prom_detail;
  PromText out;
  std::set<std::string> series, helped;
  std::size_t pos = 0;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("the text does not end with a newline");
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    auto l = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (l.empty()) continue;
    if (l[0] == '#') {
      if (l.rfind("# HELP ", 0) == 0 || l.rfind("# TYPE ", 0) == 0) {
        std::size_t i = 7;
        auto name = read_name(l, i, false);
        if (l.rfind("# TYPE ", 0) == 0) {
          if (i >= l.size() || l[i] != ' ') throw std::runtime_error("TYPE without a type: " + l);
          auto type = l.substr(i + 1);
          static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
          if (!kTypes.count(type)) throw std::runtime_error("unknown type: " + l);
          if (!out.types.emplace(name, type).second) throw std::runtime_error("a second TYPE for " + name);
        } else if (!helped.insert(name).second) {
          throw std::runtime_error("a second HELP for " + name);
        }
      }
      continue;
    }
    std::size_t i = 0;
    PromSample s;
    s.name = read_name(l, i, false);
    if (i < l.size() && l[i] == '{') {
      ++i;
      while (i < l.size() && l[i] != '}') {
        auto key = read_name(l, i, true);
        if (i + 1 >= l.size() || l[i] != '=' || l[i + 1] != '"') throw std::runtime_error("bad label in: " + l);
        i += 2;
        std::string v;
        for (;; ++i) {
          if (i >= l.size()) throw std::runtime_error("unterminated label value in: " + l);
          if (l[i] == '"') break;
          if (l[i] == '\\') {
            ++i;
            if (i >= l.size()) throw std::runtime_error("bad escape in: " + l);
            if (l[i] == 'n') v += '\n';
            else if (l[i] == '\\' || l[i] == '"') v += l[i];
            else throw std::runtime_error("bad escape \\" + std::string(1, l[i]) + " in: " + l);
          } else {
            v += l[i];
          }
        }
        ++i;  // the closing quote
        if (!s.labels.emplace(key, v).second) throw std::runtime_error("label " + key + " twice in: " + l);
        if (i < l.size() && l[i] == ',') ++i;
      }
      if (i >= l.size()) throw std::runtime_error("unterminated labels in: " + l);
      ++i;  // '}'
    }
    if (i >= l.size() || l[i] != ' ') throw std::runtime_error("expected a space before the value in: " + l);
    auto rest = l.substr(i + 1);
    auto sp = rest.find(' ');  // an optional timestamp
    s.value = read_value(rest.substr(0, sp), l);
    if (family_of(s.name, out.types).empty()) throw std::runtime_error("no TYPE before the sample: " + l);
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) key += "|" + k + "=" + v;
    if (!series.insert(key).second) throw std::runtime_error("the series appears twice: " + l);
    out.samples.push_back(std::move(s));
  }
  // Histograms: cumulative buckets, +Inf last and equal to _count.
  for (const auto& [family, type] : out.types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    for (const auto& s : out.samples) {
      if (s.name != family + "_bucket") continue;
      auto labels = s.labels;
      auto le = labels.find("le");
      if (le == labels.end()) throw std::runtime_error(family + "_bucket without le");
      double bound = read_value(le->second, family);
      labels.erase(le);
      buckets[labels].push_back({bound, s.value});
    }
    for (auto& [labels, bs] : buckets) {
      for (std::size_t k = 1; k < bs.size(); ++k)
        if (!(bs[k].first > bs[k - 1].first) || bs[k].second < bs[k - 1].second)
          throw std::runtime_error(family + ": buckets not increasing or not cumulative");
      if (bs.empty() || !std::isinf(bs.back().first)) throw std::runtime_error(family + ": no le=\"+Inf\" bucket");
      double count = out.value(family + "_count", labels);
      if (count != bs.back().second) throw std::runtime_error(family + ": _count differs from the +Inf bucket");
      if (std::isnan(out.value(family + "_sum", labels))) throw std::runtime_error(family + ": no _sum");
    }
  }
  return out;
}

}  // namespace shoal::test
