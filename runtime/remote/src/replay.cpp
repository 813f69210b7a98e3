// Replay bundles: saved and loaded, described, and run in this process.

#include "shoal/remote/replay.hpp"

#include <cstring>
#include <fstream>
#include <iterator>
#include <tuple>

#include "shoal/codec/error_info.hpp"
#include "shoal/codec/future_ref.hpp"
#include "shoal/core/error.hpp"
#include "shoal/link/private_files.hpp"
#include "shoal/remote/map.hpp"
#include "shoal/remote/registry.hpp"

namespace shoal::remote {

namespace {

constexpr std::string_view kMagic = "shoal replay bundle\n";
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kMaxBundleBytes = std::size_t{4} << 30;

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);  // "SEGV"
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// Calls `entry` over one argument tuple, with the dependencies' values where it refers
// to them.
Bytes call(const FunctionEntry& entry, const Bytes& args, const std::vector<Bytes>& deps) {
  Bytes spliced = args;
  std::span<const Bytes> refs;
  if (!deps.empty()) {
    if (codec::refs_are_arguments(args))
      refs = deps;
    else
      spliced = codec::resolve_refs(args, deps);
  }
  codec::Reader r(spliced);
  r.set_refs(refs);
  shoal_replay_function = reinterpret_cast<const void*>(entry.address);
  shoal_replay_breakpoint();
  auto value = entry.invoke(r);
  r.expect_end();
  return value;
}

}  // namespace

}  // namespace shoal::remote

extern "C" {
const void* volatile shoal_replay_function = nullptr;
__attribute__((noinline)) void shoal_replay_breakpoint() noexcept {
  asm volatile("" : : : "memory");  // kept out of line, and called: a debugger breaks here
}
}

namespace shoal::remote {

void save_bundle(const ReplayBundle& b, const std::string& path) {
  auto body = codec::encode(b);
  std::string text(kMagic);
  text.append(reinterpret_cast<const char*>(&kVersion), sizeof kVersion);
  text.append(reinterpret_cast<const char*>(body.data()), body.size());
  link::write_private_file(path, text);
}

ReplayBundle load_bundle(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read the replay bundle " + path);
  std::string text;
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(in.tellg());
  if (size > kMaxBundleBytes) throw ValueError(path + " is " + std::to_string(size) + " bytes: not a replay bundle");
  in.seekg(0);
  text.assign(std::istreambuf_iterator<char>(in), {});
  if (!in && !in.eof()) throw Error("cannot read the replay bundle " + path);
  if (text.size() < kMagic.size() + sizeof kVersion || text.compare(0, kMagic.size(), kMagic) != 0)
    throw ValueError(path + " is not a replay bundle (shoal replay --save writes them)");
  std::uint32_t version = 0;
  std::memcpy(&version, text.data() + kMagic.size(), sizeof version);
  if (version != kVersion)
    throw ValueError(path + " is a replay bundle of format " + std::to_string(version) + "; this build reads format " +
                     std::to_string(kVersion));
  auto at = kMagic.size() + sizeof version;
  auto body = Bytes::copy(text.data() + at, text.size() - at);
  return codec::decode<ReplayBundle>(body);
}

std::shared_ptr<const FunctionEntry> replay_entry(const ReplayBundle& b) {
  auto entry = Registry::global().find(b.function);
  if (!entry) throw NotRegistered(b.function, "this process: load the task library that has it");
  if (b.signature_hash != 0 && entry->signature_hash != b.signature_hash)
    throw TypeMismatch("'" + b.function + "' is " + entry->signature + " here, but the task was submitted for " +
                       (b.signature.empty() ? "another signature" : b.signature) +
                       ": load the build of the task library the workers ran");
  return entry;
}

Bytes run_replay(const ReplayBundle& b) {
  auto entry = replay_entry(b);
  if (b.method.empty()) return call(*entry, b.args, b.deps);
  if (b.method != "map") throw ValueError("cannot replay method '" + b.method + "' of " + b.function);
  // A map chunk, as a worker runs one: the argument is the list of the items' tuples; each
  // item's exception is its outcome, and the chunk goes on (a crash ends it, as there).
  codec::Reader r(b.args);
  auto [items] = codec::decode<std::tuple<std::vector<Bytes>>>(r);
  r.expect_end();
  std::vector<MapOutcome> out(items.size());
  for (std::size_t k = 0; k < items.size(); ++k) {
    try {
      out[k].value = call(*entry, items[k], {});
    } catch (...) {
      out[k].error = codec::describe_error(std::current_exception(), entry->name, b.task_id);
    }
  }
  return codec::encode(out);
}

std::string describe_bundle(const ReplayBundle& b) {
  std::string out = "task " + std::to_string(b.task_id) + ": " + b.function +
                    (b.signature.empty() ? std::string() : " " + b.signature) +
                    (b.method == "map" ? " (a chunk of a map)" : "") + ", attempt " + std::to_string(b.attempt);
  if (!b.worker.empty())
    out += "\nran on " + b.worker + " (" + b.host + ", pid " + std::to_string(b.pid) + ")";
  else
    out += "\nnever ran on a worker";
  if (b.crash_signal)
    out += "\nit crashed its worker: " + signal_name(b.crash_signal);
  out += "\nfailed with " + b.error_type + ": " + b.error_message;
  return out;
}

}  // namespace shoal::remote
