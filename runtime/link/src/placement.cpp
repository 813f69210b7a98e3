#include "shoal/link/placement.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cmath>
#include <thread>

#include "shoal/core/error.hpp"

namespace shoal::link {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}
bool value_char(char c) { return name_char(c) || c == ':' || c == '/'; }

void check_name(std::string_view name, std::string_view what) {
  if (name.empty() || name.size() > 64 || !std::all_of(name.begin(), name.end(), name_char))
    throw ValueError(std::string(what) + " '" + std::string(name) +
                     "' is not a name (1 to 64 letters, digits, '_', '.', '-')");
}

void check_amount(std::string_view name, double amount) {
  if (!std::isfinite(amount) || amount < 0 || amount > kMaxResourceAmount)
    throw ValueError("resource '" + std::string(name) + "': the amount must be 0 to 1e14, not " + std::to_string(amount));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <typename F>
void split(std::string_view s, char sep, F each) {
  while (!s.empty()) {
    auto at = s.find(sep);
    each(trim(s.substr(0, at)));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
}

double parse_amount(std::string_view name, std::string_view text) {
  std::string_view digits = text;
  double scale = 1;
  auto suffix = [&](std::string_view sfx, double mul) {
    if (digits.size() > sfx.size() && digits.substr(digits.size() - sfx.size()) == sfx) {
      digits.remove_suffix(sfx.size());
      scale = mul;
      return true;
    }
    return false;
  };
  constexpr double K = 1024.0;
  suffix("Ki", K) || suffix("Mi", K * K) || suffix("Gi", K * K * K) || suffix("Ti", K * K * K * K) || suffix("K", K) ||
      suffix("M", K * K) || suffix("G", K * K * K) || suffix("T", K * K * K * K);
  double v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty())
    throw ValueError("resource '" + std::string(name) + "': '" + std::string(text) +
                     "' is not an amount (a number, with K, M, G or T for bytes)");
  v *= scale;
  check_amount(name, v);
  return v;
}

}  // namespace

std::int64_t resource_units(double amount) noexcept {
  if (!(amount > 0)) return 0;
  return static_cast<std::int64_t>(std::llround(std::min(amount, kMaxResourceAmount) * kResourceUnits));
}

Resources parse_resources(std::string_view text) {
  Resources out;
  split(text, ',', [&](std::string_view part) {
    if (part.empty()) return;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      throw ValueError("resources: '" + std::string(part) + "' is not NAME=AMOUNT (e.g. gpu=1, memory=16G)");
    auto name = trim(part.substr(0, eq));
    check_name(name, "resource");
    if (out.count(name)) throw ValueError("resources: '" + std::string(name) + "' is given twice");
    out.emplace(std::string(name), parse_amount(name, trim(part.substr(eq + 1))));
  });
  check_resources(out);
  return out;
}

void check_resources(const Resources& r) {
  if (r.size() > kMaxResourceKinds)
    throw ValueError("at most " + std::to_string(kMaxResourceKinds) + " kinds of resources, not " + std::to_string(r.size()));
  for (const auto& [name, amount] : r) {
    check_name(name, "resource");
    check_amount(name, amount);
  }
}

