#include "crash_report.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <capnp/message.h>

#include <cerrno>
#include <ctime>
#include <cstring>
#include <mutex>
#include <vector>

#include "shoal/proto/frame.hpp"

namespace shoal::worker::crash {

namespace {

namespace schema = proto::schema;

constexpr std::int32_t kMagicSignal = 0x5eadbeef;
constexpr std::uint64_t kMagicTask = 0x7a5c0ffee15bad00ull;
constexpr std::size_t kMaxFrameWords = 16;

thread_local std::uint64_t current_task = 0;

// The Crashed frame with magic values where the signal and the task go, and where they
// are (in 32-bit units and words). Built once, before any handler can run.
struct Template {
  std::uint64_t words[kMaxFrameWords] = {};
  std::size_t n = 0;
  std::size_t signal_at = 0;  // index in 32-bit units
  std::size_t task_at = 0;    // index in words
  bool ok = false;
} frame_template;

std::atomic<int> channel_fd{-1};
std::atomic<std::atomic<bool>*> channel_writing{nullptr};
const int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

void build_template() {
  capnp::MallocMessageBuilder msg(16);
  auto c = msg.initRoot<schema::Envelope>().initCrashed();
  c.setSignal(kMagicSignal);
  c.setTaskId(kMagicTask);
  std::vector<std::uint64_t> words;
  proto::append_frame(msg, words);
  if (words.size() > kMaxFrameWords) return;
  std::memcpy(frame_template.words, words.data(), words.size() * 8);
  frame_template.n = words.size();
  bool found_signal = false, found_task = false;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == kMagicTask) {
      frame_template.task_at = i;
      found_task = true;
    }
    for (std::size_t half = 0; half < 2; ++half) {
      std::int32_t v;
      std::memcpy(&v, reinterpret_cast<const char*>(&words[i]) + half * 4, 4);
      if (v == kMagicSignal) {
        frame_template.signal_at = i * 2 + half;
        found_signal = true;
      }
    }
  }
  frame_template.ok = found_signal && found_task;
}

// Async-signal-safe text: appends `s`, or `v` in decimal.
void put(char* buf, std::size_t& len, std::size_t cap, const char* s) {
  while (*s && len < cap) buf[len++] = *s++;
}
void put(char* buf, std::size_t& len, std::size_t cap, std::uint64_t v) {
  char digits[24];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && n < sizeof digits);
  while (n && len < cap) buf[len++] = digits[--n];
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "a fatal signal";
  }
}

void on_fatal(int sig, siginfo_t*, void*) {
  int saved_errno = errno;
  std::uint64_t task = current_task;
  char line[160];
  std::size_t len = 0;
  put(line, len, sizeof line, "shoal-worker: ");
  put(line, len, sizeof line, signal_name(sig));
  if (task) {
    put(line, len, sizeof line, " in task ");
    put(line, len, sizeof line, task);
  }
  put(line, len, sizeof line, ": this worker dies; the coordinator is told\n");
  (void)!::write(2, line, len);

  if (frame_template.ok) {
    std::uint64_t words[kMaxFrameWords];
    std::memcpy(words, frame_template.words, frame_template.n * 8);
    std::int32_t s = sig;
    std::memcpy(reinterpret_cast<char*>(words) + frame_template.signal_at * 4, &s, 4);
    words[frame_template.task_at] = task;
    (void)send_beside(words, frame_template.n, 100, true);  // keep the flag: nothing may follow
  }
  // Die of the same signal, as if nothing had been here.
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  errno = saved_errno;
  ::raise(sig);
}

}  // namespace

bool send_beside(const std::uint64_t* words, std::size_t n, int wait_ms, bool keep) noexcept {
  int saved_errno = errno;
  int fd = channel_fd.load(std::memory_order_acquire);
  auto* writing = channel_writing.load(std::memory_order_acquire);
  if (fd < 0) return false;
  // Claim the socket: a write under way on the loop thread finishes first, none starts after.
  bool claimed = writing == nullptr;
  for (int i = 0; !claimed; ++i) {
    bool expected = false;
    claimed = writing->compare_exchange_strong(expected, true, std::memory_order_acq_rel);
    if (claimed || i >= wait_ms) break;
    timespec ms{0, 1'000'000};
    ::nanosleep(&ms, nullptr);
  }
  if (!claimed) return false;
  const char* p = reinterpret_cast<const char*>(words);
  std::size_t left = n * 8;
  for (int tries = 0; left > 0 && tries < 100; ++tries) {  // a non-blocking socket: a few retries
    auto sent = ::send(fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      p += sent;
      left -= static_cast<std::size_t>(sent);
    } else if (sent < 0 && errno != EAGAIN && errno != EINTR) {
      break;
    } else if (sent < 0) {
      timespec us{0, 100'000};
      ::nanosleep(&us, nullptr);
    }
  }
  if (writing && !keep) writing->store(false, std::memory_order_release);
  errno = saved_errno;
  return left == 0;
}

std::mutex& channel_mutex() noexcept {
  static std::mutex mu;
  return mu;
}

void install() {
  static std::once_flag once;
  std::call_once(once, [] {
    build_template();
    // The handler may run on a thread whose stack overflowed: give this thread an
    // alternate stack, unless it has one (a sanitizer's, which it will unmap itself).
    stack_t old{};
    if (::sigaltstack(nullptr, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
      static std::vector<char> alt(64 * 1024);
      stack_t ss{};
      ss.ss_sp = alt.data();
      ss.ss_size = alt.size();
      ::sigaltstack(&ss, nullptr);
    }
    struct sigaction sa{};
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    ::sigemptyset(&sa.sa_mask);
    for (int s : kSignals) ::sigaction(s, &sa, nullptr);
  });
}

void set_channel(int fd, std::atomic<bool>* writing) noexcept {
  std::lock_guard lock(channel_mutex());
  channel_fd.store(-1, std::memory_order_release);
  channel_writing.store(writing, std::memory_order_release);
  channel_fd.store(fd, std::memory_order_release);
}

TaskScope::TaskScope(std::uint64_t id) noexcept : previous_(current_task) { current_task = id; }

TaskScope::~TaskScope() { current_task = previous_; }

}  // namespace shoal::worker::crash
