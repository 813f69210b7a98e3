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

// ---- building entries ----

namespace detail {

template <typename T>
struct coro_traits {
  static constexpr bool is_coroutine = false;
  using value = T;
};
template <typename T>
struct coro_traits<Coro<T>> {
  static constexpr bool is_coroutine = true;
  using value = T;
};

template <typename T>
std::string result_schema() {
  if constexpr (std::is_void_v<T>)
    return "none";
  else
    return codec::type_schema<std::decay_t<T>>();
}

/// Fills the descriptive part of `info` from a callable's types.
template <typename R, typename... P>
void describe_callable(CallableInfo& info) {
  using C = coro_traits<R>;
  static_assert((codec::Decodable<std::decay_t<P>> && ...),
                "every argument type of a remote function must be decodable by shoal::codec "
                "(std::string, not std::string_view or const char*)");
  static_assert(std::is_void_v<typename C::value> || codec::Encodable<std::decay_t<typename C::value>>,
                "the result type of a remote function must be encodable by shoal::codec");
  info.is_coroutine = C::is_coroutine;
  info.arg_types = {codec::type_schema<std::decay_t<P>>()...};
  info.result_type = result_schema<typename C::value>();
  info.signature = info.result_type + "(";
  for (std::size_t i = 0; i < info.arg_types.size(); ++i) info.signature += (i ? "," : "") + info.arg_types[i];
  info.signature += ")";
  info.signature_hash = codec::fnv1a64(info.signature);
}

/// Reads an argument tuple's header; TypeMismatch naming the call on a wrong arity.
void open_args(const CallableInfo& fn, std::string_view qualified_name, codec::Reader& r);
/// Rethrows a TypeMismatch met decoding argument `index`, naming the function, what the
/// call sent (described from `start`) and the registered signature.
[[noreturn]] void argument_mismatch(const CallableInfo& fn, std::string_view qualified_name, std::size_t index,
                                    const codec::Reader& start, const TypeMismatch& e);
/// Runs a coroutine to completion on a new loop (shoal::run).
Bytes run_to_completion(Coro<Bytes> coro);
/// The encoding of none (a void result).
Bytes encoded_none();

template <typename... A, std::size_t... I>
std::tuple<A...> decode_args_at(const CallableInfo& fn, std::string_view qualified, codec::Reader& r,
                                const codec::Reader& start, std::index_sequence<I...>) {
  [[maybe_unused]] auto arg = [&]<std::size_t J, typename T>() -> T {
    try {
      return codec::Codec<T>::decode(r);
    } catch (const TypeMismatch& e) {
      argument_mismatch(fn, qualified, J, start, e);
    }
  };
  // Braced initialisation evaluates left to right: arguments are read in order.
  return std::tuple<A...>{arg.template operator()<I, A>()...};
}

/// Decodes the argument tuple of a call of `fn`.
template <typename... A>
std::tuple<A...> decode_args(const CallableInfo& fn, std::string_view qualified, codec::Reader& r) {
  const codec::Reader start = r;
  open_args(fn, qualified, r);
  auto guard = r.nest();
  return decode_args_at<A...>(fn, qualified, r, start, std::index_sequence_for<A...>{});
}

/// Calls `f` with the tuple's elements forwarded as the parameter types P ask (moved into
/// by-value parameters, bound to reference ones).
template <typename... P, typename F, typename Tuple, std::size_t... I>
decltype(auto) apply_as(F&& f, Tuple& t, std::index_sequence<I...>) {
  return std::invoke(std::forward<F>(f), std::forward<P>(std::get<I>(t))...);
}

template <typename R, typename Call>
Bytes encode_call(Call&& call) {
  if constexpr (std::is_void_v<R>) {
    std::forward<Call>(call)();
    return encoded_none();
  } else {
    return codec::encode(std::forward<Call>(call)());
  }
}

template <typename... P, typename F, typename C, typename Tuple, std::size_t... I>
decltype(auto) apply_method_as(F f, C* self, Tuple& t, std::index_sequence<I...>) {
  return std::invoke(f, self, std::forward<P>(std::get<I>(t))...);
}

template <auto Fn, typename F = std::remove_pointer_t<decltype(Fn)>>
struct FunctionBinder;

template <auto Fn, typename R, typename... P>
struct FunctionBinder<Fn, R(P...)> {
  using Args = std::tuple<std::decay_t<P>...>;
  using C = coro_traits<R>;

