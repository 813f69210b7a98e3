#include "shoal/remote/errors.hpp"

#include <map>
#include <mutex>

namespace shoal::remote {

namespace {

// A maker registered by the user builds from the message only; shoal's own types are
// rebuilt as Remote<E>, which keeps where they happened.
using UserMaker = std::exception_ptr (*)(const std::string&);
using Maker = std::exception_ptr (*)(const codec::RemoteErrorInfo&);

// One of the two, whichever was registered last for the name.
struct Rebuild {
  Maker make = nullptr;
  UserMaker user_make = nullptr;
};

struct ExceptionTable {
  std::mutex mu;
  std::map<std::string, Rebuild, std::less<>> makers;
  ExceptionTable() {
    add<CancelledError>("shoal::CancelledError");
    add<TimeoutError>("shoal::TimeoutError");
    add<TypeMismatch>("shoal::TypeMismatch");
    add<ValueError>("shoal::ValueError");
    add<WorkerLost>("shoal::WorkerLost");
    add<ActorDied>("shoal::ActorDied");
    add<TaskCrashed>("shoal::TaskCrashed");
    add<DependencyFailed>("shoal::DependencyFailed");
    add<InvalidStateError>("shoal::InvalidStateError");
    add<DecodeError>("shoal::DecodeError");
    add<ResultTooLarge>("shoal::ResultTooLarge");
    add<ObjectStoreFull>("shoal::ObjectStoreFull");
    add<Unschedulable>("shoal::Unschedulable");
  }
  template <typename E>
  void add(const char* name) {
    makers[name] = {+[](const codec::RemoteErrorInfo& i) { return std::make_exception_ptr(Remote<E>(E(i.message), i)); }};
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
  t.makers[std::move(type_name)] = {nullptr, make};
}

void register_remote_exception(std::string type_name, Maker make) {
  auto& t = exceptions();
  std::lock_guard lock(t.mu);
  t.makers[std::move(type_name)] = {make, nullptr};
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
    return std::make_exception_ptr(Remote<NotRegistered>(NotRegistered(fn, asked), info));
  }
  Rebuild rebuild;
  {
    auto& t = exceptions();
    std::lock_guard lock(t.mu);
    if (auto it = t.makers.find(info.type_name); it != t.makers.end()) rebuild = it->second;
  }
  // what() is the original message, as Python's concurrent.futures re-raises it; where it
  // ran is the exception's remote_origin() (shoal::describe() prints both).
  if (rebuild.make) return rebuild.make(info);
  if (rebuild.user_make) return rebuild.user_make(info.message);
  return std::make_exception_ptr(RemoteError(info));
}

}  // namespace shoal::remote
