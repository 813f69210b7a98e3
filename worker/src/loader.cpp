#include "shoal/worker/loader.hpp"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <iterator>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "shoal/remote/registry.hpp"

namespace shoal::worker {

namespace {

/// The mangled name of shoal::remote::Registry::global(), which every copy of shoal
/// defines (Itanium C++ ABI, as g++ and clang mangle it).
constexpr const char* registry_global_symbol = "_ZN5shoal6remote8Registry6globalEv";

/// "cannot load PATH: CAUSE", with dlerror()'s leading "PATH: " dropped (it would repeat).
std::string dl_failure(const std::string& path) {
  const char* e = dlerror();
  std::string cause = e ? e : "unknown dlopen error";
  const std::string prefix = path + ": ";
  if (cause.rfind(prefix, 0) == 0) cause.erase(0, prefix.size());
  return "cannot load " + path + ": " + cause;
}

std::set<std::string> function_names(const remote::Registry& registry) {
  std::set<std::string> names;
  for (const auto& f : registry.functions()) names.insert(f->name);
  return names;
}

std::set<std::string> actor_names(const remote::Registry& registry) {
  std::set<std::string> names;
  for (const auto& a : registry.actors()) names.insert(a->name);
  return names;
}

std::vector<std::string> added(const std::set<std::string>& before, const std::set<std::string>& after) {
  std::vector<std::string> out;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(out));
  return out;
}

/// The failure message when the library (or a library it depends on) defines its own
/// Registry::global(), or "" when it does not. Such a library was linked with shoal's
/// archives (shoal::remote) instead of shoal::task_library: it carries a second runtime
/// (its own thread-locals and loop state), even though interposition may send its
/// registrations to this process's registry.
std::string own_copy_failure(const std::string& path, void* handle) {
  // dlsym on a handle searches the library and its dependencies, never the executable:
  // it finds nothing in a proper task library.
  dlerror();
  void* found = dlsym(handle, registry_global_symbol);
  if (!found) return {};
  // The worker's own copy, if the worker took shoal from a shared library the task
  // library also depends on, is the one we want.
  if (found == reinterpret_cast<void*>(&remote::Registry::global)) return {};
  const std::string advice = ": link it with shoal_add_task_library / shoal::task_library, not shoal::remote";
  Dl_info info{};
  link_map* map = nullptr;
  if (dladdr(found, &info) != 0 && info.dli_fname && dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map &&
      map->l_name && std::string(info.dli_fname) != map->l_name)
    return path + " brings its own copy of shoal (in " + info.dli_fname + ")" + advice;
  return path + " contains its own copy of shoal" + advice;
}

/// The outcome of every load by handle: dlopen returns the same handle for a library
/// loaded before and does not run its static initialisers again, so a second load must
/// repeat the first one's verdict. Process-wide, because dlopen's table is.
struct Loads {
  std::mutex mu;
  std::map<void*, std::string> failures;  // handle -> the LoadError message, "" when it loaded
  std::vector<std::string> loaded;         // absolute paths of those that loaded, in order
};

Loads& loads() {
  static Loads l;
  return l;
}

}  // namespace

LoadError::LoadError(std::string library, const std::string& message)
    : Error(message, ErrorKind::failed), library_(std::move(library)) {}

LoadedLibrary load_task_library(const std::string& path) {
  Loads& state = loads();
  std::lock_guard lock(state.mu);
  remote::Registry& registry = remote::Registry::global();

  const auto functions_before = function_names(registry);
  const auto actors_before = actor_names(registry);
  const std::size_t problems_before = registry.problems().size();

  dlerror();
  // RTLD_NOW: an undefined symbol fails here, not at the first call. RTLD_LOCAL: this
  // library's symbols are not candidates for the references of libraries loaded later.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw LoadError(path, dl_failure(path));

  if (auto it = state.failures.find(handle); it != state.failures.end()) {
    if (!it->second.empty()) throw LoadError(path, it->second);
    return LoadedLibrary{path, {}, {}};
  }
  std::string& failure = state.failures[handle];

  failure = own_copy_failure(path, handle);
  if (!failure.empty()) throw LoadError(path, failure);

  // Registrations never throw during static initialisation (an exception escaping a
  // static initialiser inside dlopen would terminate the process): Registration notes a
  // clash in the registry instead. This is Registry::verify() restricted to the problems
  // noted while this library initialised, so that an earlier library's are not blamed
  // on this one.
  const auto problems = registry.problems();
  if (problems.size() > problems_before) {
    failure = "cannot load " + path + ": ";
    for (std::size_t i = problems_before; i < problems.size(); ++i)
      failure += (i == problems_before ? "" : "; ") + problems[i];
    throw LoadError(path, failure);
  }
  std::error_code ec;
  auto absolute = std::filesystem::weakly_canonical(path, ec);
  state.loaded.push_back(ec ? path : absolute.string());
  return LoadedLibrary{path, added(functions_before, function_names(registry)),
                       added(actors_before, actor_names(registry))};
}

std::vector<std::string> loaded_task_libraries() {
  Loads& state = loads();
  std::lock_guard lock(state.mu);
  return state.loaded;
}

}  // namespace shoal::worker
