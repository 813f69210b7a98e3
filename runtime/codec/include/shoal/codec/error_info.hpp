#pragma once
/// \file
/// Exceptions across processes: a task that fails on a worker is reported as its
/// exception's type name, message and where it happened (function, host, pid, task), and
/// fails the caller's future with a RemoteError carrying all of it.
///
///     catch (...) { result = codec::encode_error(std::current_exception(), "fib", task_id); }
///     ...
///     codec::rethrow(codec::decode<codec::RemoteErrorInfo>(result));  // throws RemoteError

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "shoal/codec/codec.hpp"
#include "shoal/core/error.hpp"

namespace shoal::codec {

/// What is known of an exception raised elsewhere.
struct RemoteErrorInfo {
  std::string type_name;  ///< the exception's dynamic type, demangled ("shoal::ValueError")
  std::string message;    ///< its what()
  std::string function;   ///< the registered function or "Actor.method" that raised it
  std::string host;       ///< where it ran
  std::uint32_t pid = 0;
  std::uint64_t task_id = 0;
  ErrorKind kind = ErrorKind::failed;  ///< whether retrying can help

  friend bool operator==(const RemoteErrorInfo&, const RemoteErrorInfo&) = default;
};
SHOAL_FIELDS(RemoteErrorInfo, type_name, message, function, host, pid, task_id, kind)

/// The name of an ErrorKind as it travels ("failed", "cancelled", "timeout",
/// "invalid_state", "overloaded", "disconnected").
[[nodiscard]] std::string_view error_kind_name(ErrorKind kind) noexcept;
/// The ErrorKind named `name`; `failed` for a name it does not know.
[[nodiscard]] ErrorKind parse_error_kind(std::string_view name) noexcept;

/// Describes `e` as raised in this process (host name and pid filled in). A RemoteError
/// keeps the information of where it first happened.
[[nodiscard]] RemoteErrorInfo describe_error(const std::exception_ptr& e, std::string function = {},
                                             std::uint64_t task_id = 0);
/// describe_error, encoded.
[[nodiscard]] Bytes encode_error(const std::exception_ptr& e, std::string function = {}, std::uint64_t task_id = 0);

}  // namespace shoal::codec

namespace shoal {

/// What an exception raised in another process knows of its origin: the type, message,
/// function, host, pid and task it had there. Every exception a remote task's future
/// throws carries one (remote_origin() finds it); its what() stays the original message,
/// as in Python's concurrent.futures.
class RemoteOrigin : public ErrorOrigin {
 public:
  explicit RemoteOrigin(codec::RemoteErrorInfo info) noexcept : info_(std::move(info)) {}
  virtual ~RemoteOrigin() = default;
  [[nodiscard]] const codec::RemoteErrorInfo& info() const noexcept { return info_; }
  /// The remote exception's type name ("std::out_of_range").
  [[nodiscard]] const std::string& remote_type() const noexcept { return info_.type_name; }
  [[nodiscard]] std::string origin_type() const override { return info_.type_name; }
  [[nodiscard]] std::string origin_place() const override;

 private:
  codec::RemoteErrorInfo info_;
};

/// A task failed in another process with an exception type this process cannot rebuild
/// (shoal's own types come back as themselves). what() is the remote what(); info() has
/// the type name and where it happened; kind() is the remote one.
class RemoteError : public Error, public RemoteOrigin {
 public:
  explicit RemoteError(codec::RemoteErrorInfo info);
};

/// A shoal error type `E` rebuilt from another process: catch it as `E` (or Error, or
/// std::exception); remote_origin() gives where it happened.
template <typename E>
class Remote final : public E, public RemoteOrigin {
 public:
  Remote(E e, codec::RemoteErrorInfo info) : E(std::move(e)), RemoteOrigin(std::move(info)) {}
};

/// Where `e` happened when it was raised in another process; null for a local exception.
[[nodiscard]] inline const codec::RemoteErrorInfo* remote_origin(const std::exception& e) noexcept {
  const auto* o = dynamic_cast<const RemoteOrigin*>(&e);
  return o ? &o->info() : nullptr;
}

namespace codec {
/// Throws the RemoteError for `info`.
[[noreturn]] void rethrow(RemoteErrorInfo info);
}  // namespace codec

}  // namespace shoal
