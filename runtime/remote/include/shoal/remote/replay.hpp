#pragma once
/// \file
/// Replaying a failed task elsewhere (`shoal replay`, Client::replay): the coordinator
/// keeps a failed task's encoded arguments and its dependencies' values for a while
/// (shoal-coordinator --keep-failed); a ReplayBundle carries them with where the task ran,
/// and run_replay() calls the same registered function with them in this process.
///
///     auto bundle = client.replay_bundle(id).result();   // or load_bundle("task.replay")
///     Bytes value = shoal::remote::run_replay(bundle);    // throws what the task threw

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shoal/link/replay_info.hpp"

namespace shoal::remote {

struct FunctionEntry;

/// A failed task, self-contained (link/replay_info.hpp: the coordinator keeps the same).
using link::ReplayBundle;

/// Writes `b` to `path` (mode 0600: arguments may be private; never through a symlink):
/// a magic line, a format version and the encoded bundle. Throws Error.
void save_bundle(const ReplayBundle& b, const std::string& path);
/// Reads a bundle save_bundle() wrote. Throws Error (cannot read it), ValueError (not a
/// replay bundle, or a version this build does not read) or DecodeError (damaged).
[[nodiscard]] ReplayBundle load_bundle(const std::string& path);

/// Runs the task here, on this thread: the function registered under `b.function` with
/// `b.args` (and `b.deps` where the arguments refer to them). Returns the encoded result
/// and throws whatever the function throws; NotRegistered when this process has no such
/// function (load its library), TypeMismatch when its signature differs from the one the
/// task was submitted for. A coroutine function runs on a loop of its own (so not from a
/// loop's thread). A map chunk runs its items in order as a worker does, each item's
/// exception its outcome: the result is the chunk's (the encoded MapOutcome list).
[[nodiscard]] Bytes run_replay(const ReplayBundle& b);

/// What an operator reads of `b` before it runs: function, task, attempt, where it ran and
/// how it failed (a few lines, no trailing newline).
[[nodiscard]] std::string describe_bundle(const ReplayBundle& b);

/// The function entry run_replay() would call for `b`: NotRegistered when this process has
/// no such function, TypeMismatch when its signature differs from the task's.
[[nodiscard]] std::shared_ptr<const FunctionEntry> replay_entry(const ReplayBundle& b);

}  // namespace shoal::remote

/// Set to the function's address just before run_replay() calls it, and then
/// shoal_replay_breakpoint() is called: a debugger breaks there, then on
/// `*shoal_replay_function` (`shoal replay --debugger gdb` does both).
extern "C" {
extern const void* volatile shoal_replay_function;
void shoal_replay_breakpoint() noexcept;
}

namespace shoal::remote {

}  // namespace shoal::remote
