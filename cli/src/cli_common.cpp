// The helpers every verb of the `shoal` command shares (cli_common.hpp).

#include "cli_common.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <ctime>

#include "shoal/codec/error_info.hpp"
#include "shoal/codec/schema.hpp"
#include "shoal/proto/frame.hpp"
#include "json_bridge.hpp"
#include "shoal/link/handshake.hpp"
#include "shoal/remote/link.hpp"

namespace shoal::cli {

std::string resolve_address(const Globals& g) {
  if (!g.address.empty()) return g.address;
  return remote::default_address();
}

namespace {
std::string& token_file() {
  static std::string path;
  return path;
}
}  // namespace

void set_token_file(std::string path) { token_file() = std::move(path); }

std::string current_token_file() {
  if (!token_file().empty()) return token_file();
  if (const char* env = std::getenv("SHOAL_TOKEN_FILE"); env && *env) return env;
  return {};
}

namespace {
link::TlsOptions& tls_flags() {
  static link::TlsOptions tls;
  return tls;
}
}  // namespace

void set_tls(link::TlsOptions tls) { tls_flags() = std::move(tls); }

link::TlsOptions current_tls() { return link::tls_from_env(tls_flags()); }

std::unique_ptr<Client> connect(const std::string& address, decltype(ClientOptions::on_output) on_output,
                                const std::string& name, decltype(ClientOptions::on_worker_log) on_worker_log) {
  try {
    (void)remote::parse_address(address);
  } catch (const std::exception& e) {
    throw CliError(exit_usage, std::string("bad address: ") + e.what());
  }
  ClientOptions o;
  o.name = name;
  o.connect_timeout = std::chrono::seconds(5);
  // A lost coordinator is exit 3 at once (docs/cli.md); `shoal result ID` fetches later.
  o.reconnect = std::chrono::milliseconds(0);
  o.on_output = std::move(on_output);
  o.on_worker_log = std::move(on_worker_log);
  std::string path = current_token_file();
  if (!path.empty()) {
    try {
      o.token = link::read_token_file(path);
    } catch (const Error& e) {
      throw CliError(exit_usage, e.what());
    }
  }
  o.tls = current_tls();
  try {
    return std::make_unique<Client>(address, o);
  } catch (const ValueError& e) {
    throw CliError(exit_usage, e.what());  // a TLS file that cannot be used
  } catch (const ConnectionError& e) {
    std::string what = e.what();
    if (what.rfind("no coordinator at", 0) == 0)
      throw CliError(exit_no_coordinator, "no coordinator at " + address + ": start one with `shoal start`");
    throw CliError(exit_no_coordinator, what);
  } catch (const TimeoutError&) {
    throw CliError(exit_no_coordinator,
                   "the coordinator at " + address + " did not answer within 5 s: is it overloaded or stuck?");
  }
}

CatalogEntry find_function(Client& client, const std::string& function, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  std::vector<CatalogEntry> catalog;
  for (;;) {
    catalog = client.catalog();
    for (const auto& e : catalog)
      if (e.name == function) return e;
    // The catalog follows the workers' registrations: give a worker that is still
    // starting a moment.
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string known;
  for (const auto& e : catalog) known += (known.empty() ? "" : ", ") + e.name;
  if (known.empty())
    throw CliError(exit_task_failed, "no worker has registered " + function +
                                         " (no workers with functions are connected: start some with `shoal start`)");
  throw CliError(exit_task_failed, "no worker has registered " + function + " (known: " + known + ")");
}

Bytes encode_args(const CatalogEntry& entry, const nlohmann::json& args) {
  try {
    return remote::json_to_args(codec::parse_signature(entry.signature), args, entry.name);
  } catch (const TypeMismatch& e) {
    throw CliError(exit_usage, std::string(e.what()) + " (" + entry.name + " takes " + entry.signature + ")");
  }
}

nlohmann::json decode_result(const std::string& signature, const Bytes& result) {
  if (!signature.empty()) {
    try {
      return remote::result_to_json(codec::parse_signature(signature), result);
    } catch (const TypeMismatch&) {
      // Fall through: show what the bytes hold.
    }
  }
  codec::Reader r(result);
  return remote::wire_to_json(r);
}

int exit_code_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const TimeoutError&) {
    return exit_timeout;
  } catch (const CoordinatorLost&) {
    return exit_no_coordinator;  // the task's outcome is unknown, not a failure
  } catch (...) {
    return exit_task_failed;
  }
}

std::string message_of(std::exception_ptr e) {
  std::string m;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError& x) {
    m = std::string("cancelled: ") + x.what();
  } catch (const std::exception& x) {
    m = x.what();
  } catch (...) {
    m = "an unknown exception";
  }
  for (auto& c : m)
    if (c == '\n') c = ' ';
  return m;
}

std::filesystem::path self_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::filesystem::current_path();
  return exe.parent_path();
}

std::vector<std::string> worker_loads(const std::vector<std::string>& extra, bool examples) {
  std::vector<std::string> out;
  if (examples) {
    auto lib = self_dir() / ".." / "lib" / "libshoal_examples.so";
    std::error_code ec;
    if (std::filesystem::exists(lib, ec)) out.push_back(std::filesystem::weakly_canonical(lib, ec).string());
  }
  for (const auto& l : extra) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(l, ec);
    out.push_back(ec ? l : abs.string());
  }
  return out;
}

std::string sibling_program(const std::string& name) { return (self_dir() / name).string(); }

std::filesystem::path state_dir(const Globals& g) {
  if (!g.state_dir.empty()) return std::filesystem::absolute(g.state_dir);
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) return std::filesystem::path(x) / "shoal";
  return "/tmp/shoal-" + std::to_string(::getuid());
}

// ---- Interrupts ----

namespace {
Interrupts* g_interrupts = nullptr;

sigset_t interrupt_set() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  return s;
}
}  // namespace

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string last_line(const std::filesystem::path& p) {
  auto text = slurp(p);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  auto nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

Interrupts::Interrupts() {
  sigset_t s = interrupt_set();
  ::pthread_sigmask(SIG_BLOCK, &s, nullptr);
  thread_ = std::thread([this] {
    sigset_t set = interrupt_set();
    timespec tick{0, 100'000'000};
    while (!stop_.load()) {
      int sig = ::sigtimedwait(&set, nullptr, &tick);
      if (sig <= 0) continue;
      if (!armed_.load()) std::_Exit(exit_interrupted);
      fired_.store(true);
      std::lock_guard lock(mu_);
      if (wake_) wake_->notify();
    }
  });
  g_interrupts = this;
}

Interrupts::~Interrupts() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  g_interrupts = nullptr;
}

Interrupts& interrupts() { return *g_interrupts; }

}  // namespace shoal::cli