  static Bytes call_now(Args& args) {
    return encode_call<R>([&]() -> decltype(auto) { return apply_as<P...>(Fn, args, std::index_sequence_for<P...>{}); });
  }
  // A coroutine: the arguments live in its frame while the function's coroutine runs.
  static Coro<Bytes> run_coroutine(Args args) {
    if constexpr (std::is_void_v<typename C::value>) {
      co_await apply_as<P...>(Fn, args, std::index_sequence_for<P...>{});
      co_return encoded_none();
    } else {
      auto value = co_await apply_as<P...>(Fn, args, std::index_sequence_for<P...>{});
      co_return codec::encode(value);
    }
  }
  static Coro<Bytes> run_plain(Args args) { co_return call_now(args); }

  static Bytes blocking(const FunctionEntry& e, codec::Reader& r) {
    auto args = decode_args<std::decay_t<P>...>(e, e.name, r);
    if constexpr (C::is_coroutine)
      return run_to_completion(run_coroutine(std::move(args)));
    else
      return call_now(args);
  }
  static Coro<Bytes> async(const FunctionEntry& e, codec::Reader& r) {
    auto args = decode_args<std::decay_t<P>...>(e, e.name, r);
    if constexpr (C::is_coroutine)
      return run_coroutine(std::move(args));
    else
      return run_plain(std::move(args));
  }
  static FunctionEntry make(std::string name) {
    FunctionEntry e;
    e.name = std::move(name);
    describe_callable<R, P...>(e);
    e.blocking = &blocking;
    e.async = &async;
    e.address = reinterpret_cast<void (*)()>(Fn);
    return e;
  }
};

template <auto Fn, typename R, typename... P>
struct FunctionBinder<Fn, R(P...) noexcept> : FunctionBinder<Fn, R(P...)> {};

template <auto M, typename C, typename R, typename... P>
struct MethodBinderImpl {
  using Args = std::tuple<std::decay_t<P>...>;
  using CT = coro_traits<R>;

