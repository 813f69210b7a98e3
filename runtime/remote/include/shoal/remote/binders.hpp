#pragma once
/// \file
/// How SHOAL_REMOTE and SHOAL_ACTOR build registry entries from C++ types: signatures
/// from parameter types, invokers that decode an argument tuple and encode the result,
/// actor constructors and methods. Internal to registry.hpp's macros.

#include "shoal/remote/entries.hpp"

namespace shoal::remote {


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
      if (auto dep = r.take_ref()) {  // a dependency's value, read where it lies
        T v = codec::Codec<T>::decode(*dep);
        dep->expect_end();
        return v;
      }
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
