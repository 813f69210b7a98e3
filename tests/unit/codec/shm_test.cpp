// Shared-memory segments and the codec writer's use of them: a value past 1 MiB is
// encoded into a segment, and a run of a segment encoded again with the same header is
// the same bytes, not a copy.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <shoal/codec/codec.hpp>
#include <shoal/codec/shm.hpp>

namespace shm = shoal::codec::shm;
using shoal::Bytes;

namespace {
Bytes pattern(std::size_t n) {
  return Bytes::build(n, [](std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 7 + (i >> 10));
  });
}
}  // namespace

TEST_CASE("a segment is sealed, read-only, and freed with its last holder", "[codec][shm]") {
  auto live = shm::live_bytes();
  {
    auto seg = shm::Segment::copy_of(pattern(3u << 20).span());
    CHECK(shm::live_bytes() == live + (3u << 20));
    CHECK((seg->bytes() == pattern(3u << 20)));
    int seals = ::fcntl(seg->fd(), F_GET_SEALS);
    CHECK((seals & F_SEAL_WRITE) != 0);
    CHECK((seals & F_SEAL_SHRINK) != 0);
    CHECK(::ftruncate(seg->fd(), 10) != 0);  // nobody can shrink it under a mapping
    CHECK(::pwrite(seg->fd(), "x", 1, 0) < 0);
    CHECK(shm::segment_of(seg->bytes()) == seg);
    CHECK(shm::segment_of(seg->bytes().slice(1)) == nullptr);  // a slice is not the whole
    CHECK(shm::locate(seg->bytes().slice(4096)).offset == 4096);
    CHECK_THROWS_AS(seg->bytes(1, 3u << 20), shoal::ValueError);
  }
  CHECK(shm::live_bytes() == live);
}

TEST_CASE("the codec writer moves a value past 1 MiB into a segment, and small ones stay on the heap",
          "[codec][shm]") {
  auto small = shoal::codec::encode(pattern(1000));
  CHECK(shm::locate(small).segment == nullptr);
  auto created = shm::segments_created();
  std::vector<std::int64_t> numbers(400'000);
  for (std::size_t i = 0; i < numbers.size(); ++i) numbers[i] = static_cast<std::int64_t>(i * i);
  auto big = shoal::codec::encode(std::make_tuple(std::string(3u << 20, 'q'), numbers, pattern(5u << 20)));
  CHECK(shm::segments_created() == created + 1);
  CHECK(shm::segment_of(big) != nullptr);
  auto [s, n, b] = shoal::codec::decode<std::tuple<std::string, std::vector<std::int64_t>, Bytes>>(big);
  CHECK(s == std::string(3u << 20, 'q'));
  CHECK(n == numbers);
  CHECK((b == pattern(5u << 20)));
  CHECK(shm::locate(b).segment == shm::segment_of(big));  // decoded in place
}

TEST_CASE("a Bytes in a segment encoded again is the same bytes, and a write after it copies", "[codec][shm]") {
  auto args = shoal::codec::encode(std::make_tuple(pattern(4u << 20)));
  auto seg = shm::segment_of(args);
  REQUIRE(seg);
  auto [b] = shoal::codec::decode<std::tuple<Bytes>>(args);
  auto created = shm::segments_created();
  // A worker returning its argument: the result is a run of the argument's segment.
  auto result = shoal::codec::encode(b);
  CHECK(shm::segments_created() == created);
  CHECK(shm::locate(result).segment == seg);
  CHECK((shoal::codec::decode<Bytes>(result) == pattern(4u << 20)));
  // With more after it, the value is no longer that run: it is copied, and right.
  shoal::codec::Writer w;
  shoal::codec::encode(w, b);
  shoal::codec::encode(w, std::int64_t{42});
  CHECK(w.size() == result.size() + 2);
  auto both = w.finish();
  CHECK(shm::segments_created() == created + 1);
  shoal::codec::Reader r(both);
  CHECK((shoal::codec::decode<Bytes>(r) == pattern(4u << 20)));
  CHECK(shoal::codec::decode<std::int64_t>(r) == 42);
  r.expect_end();
  // A header that differs from the one before the run in its segment: copied.
  auto in_list = shoal::codec::encode(std::vector<Bytes>{b});
  CHECK(shm::locate(in_list).segment != seg);
  CHECK((shoal::codec::decode<std::vector<Bytes>>(in_list).at(0) == pattern(4u << 20)));
}

TEST_CASE("a writer cleared after spilling starts again on the heap", "[codec][shm]") {
  shoal::codec::Writer w;
  shoal::codec::encode(w, pattern(2u << 20));
  CHECK(w.spilled());
  w.clear();
  CHECK(w.size() == 0);
  shoal::codec::encode(w, std::int64_t{5});
  auto v = w.finish();
  CHECK(shm::locate(v).segment == nullptr);
  CHECK(shoal::codec::decode<std::int64_t>(v) == 5);
}

TEST_CASE("a writer moved from while aliasing is empty, and one that reserved much and wrote nothing finishes empty",
          "[codec][shm]") {
  // Found in review: the moved-from writer kept the alias (Bytes' move leaves its pointer),
  // and finish() of a writer that spilled through reserve() threw on the empty segment.
  auto args = shoal::codec::encode(std::make_tuple(pattern(2u << 20)));
  auto [b] = shoal::codec::decode<std::tuple<Bytes>>(args);
  shoal::codec::Writer a;
  shoal::codec::encode(a, b);
  shoal::codec::Writer moved(std::move(a));
  CHECK(a.size() == 0);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  CHECK(a.finish().empty());
  CHECK((shoal::codec::decode<Bytes>(moved.finish()) == pattern(2u << 20)));
  shoal::codec::Writer reserved(8u << 20);
  CHECK(reserved.finish().empty());
  shoal::codec::Writer small_after(8u << 20);
  shoal::codec::encode(small_after, std::int64_t{3});
  auto three = small_after.finish();
  CHECK(shoal::codec::decode<std::int64_t>(three) == 3);
}
