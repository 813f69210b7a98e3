#include "shoal/codec/schema.hpp"

#include <cctype>

#include "shoal/core/error.hpp"

namespace shoal::codec {

namespace {

using Kind = TypeDesc::Kind;

struct Parser {
  std::string_view text;
  std::size_t pos = 0;
  int depth = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw ValueError("malformed type text \"" + std::string(text) + "\" at position " + std::to_string(pos) + ": " +
                     what);
  }
  void space() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  }
  bool eat(char c) {
    space();
    if (pos < text.size() && text[pos] == c) return ++pos, true;
    return false;
  }
  void need(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  std::string ident() {
    space();
    std::size_t start = pos;
    while (pos < text.size()) {
      char c = text[pos];
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') {
        ++pos;
      } else if (c == ':' && pos + 1 < text.size() && text[pos + 1] == ':') {
        pos += 2;
      } else {
        break;
      }
    }
    if (start == pos) fail("expected a type name");
    return std::string(text.substr(start, pos - start));
  }
  std::size_t number() {
    space();
    std::size_t start = pos, n = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (n > (std::size_t(1) << 40)) fail("a number too large");
      n = n * 10 + static_cast<std::size_t>(text[pos++] - '0');
    }
    if (start == pos) fail("expected a number");
    return n;
  }

  std::vector<TypeDesc> type_args() {
    std::vector<TypeDesc> out;
    need('<');
    if (eat('>')) return out;
    do out.push_back(type());
    while (eat(','));
    need('>');
    return out;
  }

  TypeDesc type() {
    if (++depth > 100) fail("types nested deeper than 100");
    TypeDesc t;
    std::string id = ident();
    space();
    if (pos < text.size() && text[pos] == '{') {
      ++pos;
      t.kind = Kind::struct_;
      t.name = id;
      if (!eat('}')) {
        do {
          t.fields.push_back(ident());
          need(':');
          t.args.push_back(type());
        } while (eat(','));
        need('}');
      }
      --depth;
      return t;
    }
    auto arity = [&](std::size_t n) {
      if (t.args.size() != n) fail(id + " takes " + std::to_string(n) + " type arguments");
    };
    static constexpr std::pair<std::string_view, Kind> simple[] = {
        {"none", Kind::none},         {"bool", Kind::bool_},     {"float32", Kind::float32},
        {"float64", Kind::float64},   {"string", Kind::string},  {"bytes", Kind::bytes},
        {"duration", Kind::duration}, {"future_ref", Kind::future_ref}};
    for (auto& [name, kind] : simple)
      if (id == name) {
        t.kind = kind;
        --depth;
        return t;
      }
    for (int bits : {8, 16, 32, 64}) {
      if (id == "int" + std::to_string(bits)) t.kind = Kind::int_, t.bits = bits;
      if (id == "uint" + std::to_string(bits)) t.kind = Kind::uint_, t.bits = bits;
    }
    if (t.bits) {
      --depth;
      return t;
    }
    if (id == "list" || id == "set" || id == "optional") {
      t.kind = id == "list" ? Kind::list : id == "set" ? Kind::set : Kind::optional;
      t.args = type_args();
      arity(1);
    } else if (id == "map") {
      t.kind = Kind::map;
      t.args = type_args();
      arity(2);
    } else if (id == "tuple" || id == "variant") {
      t.kind = id == "tuple" ? Kind::tuple : Kind::variant;
      t.args = type_args();
      if (t.kind == Kind::variant && t.args.empty()) fail("a variant needs alternatives");
    } else if (id == "array") {
      t.kind = Kind::array;
      need('<');
      t.args.push_back(type());
      need(',');
      t.size = number();
      need('>');
    } else if (id == "enum") {
      t.kind = Kind::enum_;
      t.args = type_args();
      arity(1);
      if (t.args[0].kind != Kind::int_ && t.args[0].kind != Kind::uint_) fail("an enum's type must be an integer");
    } else if (id == "capnp") {
      t.kind = Kind::capnp;
      need('<');
      t.name = ident();
      need('>');
    } else {
      t.kind = Kind::named;
      t.name = id;
    }
    --depth;
    return t;
  }
};

void append_list(std::string& out, const std::vector<TypeDesc>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) out += (i ? "," : "") + args[i].text();
}

}  // namespace

std::string TypeDesc::text() const {
  switch (kind) {
    case Kind::none: return "none";
    case Kind::bool_: return "bool";
    case Kind::int_: return "int" + std::to_string(bits);
    case Kind::uint_: return "uint" + std::to_string(bits);
    case Kind::float32: return "float32";
    case Kind::float64: return "float64";
    case Kind::string: return "string";
    case Kind::bytes: return "bytes";
    case Kind::duration: return "duration";
    case Kind::future_ref: return "future_ref";
    case Kind::list: return "list<" + args.at(0).text() + ">";
    case Kind::set: return "set<" + args.at(0).text() + ">";
    case Kind::optional: return "optional<" + args.at(0).text() + ">";
    case Kind::array: return "array<" + args.at(0).text() + "," + std::to_string(size) + ">";
    case Kind::map: return "map<" + args.at(0).text() + "," + args.at(1).text() + ">";
    case Kind::enum_: return "enum<" + args.at(0).text() + ">";
    case Kind::capnp: return "capnp<" + name + ">";
    case Kind::named: return name;
    case Kind::tuple:
    case Kind::variant: {
      std::string out = kind == Kind::tuple ? "tuple<" : "variant<";
      append_list(out, args);
      return out + ">";
    }
    case Kind::struct_: {
      std::string out = name + "{";
      for (std::size_t i = 0; i < args.size(); ++i) out += (i ? "," : "") + fields.at(i) + ":" + args[i].text();
      return out + "}";
    }
  }
  return "?";
}

TypeDesc parse_type(std::string_view text) {
  Parser p{text};
  TypeDesc t = p.type();
  p.space();
  if (p.pos != text.size()) p.fail("unexpected text after the type");
  return t;
}

Signature parse_signature(std::string_view text) {
  Parser p{text};
  Signature s;
  s.text = std::string(text);
  s.hash = fnv1a64(text);
  s.result = p.type();
  p.need('(');
  if (!p.eat(')')) {
    do s.args.push_back(p.type());
    while (p.eat(','));
    p.need(')');
  }
  p.space();
  if (p.pos != text.size()) p.fail("unexpected text after the signature");
  return s;
}

}  // namespace shoal::codec
