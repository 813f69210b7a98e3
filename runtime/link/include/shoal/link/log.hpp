#pragma once
/// \file
/// The daemons' log (shoal-coordinator, shoal-worker, and the coordinator and workers a
/// LocalCluster runs): one line per event on stderr, through spdlog, as text or as one
/// JSON object per line (--log-format json, for a log shipper). A line about a task
/// carries its id (text: `task=ID`; JSON: "task": ID). Levels: trace, debug (a line per
/// task's submit, assign and end), info (the default: connections, workers, failures),
/// warn, error, off.
///
///     shoal::link::log::configure({.level = Level::debug, .format = Format::json});
///     shoal::link::log::write(Level::info, "shoal-coordinator", "worker w1 registered");
///     if (shoal::link::log::enabled(Level::debug)) log::write(Level::debug, who, "assigned", task_id);

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace shoal::link::log {

enum class Level { trace, debug, info, warn, error, off };
enum class Format { text, json };

struct Options {
  Level level = Level::info;
  Format format = Format::text;
};

/// Process-wide (a daemon's main sets it from its flags). Any thread.
void configure(const Options& options);
/// Whether lines of `level` are written (a cheap check before building one).
[[nodiscard]] bool enabled(Level level) noexcept;
/// One line: `who` (the daemon: "shoal-coordinator", "shoal-worker w1"), the message, and
/// the task it is about (0: none). Any thread; never throws.
void write(Level level, std::string_view who, std::string_view message, std::uint64_t task = 0) noexcept;

/// A copy of everything the process writes to its log (its lines, and in a worker its
/// tasks' captured output as it is written to its streams), for a worker whose log
/// someone follows (`shoal logs --worker NAME -f`). Called on the writing thread, under
/// its locks: it must not wait. Returns an id for remove_tap() (several workers may share
/// a process). Any thread.
std::uint64_t add_tap(std::function<void(std::string_view)> tap);
/// Ends a tap; calls already under way may still finish.
void remove_tap(std::uint64_t id);
/// Passes `data` to the tap, if any (what a worker writes to its streams besides lines).
void tap(std::string_view data) noexcept;

/// "debug" -> Level::debug; ValueError naming the choices otherwise. Likewise the format.
[[nodiscard]] Level parse_level(std::string_view text);
[[nodiscard]] Format parse_format(std::string_view text);

}  // namespace shoal::link::log
