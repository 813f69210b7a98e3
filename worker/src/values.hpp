#pragma once
// The values a worker takes in and sends out beside its messages: an Assign's dependency
// values (the large ones a coordinator streams to us are kept until it releases them, so
// that an object crosses the network once), and a Result's value.

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "job.hpp"
#include "shoal/codec/bytes.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/proto/frame.hpp"

namespace shoal::worker {

class DependencyValues {
 public:
  /// The values of `a`'s dependencies, in order. ProtocolError for a malformed assign or
  /// one naming a held value this worker does not hold.
  std::vector<Bytes> take(link::Connection& conn, proto::schema::Assign::Reader a, const proto::FrameOwner& frame);
  /// The coordinator forgot these tasks: their values go.
  void release(capnp::List<std::uint64_t>::Reader ids);
  /// A new connection: the coordinator knows of none of them.
  void clear() noexcept { held_.clear(); }

 private:
  std::unordered_map<std::uint64_t, Bytes> held_;
};

/// Puts `values` where `j` reads them: an argument that is a dependency's value is read
/// where it lies (j.deps: a large object is never copied into the arguments); one inside
/// an argument is spliced into a copy of `args`. Sets j.args. Throws DecodeError.
void place_dependencies(Job& j, Bytes args, std::vector<Bytes> values);

/// Fills `b` with outcome `r`, its value beside the message on `conn` when large.
void fill_result(link::Connection& conn, proto::schema::Result::Builder b, const Outcome& r);

}  // namespace shoal::worker
