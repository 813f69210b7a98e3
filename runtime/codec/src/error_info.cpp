#include "shoal/codec/error_info.hpp"

#include <cxxabi.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace shoal::codec {

namespace {

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

std::string this_host() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace

std::string_view error_kind_name(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::failed: return "failed";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::invalid_state: return "invalid_state";
    case ErrorKind::overloaded: return "overloaded";
    case ErrorKind::disconnected: return "disconnected";
  }
  return "failed";
}

ErrorKind parse_error_kind(std::string_view name) noexcept {
  for (auto k : {ErrorKind::failed, ErrorKind::cancelled, ErrorKind::timeout, ErrorKind::invalid_state,
                 ErrorKind::overloaded, ErrorKind::disconnected})
    if (error_kind_name(k) == name) return k;
  return ErrorKind::failed;
}

RemoteErrorInfo describe_error(const std::exception_ptr& e, std::string function, std::uint64_t task_id) {
  RemoteErrorInfo info;
  try {
    if (!e) {
      info.type_name = "none";
      info.message = "no exception";
    } else {
      std::rethrow_exception(e);
    }
  } catch (const RemoteOrigin& re) {
    return re.info();  // where it first happened
  } catch (const Error& ex) {
    info.type_name = demangle(typeid(ex).name());
    info.message = ex.what();
    info.kind = ex.kind();
  } catch (const std::exception& ex) {
    info.type_name = demangle(typeid(ex).name());
    info.message = ex.what();
  } catch (...) {
    info.type_name = "unknown";
    info.message = "an exception not derived from std::exception";
  }
  info.function = std::move(function);
  info.host = this_host();
  info.pid = static_cast<std::uint32_t>(getpid());
  info.task_id = task_id;
  return info;
}

Bytes encode_error(const std::exception_ptr& e, std::string function, std::uint64_t task_id) {
  return encode(describe_error(e, std::move(function), task_id));
}

void rethrow(RemoteErrorInfo info) { throw RemoteError(std::move(info)); }

}  // namespace shoal::codec

namespace shoal {

std::string RemoteOrigin::origin_place() const {
  const auto& i = info_;
  std::string out = i.function.empty() ? std::string("a remote task") : i.function;
  if (i.task_id) out += ", task " + std::to_string(i.task_id);
  out += " on " + (i.host.empty() ? std::string("an unknown host") : i.host) + ", pid " + std::to_string(i.pid);
  return out;
}

RemoteError::RemoteError(codec::RemoteErrorInfo info) : Error(info.message, info.kind), RemoteOrigin(std::move(info)) {}

}  // namespace shoal
