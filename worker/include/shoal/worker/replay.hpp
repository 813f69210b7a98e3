#pragma once
/// \file
/// The process `shoal replay` runs a failed task in: `shoal-worker --replay BUNDLE
/// --replay-out FILE [--load LIB]...`, or a LocalCluster program re-executed with
/// SHOAL_CHILD=replay (its functions are in the program itself). It loads the task's
/// libraries, runs the task once (remote::run_replay) and writes the outcome for the
/// parent to print. A crash kills this process, as it killed the worker: the parent
/// reports it.

#include <string>
#include <vector>

namespace shoal::worker {

/// Runs the task of the replay bundle at `bundle` and writes its outcome
/// (remote::MapOutcome, encoded: the value, or the error it raised) to `out`. `loads`:
/// task libraries to load first; with none, the libraries the task's worker had loaded
/// are loaded where they exist here. Returns 0 (it returned), 1 (it raised), or 3 (it
/// could not be run: an unreadable bundle, a library that does not load, a function
/// missing here or of another signature; one line on stderr says which).
int replay_child(const std::string& bundle, const std::string& out, const std::vector<std::string>& loads,
                 bool load_bundle_libraries);

}  // namespace shoal::worker
