// Child mode: the worker a LocalCluster re-executes this program as. See child.hpp.

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "shoal/cluster/child.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/remote/registry.hpp"
#include "shoal/worker/replay.hpp"
#include "shoal/worker/worker.hpp"

namespace shoal {

bool is_child() noexcept {
  const char* c = std::getenv("SHOAL_CHILD");
  return c && *c;
}

int process_child_main();

int child_main(int, char**) {
  std::string spec = std::getenv("SHOAL_CHILD") ? std::getenv("SHOAL_CHILD") : "";
  if (spec == "process") {
    ::unsetenv("SHOAL_CHILD");
    return process_child_main();
  }
  if (spec == "replay") {  // shoal replay: this program's own functions, the task once
    ::unsetenv("SHOAL_CHILD");
    const char* bundle = std::getenv("SHOAL_REPLAY_BUNDLE");
    const char* out = std::getenv("SHOAL_REPLAY_OUT");
    if (!bundle || !out) {
      std::cerr << "shoal: SHOAL_CHILD=replay needs SHOAL_REPLAY_BUNDLE and SHOAL_REPLAY_OUT" << std::endl;
      return 2;
    }
    return worker::replay_child(bundle, out, {}, false);
  }
  // worker:fd=3:threads=2:name=w0:max_tasks=0:max_memory=0:log=0
  worker::WorkerOptions opt;
  opt.report_crashes = true;
  opt.capture_output = true;
  opt.adopted_fd = 3;
  opt.log = false;
  std::string_view rest(spec);
  if (!rest.starts_with("worker")) {
    std::cerr << "shoal: unknown child role in SHOAL_CHILD=" << spec << std::endl;
    return 2;
  }
  while (!rest.empty()) {
    auto colon = rest.find(':');
    auto item = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(item.substr(0, eq)), value(item.substr(eq + 1));
    if (key == "fd") opt.adopted_fd = std::stoi(value);
    else if (key == "threads") opt.threads = static_cast<unsigned>(std::stoul(value));
    else if (key == "name") opt.name = value;
    else if (key == "max_tasks") opt.max_tasks = static_cast<std::uint32_t>(std::stoul(value));
    else if (key == "max_memory") opt.max_memory = std::stoull(value);
    else if (key == "log") opt.log = value == "1";
  }
  if (const char* a = std::getenv("SHOAL_CHILD_ADDRESS")) opt.client_address = a;
  opt.coordinator = opt.client_address;
  // Children of this child are not ours to start again.
  ::unsetenv("SHOAL_CHILD");
  // A Ctrl-C at the terminal reaches the whole process group: the parent decides what
  // happens to its workers (it stops them, or they see EOF when it dies).
  std::signal(SIGINT, SIG_IGN);
  if (const char* init = std::getenv("SHOAL_CHILD_INIT"); init && *init) {
    std::string hex = std::getenv("SHOAL_CHILD_INIT_ARGS") ? std::getenv("SHOAL_CHILD_INIT_ARGS") : "";
    auto args = Bytes::build(hex.size() / 2, [&](std::span<std::byte> out) {
      auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
      for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<std::byte>(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
    });
    try {
      (void)remote::Registry::global().get(init)->invoke(args);
    } catch (const std::exception& e) {
      std::cerr << "shoal: the worker's initializer " << init << " failed: " << e.what() << std::endl;
      return 3;
    }
  }
  Loop loop;
  worker::Worker w(opt);
  int status = loop.run_until_complete(w.run());
  loop.shutdown();
  return status;
}

}  // namespace shoal

extern "C" int __real_main(int argc, char** argv);

extern "C" int __wrap_main(int argc, char** argv) {
  if (shoal::is_child()) return shoal::child_main(argc, argv);
  return __real_main(argc, argv);
}
