#pragma once
/// \file
/// Coro<T>: a coroutine, lazy like a Python coroutine object. It is an
/// asio::awaitable<T>, so every Asio operation can be awaited inside one.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>
#include <type_traits>
#include <variant>

namespace shoal {

/// The executor every shoal coroutine runs on (an event loop's).
using Executor = asio::any_io_executor;

/// A coroutine returning T: `shoal::Coro<int> f() { co_return 42; }`.
/// Nothing runs until it is awaited, passed to create_task, or given to run().
template <typename T = void>
using Coro = asio::awaitable<T, Executor>;

/// The completion token that turns an Asio operation into something a Coro awaits.
inline constexpr asio::use_awaitable_t<Executor> use_coro{};

namespace detail {
/// void is stored and collected (gather, Outcome) as std::monostate, Python's None.
template <typename T>
using value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
}  // namespace detail

}  // namespace shoal
