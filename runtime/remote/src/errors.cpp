#include "shoal/remote/errors.hpp"

#include <map>
#include <mutex>

namespace shoal::remote {

namespace {

using Maker = std::exception_ptr (*)(const std::string&);

struct ExceptionTable {
  std::mutex mu;
  std::map<std::string, Maker, std::less<>> makers;
  ExceptionTable() {
    add<CancelledError>("shoal::CancelledError");
    add<TimeoutError>("shoal::TimeoutError");
    add<TypeMismatch>("shoal::TypeMismatch");
    add<ValueError>("shoal::ValueError");
    add<WorkerLost>("shoal::WorkerLost");
    add<TaskCrashed>("shoal::TaskCrashed");
    add<DependencyFailed>("shoal::DependencyFailed");
    add<InvalidStateError>("shoal::InvalidStateError");
    add<DecodeError>("shoal::DecodeError");
    add<ResultTooLarge>("shoal::ResultTooLarge");
    add<ObjectStoreFull>("shoal::ObjectStoreFull");
  }
  template <typename E>
  void add(const char* name) {
    makers[name] = +[](const std::string& m) { return std::make_exception_ptr(E(m)); };
  }
};

ExceptionTable& exceptions() {
  static ExceptionTable table;
  return table;
}

}  // namespace

void register_remote_exception(std::string type_name, std::exception_ptr (*make)(const std::string& message)) {
  auto& t = exceptions();
  std::lock_guard lock(t.mu);
  t.makers[std::move(type_name)] = make;
}

std::exception_ptr make_remote_exception(const codec::RemoteErrorInfo& info) {
  if (info.type_name == "shoal::NotRegistered") {
    // Rebuilt from its parts: the message reads "'fn' is not registered (asked: WHO): ...".
    std::string asked = "the workers";
    auto at = info.message.find("(asked: ");
    auto end = info.message.find("): ", at);
    if (at != std::string::npos && end != std::string::npos) asked = info.message.substr(at + 8, end - at - 8);
    std::string fn = info.function;
    if (auto q = info.message.find('\''); fn.empty() && q == 0) fn = info.message.substr(1, info.message.find('\'', 1) - 1);
    return std::make_exception_ptr(NotRegistered(fn, asked));
  }
  Maker make = nullptr;
  {
    auto& t = exceptions();
    std::lock_guard lock(t.mu);
    if (auto it = t.makers.find(info.type_name); it != t.makers.end()) make = it->second;
  }
  if (!make) return std::make_exception_ptr(RemoteError(info));
  std::string where;
  if (info.task_id || !info.host.empty()) {
    where = " (";
    if (!info.function.empty()) where += info.function + ", ";
    where += "task " + std::to_string(info.task_id);
    if (!info.host.empty()) where += " on " + info.host + ", pid " + std::to_string(info.pid);
    where += ")";
  }
  return make(info.message + where);
}

}  // namespace shoal::remote
