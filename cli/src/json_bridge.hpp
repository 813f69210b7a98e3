#pragma once
/// \file
/// The JSON bridge: arguments from JSON and results to JSON, driven by a signature's text
/// alone (codec/schema.hpp), so that the `shoal` CLI can call functions it does not link.
///
///     auto sig = codec::parse_signature(entry.signature);          // "int64(int64,string)"
///     Bytes args = remote::json_to_args(sig, nlohmann::json::parse("[3, \"x\"]"), "f");
///     nlohmann::json out = remote::result_to_json(sig, result_bytes);
///
/// The mapping: bool <-> true/false; integers <-> numbers (range-checked; a float with an
/// integral value is accepted); float32/float64 <-> numbers; string <-> string; list, set,
/// array, tuple <-> arrays; map with string keys <-> objects; optional <-> null or the
/// value; none <-> null; enums <-> numbers; SHOAL_FIELDS structs <-> objects (every field,
/// no others). bytes, duration, variant, maps with other keys, Cap'n Proto messages,
/// future_ref and types with their own Codec do not map: TypeMismatch says which.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "shoal/codec/schema.hpp"
#include "shoal/codec/wire.hpp"
#include "shoal/remote/registry.hpp"

namespace shoal::remote {

/// Why values of `t` do not map to JSON (the offending type's text), or nullopt when they do.
[[nodiscard]] std::optional<std::string> json_unsupported(const codec::TypeDesc& t);

/// Appends the JSON value `v` as a `t`. TypeMismatch ("expected int64, received string
/// \"x\"", prefixed with where: "field 'x' of Point") when it does not fit. The object
/// {"$future": i}, in place of a value of any type, encodes a reference to the task's
/// i-th dependency (see codec/future_ref.hpp).
void json_to_wire(codec::Writer& w, const codec::TypeDesc& t, const nlohmann::json& v);

/// The next value of `r`, a `t`, as JSON. TypeMismatch when it is not a `t` or `t` does
/// not map to JSON; DecodeError when the bytes are malformed.
[[nodiscard]] nlohmann::json wire_to_json(codec::Reader& r, const codec::TypeDesc& t);

/// The next value of `r` as JSON, without knowing its type (for inspection): tuples and
/// structs become arrays, maps with string keys objects (others arrays of [key, value]),
/// and the kinds JSON lacks tagged objects: {"$bytes": "<base64>"}, {"$duration_ns": n},
/// {"$variant": i, "value": v}, {"$capnp": "0x<type id>", "bytes": n}, {"$future": i}.
[[nodiscard]] nlohmann::json wire_to_json(codec::Reader& r);

/// The encoded argument tuple of a call of `sig` with `args`, a JSON array. TypeMismatch
/// naming `function`, the argument index and both types when an argument does not fit,
/// when the arity differs, or when an argument's type does not map to JSON.
[[nodiscard]] Bytes json_to_args(const codec::Signature& sig, const nlohmann::json& args,
                                 std::string_view function = "the function");

/// A call's encoded `result` (of `sig`'s result type) as JSON.
[[nodiscard]] nlohmann::json result_to_json(const codec::Signature& sig, const Bytes& result);

/// Calls the function registered as `name` in `registry` here, in this process, with
/// arguments from JSON, and returns its result as JSON. NotRegistered for an unknown
/// name; TypeMismatch when an argument or the result does not map.
[[nodiscard]] nlohmann::json call_json(const Registry& registry, std::string_view name, const nlohmann::json& args);

}  // namespace shoal::remote
