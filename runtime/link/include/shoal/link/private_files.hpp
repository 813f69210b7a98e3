#pragma once
/// \file
/// Files and directories only this user may touch: the daemons' private directory (the
/// default socket's, `shoal start`'s state) and the pid and state files in it. A directory
/// another user could have made, or a symlink planted where a file will be written, is
/// refused with an Error that says what is wrong, never followed.

#include <cstddef>
#include <string>
#include <string_view>

namespace shoal::link {

/// Makes `dir` this user's private directory: created with mode 0700 (parents too, 0700)
/// when missing. An existing `dir` must be a directory (not a symlink to one), owned by
/// this user and closed to others (no group or other permission bits); otherwise Error
/// ("/tmp/shoal-1000 is owned by uid 1001, not by you (uid 1000): remove it ...").
void ensure_private_dir(const std::string& dir);

/// Writes `text` to `path`, created with mode 0600 or truncated, without following a
/// symlink (Error when `path` is one).
void write_private_file(const std::string& path, std::string_view text);

/// Reads a secret (a token, a private key) from `path`, opened without following a
/// symlink. The file must be a regular file of at most `max_bytes`, owned by this user
/// or by root, and closed to other users: no permission for others, and none for the
/// group unless root owns it (a Kubernetes Secret mounted for an fsGroup). Otherwise
/// Error naming `what` and the fix ("the token file /x is readable by others: chmod 600 /x").
[[nodiscard]] std::string read_secret_file(const std::string& path, std::string_view what,
                                           std::size_t max_bytes = 1u << 20);

/// Raises this process's soft limit on open files to its hard limit (a daemon serves
/// many connections); does nothing where it cannot.
void raise_open_files_limit() noexcept;

}  // namespace shoal::link
