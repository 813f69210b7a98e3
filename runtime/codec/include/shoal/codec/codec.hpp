#pragma once
/// \file
/// shoal::codec: Python's pickling for C++ values that cross a process boundary.
///
///     shoal::Bytes b = shoal::codec::encode(std::map<std::string, double>{{"pi", 3.14}});
///     auto m = shoal::codec::decode<std::map<std::string, double>>(b);
///
/// The core (Codec<T>, encode, decode) is in encoding.hpp; the codecs of the scalar types
/// in scalars.hpp, of containers, compounds and SHOAL_FIELDS structs in containers.hpp.

#include "shoal/codec/containers.hpp"
#include "shoal/codec/encoding.hpp"
#include "shoal/codec/scalars.hpp"
