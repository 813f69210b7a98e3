#include "shoal/link/messages.hpp"

#include "shoal/core/error.hpp"

namespace shoal::link {

namespace schema = proto::schema;

Bytes bytes(capnp::Data::Reader d, const proto::FrameOwner& frame) {
  if (frame && d.size() >= kAliasAtBytes) return Bytes::alias(frame, d.begin(), d.size());
  return Bytes::copy(d.begin(), d.size());
}

schema::ErrorKind to_schema(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::failed: return schema::ErrorKind::FAILED;
    case ErrorKind::cancelled: return schema::ErrorKind::CANCELLED;
    case ErrorKind::timeout: return schema::ErrorKind::TIMEOUT;
    case ErrorKind::invalid_state: return schema::ErrorKind::INVALID_STATE;
    case ErrorKind::overloaded: return schema::ErrorKind::OVERLOADED;
    case ErrorKind::disconnected: return schema::ErrorKind::DISCONNECTED;
  }
  return schema::ErrorKind::FAILED;
}

ErrorKind from_schema(schema::ErrorKind kind) noexcept {
  switch (kind) {
    case schema::ErrorKind::FAILED: return ErrorKind::failed;
    case schema::ErrorKind::CANCELLED: return ErrorKind::cancelled;
    case schema::ErrorKind::TIMEOUT: return ErrorKind::timeout;
    case schema::ErrorKind::INVALID_STATE: return ErrorKind::invalid_state;
    case schema::ErrorKind::OVERLOADED: return ErrorKind::overloaded;
    case schema::ErrorKind::DISCONNECTED: return ErrorKind::disconnected;
  }
  return ErrorKind::failed;  // a kind from a newer peer
}

void set_error(schema::RemoteError::Builder out, const codec::RemoteErrorInfo& info) {
  out.setTypeName(info.type_name);
  out.setMessage(info.message);
  out.setFunction(info.function);
  out.setTaskId(info.task_id);
  out.setHost(info.host);
  out.setPid(info.pid);
  out.setKind(to_schema(info.kind));
}

codec::RemoteErrorInfo get_error(schema::RemoteError::Reader in) {
  codec::RemoteErrorInfo info;
  info.type_name = text(in.getTypeName());
  info.message = text(in.getMessage());
  info.function = text(in.getFunction());
  info.task_id = in.getTaskId();
  info.host = text(in.getHost());
  info.pid = in.getPid();
  info.kind = from_schema(in.getKind());
  return info;
}

void set_resources(capnp::List<schema::Resource>::Builder out, const Resources& r) {
  unsigned i = 0;
  for (const auto& [name, amount] : r) {
    out[i].setName(name);
    out[i].setAmount(amount);
    ++i;
  }
}

Resources get_resources(capnp::List<schema::Resource>::Reader in) {
  if (in.size() > kMaxResourceKinds)
    throw ValueError("at most " + std::to_string(kMaxResourceKinds) + " kinds of resources, not " + std::to_string(in.size()));
  Resources r;
  for (auto e : in) r[text(e.getName())] += e.getAmount();
  return r;
}

void set_placement(schema::TaskOptions::Builder out, const Placement& p) {
  if (!p.resources.empty()) set_resources(out.initResources(static_cast<unsigned>(p.resources.size())), p.resources);
  auto list = [](auto builder, const std::vector<std::string>& terms) {
    for (unsigned i = 0; i < terms.size(); ++i) builder.set(i, terms[i]);
  };
  if (!p.labels.required.empty()) list(out.initLabels(static_cast<unsigned>(p.labels.required.size())), p.labels.required);
  if (!p.labels.preferred.empty())
    list(out.initPreferredLabels(static_cast<unsigned>(p.labels.preferred.size())), p.labels.preferred);
  out.setStrategy(p.strategy == Strategy::pack ? schema::Strategy::PACK : schema::Strategy::SPREAD);
  out.setPriority(p.priority);
}

Placement get_placement(schema::TaskOptions::Reader in) {
  Placement p;
  p.resources = get_resources(in.getResources());
  auto list = [](auto reader, std::vector<std::string>& terms) {
    if (reader.size() > kMaxLabels)
      throw ValueError("at most " + std::to_string(kMaxLabels) + " label terms, not " + std::to_string(reader.size()));
    for (auto t : reader) terms.push_back(text(t));
  };
  list(in.getLabels(), p.labels.required);
  list(in.getPreferredLabels(), p.labels.preferred);
  p.strategy = in.getStrategy() == schema::Strategy::PACK ? Strategy::pack : Strategy::spread;
  p.priority = in.getPriority();
  return p;
}

void set_retry(schema::TaskOptions::Builder out, const RetryPolicy& p) {
  if (p.on.empty()) return;
  auto l = out.initRetryOn(static_cast<unsigned>(p.on.size()));
  for (unsigned i = 0; i < p.on.size(); ++i) l.set(i, p.on[i]);
  out.setRetryAttempts(static_cast<std::uint32_t>(std::max(p.attempts, 0)));
  out.setRetryBackoffMs(static_cast<std::uint64_t>(p.backoff.count()));
  out.setRetryMaxBackoffMs(static_cast<std::uint64_t>(p.max_backoff.count()));
}

RetryPolicy get_retry(schema::TaskOptions::Reader in) {
  RetryPolicy p;
  if (!in.hasRetryOn()) return p;
  if (in.getRetryOn().size() > 32) throw ValueError("retry: at most 32 exception types");
  for (auto t : in.getRetryOn()) p.on.push_back(text(t));
  // Out-of-range numbers become out-of-range policies, which check_retry() refuses.
  p.attempts = static_cast<int>(std::min<std::uint32_t>(in.getRetryAttempts(), 1u << 30));
  p.backoff = std::chrono::milliseconds(static_cast<std::int64_t>(std::min<std::uint64_t>(in.getRetryBackoffMs(), 1ull << 50)));
  p.max_backoff =
      std::chrono::milliseconds(static_cast<std::int64_t>(std::min<std::uint64_t>(in.getRetryMaxBackoffMs(), 1ull << 50)));
  return p;
}

}  // namespace shoal::link
