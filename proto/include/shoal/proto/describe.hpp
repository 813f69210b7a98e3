#pragma once
/// \file
/// describe(): a one-line summary of an envelope, for logs ("submit task=7 fn=add args=12B").
/// It reads every field it names, so it is also what the fuzz target drives.

#include <string>
#include <string_view>

#include "shoal/proto/frame.hpp"

namespace shoal::proto {

/// The name of a connection-level error code ("protocol", "version", "auth", ...).
std::string_view error_code_name(schema::ErrorCode code) noexcept;

/// Throws kj::Exception on a malformed message: call it inside guarded().
std::string describe(Envelope::Reader envelope);

}  // namespace shoal::proto
