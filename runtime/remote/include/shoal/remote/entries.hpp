#pragma once
/// \file
/// What the registry holds: the entries of registered functions, actor types and their
/// methods (name, signature, how to invoke), live actor instances, and prepared calls.
/// See registry.hpp for how entries are made and found.

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>
#include "shoal/codec/codec.hpp"
#include "shoal/codec/schema.hpp"
#include "shoal/core/coro.hpp"

namespace shoal {

/// The constructor argument types of an actor, given to SHOAL_ACTOR:
/// `SHOAL_ACTOR(Counter, shoal::init<std::int64_t>, &Counter::add)`. Without it the actor
/// must be default-constructible.
template <typename... A>
struct init_t {};
template <typename... A>
inline constexpr init_t<A...> init{};

}  // namespace shoal

namespace shoal::remote {

class ActorInstance;

/// What every registered callable (function or actor method) says about itself.
struct CallableInfo {
  std::string name;                    ///< "fib"; for a method, its name alone ("add")
  std::string signature;               ///< "int64(int64)", SHOAL_FIELDS structs spelled out
  std::uint64_t signature_hash = 0;    ///< codec::fnv1a64(signature)
  std::vector<std::string> arg_types;  ///< each argument's schema
  std::string result_type;             ///< the result's schema ("none" for void)
  bool is_coroutine = false;           ///< returns shoal::Coro<T>: run it on a loop

  [[nodiscard]] std::size_t arity() const noexcept { return arg_types.size(); }
};

/// A registered free function.
struct FunctionEntry : CallableInfo {
  /// Decodes the argument tuple from `args`, calls the function on this thread and returns
  /// the encoded result. A coroutine is run to completion on a new loop (shoal::run, so
  /// never from a loop's thread: InvalidStateError). Throws TypeMismatch (naming the
  /// function and both signatures) when the arguments do not match, DecodeError when they
  /// are malformed, and whatever the function throws.
  Bytes invoke(codec::Reader& args) const;
  /// invoke() over all of `args` (DecodeError on bytes left over).
  Bytes invoke(const Bytes& args) const;
  /// Decodes the arguments now (a TypeMismatch is thrown here, before anything runs) and
  /// returns the coroutine that calls the function and encodes its result. A plain
  /// function runs inline when the coroutine is awaited: workers run those through
  /// invoke() on a thread pool instead.
  [[nodiscard]] Coro<Bytes> invoke_async(codec::Reader& args) const;

  // Filled by make_function().
  Bytes (*blocking)(const FunctionEntry&, codec::Reader&) = nullptr;
  Coro<Bytes> (*async)(const FunctionEntry&, codec::Reader&) = nullptr;
  void (*address)() = nullptr;  ///< the function itself, to find its entry from a pointer
};

/// A registered actor method.
struct MethodEntry : CallableInfo {
  Bytes (*blocking)(const MethodEntry&, void* self, codec::Reader&) = nullptr;
  Coro<Bytes> (*async)(const MethodEntry&, std::shared_ptr<void> self, codec::Reader&) = nullptr;
  std::type_index pmf_type = typeid(void);
  std::vector<std::byte> pmf;  ///< the member pointer's bytes, to find the method from one
  std::string actor;           ///< the actor's name, for messages ("Counter.add")
};

/// A registered actor type: its constructor and its methods.
struct ActorEntry {
  std::string name;                         ///< "Counter"
  std::string constructor_signature;        ///< "Counter(int64)"
  std::uint64_t constructor_hash = 0;       ///< codec::fnv1a64(constructor_signature)
  std::vector<std::string> constructor_args;
  std::vector<MethodEntry> methods;
  std::type_index type = typeid(void);

  /// The method named `method`, or null.
  [[nodiscard]] const MethodEntry* find_method(std::string_view method) const noexcept;
  /// The method named `method`; NotRegistered ("Counter.foo") when there is none.
  [[nodiscard]] const MethodEntry& method(std::string_view method) const;
  /// The method `pmf` points to, or null when it was not registered.
  template <typename M>
    requires std::is_member_function_pointer_v<M>
  [[nodiscard]] const MethodEntry* find_method(M pmf) const noexcept {
    for (const auto& m : methods)
      if (m.pmf_type == std::type_index(typeid(M)) && m.pmf.size() == sizeof(M) &&
          std::memcmp(m.pmf.data(), &pmf, sizeof(M)) == 0)
        return &m;
    return nullptr;
  }

  // Filled by make_actor().
  std::shared_ptr<void> (*construct)(const ActorEntry&, codec::Reader&) = nullptr;
};

/// One live actor: its object and its type's entry. Copies share the object.
class ActorInstance {
 public:
  /// Decodes the constructor arguments from `args` and constructs the actor. TypeMismatch
  /// when they do not match the constructor; whatever the constructor throws.
  static ActorInstance create(std::shared_ptr<const ActorEntry> type, codec::Reader& args);
  static ActorInstance create(std::shared_ptr<const ActorEntry> type, const Bytes& args);

  /// Calls `method` (decoding its arguments, encoding its result) on this thread; a
  /// coroutine method runs to completion on a new loop (as FunctionEntry::invoke).
  Bytes invoke(const MethodEntry& method, codec::Reader& args) const;
  /// The method by name (NotRegistered when it has none).
  Bytes invoke(std::string_view method, const Bytes& args) const;
  /// As FunctionEntry::invoke_async; the coroutine keeps the object alive.
  [[nodiscard]] Coro<Bytes> invoke_async(const MethodEntry& method, codec::Reader& args) const;

  [[nodiscard]] const ActorEntry& type() const noexcept { return *type_; }
  /// The object, when it is a T; null otherwise.
  template <typename T>
  [[nodiscard]] T* get() const noexcept {
    return type_->type == std::type_index(typeid(T)) ? static_cast<T*>(object_.get()) : nullptr;
  }

 private:
  ActorInstance(std::shared_ptr<const ActorEntry> type, std::shared_ptr<void> object)
      : type_(std::move(type)), object_(std::move(object)) {}
  void check(const MethodEntry& method) const;

  std::shared_ptr<const ActorEntry> type_;
  std::shared_ptr<void> object_;
};

/// A call ready to send: the function's entry and its encoded argument tuple.
struct PreparedCall {
  std::shared_ptr<const FunctionEntry> function;
  Bytes args;
};

}  // namespace shoal::remote
