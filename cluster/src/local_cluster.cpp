// LocalCluster: a coordinator on a thread of this process, worker children connected to
// it by inherited socketpairs (no path to race on), a supervisor thread that respawns
// the children that die.

#include "shoal/cluster/local_cluster.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "shoal/cluster/child.hpp"
#include "shoal/cluster/spawn.hpp"
#include "shoal/coordinator/coordinator.hpp"
#include "shoal/link/connection.hpp"
#include "shoal/link/private_files.hpp"
#include "shoal/remote/link.hpp"

namespace shoal {

struct LocalCluster::Impl {
  LocalClusterOptions opt;
  unsigned n = 0;
  std::string dir;
  std::string address;
  asio::io_context io{1};
  std::unique_ptr<coordinator::Coordinator> coord;
  std::thread coord_thread;
  std::promise<void> coord_done;

  struct Slot {
    cluster::Child child;
    unsigned index = 0;
    int restarts = 0;
    std::chrono::steady_clock::time_point due{};  // respawn time while dead
    bool alive = false;
  };
  mutable std::mutex mu;
  std::vector<Slot> slots;
  std::atomic<bool> stopping{false};
  int wake_fd = -1;
  std::thread supervisor;
  std::unique_ptr<Client> client;
  std::mutex client_mu;

  void spawn_worker(Slot& s) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      throw Error(std::string("socketpair failed: ") + std::strerror(errno));
    cluster::SpawnOptions so;
    std::string name = "w" + std::to_string(s.index);
    unsigned threads = opt.threads_per_worker;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency() / std::max(1u, n));
    if (opt.worker_program.empty()) {
      so.program = cluster::self_exe();
      so.argv = {so.program};
      so.env.emplace_back("SHOAL_CHILD", "worker:fd=3:threads=" + std::to_string(threads) + ":name=" + name +
                                             ":max_tasks=" + std::to_string(opt.max_tasks_per_worker) +
                                             ":max_memory=" + std::to_string(opt.max_memory_per_worker) +
                                             ":log=" + (opt.log ? "1" : "0"));
      so.env.emplace_back("SHOAL_CHILD_ADDRESS", address);
      if (opt.initializer) {
        so.env.emplace_back("SHOAL_CHILD_INIT", opt.initializer->function->name);
        std::string hex;
        static const char* digits = "0123456789abcdef";
        for (std::size_t i = 0; i < opt.initializer->args.size(); ++i) {
          auto b = static_cast<unsigned char>(opt.initializer->args.data()[i]);
          hex += digits[b >> 4];
          hex += digits[b & 15];
        }
        so.env.emplace_back("SHOAL_CHILD_INIT_ARGS", hex);
      }
    } else {
      so.program = opt.worker_program;
      so.argv = {so.program, "--fd", "3", "--threads", std::to_string(threads), "--name", name,
                 "--coordinator", address};
      if (opt.max_tasks_per_worker) {
        so.argv.push_back("--max-tasks");
        so.argv.push_back(std::to_string(opt.max_tasks_per_worker));
      }
      if (opt.max_memory_per_worker) {
        so.argv.push_back("--max-memory");
        so.argv.push_back(std::to_string(opt.max_memory_per_worker));
      }
      for (auto& l : opt.load) {
        so.argv.push_back("--load");
        so.argv.push_back(l);
      }
      if (!opt.log) so.argv.push_back("--quiet");
    }
    so.fds = {sv[1]};
    try {
      s.child = cluster::spawn(so);
    } catch (...) {
      ::close(sv[0]);
      ::close(sv[1]);
      throw;
    }
    ::close(sv[1]);
    s.alive = true;
    coord->adopt(remote::adopt_socket(io.get_executor(), sv[0]));
  }

  void supervise() {
    for (;;) {
      std::vector<pollfd> fds;
      fds.push_back({wake_fd, POLLIN, 0});
      int timeout_ms = -1;
      {
        std::lock_guard lock(mu);
        auto now = std::chrono::steady_clock::now();
        for (auto& s : slots) {
          if (s.alive) {
            fds.push_back({s.child.pidfd(), POLLIN, 0});
          } else if (opt.respawn && !stopping && s.due != std::chrono::steady_clock::time_point::max()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(s.due - now).count();
            timeout_ms = timeout_ms < 0 ? static_cast<int>(std::max<long>(left, 0))
                                        : std::min(timeout_ms, static_cast<int>(std::max<long>(left, 0)));
          }
        }
      }
      ::poll(fds.data(), fds.size(), timeout_ms);
      if (stopping) return;
      std::lock_guard lock(mu);
      auto now = std::chrono::steady_clock::now();
      for (auto& s : slots) {
        if (s.alive && !s.child.running()) {
          s.alive = false;
          int status = s.child.exitcode().value_or(0);
          if (opt.on_worker_exit && !stopping && !opt.on_worker_exit(s.index, status)) {
            s.due = std::chrono::steady_clock::time_point::max();
            continue;
          }
          ++s.restarts;
          auto backoff = std::chrono::milliseconds(std::min(2000, 50 << std::min(s.restarts - 1, 6)));
          s.due = now + backoff;
        } else if (!s.alive && opt.respawn && !stopping && now >= s.due &&
                   s.due != std::chrono::steady_clock::time_point::max()) {
          try {
            spawn_worker(s);
          } catch (...) {
            s.due = now + std::chrono::seconds(2);
          }
        }
      }
    }
  }
};

