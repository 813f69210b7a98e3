#include "json_bridge.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "shoal/codec/codec.hpp"
#include "shoal/remote/registry.hpp"

namespace shoal::remote {

namespace {

using json = nlohmann::json;
using Kind = codec::TypeDesc::Kind;
using codec::Tag;
using codec::TypeDesc;

std::string show(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + text;
}

[[noreturn]] void json_mismatch(const TypeDesc& t, const json& v) {
  throw TypeMismatch("expected " + t.text() + ", received " + show(v));
}

[[noreturn]] void not_json(const TypeDesc& t) {
  throw TypeMismatch(t.text() + " does not map to JSON: call this function from C++");
}

/// Runs `body`, prefixing a TypeMismatch with `where()`.
template <typename Where, typename Body>
decltype(auto) within(Where&& where, Body&& body) {
  try {
    return body();
  } catch (const TypeMismatch& e) {
    throw TypeMismatch(where() + ": " + e.what());
  }
}

void write_integer(codec::Writer& w, const TypeDesc& t, const json& v) {
  const TypeDesc& it = t.kind == Kind::enum_ ? t.args.at(0) : t;
  bool is_signed = it.kind == Kind::int_;
  // The range of the type, as a signed minimum and an unsigned maximum.
  std::int64_t min = is_signed ? (it.bits == 64 ? std::numeric_limits<std::int64_t>::min()
                                                : -(std::int64_t{1} << (it.bits - 1)))
                               : 0;
  std::uint64_t max = is_signed ? (std::uint64_t{1} << (it.bits - 1)) - 1
                                : (it.bits == 64 ? std::numeric_limits<std::uint64_t>::max()
                                                 : (std::uint64_t{1} << it.bits) - 1);
  bool negative = false;
  std::uint64_t magnitude = 0;  // |value|
  if (v.is_number_unsigned()) {
    magnitude = v.get<std::uint64_t>();
  } else if (v.is_number_integer()) {
    std::int64_t i = v.get<std::int64_t>();
    negative = i < 0;
    magnitude = negative ? 0 - static_cast<std::uint64_t>(i) : static_cast<std::uint64_t>(i);
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || std::floor(d) != d || d < -9.2233720368547758e18 || d >= 1.8446744073709552e19)
      json_mismatch(t, v);
    negative = d < 0;
    magnitude = static_cast<std::uint64_t>(negative ? -d : d);  // exact: d is integral and in range
  } else {
    json_mismatch(t, v);
  }
  if (negative ? magnitude > 0 - static_cast<std::uint64_t>(min) : magnitude > max)
    throw TypeMismatch("expected " + t.text() + ", received " + show(v) + " (out of range)");
  if (is_signed) {
    w.tag(Tag::sint);
    w.svarint(negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude));
  } else {
    w.tag(Tag::uint);
    w.varint(magnitude);
  }
}

json read_integer(codec::Reader& r, const TypeDesc& t) {
  const TypeDesc& it = t.kind == Kind::enum_ ? t.args.at(0) : t;
  if (it.kind == Kind::int_) {
    switch (it.bits) {
      case 8: return codec::decode<std::int8_t>(r);
      case 16: return codec::decode<std::int16_t>(r);
      case 32: return codec::decode<std::int32_t>(r);
      default: return codec::decode<std::int64_t>(r);
    }
  }
  switch (it.bits) {
    case 8: return codec::decode<std::uint8_t>(r);
    case 16: return codec::decode<std::uint16_t>(r);
    case 32: return codec::decode<std::uint32_t>(r);
    default: return codec::decode<std::uint64_t>(r);
  }
}

