#pragma once
// Test helper: capture what a block of code writes to stderr (shoal reports lost failures
// and failing done-callbacks there, as Python logs them).

#include <cstdio>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace shoal::test {

/// Runs `fn` with file descriptor 2 redirected to a temporary file; returns what was
/// written. Not thread-safe: nothing else may write to stderr meanwhile.
template <typename F>
std::string capture_stderr(F&& fn) {
  std::fflush(stderr);
  std::FILE* tmp = std::tmpfile();
  if (!tmp) throw std::runtime_error("capture_stderr: tmpfile() failed");
  int saved = ::dup(2);
  ::dup2(::fileno(tmp), 2);
  try {
    fn();
  } catch (...) {
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    std::fclose(tmp);
    throw;
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[512];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, tmp)) > 0;) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

}  // namespace shoal::test
