#include "shoal/proto/describe.hpp"

#include <string>

namespace shoal::proto {

namespace {

std::string text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

void submit(std::string& out, schema::Submit::Reader s) {
  out += " task=" + std::to_string(s.getTaskId()) + " fn=" + text(s.getFunction()) +
         " sig=" + std::to_string(s.getSignatureHash()) + " args=" + std::to_string(s.getArgs().size()) + "B";
  auto deps = s.getDeps();
  if (deps.size()) out += " deps=" + std::to_string(deps.size());
  if (s.hasOptions()) out += " timeout_ms=" + std::to_string(s.getOptions().getTimeoutMs());
  if (s.getActorId()) out += " actor=" + std::to_string(s.getActorId()) + "." + text(s.getMethod());
}

void assign(std::string& out, schema::Assign::Reader a) {
  out += " task=" + std::to_string(a.getTaskId()) + " fn=" + text(a.getFunction()) +
         " args=" + std::to_string(a.getArgs().size()) + "B attempt=" + std::to_string(a.getAttempt());
  std::size_t dep_bytes = 0;
  for (auto d : a.getDepValues()) dep_bytes += d.size();
  if (dep_bytes) out += " deps=" + std::to_string(dep_bytes) + "B";
  if (a.getActorId()) out += " actor=" + std::to_string(a.getActorId()) + "." + text(a.getMethod());
}

void result(std::string& out, schema::Result::Reader r) {
  out += " task=" + std::to_string(r.getTaskId());
  switch (r.which()) {
    case schema::Result::VALUE:
      out += " value=" + std::to_string(r.getValue().size()) + "B";
      break;
    case schema::Result::ERROR: {
      auto e = r.getError();
      out += " error=" + text(e.getTypeName()) + ": " + text(e.getMessage()) + " in " + text(e.getFunction()) +
             " on " + text(e.getHost()) + ":" + std::to_string(e.getPid()) + " kind=" + std::to_string(int(e.getKind()));
      break;
    }
    case schema::Result::CANCELLED:
      out += " cancelled";
      break;
    case schema::Result::HANDED_BACK:
      out += " handed_back";
      break;
    default:
      out += " (unknown result kind)";
  }
}

void sig(std::string& out, schema::FunctionSig::Reader f) {
  out += " " + text(f.getName()) + ":" + text(f.getSignature()) + (f.getIsCoroutine() ? "(coro)" : "");
}

}  // namespace

std::string_view error_code_name(schema::ErrorCode code) noexcept {
  switch (code) {
    case schema::ErrorCode::PROTOCOL: return "protocol";
    case schema::ErrorCode::VERSION: return "version";
    case schema::ErrorCode::AUTH: return "auth";
    case schema::ErrorCode::OVERLOADED: return "overloaded";
    case schema::ErrorCode::SHUTTING_DOWN: return "shutting_down";
    case schema::ErrorCode::REFUSED: return "refused";
  }
  return "unknown";
}

std::string describe(Envelope::Reader e) {
  std::string out;
  switch (e.which()) {
    case Envelope::HELLO: {
      auto h = e.getHello();
      out = "hello v" + std::to_string(h.getProtocolVersion()) + " role=" + std::to_string(int(h.getRole())) +
            " name=" + text(h.getName()) + " host=" + text(h.getHost()) + " pid=" + std::to_string(h.getPid()) +
            " nonce=" + std::to_string(h.getNonce().size()) + "B";
      break;
    }
    case Envelope::CHALLENGE:
      out = "challenge nonce=" + std::to_string(e.getChallenge().getNonce().size()) +
            "B proof=" + std::to_string(e.getChallenge().getProof().size()) + "B";
      break;
    case Envelope::PROOF:
      out = "proof " + std::to_string(e.getProof().getProof().size()) + "B";
      break;
    case Envelope::WELCOME: {
      auto w = e.getWelcome();
      out = "welcome v" + std::to_string(w.getProtocolVersion()) + " peer=" + std::to_string(w.getPeerId()) +
            " name=" + text(w.getName());
      break;
    }
    case Envelope::REGISTER_WORKER: {
      auto r = e.getRegisterWorker();
      out = "register capacity=" + std::to_string(r.getCapacity()) + " host=" + text(r.getHost()) +
            " pid=" + std::to_string(r.getPid());
      for (auto f : r.getFunctions()) sig(out, f);
      for (auto a : r.getActors()) {
        out += " actor " + text(a.getName());
        for (auto m : a.getMethods()) sig(out, m);
      }
      break;
    }
    case Envelope::SUBMIT:
      out = "submit";
      submit(out, e.getSubmit());
      break;
    case Envelope::SUBMIT_BATCH:
      out = "submit_batch n=" + std::to_string(e.getSubmitBatch().size());
      for (auto s : e.getSubmitBatch()) submit(out, s);
      break;
    case Envelope::ASSIGN:
      out = "assign";
      assign(out, e.getAssign());
      break;
    case Envelope::ASSIGN_BATCH:
      out = "assign_batch n=" + std::to_string(e.getAssignBatch().size());
      for (auto a : e.getAssignBatch()) assign(out, a);
      break;
    case Envelope::RESULT:
      out = "result";
      result(out, e.getResult());
      break;
    case Envelope::RESULT_BATCH:
      out = "result_batch n=" + std::to_string(e.getResultBatch().size());
      for (auto r : e.getResultBatch()) result(out, r);
      break;
    case Envelope::CANCEL:
      out = "cancel task=" + std::to_string(e.getCancel().getTaskId());
      break;
    case Envelope::OUTPUT:
      out = "output task=" + std::to_string(e.getOutput().getTaskId()) +
            " stream=" + std::to_string(e.getOutput().getStream()) + " " +
            std::to_string(e.getOutput().getData().size()) + "B";
      break;
    case Envelope::HEARTBEAT:
      out = "heartbeat running=" + std::to_string(e.getHeartbeat().getRunning());
      break;
    case Envelope::ACTOR_CREATE: {
      auto a = e.getActorCreate();
      out = "actor_create id=" + std::to_string(a.getActorId()) + " class=" + text(a.getClassName()) +
            " args=" + std::to_string(a.getArgs().size()) + "B";
      break;
    }
    case Envelope::SUBSCRIBE:
      out = "subscribe n=" + std::to_string(e.getSubscribe().getTaskIds().size());
      break;
    case Envelope::ERROR: {
      auto x = e.getError();
      out = "error code=" + std::string(error_code_name(x.getCode())) + " fatal=" + (x.getFatal() ? "yes" : "no") + ": " + text(x.getMessage());
      break;
    }
    case Envelope::SHUTDOWN:
      out = "shutdown grace_ms=" + std::to_string(e.getShutdown().getGraceMs()) + " " + text(e.getShutdown().getReason());
      break;
    case Envelope::STATUS_REQUEST:
      out = "status_request task=" + std::to_string(e.getStatusRequest().getTaskId());
      break;
    case Envelope::STATUS_REPLY: {
      auto s = e.getStatusReply();
      out = "status_reply workers=" + std::to_string(s.getWorkers().size()) + " queued=" + std::to_string(s.getQueued()) +
            " state=" + std::to_string(int(s.getState())) + " tasks=" + std::to_string(s.getTasks().size());
      for (auto w : s.getWorkers()) out += " " + text(w.getName()) + "@" + text(w.getHost());
      break;
    }
    case Envelope::ACCEPTED:
      out = "accepted n=" + std::to_string(e.getAccepted().size());
      break;
    case Envelope::CATALOG:
      out = "catalog functions=" + std::to_string(e.getCatalog().getFunctions().size()) +
            " actors=" + std::to_string(e.getCatalog().getActors().size());
      for (auto f : e.getCatalog().getFunctions()) sig(out, f);
      break;
    case Envelope::BLOCKED:
      out = "blocked task=" + std::to_string(e.getBlocked().getTaskId()) + (e.getBlocked().getBlocked() ? " yes" : " no");
      break;
    case Envelope::CRASHED:
      out = "crashed signal=" + std::to_string(e.getCrashed().getSignal()) +
            " task=" + std::to_string(e.getCrashed().getTaskId());
      break;
    case Envelope::RELEASE:
      out = "release tasks=" + std::to_string(e.getRelease().getTasks().size()) +
            " actors=" + std::to_string(e.getRelease().getActors().size());
      break;
    case Envelope::BLOB:
      out = "blob id=" + std::to_string(e.getBlob().getId()) + " size=" + std::to_string(e.getBlob().getSize()) +
            " via=" + std::to_string(int(e.getBlob().getVia()));
      break;
    case Envelope::BLOB_CHUNK:
      out = "blob_chunk id=" + std::to_string(e.getBlobChunk().getId()) +
            " bytes=" + std::to_string(e.getBlobChunk().getData().size());
      break;
    default:
      out = "unknown envelope kind " + std::to_string(int(e.which()));
  }
  return out;
}

}  // namespace shoal::proto
