#include <catch2/catch.hpp>

#include "failed_keep.hpp"

using shoal::coordinator::FailedKeep;
using shoal::coordinator::KeptFailure;

namespace {
KeptFailure failure(std::uint64_t id, std::size_t arg_bytes) {
  KeptFailure k;
  k.task_id = id;
  k.function = "f";
  k.args = shoal::Bytes::copy(std::string(arg_bytes, 'x'));
  return k;
}
}  // namespace

TEST_CASE("FailedKeep keeps the newest within a count and a byte bound, and says why one is missing",
          "[coordinator][replay]") {
  FailedKeep keep(3, 10'000);
  std::vector<std::uint64_t> evicted;
  for (std::uint64_t id = 1; id <= 4; ++id) CHECK(keep.keep(failure(id, 100), evicted));
  CHECK(evicted == std::vector<std::uint64_t>{1});  // the oldest went past the count
  CHECK(keep.size() == 3);
  CHECK_FALSE(keep.find(1));
  CHECK(keep.find(4)->task_id == 4);
  CHECK(keep.why_missing(1).find("the newest 3, --keep-failed") != std::string::npos);
  CHECK(keep.why_missing(4).empty());
  // Bytes: a large one pushes out as many as it needs.
  evicted.clear();
  CHECK(keep.keep(failure(5, 9'800), evicted));
  CHECK(evicted == std::vector<std::uint64_t>{2, 3, 4});
  CHECK(keep.bytes() <= 10'000);
  // One past the bound alone is not kept, and is named as such.
  evicted.clear();
  CHECK_FALSE(keep.keep(failure(6, 20'000), evicted));
  CHECK(evicted.empty());
  CHECK(keep.find(5));
  CHECK(keep.why_missing(6).find("past what failed tasks may keep") != std::string::npos);
  // One not kept for a reason of the engine's (it never ran) says that reason.
  keep.refuse(7, "task 7 never ran (shoal::NotRegistered): nothing to replay");
  CHECK(keep.why_missing(7) == "task 7 never ran (shoal::NotRegistered): nothing to replay");
  // The same task twice is kept once.
  CHECK_FALSE(keep.keep(failure(5, 10), evicted));
  FailedKeep none(0, 1 << 20);
  CHECK_FALSE(none.keep(failure(1, 1), evicted));
  CHECK(none.why_missing(1) == "this coordinator keeps no failed tasks (--keep-failed 0)");
}
