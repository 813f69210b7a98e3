#include "values.hpp"

#include <string>

#include "shoal/codec/future_ref.hpp"
#include "shoal/link/messages.hpp"

namespace shoal::worker {

std::vector<Bytes> DependencyValues::take(link::Connection& conn, proto::schema::Assign::Reader a,
                                          const proto::FrameOwner& frame) {
  auto deps = a.getDepValues();
  auto blobs = a.getDepBlobs();
  auto ids = a.getDepIds();
  if ((blobs.size() != 0 && blobs.size() != deps.size()) || (ids.size() != 0 && ids.size() != deps.size()))
    throw ProtocolError("an assign with " + std::to_string(blobs.size()) + " values beside it and " +
                        std::to_string(ids.size()) + " ids for " + std::to_string(deps.size()) + " dependencies");
  std::vector<Bytes> values;
  values.reserve(deps.size());
  for (unsigned i = 0; i < deps.size(); ++i) {
    std::uint64_t blob = blobs.size() ? blobs[i] : 0;
    if (blob == link::kHeldValue) {
      // Sent with an earlier assign and kept (a streamed connection).
      auto it = ids.size() ? held_.find(ids[i]) : held_.end();
      if (it == held_.end()) throw ProtocolError("an assign names a held value this worker does not hold");
      values.push_back(it->second);
      continue;
    }
    values.push_back(conn.value(deps[i], blob, frame));
    // Large ones the coordinator will name again (it tracks the same ones) are kept.
    if (blob && ids.size() && values.back().size() >= codec::shm::kSharedAtBytes) held_[ids[i]] = values.back();
  }
  return values;
}

void DependencyValues::release(capnp::List<std::uint64_t>::Reader ids) {
  for (auto id : ids) held_.erase(id);
}

void place_dependencies(Job& j, Bytes args, std::vector<Bytes> values) {
  if (codec::refs_are_arguments(args))
    j.deps = std::move(values);
  else
    args = codec::resolve_refs(args, values);
  j.args = std::move(args);
}

void fill_result(link::Connection& conn, proto::schema::Result::Builder b, const Outcome& r) {
  b.setTaskId(r.id);
  b.setAttempt(r.attempt);
  b.setRunNs(r.run_ns);
  switch (r.kind) {
    case Outcome::value:
      if (auto blob = conn.attach(r.bytes)) {
        b.setValue({});
        b.setValueBlob(blob);
      } else {
        b.setValue(link::data(r.bytes));
      }
      break;
    case Outcome::failure: link::set_error(b.initError(), r.error); break;
    case Outcome::cancelled: b.setCancelled(); break;
    case Outcome::handed_back: b.setHandedBack(); break;
  }
}

}  // namespace shoal::worker
