#include "shoal/cluster/process.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "shoal/cluster/child.hpp"

namespace shoal {

namespace mp::detail {
std::vector<int>*& spawn_fds() noexcept {
  thread_local std::vector<int>* fds = nullptr;
  return fds;
}
}  // namespace mp::detail

Process::~Process() = default;
Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&&) noexcept = default;

void Process::start() {
  if (child_) throw InvalidStateError("the process was started already");
  if (is_child())
    throw InvalidStateError("a shoal::Process cannot be started inside a shoal child process (SHOAL_CHILD is set)");
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw Error("pipe failed");
  cluster::SpawnOptions so;
  so.program = cluster::self_exe();
  so.argv = {so.program};
  so.env.emplace_back("SHOAL_CHILD", "process");
  so.fds.push_back(p[0]);
  for (int fd : queue_fds_) so.fds.push_back(fd);
  try {
    child_.emplace(cluster::spawn(so));
  } catch (...) {
    ::close(p[0]);
    ::close(p[1]);
    throw;
  }
  ::close(p[0]);
  auto call = codec::encode(std::tuple<std::string, std::uint64_t, Bytes>(name_, hash_, args_));
  const auto* data = reinterpret_cast<const char*>(call.data());
  std::size_t left = call.size();
  while (left > 0) {
    auto n = ::write(p[1], data, left);
    if (n <= 0) break;  // the child died early: join() tells
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  ::close(p[1]);
}

bool Process::join(std::optional<std::chrono::nanoseconds> timeout) {
  if (!child_) throw InvalidStateError("join() of a process that was not started");
  return child_->wait(timeout).has_value();
}

std::optional<int> Process::exitcode() { return child_ ? child_->exitcode() : std::nullopt; }

pid_t Process::pid() const noexcept { return child_ ? child_->pid() : -1; }

bool Process::is_alive() { return child_ && child_->running(); }

void Process::terminate() {
  if (child_) child_->terminate();
}

void Process::kill() {
  if (child_) child_->kill();
}

// The child side: read the call from fd 3, run it, exit 0 or 1.
int process_child_main() {
  std::string data;
  char buf[65536];
  for (;;) {
    auto n = ::read(3, buf, sizeof buf);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(3);
  std::string name = "?";
  try {
    auto [fn, hash, args] = codec::decode<std::tuple<std::string, std::uint64_t, Bytes>>(Bytes::copy(data));
    name = fn;
    (void)remote::Registry::global().get(fn, hash)->invoke(args);
  } catch (...) {
    std::cerr << "shoal::Process " << name << ": " << describe(std::current_exception()) << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace shoal