LocalCluster::LocalCluster(unsigned workers, LocalClusterOptions options) : impl_(std::make_unique<Impl>()) {
  if (is_child())
    throw InvalidStateError(
        "a LocalCluster cannot be created inside a shoal child process (SHOAL_CHILD is set): this would start "
        "workers recursively");
  auto& im = *impl_;
  im.opt = std::move(options);
  im.n = workers ? workers : std::max(1u, std::thread::hardware_concurrency());
  // A private directory for the coordinator's socket.
  std::string base = "/tmp/shoal-" + std::to_string(::getuid());
  link::ensure_private_dir(base);
  std::string tmpl = base + "/local-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw Error("cannot create a directory under " + base + ": " + std::strerror(errno));
  im.dir = tmpl;
  im.address = "unix://" + im.dir + "/c.sock";
  coordinator::CoordinatorOptions co;
  co.listen = {im.address};
  co.listen.insert(co.listen.end(), im.opt.listen.begin(), im.opt.listen.end());
  co.token = im.opt.token;
  co.tls = im.opt.tls;
  co.retries = im.opt.retries;
  co.max_crashes = im.opt.max_crashes;
  co.journal = im.opt.journal;
  co.object_store_memory = im.opt.object_store_memory;
  co.exit_workers_on_stop = true;
  co.log = im.opt.log;
  co.grace = std::chrono::milliseconds(1000);
  co.name = "shoal-local";
  co.http = im.opt.http;
  co.unregistered_wait = im.opt.unregistered_wait;
  co.http_any_port = im.opt.http == LocalClusterOptions::kDefaultHttp;
  im.coord = std::make_unique<coordinator::Coordinator>(im.io.get_executor(), co);
  im.coord->start();
  im.coord_thread = std::thread([&im] {
    asio::co_spawn(im.io, im.coord->run(), [&im](std::exception_ptr) { im.coord_done.set_value(); });
    // While work flows, poll for up to 30 us before sleeping in epoll: a worker's result
    // that arrives within a round trip is then read without a wake-up (B3).
    using Clock = std::chrono::steady_clock;
    auto last = Clock::now();
    while (!im.io.stopped()) {
      if (im.io.poll() > 0) {
        last = Clock::now();
        continue;
      }
      if (im.io.stopped()) break;
      if (Clock::now() - last < std::chrono::microseconds(30)) continue;
      if (im.io.run_one() > 0) last = Clock::now();
    }
  });
  im.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  im.slots.resize(im.n);  // the supervisor is not running yet: no lock needed
  try {
    for (unsigned i = 0; i < im.n; ++i) {
      im.slots[i].index = i;
      im.spawn_worker(im.slots[i]);
    }
  } catch (...) {
    stop(std::chrono::milliseconds(0));
    throw;
  }
  im.supervisor = std::thread([&im] { im.supervise(); });
}

