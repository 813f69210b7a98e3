#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include <shoal/codec/bytes.hpp>

using shoal::Bytes;

TEST_CASE("an empty Bytes has no owner and compares equal to another empty one", "[codec][bytes]") {
  Bytes a;
  Bytes b = Bytes::copy(std::string_view{});
  CHECK(a.empty());
  CHECK(a.size() == 0);
  CHECK(a.owner() == nullptr);
  CHECK(a == b);
  CHECK(a.view().empty());
}

TEST_CASE("copying a Bytes shares the buffer instead of copying it", "[codec][bytes]") {
  Bytes a = Bytes::copy(std::string_view("hello world"));
  Bytes b = a;
  CHECK(b.data() == a.data());
  CHECK(a.owner().use_count() == 2);
  CHECK(b.view() == "hello world");
}

TEST_CASE("Bytes takes a string or a vector without copying its contents", "[codec][bytes]") {
  std::string s(1000, 'x');
  const char* before = s.data();
  Bytes b(std::move(s));
  CHECK(reinterpret_cast<const char*>(b.data()) == before);
  CHECK(b.size() == 1000);

  std::vector<std::byte> v(64, std::byte{7});
  const std::byte* vbefore = v.data();
  Bytes c(std::move(v));
  CHECK(c.data() == vbefore);
  CHECK(c[63] == std::byte{7});
}

TEST_CASE("a slice aliases its parent and keeps the buffer alive after the parent goes", "[codec][bytes]") {
  Bytes slice;
  const std::byte* base = nullptr;
  {
    Bytes whole = Bytes::copy(std::string_view("0123456789"));
    base = whole.data();
    slice = whole.slice(3, 4);
  }
  CHECK(slice.data() == base + 3);
  CHECK(slice.view() == "3456");
  CHECK(slice.slice(1).view() == "456");
  CHECK_THROWS_AS(slice.slice(5), shoal::ValueError);
  CHECK_THROWS_AS(slice.slice(2, 3), shoal::ValueError);
  CHECK(slice.slice(4).empty());
}

TEST_CASE("Bytes::alias refers to an owner's memory without copying it", "[codec][bytes]") {
  auto owner = std::make_shared<std::string>("frame contents");
  Bytes b = Bytes::alias(owner, owner->data() + 6, 8);
  CHECK(b.view() == "contents");
  CHECK(owner.use_count() == 2);
  b = Bytes();
  CHECK(owner.use_count() == 1);
}

TEST_CASE("Bytes::build fills a new 8-byte-aligned buffer once", "[codec][bytes]") {
  Bytes b = Bytes::build(13, [](std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i);
  });
  CHECK(b.size() == 13);
  CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 8 == 0);
  CHECK(b[12] == std::byte{12});
  CHECK(b == Bytes::copy(b.data(), b.size()));
  CHECK_FALSE(b == b.slice(1));
}