std::string format_amount(std::string_view name, double amount) {
  auto units = resource_units(amount);
  if (name.find("memory") != std::string_view::npos && units % kResourceUnits == 0) {
    auto bytes = units / kResourceUnits;
    constexpr std::int64_t M = 1 << 20;
    if (bytes > 0 && bytes % M == 0) {
      static constexpr std::pair<std::int64_t, char> steps[] = {{M << 20, 'T'}, {M << 10, 'G'}, {M, 'M'}};
      for (auto [size, c] : steps)
        if (bytes % size == 0) return std::to_string(bytes / size) + c;
    }
  }
  if (name.find("memory") != std::string_view::npos && units >= (kResourceUnits << 30)) {
    // Not a whole number of MiB (a machine's RAM): to a tenth of a GiB, for people.
    char text[32];
    std::snprintf(text, sizeof text, "%.1fG", static_cast<double>(units / kResourceUnits) / (1 << 30));
    return text;
  }
  std::string out = std::to_string(units / kResourceUnits);
  if (auto frac = units % kResourceUnits) {
    std::string f = std::to_string(frac + kResourceUnits).substr(1);  // four digits
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out;
}

std::string format_resources(const Resources& r) {
  std::string out;
  for (const auto& [name, amount] : r) out += (out.empty() ? "" : ",") + name + "=" + format_amount(name, amount);
  return out;
}

LabelTerm split_term(std::string_view term) {
  LabelTerm t;
  auto eq = term.find('=');
  if (eq == std::string_view::npos) return t;
  t.negate = eq > 0 && term[eq - 1] == '!';
  t.key = std::string(term.substr(0, t.negate ? eq - 1 : eq));
  t.value = std::string(term.substr(eq + 1));
  return t;
}

namespace {
void check_term(std::string_view term, bool selector) {
  auto t = split_term(term);
  if (term.find('=') == std::string_view::npos || (t.negate && !selector))
    throw ValueError("label '" + std::string(term) + "' is not " + (selector ? "KEY=VALUE or KEY!=VALUE" : "KEY=VALUE"));
  check_name(t.key, "label key");
  if (t.value.size() > 128 || !std::all_of(t.value.begin(), t.value.end(), value_char))
    throw ValueError("label '" + std::string(term) + "': the value is at most 128 letters, digits, '_', '.', '-', ':', '/'");
}
}  // namespace

void check_label(std::string_view label) { check_term(label, false); }
void check_selector_term(std::string_view term) { check_term(term, true); }

void check_placement(const Placement& p) {
  check_resources(p.resources);
  if (p.priority < -kMaxPriority || p.priority > kMaxPriority)
    throw ValueError("the priority must be " + std::to_string(-kMaxPriority) + " to " + std::to_string(kMaxPriority) +
                     ", not " + std::to_string(p.priority));
  for (const auto* list : {&p.labels.required, &p.labels.preferred}) {
    if (list->size() > kMaxLabels)
      throw ValueError("at most " + std::to_string(kMaxLabels) + " label terms, not " + std::to_string(list->size()));
    for (const auto& term : *list) check_selector_term(term);
  }
}

std::string placement_key(const Placement& p) {
  if (p == Placement{}) return {};
  std::string out;
  for (const auto& [name, amount] : p.resources) {
    if (resource_units(amount) == 0) continue;  // asking for nothing is not asking
    out += (out.empty() || out.back() == ';' ? "" : ",") + name + "=" + format_amount("", amount);
  }
  auto terms = [&](std::vector<std::string> list) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    out += ';';
    for (std::size_t i = 0; i < list.size(); ++i) out += (i ? "," : "") + list[i];
  };
  terms(p.labels.required);
  terms(p.labels.preferred);
  out += p.strategy == Strategy::pack ? ";pack;" : ";spread;";
  out += std::to_string(p.priority);
  return out == ";;;spread;0" ? std::string() : out;
}

Placement parse_placement_key(std::string_view key) {
  Placement p;
  if (key.empty()) return p;
  std::vector<std::string_view> fields;
  split(key, ';', [&](std::string_view f) { fields.push_back(f); });
  if (fields.size() != 5) throw ValueError("'" + std::string(key) + "' is not a placement");
  p.resources = parse_resources(fields[0]);
  split(fields[1], ',', [&](std::string_view t) {
    if (!t.empty()) p.labels.required.emplace_back(t);
  });
  split(fields[2], ',', [&](std::string_view t) {
    if (!t.empty()) p.labels.preferred.emplace_back(t);
  });
  if (fields[3] == "pack")
    p.strategy = Strategy::pack;
  else if (fields[3] != "spread")
    throw ValueError("'" + std::string(fields[3]) + "' is not a strategy (spread or pack)");
  auto [end, ec] = std::from_chars(fields[4].data(), fields[4].data() + fields[4].size(), p.priority);
  if (ec != std::errc() || end != fields[4].data() + fields[4].size())
    throw ValueError("'" + std::string(fields[4]) + "' is not a priority");
  check_placement(p);
  return p;
}

std::string describe(const Placement& p) {
  std::vector<std::string> parts;
  if (!p.resources.empty()) {
    std::string r;
    for (const auto& [name, amount] : p.resources) r += (r.empty() ? "" : " ") + name + "=" + format_amount(name, amount);
    parts.push_back(r);
  }
  for (const auto& t : p.labels.required) parts.push_back(t);
  for (const auto& t : p.labels.preferred) parts.push_back("prefers " + t);
  if (p.strategy == Strategy::pack) parts.emplace_back("pack");
  if (p.priority) parts.push_back("priority " + std::to_string(p.priority));
  std::string out;
  for (const auto& s : parts) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Resources machine_resources() {
  Resources r;
  r["cpu"] = std::max(1u, std::thread::hardware_concurrency());
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) r["memory"] = static_cast<double>(pages) * static_cast<double>(page);
  return r;
}

}  // namespace shoal::link
