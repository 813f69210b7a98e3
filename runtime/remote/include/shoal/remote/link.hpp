#pragma once
/// \file
/// The old home of the daemons' toolkit, kept so that `#include "shoal/remote/link.hpp"`
/// goes on working: addresses, the listener and the clocks now live in shoal/link/, the
/// remote error types in shoal/remote/errors.hpp. The names stay reachable as
/// shoal::remote::X.

#include "shoal/link/address.hpp"
#include "shoal/link/clock.hpp"
#include "shoal/link/listener.hpp"
#include "shoal/link/messages.hpp"
#include "shoal/remote/errors.hpp"

namespace shoal::remote {

using link::Address;
using link::adopt_socket;
using link::connect_socket;
using link::data;
using link::default_address;
using link::default_socket_path;
using link::get_error;
using link::Listener;
using link::make_private_dir;
using link::parse_address;
using link::set_error;
using link::steady_ns;
using link::text;
using link::this_host;
using link::wall_ns;

/// Capnp data as Bytes (copied).
[[nodiscard]] inline Bytes bytes(capnp::Data::Reader d) { return link::bytes(d); }

}  // namespace shoal::remote
