#pragma once
/// \file
/// Process: Python's multiprocessing.Process. Runs a registered function in a child
/// process (this program, re-executed in process mode, so the function exists there):
///
///     void count_lines(std::string path, shoal::mp::Queue<std::int64_t> out);
///     SHOAL_REMOTE(count_lines)
///
///     shoal::mp::Queue<std::int64_t> q;
///     shoal::Process p(&count_lines, std::string("a.txt"), std::ref(q));
///     p.start();
///     auto n = q.get();
///     p.join();                        // p.exitcode(): 0, 1 after an exception, -9 if killed
///
/// An mp::Queue argument is shared with the child (as multiprocessing passes a Queue to
/// a Process): pass it with std::ref. Other arguments are copied, encoded by the codec.
/// The child exits 0 when the function returns, or prints the exception and exits 1.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/cluster/mp_queue.hpp"
#include "shoal/cluster/spawn.hpp"
#include "shoal/remote/registry.hpp"

namespace shoal {

namespace mp::detail {
/// The descriptors of the mp::Queues being encoded for a Process start (thread-local).
std::vector<int>*& spawn_fds() noexcept;
}  // namespace mp::detail

namespace detail {
template <typename T>
struct unwrap_queue_ref {
  using type = T;
};
template <typename T>
struct unwrap_queue_ref<std::reference_wrapper<mp::Queue<T>>> {
  using type = mp::Queue<T>;
};
}  // namespace detail

class Process {
 public:
  /// A process that will run fn(args...) once started (fn registered with SHOAL_REMOTE).
  template <typename R, typename... P, typename... A>
  explicit Process(R (*fn)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A), "Process: wrong number of arguments for this function");
    auto entry = remote::Registry::global().find(fn);
    if (!entry) throw NotRegistered("the function given to Process", "this process (register it with SHOAL_REMOTE)");
    name_ = entry->name;
    hash_ = entry->signature_hash;
    std::vector<int> fds;
    auto* previous = mp::detail::spawn_fds();
    mp::detail::spawn_fds() = &fds;
    try {
      codec::Writer w;
      w.tag(codec::Tag::tuple);
      w.varint(sizeof...(P));
      (encode_one<std::decay_t<P>>(w, std::forward<A>(args)), ...);
      args_ = w.finish();
    } catch (...) {
      mp::detail::spawn_fds() = previous;
      throw;
    }
    mp::detail::spawn_fds() = previous;
    queue_fds_ = std::move(fds);
  }
  ~Process();
  Process(Process&&) noexcept;
  Process& operator=(Process&&) noexcept;

  /// Starts the child. InvalidStateError when started already.
  void start();
  /// Waits for the child to exit (forever, or up to `timeout`); returns whether it did.
  bool join(std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
  /// nullopt while running (or not started); the exit status, or -N after signal N.
  [[nodiscard]] std::optional<int> exitcode();
  [[nodiscard]] pid_t pid() const noexcept;
  [[nodiscard]] bool is_alive();
  void terminate();
  void kill();
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  template <typename P, typename A>
  static void encode_one(codec::Writer& w, A&& a) {
    if constexpr (std::is_same_v<std::decay_t<A>, std::reference_wrapper<P>>)
      codec::encode(w, a.get());
    else
      codec::encode(w, static_cast<const P&>(P(std::forward<A>(a))));
  }

  std::string name_;
  std::uint64_t hash_ = 0;
  Bytes args_;
  std::vector<int> queue_fds_;  // borrowed: the queues must outlive start()
  std::optional<cluster::Child> child_;
};

}  // namespace shoal

namespace shoal::codec {

/// An mp::Queue travels to a Process child as the index of its inherited descriptor.
template <typename T>
struct Codec<mp::Queue<T>> {
  static std::string describe(Naming n) { return "mp_queue<" + detail::describe<T>(n) + ">"; }
  static void encode(Writer& w, const mp::Queue<T>& q) {
    auto* fds = mp::detail::spawn_fds();
    if (!fds) throw ValueError("an mp::Queue can only be passed as an argument of a shoal::Process");
    Codec<std::uint32_t>::encode(w, static_cast<std::uint32_t>(fds->size()));
    fds->push_back(q.fd());
  }
  static mp::Queue<T> decode(Reader& r) {
    auto index = Codec<std::uint32_t>::decode(r);
    return mp::Queue<T>::attach(4 + static_cast<int>(index));
  }
};

}  // namespace shoal::codec
