#pragma once
/// \file
/// Child mode: LocalCluster, ProcessPoolExecutor and Process start workers by
/// re-executing this same program with `SHOAL_CHILD` set, so that every function it
/// registers exists in them (multiprocessing's spawn). shoal::cluster links with
/// `-Wl,--wrap=main`: its `__wrap_main` runs after every static initialiser and, in a
/// child, runs the worker and exits instead of calling your main. A program that cannot
/// take that link option calls child_main() first thing in main:
///
///     int main(int argc, char** argv) {
///       if (shoal::is_child()) return shoal::child_main(argc, argv);
///       ...
///     }

namespace shoal {

/// Whether this process was started as a shoal child (SHOAL_CHILD is set).
[[nodiscard]] bool is_child() noexcept;
/// Runs the child's role (a worker) and returns its exit status.
int child_main(int argc, char** argv);

}  // namespace shoal
