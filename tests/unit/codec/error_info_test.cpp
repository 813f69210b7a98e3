#include <catch2/catch.hpp>

#include <unistd.h>

#include <stdexcept>

#include <shoal/codec/error_info.hpp>

namespace codec = shoal::codec;
using Catch::Matchers::Contains;

TEST_CASE("an exception is encoded as its type name, message and where it happened", "[codec][error_info]") {
  std::exception_ptr e;
  try {
    throw shoal::ValueError("n must be >= 0");
  } catch (...) {
    e = std::current_exception();
  }
  auto info = codec::decode<codec::RemoteErrorInfo>(codec::encode_error(e, "fib", 12));
  CHECK(info.type_name == "shoal::ValueError");
  CHECK(info.message == "n must be >= 0");
  CHECK(info.function == "fib");
  CHECK(info.task_id == 12);
  CHECK(info.pid == static_cast<std::uint32_t>(getpid()));
  CHECK_FALSE(info.host.empty());
  CHECK(info.kind == shoal::ErrorKind::failed);
}

TEST_CASE("standard and foreign exceptions are described too", "[codec][error_info]") {
  auto describe = [](auto thrower) {
    try {
      thrower();
    } catch (...) {
      return codec::describe_error(std::current_exception(), "f");
    }
    return codec::RemoteErrorInfo{};
  };
  auto std_error = describe([] { throw std::out_of_range("index 9"); });
  CHECK(std_error.type_name == "std::out_of_range");
  CHECK(std_error.message == "index 9");
  auto foreign = describe([] { throw 42; });
  CHECK(foreign.type_name == "unknown");
  auto timeout = describe([] { throw shoal::TimeoutError(); });
  CHECK(timeout.kind == shoal::ErrorKind::timeout);
}

TEST_CASE("rethrow raises a RemoteError whose what() is the original message and whose info says where", "[codec][error_info]") {
  codec::RemoteErrorInfo info{"std::runtime_error", "boom", "load", "host-a", 4242, 7, shoal::ErrorKind::disconnected};
  try {
    codec::rethrow(info);
    FAIL("rethrow returned");
  } catch (const shoal::RemoteError& e) {
    // Python's concurrent.futures re-raises the original message (issue 15).
    CHECK(std::string(e.what()) == "boom");
    CHECK(e.origin_place() == "load, task 7 on host-a, pid 4242");
    CHECK(shoal::describe(std::current_exception()) == "std::runtime_error: boom (load, task 7 on host-a, pid 4242)");
    CHECK(e.info() == info);
    CHECK(e.remote_type() == "std::runtime_error");
    CHECK(e.kind() == shoal::ErrorKind::disconnected);
  }
}

TEST_CASE("a RemoteError passed on keeps where it first happened", "[codec][error_info]") {
  codec::RemoteErrorInfo first{"shoal::ValueError", "bad", "inner", "host-b", 1, 2, shoal::ErrorKind::failed};
  std::exception_ptr e = std::make_exception_ptr(shoal::RemoteError(first));
  CHECK(codec::describe_error(e, "outer", 3) == first);
  CHECK(codec::type_schema<codec::RemoteErrorInfo>() ==
        "RemoteErrorInfo{type_name:string,message:string,function:string,host:string,pid:uint32,task_id:uint64,"
        "kind:enum<int32>}");
}

TEST_CASE("error kinds travel by name", "[codec][error_info]") {
  for (auto k : {shoal::ErrorKind::failed, shoal::ErrorKind::cancelled, shoal::ErrorKind::timeout,
                 shoal::ErrorKind::invalid_state, shoal::ErrorKind::overloaded, shoal::ErrorKind::disconnected})
    CHECK(codec::parse_error_kind(codec::error_kind_name(k)) == k);
  CHECK(codec::parse_error_kind("nonsense") == shoal::ErrorKind::failed);
}
