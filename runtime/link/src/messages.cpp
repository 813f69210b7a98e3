#include "shoal/link/messages.hpp"

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

}  // namespace shoal::link
