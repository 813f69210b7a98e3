#pragma once
/// \file
/// The registry of remote functions and actors. C++ cannot ship code, so a function that
/// runs in another process is registered there by name, once, next to its definition:
///
///     std::int64_t fib(std::int64_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
///     SHOAL_REMOTE(fib)                        // name "fib", signature "int64(int64)"
///
///     shoal::Coro<std::string> fetch(std::string url);
///     SHOAL_REMOTE(fetch)                      // a coroutine: runs on the worker's loop
///
///     struct Counter {
///       explicit Counter(std::int64_t start) : n(start) {}
///       std::int64_t add(std::int64_t k) { return n += k; }
///       std::int64_t get() const { return n; }
///       std::int64_t n;
///     };
///     SHOAL_ACTOR(Counter, shoal::init<std::int64_t>, &Counter::add, &Counter::get)
///
/// Each entry has a name (the macro argument as written), a signature text built from its
/// types (remote/registry.hpp's signature(), e.g. "int64(int64,string)") and the FNV-1a
/// hash of that text, whether it is a coroutine, and type-erased invokers that decode the
/// argument tuple, call, and encode the result. A call with an unknown name fails with
/// NotRegistered; with the wrong arity, argument types or signature hash with TypeMismatch
/// naming the function and both signatures.
///
/// SHOAL_REMOTE and SHOAL_ACTOR go in a source file (or a header: registering the same
/// function again is a no-op) at namespace scope. Overloaded functions and methods must be
/// disambiguated with SHOAL_REMOTE_AS(static_cast<...>(&f), "name").

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include "shoal/remote/binders.hpp"
#include "shoal/remote/entries.hpp"

namespace shoal::remote {

/// Functions and actors by name. Thread-safe; entries are immutable once added.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// The process-wide registry that SHOAL_REMOTE and SHOAL_ACTOR fill. It is the one
  /// singleton shoal has, because registration runs during the static initialisation of
  /// the program and of every library loaded with dlopen (`shoal-worker --load`), before
  /// any main() could pass a registry in. Everything else takes a Registry&.
  static Registry& global();

  /// Adds `entry`. Returns false (and changes nothing) when the same function is already
  /// registered under that name; ValueError when the name belongs to another one.
  bool add(FunctionEntry entry);
  /// Adds `entry`; false when the same type is registered under that name already,
  /// ValueError when the name belongs to another type.
  bool add(ActorEntry entry);
  /// Removes the function `name` if it is the one at `address` (a library unloading).
  void remove_function(std::string_view name, void (*address)()) noexcept;
  /// Removes the actor `name` if it is of type `type`.
  void remove_actor(std::string_view name, std::type_index type) noexcept;

  /// The function named `name`, or null.
  [[nodiscard]] std::shared_ptr<const FunctionEntry> find(std::string_view name) const;
  /// The function named `name`; NotRegistered when there is none.
  [[nodiscard]] std::shared_ptr<const FunctionEntry> get(std::string_view name) const;
  /// The function named `name` whose signature hash is `hash`: NotRegistered when there is
  /// none, TypeMismatch naming both signatures (the caller's as `caller_signature` when
  /// known) when the hash differs.
  [[nodiscard]] std::shared_ptr<const FunctionEntry> get(std::string_view name, std::uint64_t hash,
                                                         std::string_view caller_signature = {}) const;
  /// The entry of the function `fn` points to, or null.
  template <typename F>
    requires std::is_function_v<F>
  [[nodiscard]] std::shared_ptr<const FunctionEntry> find(F* fn) const {
    return find_address(reinterpret_cast<void (*)()>(fn));
  }
  /// The entry of the function at `address` (a function pointer cast to void(*)()), or null.
  [[nodiscard]] std::shared_ptr<const FunctionEntry> find_function_at(void (*address)()) const {
    return find_address(address);
  }

