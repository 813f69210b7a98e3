#include "shoal/remote/registry.hpp"

#include <cctype>
#include <cstdio>
#include <mutex>

#include "shoal/core/loop.hpp"

namespace shoal::remote {

namespace {

std::string hex(std::uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

/// "(int64,string)" from "tuple<int64,string>".
std::string as_call(const std::string& described) {
  if (described.rfind("tuple<", 0) == 0 && described.size() >= 7 && described.back() == '>')
    return "(" + described.substr(6, described.size() - 7) + ")";
  return described;
}

}  // namespace

// ---- decoding arguments ----

namespace detail {

void open_args(const CallableInfo& fn, std::string_view qualified, codec::Reader& r) {
  const codec::Reader start = r;
  if (r.at_end() || r.peek() != codec::Tag::tuple)
    throw TypeMismatch(std::string(qualified) + " expects its arguments as a tuple, received " +
                       (r.at_end() ? std::string("nothing") : codec::describe_encoded(start)) + " (registered as " +
                       fn.signature + ")");
  r.tag();
  std::uint64_t n = r.varint();
  if (n != fn.arity())
    throw TypeMismatch(std::string(qualified) + " takes " + plural(fn.arity(), "argument", "arguments") +
                       ", received " + std::to_string(n) + " (called with " +
                       as_call(codec::describe_encoded(start)) + "; registered as " + fn.signature + ")");
}

void argument_mismatch(const CallableInfo& fn, std::string_view qualified, std::size_t index,
                       const codec::Reader& start, const TypeMismatch& e) {
  throw TypeMismatch("argument " + std::to_string(index) + " of " + std::string(qualified) + ": " + e.what() +
                     " (called with " + as_call(codec::describe_encoded(start)) + "; registered as " + fn.signature +
                     ")");
}

Bytes run_to_completion(Coro<Bytes> coro) { return shoal::run(std::move(coro)); }

Bytes encoded_none() {
  static const Bytes none = codec::encode(std::monostate{});
  return none;
}

std::vector<std::string> method_names(std::string_view text, bool has_init) {
  // Splits at the commas outside <> and (), then keeps the identifier after the last "::".
  std::vector<std::string> parts;
  int depth = 0;
  std::string current;
  for (char c : text) {
    if (c == '<' || c == '(') ++depth;
    if (c == '>' || c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(current);
  std::vector<std::string> names;
  for (std::size_t i = has_init ? 1 : 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    std::size_t at = p.rfind("::");
    std::size_t begin = at == std::string::npos ? 0 : at + 2;
    while (begin < p.size() && !(std::isalnum(static_cast<unsigned char>(p[begin])) || p[begin] == '_')) ++begin;
    std::size_t end = begin;
    while (end < p.size() && (std::isalnum(static_cast<unsigned char>(p[end])) || p[end] == '_')) ++end;
    names.push_back(p.substr(begin, end - begin));
  }
  return names;
}

// ---- static registration ----

Registration::Registration(FunctionEntry entry) noexcept {
  Registry& registry = Registry::global();
  try {
    std::string name = entry.name;
    void (*address)() = entry.address;
    if (registry.add(std::move(entry))) {
      name_ = std::move(name);
      address_ = address;
    }
  } catch (const std::exception& e) {
    registry.note_problem(e.what());
  }
}

Registration::Registration(ActorEntry entry) noexcept {
  Registry& registry = Registry::global();
  try {
    std::string name = entry.name;
    std::type_index type = entry.type;
    if (registry.add(std::move(entry))) {
      name_ = std::move(name);
      actor_ = type;
    }
  } catch (const std::exception& e) {
    registry.note_problem(e.what());
  }
}

Registration::~Registration() {
  if (address_) Registry::global().remove_function(name_, address_);
  if (actor_) Registry::global().remove_actor(name_, *actor_);
}

}  // namespace detail

// ---- entries ----

Bytes FunctionEntry::invoke(codec::Reader& args) const { return blocking(*this, args); }

Bytes FunctionEntry::invoke(const Bytes& args) const {
  codec::Reader r(args);
  Bytes result = blocking(*this, r);
  r.expect_end();
  return result;
}

Coro<Bytes> FunctionEntry::invoke_async(codec::Reader& args) const { return async(*this, args); }

const MethodEntry* ActorEntry::find_method(std::string_view method) const noexcept {
  for (const auto& m : methods)
    if (m.name == method) return &m;
  return nullptr;
}

const MethodEntry& ActorEntry::method(std::string_view method) const {
  if (const MethodEntry* m = find_method(method)) return *m;
  throw NotRegistered(name + "." + std::string(method), "the actor type " + name);
}

ActorInstance ActorInstance::create(std::shared_ptr<const ActorEntry> type, codec::Reader& args) {
  auto object = type->construct(*type, args);
  return ActorInstance(std::move(type), std::move(object));
}

ActorInstance ActorInstance::create(std::shared_ptr<const ActorEntry> type, const Bytes& args) {
  codec::Reader r(args);
  auto instance = create(std::move(type), r);
  r.expect_end();
  return instance;
}

void ActorInstance::check(const MethodEntry& method) const {
  const auto& ms = type_->methods;
  if (ms.empty() || &method < ms.data() || &method >= ms.data() + ms.size())
    throw ValueError("the method " + method.actor + "." + method.name + " does not belong to the actor type " +
                     type_->name);
}

Bytes ActorInstance::invoke(const MethodEntry& method, codec::Reader& args) const {
  check(method);
  return method.blocking(method, object_.get(), args);
}

Bytes ActorInstance::invoke(std::string_view method, const Bytes& args) const {
  codec::Reader r(args);
  Bytes result = invoke(type_->method(method), r);
  r.expect_end();
  return result;
}

Coro<Bytes> ActorInstance::invoke_async(const MethodEntry& method, codec::Reader& args) const {
  check(method);
  return method.async(method, object_, args);
}

// ---- the registry ----

Registry& Registry::global() {
  // Constructed by the first registration, so destroyed after every Registration object.
  static Registry registry;
  return registry;
}

bool Registry::add(FunctionEntry entry) {
  std::unique_lock lock(mu_);
  if (auto it = functions_.find(entry.name); it != functions_.end()) {
    if (entry.address && it->second->address == entry.address) return false;
    throw ValueError("the remote function name '" + entry.name + "' is registered twice (" + it->second->signature +
                     " and " + entry.signature + "): give one of them another name with SHOAL_REMOTE_AS");
  }
  auto shared = std::make_shared<const FunctionEntry>(std::move(entry));
  functions_.emplace(shared->name, shared);
  if (shared->address) by_address_[shared->address] = shared;
  return true;
}

bool Registry::add(ActorEntry entry) {
  std::unique_lock lock(mu_);
  if (auto it = actors_.find(entry.name); it != actors_.end()) {
    if (it->second->type == entry.type) return false;
    throw ValueError("the actor name '" + entry.name + "' is registered twice, for two different types");
  }
  if (by_type_.count(entry.type))
    throw ValueError("the actor type '" + entry.name + "' is registered twice, under '" +
                     by_type_.at(entry.type)->name + "' and '" + entry.name + "'");
  auto shared = std::make_shared<const ActorEntry>(std::move(entry));
  actors_.emplace(shared->name, shared);
  by_type_[shared->type] = shared;
  return true;
}

void Registry::remove_function(std::string_view name, void (*address)()) noexcept {
  std::unique_lock lock(mu_);
  auto it = functions_.find(name);
  if (it == functions_.end() || it->second->address != address) return;
  by_address_.erase(address);
  functions_.erase(it);
}

void Registry::remove_actor(std::string_view name, std::type_index type) noexcept {
  std::unique_lock lock(mu_);
  auto it = actors_.find(name);
  if (it == actors_.end() || it->second->type != type) return;
  by_type_.erase(type);
  actors_.erase(it);
}

std::shared_ptr<const FunctionEntry> Registry::find(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : it->second;
}

std::shared_ptr<const FunctionEntry> Registry::get(std::string_view name) const {
  if (auto e = find(name)) return e;
  throw NotRegistered(std::string(name));
}

std::shared_ptr<const FunctionEntry> Registry::get(std::string_view name, std::uint64_t hash,
                                                   std::string_view caller_signature) const {
  auto e = get(name);
  if (e->signature_hash != hash)
    throw TypeMismatch(std::string(name) + ": the caller's signature " +
                       (caller_signature.empty() ? std::string("(not sent)") : std::string(caller_signature)) +
                       " [hash " + hex(hash) + "] differs from the registered " + e->signature + " [hash " +
                       hex(e->signature_hash) + "]: build the caller and the worker from the same declaration");
  return e;
}

std::shared_ptr<const FunctionEntry> Registry::find_address(void (*address)()) const {
  std::shared_lock lock(mu_);
  auto it = by_address_.find(address);
  return it == by_address_.end() ? nullptr : it->second;
}

std::shared_ptr<const ActorEntry> Registry::find_actor(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = actors_.find(name);
  return it == actors_.end() ? nullptr : it->second;
}

std::shared_ptr<const ActorEntry> Registry::get_actor(std::string_view name) const {
  if (auto e = find_actor(name)) return e;
  throw NotRegistered(std::string(name));
}

std::shared_ptr<const ActorEntry> Registry::get_actor(std::string_view name, std::uint64_t constructor_hash,
                                                      std::string_view caller_signature) const {
  auto e = get_actor(name);
  if (e->constructor_hash != constructor_hash)
    throw TypeMismatch(std::string(name) + ": the caller's constructor signature " +
                       (caller_signature.empty() ? std::string("(not sent)") : std::string(caller_signature)) +
                       " [hash " + hex(constructor_hash) + "] differs from the registered " +
                       e->constructor_signature + " [hash " + hex(e->constructor_hash) + "]");
  return e;
}

std::shared_ptr<const ActorEntry> Registry::find_actor_type(std::type_index type) const {
  std::shared_lock lock(mu_);
  auto it = by_type_.find(type);
  return it == by_type_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const FunctionEntry>> Registry::functions() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const FunctionEntry>> out;
  for (const auto& [name, e] : functions_) out.push_back(e);
  return out;
}

std::vector<std::shared_ptr<const ActorEntry>> Registry::actors() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const ActorEntry>> out;
  for (const auto& [name, e] : actors_) out.push_back(e);
  return out;
}

std::vector<std::string> Registry::problems() const {
  std::shared_lock lock(mu_);
  return problems_;
}

void Registry::verify() const {
  auto found = problems();
  if (found.empty()) return;
  std::string text = "the registry has " + plural(found.size(), "problem", "problems") + ":";
  for (const auto& p : found) text += "\n  - " + p;
  throw ValueError(text);
}

void Registry::note_problem(std::string problem) noexcept {
  try {
    std::unique_lock lock(mu_);
    problems_.push_back(std::move(problem));
  } catch (...) {
    // Out of memory at static-initialisation time: nothing better to do than carry on.
  }
}

}  // namespace shoal::remote
