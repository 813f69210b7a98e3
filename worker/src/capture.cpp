// Per-task capture of the standard streams (capture.hpp).

#include "capture.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <streambuf>
#include <string>
#include <string_view>

#include "shoal/link/log.hpp"
#include "shoal/remote/this_task.hpp"

namespace shoal::worker {

namespace {

// What this thread's task run has sent so far, per stream (reset when another run, or
// another attempt of the same task, begins here: OutputScope numbers them).
thread_local std::uint64_t counted_run = 0;
thread_local std::size_t sent[2] = {0, 0};
thread_local bool dropped[2] = {false, false};

// Sends `data` as the running task's output on `stream` (1, 2), within its cap. Never
// waits: a captured printf holds stdout's lock, which the worker's loop may need to go on
// draining (what does not fit the stream's window now is dropped, and said once).
void capture_or_throw(int stream, std::string_view data) {
  if (this_task::output_task() == 0 || data.empty()) return;
  if (auto run = this_task::output_run(); run != counted_run) {
    counted_run = run;
    sent[0] = sent[1] = 0;
    dropped[0] = dropped[1] = false;
  }
  auto& used = sent[stream - 1];
  if (used > kCapturedBytes) return;  // past its cap, and said so
  auto room = kCapturedBytes - used;
  auto part = data.substr(0, room);
  if (this_task::try_write_output(stream, part)) {
    used += part.size();
  } else if (!dropped[stream - 1]) {
    dropped[stream - 1] = true;
    (void)this_task::try_write_output(stream, "\n[shoal: some of this task's output was dropped: it came faster than "
                                              "the coordinator took it; the worker's log has all of it]\n");
  }
  if (data.size() > room) {
    used = kCapturedBytes + 1;
    (void)this_task::try_write_output(stream, "\n[shoal: this task's output past " +
                                                  std::to_string(kCapturedBytes >> 10) +
                                                  " KiB was not kept; the worker's log has all of it]\n");
  }
}

void capture(int stream, std::string_view data) noexcept {
  try {
    capture_or_throw(stream, data);
  } catch (...) {
    // Out of memory: the copy for the coordinator is what goes; the worker's stream keeps it.
  }
}

// The whole of `data` to `fd`, as write(2) takes it.
void write_all(int fd, const char* data, std::size_t n) noexcept {
  while (n > 0) {
    auto w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // a closed or full descriptor: nothing else to do with it
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

// std::cout's, std::cerr's and std::clog's buffer: unbuffered, so that each write is
// attributed to the thread (the task) that made it.
class TeeBuf final : public std::streambuf {
 public:
  TeeBuf(int stream, int fd) : stream_(stream), fd_(fd) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    char ch = traits_type::to_char_type(c);
    xsputn(&ch, 1);
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n <= 0) return 0;
    auto size = static_cast<std::size_t>(n);
    capture(stream_, std::string_view(s, size));
    write_all(fd_, s, size);
    link::log::tap(std::string_view(s, size));
    return n;
  }

 private:
  int stream_, fd_;
};

ssize_t cookie_write(void* cookie, const char* buf, std::size_t n) noexcept {
  auto fd = static_cast<int>(reinterpret_cast<std::intptr_t>(cookie));
  capture(fd, std::string_view(buf, n));
  write_all(fd, buf, n);
  link::log::tap(std::string_view(buf, n));
  return static_cast<ssize_t>(n);
}

// C's stdout or stderr as an unbuffered FILE that writes through capture(): unbuffered,
// so that a printf is never held in a buffer another thread's printf then flushes.
FILE* captured_file(int fd) {
  cookie_io_functions_t io{};
  io.write = &cookie_write;
  FILE* f = ::fopencookie(reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)), "w", io);
  if (f) std::setvbuf(f, nullptr, _IONBF, 0);
  return f;
}

}  // namespace

void capture_task_output() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::fflush(stdout);
    std::fflush(stderr);
    std::cout.flush();
    // Never freed (nor destroyed at exit): the streams are written to, and flushed by the
    // library's own teardown, until the process ends.
    std::cout.rdbuf(new TeeBuf(1, 1));
    std::cerr.rdbuf(new TeeBuf(2, 2));
    std::clog.rdbuf(new TeeBuf(2, 2));
    if (FILE* f = captured_file(1)) stdout = f;
    if (FILE* f = captured_file(2)) stderr = f;
  });
}

}  // namespace shoal::worker
