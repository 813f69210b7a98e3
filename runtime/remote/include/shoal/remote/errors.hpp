#pragma once
/// \file
/// The errors of remote work, and how a remote failure becomes a C++ exception again on
/// the caller's side.

#include <exception>
#include <string>
#include <type_traits>

#include "shoal/codec/error_info.hpp"
#include "shoal/core/error.hpp"
#include "shoal/proto/frame.hpp"  // ConnectionError

namespace shoal {

/// A task's worker stopped answering (EOF, a protocol error, or missed heartbeats) and
/// the task ran out of retries, or an actor's worker died.
class WorkerLost : public Error {
 public:
  explicit WorkerLost(const std::string& what) : Error(what, ErrorKind::disconnected) {}
};

/// An actor is gone (Ray's ActorDiedError): its worker died and it may not restart (any
/// more: ActorOptions::max_restarts), its constructor failed when it restarted, or it was
/// killed. Its calls that were running when its worker died fail with it unless
/// ActorOptions::max_task_retries lets them run again on the restarted actor. A WorkerLost,
/// so that code catching that still does.
class ActorDied : public WorkerLost {
 public:
  explicit ActorDied(const std::string& what) : WorkerLost(what) {}
};

/// A task killed the worker running it (the worker named it as it died of a fatal signal,
/// or the worker died while it ran alone) as many times as the coordinator's
/// --max-crashes allows (1 by default): it is not retried, so that it takes no more
/// workers down. The message names the signal where the worker reported one.
class TaskCrashed : public Error {
 public:
  explicit TaskCrashed(const std::string& what) : Error(what, ErrorKind::failed) {}
};

/// This client lost its coordinator while the task was pending: the task may still run
/// (or have run) there; its outcome is unknown here. A ConnectionError, so code that
/// catches those keeps working; the CLI exits 3 on it, never as a task failure.
class CoordinatorLost : public ConnectionError {
 public:
  explicit CoordinatorLost(const std::string& what) : ConnectionError(what) {}
};

/// The coordinator could not take more work in time: a submit waited its
/// ClientOptions::submit_timeout for room and gave up. Retry later (kind overloaded).
class Overloaded : public Error {
 public:
  explicit Overloaded(const std::string& what) : Error(what, ErrorKind::overloaded) {}
};

/// A task was not run because one of its dependencies was cancelled or is unknown (the
/// message names it). A dependency that failed makes its dependents raise its own error
/// instead, type and message, as Dask and Ray do: remote_origin(e)->task_id is then the
/// dependency's task.
class DependencyFailed : public Error {
 public:
  explicit DependencyFailed(const std::string& what) : Error(what, ErrorKind::failed) {}
};

/// A task's arguments or result are larger than where they must be kept allows: values
/// have no size limit below memory, but a journaled coordinator keeps values of up to
/// 953 MiB (its journal's limit). The task fails with this; its worker and its connection
/// carry on. Retrying the same call fails again.
class ResultTooLarge : public Error {
 public:
  explicit ResultTooLarge(const std::string& what) : Error(what, ErrorKind::failed) {}
};

/// The coordinator's object store is full (--object-store-memory): a put, or a submit
/// whose arguments travel beside it, was refused. Retry once objects were released.
class ObjectStoreFull : public Error {
 public:
  explicit ObjectStoreFull(const std::string& what) : Error(what, ErrorKind::overloaded) {}
};

/// No worker that registered the function (or the actor type) could ever run the task as
/// it asks (TaskOptions::resources beyond what any offers, a label none has): it fails at
/// once rather than wait for ever. The message names what is missing. Retrying the same
/// request fails again until a worker that offers it registers.
class Unschedulable : public Error {
 public:
  explicit Unschedulable(const std::string& what) : Error(what, ErrorKind::failed) {}
};

}  // namespace shoal

namespace shoal::remote {

/// The exception for a remote failure: the original type where shoal knows it
/// (CancelledError, TimeoutError, TypeMismatch, NotRegistered, WorkerLost, TaskCrashed,
/// DependencyFailed, ValueError, or a type given to register_remote_exception) as a
/// Remote<E>, else RemoteError. what() is the original message; remote_origin(e) tells
/// where it happened (function, task, host, pid).
[[nodiscard]] std::exception_ptr make_remote_exception(const codec::RemoteErrorInfo& info);

/// Makes a RemoteError of the C++ type named `type_name` (as demangled, "my::Oops") be
/// rethrown by clients as `make(message)` (which knows nothing of where it happened).
void register_remote_exception(std::string type_name, std::exception_ptr (*make)(const std::string& message));
/// The same with the origin kept: a failure of type `type_name` is thrown as Remote<E>,
/// built from the message.
void register_remote_exception(std::string type_name,
                               std::exception_ptr (*make)(const codec::RemoteErrorInfo& info));
template <typename E>
void register_remote_exception(std::string type_name) {
  if constexpr (std::is_final_v<E> || std::is_base_of_v<RemoteOrigin, E>) {
    // Remote<E> cannot derive from it: rebuilt from the message only.
    register_remote_exception(std::move(type_name),
                              +[](const std::string& m) { return std::make_exception_ptr(E(m)); });
  } else {
    register_remote_exception(std::move(type_name), +[](const codec::RemoteErrorInfo& i) {
      return std::make_exception_ptr(Remote<E>(E(i.message), i));
    });
  }
}

}  // namespace shoal::remote
