#include "shoal/link/private_files.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "shoal/core/error.hpp"
#include "shoal/link/address.hpp"

namespace shoal::link {

namespace {
std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}
}  // namespace

void ensure_private_dir(const std::string& dir) {
  if (dir.empty()) return;
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) throw Error("cannot inspect " + dir + ": " + std::strerror(errno));
    make_private_dir(dir);  // parents too, each 0700
    if (::lstat(dir.c_str(), &st) != 0) throw Error("cannot inspect " + dir + ": " + std::strerror(errno));
  }
  std::string fix = ": remove it (or choose another directory) and try again";
  if (S_ISLNK(st.st_mode)) throw Error(dir + " is a symlink, not a private directory" + fix);
  if (!S_ISDIR(st.st_mode)) throw Error(dir + " exists and is not a directory" + fix);
  if (st.st_uid != ::geteuid())
    throw Error(dir + " is owned by uid " + std::to_string(st.st_uid) + ", not by you (uid " +
                std::to_string(::geteuid()) + ")" + fix);
  if (st.st_mode & 077)
    throw Error(dir + " is open to other users (mode " + octal(st.st_mode) + ", want 0700): chmod 700 " + dir +
                " if you made it, else remove it and try again");
}

std::string read_secret_file(const std::string& path, std::string_view what_sv, std::size_t max_bytes) {
  std::string what(what_sv);
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) throw Error("the " + what + " " + path + " is a symlink: name the file itself");
    throw Error("cannot read the " + what + " " + path + ": " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0) throw Error("cannot read the " + what + " " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error("the " + what + " " + path + " is not a regular file");
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    throw Error("the " + what + " " + path + " is owned by uid " + std::to_string(st.st_uid) + ", not by you (uid " +
                std::to_string(::geteuid()) + ")");
  bool group_ok = st.st_uid == 0 && st.st_uid != ::geteuid() && !(st.st_mode & 020);
  if ((st.st_mode & 007) || ((st.st_mode & 070) && !group_ok))
    throw Error("the " + what + " " + path + " is readable by others (mode " + octal(st.st_mode) + "): chmod 600 " +
                path);
  if (static_cast<std::size_t>(st.st_size) > max_bytes)
    throw Error("the " + what + " " + path + " has " + std::to_string(st.st_size) + " bytes: more than " +
                std::to_string(max_bytes) + " is not a " + what);
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    auto n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error("cannot read the " + what + " " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

void write_private_file(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == ELOOP) throw Error(path + " is a symlink: refusing to write through it (remove it and try again)");
    throw Error("cannot write " + path + ": " + std::strerror(errno));
  }
  // An existing file keeps its mode through O_TRUNC: make it this user's alone.
  if (::fchmod(fd, 0600) != 0) {
    int e = errno;
    ::close(fd);
    throw Error("cannot make " + path + " private: " + std::strerror(e));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      throw Error("cannot write " + path + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

void raise_open_files_limit() noexcept {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace shoal::link