LocalCluster::~LocalCluster() { stop(); }

Client& LocalCluster::client() {
  std::lock_guard lock(impl_->client_mu);
  if (!impl_->client) {
    ClientOptions o;
    o.name = "local";
    // In-process: the client's frames go straight to the coordinator's thread, and its
    // futures complete there (no socket, no client thread).
    remote::detail::LocalLink link;
    link.address = impl_->address + " (in process)";
    link.executor = impl_->coord->executor();
    link.adopt = [c = impl_->coord.get()](std::shared_ptr<shoal::link::Connection> end) { c->adopt(std::move(end)); };
    impl_->client = std::make_unique<Client>(std::move(link), o);
  }
  return *impl_->client;
}

std::string LocalCluster::address() const { return impl_->address; }

std::vector<std::string> LocalCluster::addresses() const { return impl_->coord->addresses(); }

std::string LocalCluster::http_url() const { return impl_->coord->http_url(); }

std::string LocalCluster::timeline(std::uint64_t since_ns, const std::string& job) {
  return shoal::link::chrome_trace(client().attempts(since_ns, job).result(std::chrono::seconds(30)));
}

void LocalCluster::wait_for_workers(std::size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (client().workers().result(left).size() >= n) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  throw TimeoutError(std::to_string(n) + " workers did not register within " + std::to_string(timeout.count()) + " ms");
}

std::vector<pid_t> LocalCluster::worker_pids() const {
  std::lock_guard lock(impl_->mu);
  std::vector<pid_t> out;
  for (auto& s : impl_->slots)
    if (s.alive) out.push_back(s.child.pid());
  return out;
}

void LocalCluster::stop(std::chrono::milliseconds grace) {
  auto& im = *impl_;
  if (im.stopping.exchange(true)) return;
  if (im.wake_fd >= 0) {
    std::uint64_t one = 1;
    (void)!::write(im.wake_fd, &one, sizeof one);
  }
  if (im.supervisor.joinable()) im.supervisor.join();
  {
    std::lock_guard lock(im.client_mu);
    if (im.client) im.client->close();
  }
  // The coordinator drains, then tells the children to exit.
  asio::post(im.io, [&im] { im.coord->stop(); });
  auto deadline = std::chrono::steady_clock::now() + grace + std::chrono::seconds(1);
  {
    std::lock_guard lock(im.mu);
    for (auto& s : im.slots) {
      if (!s.alive) continue;
      auto left = deadline - std::chrono::steady_clock::now();
      if (!s.child.wait(std::max<std::chrono::nanoseconds>(left, std::chrono::nanoseconds(0)))) {
        s.child.kill();
        (void)s.child.wait(std::chrono::seconds(5));
      }
      s.alive = false;
    }
  }
  if (im.coord_thread.joinable()) {
    auto done = im.coord_done.get_future();
    if (done.wait_for(grace + std::chrono::seconds(2)) != std::future_status::ready) asio::post(im.io, [&im] {
        im.coord->stop_now();
      });
    if (done.wait_for(std::chrono::seconds(3)) != std::future_status::ready) im.io.stop();
    im.coord_thread.join();
  }
  {
    std::lock_guard lock(im.client_mu);
    im.client.reset();
  }
  im.coord.reset();
  if (im.wake_fd >= 0) ::close(im.wake_fd);
  im.wake_fd = -1;
  std::error_code ec;
  std::filesystem::remove_all(im.dir, ec);
}

}  // namespace shoal
