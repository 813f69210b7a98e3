#pragma once
/// \file
/// Type schemas as text, parsed back: what a process that does not link the function (the
/// `shoal` CLI, the coordinator) knows of its types. A signature reads
/// "result(arg,arg,...)", each type as codec::type_schema<T>() spells it:
///
///     bool  int8 .. int64  uint8 .. uint64  float32  float64  string  bytes  duration
///     none  future_ref  list<T>  set<T>  array<T,N>  map<K,V>  optional<T>
///     variant<T,...>  tuple<T,...>  enum<int32>  capnp<Name>  Name{field:T,...}  Name
///
/// (a bare Name is a type with its own Codec, or a struct that contains itself). The hash
/// of a signature is FNV-1a 64 of its text: stable across processes, builds and compilers.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::codec {

/// FNV-1a, 64 bits.
[[nodiscard]] constexpr std::uint64_t fnv1a64(std::string_view text) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : text) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

/// One type of a schema, as a tree.
struct TypeDesc {
  enum class Kind {
    none, bool_, int_, uint_, float32, float64, string, bytes, duration, future_ref,
    list, set, array, map, optional, variant, tuple, struct_, enum_, capnp, named,
  };
  Kind kind = Kind::none;
  int bits = 0;                     ///< int_, uint_: 8, 16, 32 or 64
  std::size_t size = 0;             ///< array: its length
  std::string name;                 ///< struct_, capnp, named: the type's name
  std::vector<TypeDesc> args;       ///< element, key/value, alternative, field or enum integer types
  std::vector<std::string> fields;  ///< struct_: field names, in order

  /// The canonical text (what type_schema<T>() gives for the same type).
  [[nodiscard]] std::string text() const;
};

/// Parses a type's text. ValueError naming the position when it is malformed.
[[nodiscard]] TypeDesc parse_type(std::string_view text);

/// A function's signature, parsed.
struct Signature {
  std::string text;  ///< as given
  std::uint64_t hash = 0;
  TypeDesc result;
  std::vector<TypeDesc> args;
};

/// Parses "result(arg,...)". ValueError when it is malformed.
[[nodiscard]] Signature parse_signature(std::string_view text);

}  // namespace shoal::codec
