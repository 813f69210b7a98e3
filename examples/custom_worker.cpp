// Your own worker binary: link shoal::worker and your functions, and run the engine.
// (shoal-worker does the same plus flags and --load.) Start a coordinator, then:
//
//     custom_worker unix:///run/user/1000/shoal/coordinator.sock
//     shoal submit shout '"hello"' --wait        # "HELLO!"

#include <cctype>
#include <csignal>
#include <iostream>
#include <string>

#include <asio/signal_set.hpp>

#include "shoal/core/loop.hpp"
#include "shoal/remote/link.hpp"
#include "shoal/worker/worker.hpp"

std::string shout(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s + "!";
}
SHOAL_REMOTE(shout)

int main(int argc, char** argv) {
  shoal::worker::WorkerOptions options;
  options.coordinator = argc > 1 ? argv[1] : shoal::remote::default_address();
  options.threads = 2;
  options.name = "custom";
  options.reconnect_timeout = std::chrono::milliseconds(-1);  // exit if the coordinator is not there
  shoal::Loop loop;
  shoal::worker::Worker worker(options);
  int status = loop.run_until_complete([&]() -> shoal::Coro<int> {
    asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code ec, int) {
      if (!ec) worker.stop();  // drain: finish running tasks, hand the rest back
    });
    int s = co_await worker.run();
    signals.cancel();
    co_return s;
  }());
  loop.shutdown();
  if (status == 3) std::cerr << "custom_worker: no coordinator at " << options.coordinator << "\n";
  return status;
}
