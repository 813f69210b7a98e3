#pragma once
/// \file
/// Dependencies: a Future passed as a task's argument is encoded as `future_ref i` (an
/// index into the task's dependency list). Once the dependencies are done, the worker
/// splices their encoded results in with resolve_refs() and decodes the arguments as if
/// the values had been there all along. The coordinator never parses arguments.

#include <cstdint>
#include <span>
#include <vector>

#include "shoal/codec/bytes.hpp"
#include "shoal/codec/wire.hpp"

namespace shoal::codec {

/// `args` with every `future_ref i` replaced by the value encoded in `values[i]` (one
/// value each). Capnp messages are re-padded so that they stay aligned where they land.
/// Throws DecodeError for malformed input, an index past `values`, a value that is not
/// exactly one encoded value, or a future_ref inside a value. With no values, returns
/// `args` itself (no copy).
[[nodiscard]] Bytes resolve_refs(const Bytes& args, std::span<const Bytes> values, ReaderLimits limits = {});

/// Whether every future_ref in `args` (an argument tuple) is an argument itself, none
/// inside one: then the arguments decode with Reader::set_refs and need no resolve_refs.
[[nodiscard]] bool refs_are_arguments(const Bytes& args, ReaderLimits limits = {});

/// The future_ref indices in `args`, in encoding order (checked like a decode).
[[nodiscard]] std::vector<std::uint32_t> future_refs(const Bytes& args, ReaderLimits limits = {});

}  // namespace shoal::codec
