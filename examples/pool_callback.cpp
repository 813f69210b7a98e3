// The seed's callback version: instead of blocking on the result, a done-callback handles
// it when the call finishes (on the pool thread that finished it).
//
//     def exit_handle_result(result):
//         try:
//             print(f"Got {result.result()}")
//         except Exception as e:
//             print(f"Failed {type(e)}")
//     future_obj = pool.submit(fn, 2, 3)
//     future_obj.add_done_callback(exit_handle_result)
//
// Prints:
//     Got 5
//     Failed std::overflow_error
#include <chrono>
#include <climits>
#include <cstdio>
#include <cxxabi.h>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>

#include <shoal/shoal.hpp>

using namespace std::chrono_literals;

int fn(int x, int y) {
  std::this_thread::sleep_for(100ms);  // the seed sleeps 1 s
  int sum = 0;
  if (__builtin_add_overflow(x, y, &sum)) throw std::overflow_error("int overflow");
  return sum;
}

/// Python's type(e): the exception's dynamic type, demangled.
std::string type_name(const std::exception& e) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status), std::free);
  return status == 0 ? name.get() : typeid(e).name();
}

void exit_handle_result(const shoal::Future<int>& result) {
  try {
    std::printf("Got %d\n", result.result());  // done: result() does not block
  } catch (const std::exception& e) {
    std::printf("Failed %s\n", type_name(e).c_str());
  }
  std::fflush(stdout);
}

int main() {
  shoal::ThreadPoolExecutor pool(8);
  // Trigger the computation at entry; the callback is the exit.
  auto future_obj = pool.submit(fn, 2, 3);
  future_obj.add_done_callback(exit_handle_result);

  // Only to keep the output in order: the callback, registered first, has run by the
  // time this blocking wait returns.
  (void)future_obj.exception();

  auto failing = pool.submit(fn, INT_MAX, 1);
  failing.add_done_callback(exit_handle_result);
}  // ~ThreadPoolExecutor waits for the calls, and so for their callbacks
