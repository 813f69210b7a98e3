#pragma once
/// \file
/// Conversions between Cap'n Proto readers and shoal's own values: text, bytes (aliasing
/// the received frame where that pays), and the remote-error record.

#include <cstdint>
#include <string>
#include <string_view>

#include "shoal/codec/error_info.hpp"
#include "shoal/codec/shm.hpp"
#include "shoal/link/placement.hpp"
#include "shoal/link/retry.hpp"
#include "shoal/proto/frame.hpp"

namespace shoal::link {

/// Capnp text as a std::string.
[[nodiscard]] inline std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

/// The longest task timeout (about 31 years: far inside what the clocks count, so that
/// no `now + timeout` overflows), and the most retries a task may ask for. The Client
/// refuses more, and so does the coordinator, which does not trust the wire.
inline constexpr std::int64_t kMaxTimeoutMs = 1'000'000'000'000;
inline constexpr int kMaxRetries = 1000;
/// In Assign.depBlobs: "the value of depIds[i], which you hold already" (a worker that
/// values are streamed to keeps each large dependency value until the coordinator
/// releases it, so that an object read by many tasks crosses the network once).
inline constexpr std::uint64_t kHeldValue = ~std::uint64_t{0};

/// The submitted "function" that is a put (Client::put): its arguments are the object,
/// stored as the task's result; its submitter's answer carries no value back.
inline constexpr std::string_view kPutFunction = "shoal.put";
/// The method of a plain task that is a chunk of a map: its worker calls the function once
/// per argument tuple of the list its arguments hold (remote/map.hpp).
inline constexpr std::string_view kMapMethod = "map";
/// The most calls an actor runs at once (ActorOptions::max_concurrency), and the longest
/// name it may have: bounds on what a client may ask of the coordinator and a worker.
inline constexpr std::uint32_t kMaxActorConcurrency = 10000;
inline constexpr std::size_t kMaxActorName = 256;
/// In the coordinator's answer to a subscription for a task it does not know; a client
/// that asked again after a reconnect reads it as "lost with the coordinator".
inline constexpr std::string_view kUnknownTask = "is unknown to this coordinator";

/// What `b` weighs in a message under the batching rule: its size when it travels inside
/// it, and when it travels beside it (shm::kSharedAtBytes or more: Connection::attach) a
/// fixed 32 KiB, so that a batch frame names at most a few such values.
[[nodiscard]] inline std::size_t inline_bytes(const Bytes& b) noexcept {
  return b.size() < codec::shm::kSharedAtBytes ? b.size() : std::size_t{32} << 10;
}
/// What one message may carry inline in values before the rest goes beside it.
inline constexpr std::size_t kInlineBudgetBytes = 4u << 20;

/// Payloads of this size or more alias their frame instead of being copied out of it.
inline constexpr std::size_t kAliasAtBytes = 64 * 1024;

/// Capnp data as Bytes: copied when small, else an alias that keeps `frame`'s receive
/// buffer alive (no copy between the socket and the user's value). `frame` may be null
/// (an in-process message), then the data is always copied.
[[nodiscard]] Bytes bytes(capnp::Data::Reader d, const proto::FrameOwner& frame = {});

/// Capnp data as a view of its bytes (valid while the message is).
[[nodiscard]] inline std::string_view view(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}
/// Bytes held in a string as capnp data (no copy: the message must not outlive `s`).
[[nodiscard]] inline capnp::Data::Reader data(std::string_view s) {
  return {reinterpret_cast<const capnp::byte*>(s.data()), s.size()};
}

/// Bytes as capnp data (no copy: the message must not outlive `b`).
[[nodiscard]] inline capnp::Data::Reader data(const Bytes& b) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(b.data()), b.size());
}

/// The schema's error kind for shoal's ErrorKind, and back.
[[nodiscard]] proto::schema::ErrorKind to_schema(ErrorKind kind) noexcept;
[[nodiscard]] ErrorKind from_schema(proto::schema::ErrorKind kind) noexcept;

void set_error(proto::schema::RemoteError::Builder out, const codec::RemoteErrorInfo& info);
[[nodiscard]] codec::RemoteErrorInfo get_error(proto::schema::RemoteError::Reader in);

/// A placement request into a task's options, and back. Reading checks nothing beyond the
/// counts (kMaxResourceKinds, kMaxLabels): check_placement() judges the content.
void set_placement(proto::schema::TaskOptions::Builder out, const Placement& p);
[[nodiscard]] Placement get_placement(proto::schema::TaskOptions::Reader in);
/// A retry policy into a task's options, and back (nothing set: a policy that retries
/// nothing). Reading checks only the count of types: check_retry() judges the content.
void set_retry(proto::schema::TaskOptions::Builder out, const RetryPolicy& p);
[[nodiscard]] RetryPolicy get_retry(proto::schema::TaskOptions::Reader in);
/// Resources into a list, and back (later duplicates of a name are added up).
void set_resources(capnp::List<proto::schema::Resource>::Builder out, const Resources& r);
[[nodiscard]] Resources get_resources(capnp::List<proto::schema::Resource>::Reader in);

}  // namespace shoal::link
