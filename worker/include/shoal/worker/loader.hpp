#pragma once
/// \file
/// Loading task libraries: `shoal-worker --load libtasks.so` (docs/architecture.md, "Task libraries").
///
/// A task library is a MODULE library of SHOAL_REMOTE / SHOAL_ACTOR registrations built
/// against shoal::task_library: it contains no shoal code, so its registrations and runtime
/// calls resolve at dlopen time to the one copy of shoal inside the worker (linked whole and
/// with -rdynamic). One registry, one loop implementation, one set of thread-locals.
///
///     auto loaded = shoal::worker::load_task_library("./libshoal_examples.so");
///     // loaded.functions == {"add", "fib", ...}; Registry::global().get("fib") works now

#include <string>
#include <vector>

#include "shoal/core/error.hpp"

namespace shoal::worker {

/// A task library could not be loaded: the file is missing, a symbol is undefined, it
/// carries its own copy of shoal, or it registers a name another function already has.
/// The message is one line naming the library and the cause. Retrying fails again: fix
/// the library (or the command line).
class LoadError : public Error {
 public:
  /// `library`: the path as given; `message`: the whole one-line message, which names it
  /// ("cannot load ./libx.so: undefined symbol: foo").
  LoadError(std::string library, const std::string& message);
  /// The path as given to load_task_library().
  [[nodiscard]] const std::string& library() const noexcept { return library_; }

 private:
  std::string library_;
};

/// What one load_task_library() call added to Registry::global().
struct LoadedLibrary {
  std::string path;                    ///< as given
  std::vector<std::string> functions;  ///< names of the functions it registered
  std::vector<std::string> actors;     ///< names of the actor types it registered
};

/// Loads the task library at `path` with `dlopen(path, RTLD_NOW | RTLD_LOCAL)` (so an
/// undefined symbol is reported now, not at the first call), checks that it does not
/// contain its own copy of shoal, and checks that its registrations did not clash with
/// names already registered (Registry::problems() noted during its static initialisation).
/// The library stays loaded for the life of the process, also when a check fails: its
/// static initialisers have run, so the caller is expected to stop (shoal-worker exits
/// with status 2). Loading the same library again is a no-op that returns an empty
/// LoadedLibrary, or throws the same LoadError when its first load failed.
/// Thread-safe (loads are serialised).
/// Throws LoadError naming the library and the cause.
LoadedLibrary load_task_library(const std::string& path);

/// The task libraries this process loaded, as absolute paths, in load order (a worker
/// registers them: a failed task's replay names them).
[[nodiscard]] std::vector<std::string> loaded_task_libraries();

}  // namespace shoal::worker