  /// The actor type named `name`, or null.
  [[nodiscard]] std::shared_ptr<const ActorEntry> find_actor(std::string_view name) const;
  /// The actor type named `name`; NotRegistered when there is none.
  [[nodiscard]] std::shared_ptr<const ActorEntry> get_actor(std::string_view name) const;
  /// As get_actor(name), and TypeMismatch when the constructor's hash differs.
  [[nodiscard]] std::shared_ptr<const ActorEntry> get_actor(std::string_view name, std::uint64_t constructor_hash,
                                                            std::string_view caller_signature = {}) const;
  /// The entry of actor type T, or null.
  template <typename T>
  [[nodiscard]] std::shared_ptr<const ActorEntry> find_actor() const {
    return find_actor_type(typeid(T));
  }

  /// Every function, by name.
  [[nodiscard]] std::vector<std::shared_ptr<const FunctionEntry>> functions() const;
  /// Every actor type, by name.
  [[nodiscard]] std::vector<std::shared_ptr<const ActorEntry>> actors() const;

  /// Problems met while registering at static-initialisation time, where throwing would
  /// terminate the program (a name registered twice, ...): one line each.
  [[nodiscard]] std::vector<std::string> problems() const;
  /// Throws ValueError listing problems(), if any. A worker calls it before it starts.
  void verify() const;
  /// Records a problem (used by the registration macros).
  void note_problem(std::string problem) noexcept;

  /// Encodes a call of `fn` (which must be registered) with `args`, converted to its
  /// parameter types: the wrong arity or types do not compile. NotRegistered when `fn`
  /// is not registered here.
  template <typename R, typename... P, typename... A>
  [[nodiscard]] PreparedCall prepare(R (*fn)(P...), A&&... args) const {
    return prepare_impl<std::decay_t<P>...>(reinterpret_cast<void (*)()>(fn), std::forward<A>(args)...);
  }
  template <typename R, typename... P, typename... A>
  [[nodiscard]] PreparedCall prepare(R (*fn)(P...) noexcept, A&&... args) const {
    return prepare_impl<std::decay_t<P>...>(reinterpret_cast<void (*)()>(fn), std::forward<A>(args)...);
  }

 private:
  template <typename... P, typename... A>
  PreparedCall prepare_impl(void (*address)(), A&&... args) const {
    auto entry = find_address(address);
    if (!entry) throw NotRegistered("the function at this address", "this process's registry");
    std::tuple<P...> values(std::forward<A>(args)...);
    return PreparedCall{std::move(entry), codec::encode(values)};
  }
  std::shared_ptr<const FunctionEntry> find_address(void (*address)()) const;
  std::shared_ptr<const ActorEntry> find_actor_type(std::type_index type) const;

  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const FunctionEntry>, std::less<>> functions_;
  std::map<void (*)(), std::shared_ptr<const FunctionEntry>> by_address_;
  std::map<std::string, std::shared_ptr<const ActorEntry>, std::less<>> actors_;
  std::map<std::type_index, std::shared_ptr<const ActorEntry>> by_type_;
  std::vector<std::string> problems_;
};

}  // namespace shoal::remote

#define SHOAL_DETAIL_CAT2(a, b) a##b
#define SHOAL_DETAIL_CAT(a, b) SHOAL_DETAIL_CAT2(a, b)

/// Registers the free function `fn` under the name `name` (a string).
#define SHOAL_REMOTE_AS(fn, name)                                                      \
  [[maybe_unused]] static const ::shoal::remote::detail::Registration SHOAL_DETAIL_CAT( \
      shoal_registration_, __COUNTER__) {                                              \
    ::shoal::remote::detail::make_function<&fn>(name)                                  \
  };

/// Registers the free function `fn` (plain, or a coroutine returning shoal::Coro<T>) under
/// its name as written here.
#define SHOAL_REMOTE(fn) SHOAL_REMOTE_AS(fn, #fn)

/// Registers the actor type `Class` and the methods listed (member function pointers),
/// optionally after `shoal::init<Args...>`, the types of the constructor it is built with
/// (default-constructible otherwise). Methods are named as written ("&Counter::add" is
/// "add"); the actor's name is `Class` as written.
#define SHOAL_ACTOR(Class, ...)                                                                      \
  [[maybe_unused]] static const ::shoal::remote::detail::Registration SHOAL_DETAIL_CAT(               \
      shoal_registration_, __COUNTER__) {                                                            \
    ::shoal::remote::detail::make_actor<Class __VA_OPT__(, ) __VA_ARGS__>(#Class, #__VA_ARGS__)      \
  };
