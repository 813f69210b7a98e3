#pragma once
/// \file
/// A failed task as kept to be replayed (docs/replay.md): the coordinator keeps it
/// (shoal-coordinator --keep-failed), sends it as a ReplayInfo, and `shoal replay` saves
/// and runs it (remote/replay.hpp). One type on both sides, and on the wire one pair of
/// functions.

#include <cstdint>
#include <string>
#include <vector>

#include "shoal/codec/bytes.hpp"
#include "shoal/codec/codec.hpp"
#include "shoal/proto/frame.hpp"
#include "shoal/proto/shoal.capnp.h"

namespace shoal::link {

class Connection;

/// A failed task, self-contained: what to call, with what, and where it failed.
struct ReplayBundle {
  std::uint64_t task_id = 0;
  std::string function;        ///< the registered name
  std::string signature;       ///< as the workers registered it ("" none did)
  std::uint64_t signature_hash = 0;
  Bytes args;                  ///< the encoded argument tuple, as submitted
  std::vector<Bytes> deps;     ///< its dependencies' values, in order
  std::string method;          ///< "map": a chunk of a map (its items in turn); "" a plain call
  std::uint32_t attempt = 0;   ///< the attempt that failed
  std::string error_type;      ///< how it failed there ("shoal::ValueError")
  std::string error_message;
  std::int32_t crash_signal = 0;  ///< the signal its worker died of running it (0: none)
  std::string worker, host;    ///< where it last ran ("" nowhere: it failed before running)
  std::uint32_t pid = 0;
  std::vector<std::string> libraries;  ///< the task libraries that worker had loaded
  std::string executable;              ///< that worker's program
  std::uint64_t failed_ns = 0;         ///< wall clock

  /// What it holds, roughly: the values and the strings (for the coordinator's bound).
  [[nodiscard]] std::size_t bytes() const noexcept;

  friend bool operator==(const ReplayBundle&, const ReplayBundle&) = default;
};
SHOAL_FIELDS(ReplayBundle, task_id, function, signature, signature_hash, args, deps, method, attempt, error_type,
             error_message, crash_signal, worker, host, pid, libraries, executable, failed_ns)

/// Fills `b` with `r`; its values go beside the message on `conn` when large, and small
/// ones too past a frame's inline budget (send the message right after).
void set_replay(proto::schema::ReplayInfo::Builder b, const ReplayBundle& r, Connection& conn);
/// Reads a ReplayInfo that has no `missing`; the values are the bundle's own (copied out
/// of `frame`, or the blobs that came before it on `conn`). ProtocolError for a blob the
/// peer never sent.
[[nodiscard]] ReplayBundle get_replay(proto::schema::ReplayInfo::Reader r, Connection& conn,
                                      const proto::FrameOwner& frame);

}  // namespace shoal::link