  static std::string qualified(const MethodEntry& m) { return m.actor + "." + m.name; }
  static Bytes call_now(C* self, Args& args) {
    return encode_call<R>([&]() -> decltype(auto) {
      return apply_method_as<P...>(M, self, args, std::index_sequence_for<P...>{});
    });
  }
  // The coroutine holds the object (and the arguments) until the method's coroutine ends.
  static Coro<Bytes> run_coroutine(std::shared_ptr<void> self, Args args) {
    auto* object = static_cast<C*>(self.get());
    if constexpr (std::is_void_v<typename CT::value>) {
      co_await apply_method_as<P...>(M, object, args, std::index_sequence_for<P...>{});
      co_return encoded_none();
    } else {
      auto value = co_await apply_method_as<P...>(M, object, args, std::index_sequence_for<P...>{});
      co_return codec::encode(value);
    }
  }
  static Coro<Bytes> run_plain(std::shared_ptr<void> self, Args args) {
    co_return call_now(static_cast<C*>(self.get()), args);
  }
  static Bytes blocking(const MethodEntry& m, void* self, codec::Reader& r) {
    auto args = decode_args<std::decay_t<P>...>(m, qualified(m), r);
    if constexpr (CT::is_coroutine) {
      // The object outlives this call; the coroutine only borrows it.
      return run_to_completion(run_coroutine(std::shared_ptr<void>(std::shared_ptr<void>(), self), std::move(args)));
    } else {
      return call_now(static_cast<C*>(self), args);
    }
  }
  static Coro<Bytes> async(const MethodEntry& m, std::shared_ptr<void> self, codec::Reader& r) {
    auto args = decode_args<std::decay_t<P>...>(m, qualified(m), r);
    if constexpr (CT::is_coroutine)
      return run_coroutine(std::move(self), std::move(args));
    else
      return run_plain(std::move(self), std::move(args));
  }
  static MethodEntry make(std::string actor, std::string name) {
    MethodEntry m;
    m.actor = std::move(actor);
    m.name = std::move(name);
    describe_callable<R, P...>(m);
    m.blocking = &blocking;
    m.async = &async;
    m.pmf_type = typeid(decltype(M));
    auto pmf = M;
    m.pmf.resize(sizeof pmf);
    std::memcpy(m.pmf.data(), &pmf, sizeof pmf);
    return m;
  }
};

template <auto M, typename F = decltype(M)>
struct MethodBinder;
template <auto M, typename C, typename R, typename... P>
struct MethodBinder<M, R (C::*)(P...)> : MethodBinderImpl<M, C, R, P...> {};
template <auto M, typename C, typename R, typename... P>
struct MethodBinder<M, R (C::*)(P...) const> : MethodBinderImpl<M, C, R, P...> {};
template <auto M, typename C, typename R, typename... P>
struct MethodBinder<M, R (C::*)(P...) noexcept> : MethodBinderImpl<M, C, R, P...> {};
template <auto M, typename C, typename R, typename... P>
struct MethodBinder<M, R (C::*)(P...) const noexcept> : MethodBinderImpl<M, C, R, P...> {};

template <typename T>
struct is_init : std::false_type {};
template <typename... A>
struct is_init<init_t<A...>> : std::true_type {};

template <auto... Items>
struct first_item {
  using type = void;
};
template <auto First, auto... Rest>
struct first_item<First, Rest...> {
  using type = std::remove_cvref_t<decltype(First)>;
};

template <typename Class, typename... A>
struct Constructor {
  static std::shared_ptr<void> construct(const ActorEntry& e, codec::Reader& r) {
    CallableInfo info;
    info.name = e.name;
    info.signature = e.constructor_signature;
    info.arg_types = e.constructor_args;
    auto args = decode_args<A...>(info, e.name + " constructor", r);
    return std::apply([](A&... a) { return std::make_shared<Class>(std::move(a)...); }, args);
  }
  static void describe(ActorEntry& e) {
    static_assert((codec::Decodable<A> && ...), "every constructor argument type of an actor must be decodable");
    static_assert(std::is_constructible_v<Class, A...>,
                  "the actor cannot be constructed from the shoal::init<...> argument types given to SHOAL_ACTOR");
    e.constructor_args = {codec::type_schema<A>()...};
    e.constructor_signature = e.name + "(";
    for (std::size_t i = 0; i < e.constructor_args.size(); ++i)
      e.constructor_signature += (i ? "," : "") + e.constructor_args[i];
    e.constructor_signature += ")";
    e.constructor_hash = codec::fnv1a64(e.constructor_signature);
    e.construct = &construct;
  }
};

template <typename Class, typename Init>
struct ConstructorOf;
template <typename Class, typename... A>
struct ConstructorOf<Class, init_t<A...>> : Constructor<Class, std::decay_t<A>...> {};

/// The method names in SHOAL_ACTOR's text ("&Counter::add, &Counter::get" -> add, get),
/// skipping a leading shoal::init<...>.
std::vector<std::string> method_names(std::string_view text, bool has_init);

template <typename Class, auto... Items>
ActorEntry make_actor(std::string name, std::string_view text) {
  ActorEntry e;
  e.name = std::move(name);
  e.type = typeid(Class);
  using First = typename first_item<Items...>::type;
  constexpr bool has_init = is_init<First>::value;
  if constexpr (has_init) {
    ConstructorOf<Class, First>::describe(e);
  } else {
    static_assert(std::is_default_constructible_v<Class>,
                  "an actor that is not default-constructible names its constructor's argument types: "
                  "SHOAL_ACTOR(Class, shoal::init<int>, &Class::method, ...)");
    Constructor<Class>::describe(e);
  }
  auto names = method_names(text, has_init);
  std::size_t i = 0;
  auto add = [&]<auto Item>() {
    if constexpr (!is_init<std::remove_cvref_t<decltype(Item)>>::value) {
      static_assert(std::is_member_function_pointer_v<decltype(Item)>,
                    "SHOAL_ACTOR takes the class, optionally shoal::init<...>, then member function pointers");
      e.methods.push_back(MethodBinder<Item>::make(e.name, i < names.size() ? names[i] : "method" + std::to_string(i)));
      ++i;
    }
  };
  (add.template operator()<Items>(), ...);
  return e;
}

/// Registers an entry in the global registry at static-initialisation time and removes it
/// when destroyed (a library unloading). Never throws: problems are recorded for
/// Registry::verify().
class Registration {
 public:
  explicit Registration(FunctionEntry entry) noexcept;
  explicit Registration(ActorEntry entry) noexcept;
  ~Registration();
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  std::string name_;
  void (*address_)() = nullptr;
  std::optional<std::type_index> actor_;
};

template <auto Fn>
FunctionEntry make_function(std::string name) {
  static_assert(std::is_function_v<std::remove_pointer_t<decltype(Fn)>>,
                "SHOAL_REMOTE takes a free function (or a static member function)");
  return FunctionBinder<Fn>::make(std::move(name));
}

}  // namespace detail

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
