#include "shoal/link/replay_info.hpp"

#include "shoal/link/connection.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::link {

std::size_t ReplayBundle::bytes() const noexcept {
  std::size_t n = args.size() + function.size() + signature.size() + method.size() + error_type.size() +
                  error_message.size() + worker.size() + host.size() + executable.size() + 128;
  for (const auto& d : deps) n += d.size() + 16;
  for (const auto& l : libraries) n += l.size() + 16;
  return n;
}

void set_replay(proto::schema::ReplayInfo::Builder b, const ReplayBundle& r, Connection& conn) {
  b.setTaskId(r.task_id);
  b.setFunction(r.function);
  b.setSignature(r.signature);
  b.setSignatureHash(r.signature_hash);
  std::size_t budget = kInlineBudgetBytes;
  auto place = [&](const Bytes& v, auto set_blob, auto set_inline) {
    if (auto blob = conn.attach(v, v.size() > budget ? 1 : codec::shm::kSharedAtBytes)) return set_blob(blob);
    budget -= v.size();
    set_inline(data(v));
  };
  place(r.args, [&](std::uint64_t blob) { b.setArgsBlob(blob); }, [&](capnp::Data::Reader d) { b.setArgs(d); });
  auto deps = b.initDeps(static_cast<unsigned>(r.deps.size()));
  auto blobs = b.initDepBlobs(static_cast<unsigned>(r.deps.size()));
  for (unsigned i = 0; i < r.deps.size(); ++i)
    place(r.deps[i], [&](std::uint64_t blob) { blobs.set(i, blob); }, [&](capnp::Data::Reader d) { deps.set(i, d); });
  b.setMethod(r.method);
  b.setAttempt(r.attempt);
  b.setErrorType(r.error_type);
  b.setErrorMessage(r.error_message);
  b.setCrashSignal(r.crash_signal);
  b.setWorker(r.worker);
  b.setHost(r.host);
  b.setPid(r.pid);
  auto libs = b.initLibraries(static_cast<unsigned>(r.libraries.size()));
  for (unsigned i = 0; i < r.libraries.size(); ++i) libs.set(i, r.libraries[i]);
  b.setExecutable(r.executable);
  b.setFailedNs(r.failed_ns);
}

ReplayBundle get_replay(proto::schema::ReplayInfo::Reader k, Connection& conn, const proto::FrameOwner& frame) {
  auto own = [&](capnp::Data::Reader inline_data, std::uint64_t blob) {
    return blob ? conn.value(inline_data, blob, frame) : Bytes::copy(inline_data.begin(), inline_data.size());
  };
  ReplayBundle b;
  b.task_id = k.getTaskId();
  b.function = text(k.getFunction());
  b.signature = text(k.getSignature());
  b.signature_hash = k.getSignatureHash();
  b.args = own(k.getArgs(), k.getArgsBlob());
  auto deps = k.getDeps();
  auto blobs = k.getDepBlobs();
  for (unsigned i = 0; i < deps.size(); ++i) b.deps.push_back(own(deps[i], i < blobs.size() ? blobs[i] : 0));
  b.method = text(k.getMethod());
  b.attempt = k.getAttempt();
  b.error_type = text(k.getErrorType());
  b.error_message = text(k.getErrorMessage());
  b.crash_signal = k.getCrashSignal();
  b.worker = text(k.getWorker());
  b.host = text(k.getHost());
  b.pid = k.getPid();
  for (auto l : k.getLibraries()) b.libraries.push_back(text(l));
  b.executable = text(k.getExecutable());
  b.failed_ns = k.getFailedNs();
  return b;
}

}  // namespace shoal::link
