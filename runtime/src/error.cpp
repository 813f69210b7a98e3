#include "shoal/core/error.hpp"

#include <asio/error.hpp>
#include <asio/system_error.hpp>
#include <typeinfo>
#include <cxxabi.h>
#include <cstdlib>
#include <memory>

namespace shoal {

namespace {

std::string summarize(const std::string& message, const std::vector<std::exception_ptr>& errors) {
  std::string out = message + " (" + std::to_string(errors.size()) +
                    (errors.size() == 1 ? " sub-exception)" : " sub-exceptions)");
  for (const auto& e : errors) out += "\n  - " + describe(e);
  return out;
}

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

}  // namespace

ExceptionGroup::ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions)
    : Error(summarize(message, exceptions), ErrorKind::failed),
      message_(message),
      exceptions_(std::move(exceptions)) {}

bool is_cancellation(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (const asio::system_error& se) {
    return se.code() == asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

std::string describe(const std::exception_ptr& e) {
  if (!e) return "no exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    if (const auto* o = dynamic_cast<const ErrorOrigin*>(&ex))
      return o->origin_type() + ": " + ex.what() + " (" + o->origin_place() + ")";
    return demangle(typeid(ex).name()) + ": " + ex.what();
  } catch (...) {
    return "unknown exception (not derived from std::exception)";
  }
}

}  // namespace shoal
