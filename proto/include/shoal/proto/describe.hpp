#pragma once
/// \file
/// describe(): a one-line summary of an envelope, for logs ("submit task=7 fn=add args=12B").
/// It reads every field it names, so it is also what the fuzz target drives.

#include <string>

#include "shoal/proto/frame.hpp"

namespace shoal::proto {

/// Throws kj::Exception on a malformed message: call it inside guarded().
std::string describe(Envelope::Reader envelope);

}  // namespace shoal::proto
