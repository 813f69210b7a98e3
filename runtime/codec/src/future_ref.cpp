#include "shoal/codec/future_ref.hpp"

#include <string>

#include "shoal/codec/capnp.hpp"

namespace shoal::codec {

namespace {

struct Splicer {
  std::span<const Bytes> values;
  ReaderLimits limits;
  std::vector<std::uint32_t>* found = nullptr;  // future_refs(): record, do not splice

  // Copies one value from r to w (w null: only walk), splicing future_refs.
  void copy(Reader& r, Writer* w, bool refs_allowed) {
    Tag t = r.tag();
    switch (t) {
      case Tag::false_:
      case Tag::true_:
      case Tag::none:
        if (w) w->tag(t);
        return;
      case Tag::sint:
      case Tag::uint:
      case Tag::duration: {
        std::uint64_t v = r.varint();  // the raw varint: zigzag stays as it is
        if (w) w->tag(t), w->varint(v);
        return;
      }
      case Tag::f32:
      case Tag::f64: {
        auto b = r.take(t == Tag::f32 ? 4 : 8);
        if (w) w->tag(t), w->raw(b.data(), b.size());
        return;
      }
      case Tag::string:
      case Tag::bytes: {
        auto b = r.take(r.count(1));
        if (w) w->tag(t), w->varint(b.size()), w->raw(b.data(), b.size());
        return;
      }
      case Tag::list:
      case Tag::tuple:
      case Tag::map: {
        auto guard = r.nest();
        std::size_t n = r.count(t == Tag::map ? 2 : 1);
        if (w) w->tag(t), w->varint(n);
        for (std::size_t i = 0; i < (t == Tag::map ? 2 * n : n); ++i) copy(r, w, refs_allowed);
        return;
      }
      case Tag::some: {
        auto guard = r.nest();
        if (w) w->tag(t);
        copy(r, w, refs_allowed);
        return;
      }
      case Tag::variant: {
        auto guard = r.nest();
        std::uint64_t index = r.varint();
        if (w) w->tag(t), w->varint(index);
        copy(r, w, refs_allowed);
        return;
      }
      case Tag::capnp: {
        std::uint64_t type_id = r.varint();
        std::uint64_t len = r.varint();
        std::uint64_t pad = r.varint();
        if (pad > 7) r.malformed("a capnp message padded by more than 7 bytes");
        r.take(pad);
        auto flat = r.take(len);
        if (w) detail::write_capnp(*w, type_id, flat);  // re-padded for where it lands
        return;
      }
      case Tag::future_ref: {
        std::uint64_t index = r.varint();
        if (!refs_allowed) r.malformed("a future_ref inside a dependency's value");
        if (found) {
          if (index > 0xffffffffu) r.malformed("a future_ref index beyond uint32");
          found->push_back(static_cast<std::uint32_t>(index));
          return;
        }
        if (index >= values.size())
          r.malformed("future_ref " + std::to_string(index) + " but the task has " +
                      std::to_string(values.size()) + " dependencies");
        Reader vr(values[index], limits);
        copy(vr, w, false);
        if (!vr.at_end()) vr.malformed("dependency " + std::to_string(index) + " holds more than one value");
        return;
      }
    }
  }
};

}  // namespace

Bytes resolve_refs(const Bytes& args, std::span<const Bytes> values, ReaderLimits limits) {
  if (values.empty()) return args;
  std::size_t size = args.size();
  for (const auto& v : values) size += v.size() + 8;
  Writer w(size);
  Reader r(args, limits);
  Splicer s{values, limits};
  while (!r.at_end()) s.copy(r, &w, true);
  return w.finish();
}

bool refs_are_arguments(const Bytes& args, ReaderLimits limits) {
  Reader r(args, limits);
  if (r.at_end() || r.peek() != Tag::tuple) return false;
  r.tag();
  std::size_t n = r.count(1);
  std::vector<std::uint32_t> inside;
  Splicer s{{}, limits, &inside};
  for (std::size_t i = 0; i < n; ++i) {
    if (r.peek() == Tag::future_ref) {
      r.tag();
      r.varint();
      continue;
    }
    s.copy(r, nullptr, true);
    if (!inside.empty()) return false;
  }
  return r.at_end();
}

std::vector<std::uint32_t> future_refs(const Bytes& args, ReaderLimits limits) {
  std::vector<std::uint32_t> out;
  Reader r(args, limits);
  Splicer s{{}, limits, &out};
  while (!r.at_end()) s.copy(r, nullptr, true);
  return out;
}

}  // namespace shoal::codec
