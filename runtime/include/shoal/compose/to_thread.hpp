#pragma once
/// \file
/// to_thread(): Python's asyncio.to_thread. Runs a blocking call on the loop's default
/// thread pool and awaits its result.

#include <asio/post.hpp>
#include <functional>
#include <type_traits>

#include "shoal/core/contextvars.hpp"
#include "shoal/core/loop.hpp"
#include "shoal/exec/thread_pool.hpp"

namespace shoal {

/// Calls `fn(args...)` on a pool thread and returns its result (or throws its exception).
/// Arguments are copied or moved into the call. Cancelling the awaiting task throws
/// CancelledError at once; a call that has not started yet is dropped, one that has keeps
/// running and its result is discarded. The call sees a copy of the caller's context
/// (ContextVar values), as in Python.
///     auto text = co_await shoal::to_thread(read_file, path);
template <typename F, typename... A>
Coro<std::invoke_result_t<F, A...>> to_thread(F fn, A... args) {
  using R = std::invoke_result_t<F, A...>;
  detail::refuse_if_exiting("loop's default executor (to_thread)");
  Promise<R> p;
  Future<R> fut = p.get_future();
  auto call = [p = std::move(p), ctx = detail::current_context_slot(), fn = std::move(fn),
               ... args = std::move(args)]() mutable {
    if (!p.set_running_or_notify_cancel()) return;
    detail::ContextScope scope(std::move(ctx));
    try {
      if constexpr (std::is_void_v<R>) {
        std::invoke(std::move(fn), std::move(args)...);  // called once: arguments move in
        p.set_result();
      } else {
        p.set_result(std::invoke(std::move(fn), std::move(args)...));
      }
    } catch (...) {
      p.set_current_exception();
    }
  };
  asio::post(get_running_loop().default_executor(), std::move(call));
  co_return co_await fut.wait();
}

}  // namespace shoal
