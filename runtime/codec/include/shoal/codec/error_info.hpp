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

/// A task failed in another process. what() reads "fib raised shoal::ValueError: n must be
/// >= 0 (task 12 on host-a, pid 4242)"; info() has each part; kind() is the remote one.
class RemoteError : public Error {
 public:
  explicit RemoteError(codec::RemoteErrorInfo info);
  [[nodiscard]] const codec::RemoteErrorInfo& info() const noexcept { return info_; }
  /// The remote exception's type name ("std::out_of_range").
  [[nodiscard]] const std::string& remote_type() const noexcept { return info_.type_name; }

 private:
  codec::RemoteErrorInfo info_;
};

namespace codec {
/// Throws the RemoteError for `info`.
[[noreturn]] void rethrow(RemoteErrorInfo info);
}  // namespace codec

}  // namespace shoal
