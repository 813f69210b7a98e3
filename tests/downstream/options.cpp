// Built with -Wall -Wextra -Werror against the installed package: the umbrella headers
// bring what their users need (this_task included), and every options struct can be
// written with designated initializers naming only the fields that matter.
#include <shoal/cluster.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

int main() {
  shoal::WaitOptions wait{.return_when = shoal::FIRST_COMPLETED};
  shoal::ThreadPoolOptions pool{.thread_name_prefix = "app"};
  shoal::ThreadOptions thread{.name = "t"};
  shoal::CreateTaskOptions task{.name = "main"};
  shoal::TaskOptions submit{.retries = 2};
  shoal::ClientOptions client{.name = "app"};
  shoal::link::TlsOptions tls{.ca = "ca.pem"};
  shoal::LocalClusterOptions cluster{.respawn = false};
  shoal::ProcessPoolOptions process_pool{.max_tasks_per_child = 5};
  shoal::mp::QueueOptions queue{.buffer_bytes = 1024};
  shoal::cluster::SpawnOptions spawn{.program = "/bin/true"};
  bool stop = shoal::this_task::stop_requested();
  int n = shoal::run([](shoal::CreateTaskOptions o) -> shoal::Coro<int> {
    auto t = shoal::create_task([]() -> shoal::Coro<int> { co_return 1; }(), o);
    co_return co_await t.wait();
  }(task));
  bool ok = wait.return_when == shoal::FIRST_COMPLETED && pool.thread_name_prefix == "app" && thread.name == "t" &&
            submit.retries == 2 && client.name == "app" && tls.ca == "ca.pem" && !cluster.respawn &&
            process_pool.max_tasks_per_child == 5 && queue.buffer_bytes == 1024 && spawn.program == "/bin/true" &&
            !stop && n == 1;
  std::printf("options: %s\n", ok ? "ok" : "wrong");
  return ok ? 0 : 1;
}