std::string base64(std::span<const std::byte> in) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = std::to_integer<std::uint32_t>(in[i]) << 16 | std::to_integer<std::uint32_t>(in[i + 1]) << 8 |
                      std::to_integer<std::uint32_t>(in[i + 2]);
    out += table[n >> 18];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (i + 1 == in.size()) {
    std::uint32_t n = std::to_integer<std::uint32_t>(in[i]) << 16;
    out += table[n >> 18];
    out += table[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    std::uint32_t n = std::to_integer<std::uint32_t>(in[i]) << 16 | std::to_integer<std::uint32_t>(in[i + 1]) << 8;
    out += table[n >> 18];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// {"$bytes": "<base64>"}, as results show bytes.
void write_base64(codec::Writer& w, const std::string& text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int d = base64_digit(c);
    if (d < 0) throw TypeMismatch("{\"$bytes\": ...} takes base64, and '" + std::string(1, c) + "' is not a base64 digit");
    acc = (acc << 6) | static_cast<std::uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  w.tag(Tag::bytes);
  w.varint(out.size());
  w.raw(out.data(), out.size());
}

// {"$path": "file"}: the file's contents, read as they are streamed into the encoding (a
// large file goes to shared memory with no copy held in between).
void write_file(codec::Writer& w, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ValueError("cannot read " + path + ": " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ValueError(path + " is not a regular file: a bytes argument reads a file");
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  w.tag(Tag::bytes);
  w.varint(size);
  std::vector<char> buf(std::min<std::uint64_t>(size, 4u << 20));
  std::uint64_t done = 0;
  while (done < size) {
    auto n = ::read(fd, buf.data(), std::min<std::uint64_t>(buf.size(), size - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      throw ValueError("cannot read " + path + ": " + (n < 0 ? std::strerror(e) : "it shrank while being read"));
    }
    w.raw(buf.data(), static_cast<std::size_t>(n));
    done += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
}

}  // namespace

std::optional<std::string> json_unsupported(const TypeDesc& t) {
  switch (t.kind) {
    case Kind::duration:
    case Kind::variant:
    case Kind::capnp:
    case Kind::future_ref:
    case Kind::named: return t.text();
    case Kind::map:
      if (t.args.at(0).kind != Kind::string) return t.text();
      return json_unsupported(t.args.at(1));
    case Kind::list:
    case Kind::set:
    case Kind::array:
    case Kind::optional:
    case Kind::tuple:
    case Kind::struct_:
      for (const auto& a : t.args)
        if (auto why = json_unsupported(a)) return why;
      return std::nullopt;
    default: return std::nullopt;
  }
}

void json_to_wire(codec::Writer& w, const TypeDesc& t, const json& v) {
  // {"$future": i} stands for the task's i-th dependency, whatever the type: the worker
  // splices its result in (codec::resolve_refs). The CLI's job files use it.
  if (v.is_object() && v.size() == 1 && v.contains("$future")) {
    const json& i = v["$future"];
    if (!i.is_number_unsigned() && !(i.is_number_integer() && i.get<std::int64_t>() >= 0))
      throw TypeMismatch("{\"$future\": i} takes a dependency index (an unsigned integer), received " + show(i));
    std::uint64_t index = i.get<std::uint64_t>();
    if (index > 0xffffffffu) throw TypeMismatch("a {\"$future\": i} index beyond uint32: " + show(i));
    w.tag(Tag::future_ref);
    w.varint(index);
    return;
  }
  // {"$path": "file"}: a file's contents for bytes, its path for a string (job files'
  // { path = ... }).
  if (v.is_object() && v.size() == 1 && v.contains("$path") && v["$path"].is_string()) {
    const auto& path = v["$path"].get_ref<const std::string&>();
    if (t.kind == Kind::bytes) return write_file(w, path);
    if (t.kind == Kind::string) {
      w.tag(Tag::string);
      w.varint(path.size());
      w.raw(path.data(), path.size());
      return;
    }
    throw TypeMismatch("{\"$path\": ...} gives a bytes argument a file's contents, or a string its path; expected " +
                       t.text());
  }
  switch (t.kind) {
    case Kind::bytes:
      if (v.is_object() && v.size() == 1 && v.contains("$bytes") && v["$bytes"].is_string())
        return write_base64(w, v["$bytes"].get_ref<const std::string&>());
      if (v.is_string()) {  // its UTF-8 bytes
        const auto& s = v.get_ref<const std::string&>();
        w.tag(Tag::bytes);
        w.varint(s.size());
        w.raw(s.data(), s.size());
        return;
      }
      throw TypeMismatch("expected bytes ({\"$path\": \"file\"}, {\"$bytes\": \"base64\"} or a string), received " +
                         show(v));
    case Kind::none:
      if (!v.is_null()) json_mismatch(t, v);
      w.tag(Tag::none);
      return;
    case Kind::bool_:
      if (!v.is_boolean()) json_mismatch(t, v);
      w.tag(v.get<bool>() ? Tag::true_ : Tag::false_);
      return;
    case Kind::int_:
    case Kind::uint_:
    case Kind::enum_: write_integer(w, t, v); return;
    case Kind::float32: {
      if (!v.is_number()) json_mismatch(t, v);
      double d = v.get<double>();
      if (std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max()))
        throw TypeMismatch("expected float32, received " + show(v) + " (out of range)");
      w.tag(Tag::f32);
      w.f32(static_cast<float>(d));
      return;
    }
    case Kind::float64:
      if (!v.is_number()) json_mismatch(t, v);
      w.tag(Tag::f64);
      w.f64(v.get<double>());
      return;
    case Kind::string: {
      if (!v.is_string()) json_mismatch(t, v);
      const auto& s = v.get_ref<const std::string&>();
      w.tag(Tag::string);
      w.varint(s.size());
      w.raw(s.data(), s.size());
      return;
    }
    case Kind::list:
    case Kind::set:
    case Kind::array:
      if (!v.is_array() || (t.kind == Kind::array && v.size() != t.size)) json_mismatch(t, v);
      w.tag(Tag::list);
      w.varint(v.size());
      for (std::size_t i = 0; i < v.size(); ++i)
        within([&] { return "element " + std::to_string(i) + " of " + t.text(); },
               [&] { json_to_wire(w, t.args.at(0), v[i]); });
      return;
    case Kind::map:
      if (t.args.at(0).kind != Kind::string) not_json(t);
      if (!v.is_object()) json_mismatch(t, v);
      w.tag(Tag::map);
      w.varint(v.size());
      for (const auto& [key, value] : v.items()) {
        w.tag(Tag::string);
        w.varint(key.size());
        w.raw(key.data(), key.size());
        within([&] { return "value '" + key + "' of " + t.text(); }, [&] { json_to_wire(w, t.args.at(1), value); });
      }
      return;
    case Kind::optional:
      if (v.is_null()) {
        w.tag(Tag::none);
      } else {
        w.tag(Tag::some);
        within([&] { return "the value of " + t.text(); }, [&] { json_to_wire(w, t.args.at(0), v); });
      }
      return;
    case Kind::tuple:
      if (!v.is_array() || v.size() != t.args.size()) json_mismatch(t, v);
      w.tag(Tag::tuple);
      w.varint(t.args.size());
      for (std::size_t i = 0; i < t.args.size(); ++i)
        within([&] { return "element " + std::to_string(i) + " of " + t.text(); },
               [&] { json_to_wire(w, t.args[i], v[i]); });
      return;
    case Kind::struct_: {
      if (!v.is_object()) json_mismatch(t, v);
      for (const auto& [key, value] : v.items()) {
        bool known = false;
        for (const auto& f : t.fields) known = known || f == key;
        if (!known) throw TypeMismatch("expected " + t.name + ", received an object with an unknown field '" + key + "'");
      }
      w.tag(Tag::tuple);
      w.varint(t.fields.size());
      for (std::size_t i = 0; i < t.fields.size(); ++i) {
        auto it = v.find(t.fields[i]);
        if (it == v.end())
          throw TypeMismatch("expected " + t.name + ", received an object without the field '" + t.fields[i] + "'");
        within([&] { return "field '" + t.fields[i] + "' of " + t.name; }, [&] { json_to_wire(w, t.args.at(i), *it); });
      }
      return;
    }
    default: not_json(t);
  }
}

json wire_to_json(codec::Reader& r, const TypeDesc& t) {
  switch (t.kind) {
    case Kind::none: r.expect(Tag::none, "none"); return nullptr;
    case Kind::bool_: return codec::decode<bool>(r);
    case Kind::int_:
    case Kind::uint_:
    case Kind::enum_: return read_integer(r, t);
    case Kind::float32: return codec::decode<float>(r);
    case Kind::float64: return codec::decode<double>(r);
    case Kind::string: return codec::decode<std::string>(r);
    case Kind::bytes: {
      auto b = codec::decode<Bytes>(r);
      return json{{"$bytes", base64(b.span())}};
    }
    case Kind::list:
    case Kind::set:
    case Kind::array: {
      auto guard = r.nest();
      r.expect(Tag::list, t.text());
      std::size_t n = r.count(1);
      if (t.kind == Kind::array && n != t.size)
        throw TypeMismatch("expected " + t.text() + ", received a list of " + std::to_string(n) + " elements");
      r.charge(n * sizeof(json));
      json out = json::array();
      for (std::size_t i = 0; i < n; ++i)
        out.push_back(within([&] { return "element " + std::to_string(i) + " of " + t.text(); },
                             [&] { return wire_to_json(r, t.args.at(0)); }));
      return out;
    }
    case Kind::map: {
      if (t.args.at(0).kind != Kind::string) not_json(t);
      auto guard = r.nest();
      r.expect(Tag::map, t.text());
      std::size_t n = r.count(2);
      r.charge(n * 2 * sizeof(json));
      json out = json::object();
      for (std::size_t i = 0; i < n; ++i) {
        auto key = within([&] { return "key " + std::to_string(i) + " of " + t.text(); },
                          [&] { return codec::decode<std::string>(r); });
        if (out.contains(key)) r.malformed("duplicate key '" + key + "' in " + t.text());
        out[key] = within([&] { return "value '" + key + "' of " + t.text(); },
                          [&] { return wire_to_json(r, t.args.at(1)); });
      }
      return out;
    }
    case Kind::optional: {
      Tag tag = r.peek();
      if (tag == Tag::none) return r.tag(), json(nullptr);
      if (tag != Tag::some) r.mismatch(t.text());
      r.tag();
      auto guard = r.nest();
      return within([&] { return "the value of " + t.text(); }, [&] { return wire_to_json(r, t.args.at(0)); });
    }
    case Kind::tuple: {
      auto guard = r.nest();
      codec::detail::open_tuple(r, t.text(), t.args.size());
      json out = json::array();
      for (std::size_t i = 0; i < t.args.size(); ++i)
        out.push_back(within([&] { return "element " + std::to_string(i) + " of " + t.text(); },
                             [&] { return wire_to_json(r, t.args[i]); }));
      return out;
    }
    case Kind::struct_: {
      auto guard = r.nest();
      codec::detail::open_tuple(r, t.name, t.fields.size());
      json out = json::object();
      for (std::size_t i = 0; i < t.fields.size(); ++i)
        out[t.fields[i]] = within([&] { return "field '" + t.fields[i] + "' of " + t.name; },
                                  [&] { return wire_to_json(r, t.args.at(i)); });
      return out;
    }
    default: not_json(t);
  }
}

json wire_to_json(codec::Reader& r) {
  Tag t = r.tag();
  switch (t) {
    case Tag::false_: return false;
    case Tag::true_: return true;
    case Tag::sint: return r.svarint();
    case Tag::uint: return r.varint();
    case Tag::f32: return r.f32();
    case Tag::f64: return r.f64();
    case Tag::none: return nullptr;
    case Tag::string: {
      auto s = r.take(r.count(1));
      return std::string(reinterpret_cast<const char*>(s.data()), s.size());
    }
    case Tag::bytes: return json{{"$bytes", base64(r.take(r.count(1)))}};
    case Tag::duration: return json{{"$duration_ns", r.svarint()}};
    case Tag::future_ref: return json{{"$future", r.varint()}};
    case Tag::some: {
      auto guard = r.nest();
      return wire_to_json(r);
    }
    case Tag::variant: {
      auto guard = r.nest();
      std::uint64_t i = r.varint();
      return json{{"$variant", i}, {"value", wire_to_json(r)}};
    }
    case Tag::list:
    case Tag::tuple: {
      auto guard = r.nest();
      std::size_t n = r.count(1);
      r.charge(n * sizeof(json));
      json out = json::array();
      for (std::size_t i = 0; i < n; ++i) out.push_back(wire_to_json(r));
      return out;
    }
    case Tag::map: {
      auto guard = r.nest();
      std::size_t n = r.count(2);
      r.charge(n * 3 * sizeof(json));
      json pairs = json::array();
      bool string_keys = true;
      for (std::size_t i = 0; i < n; ++i) {
        json k = wire_to_json(r);
        json v = wire_to_json(r);
        string_keys = string_keys && k.is_string();
        pairs.push_back(json::array({std::move(k), std::move(v)}));
      }
      if (!string_keys) return pairs;
      json out = json::object();
      for (auto& p : pairs) out[p[0].get<std::string>()] = std::move(p[1]);
      return out;
    }
    case Tag::capnp: {
      std::uint64_t id = r.varint();
      std::uint64_t len = r.varint();
      std::uint64_t pad = r.varint();
      if (pad > 7) r.malformed("a capnp message padded by more than 7 bytes");
      r.take(pad);
      r.take(len);
      char text[24];
      std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(id));
      return json{{"$capnp", text}, {"bytes", len}};
    }
  }
  r.malformed("an unknown tag");
}

Bytes json_to_args(const codec::Signature& sig, const json& args, std::string_view function) {
  std::string fn(function);
  if (!args.is_array())
    throw TypeMismatch(fn + " takes its arguments as a JSON array, received " + show(args) + " (registered as " +
                       sig.text + ")");
  for (std::size_t i = 0; i < sig.args.size(); ++i)
    if (auto why = json_unsupported(sig.args[i]))
      throw TypeMismatch("argument " + std::to_string(i) + " of " + fn + " has the type " + sig.args[i].text() +
                         ", and " + *why + " does not map to JSON (registered as " + sig.text + "): call it from C++");
  if (args.size() != sig.args.size())
    throw TypeMismatch(fn + " takes " + std::to_string(sig.args.size()) +
                       (sig.args.size() == 1 ? " argument" : " arguments") + ", received " +
                       std::to_string(args.size()) + " (called with " + show(args) + "; registered as " + sig.text +
                       ")");
  codec::Writer w;
  w.tag(Tag::tuple);
  w.varint(sig.args.size());
  for (std::size_t i = 0; i < sig.args.size(); ++i)
    within([&] { return "argument " + std::to_string(i) + " of " + fn + " (registered as " + sig.text + ")"; },
           [&] { json_to_wire(w, sig.args[i], args[i]); });
  return w.finish();
}

json result_to_json(const codec::Signature& sig, const Bytes& result) {
  if (auto why = json_unsupported(sig.result))
    throw TypeMismatch("the result type " + sig.result.text() + " (" + *why + ") does not map to JSON (registered as " +
                       sig.text + ")");
  codec::Reader r(result);
  json out = wire_to_json(r, sig.result);
  r.expect_end();
  return out;
}

json call_json(const Registry& registry, std::string_view name, const json& args) {
  auto entry = registry.get(name);
  auto sig = codec::parse_signature(entry->signature);
  if (auto why = json_unsupported(sig.result))
    throw TypeMismatch(std::string(name) + ": the result type " + sig.result.text() + " does not map to JSON (" +
                       *why + "; registered as " + sig.text + "): call it from C++");
  Bytes encoded = json_to_args(sig, args, name);
  return result_to_json(sig, entry->invoke(encoded));
}

}  // namespace shoal::remote
