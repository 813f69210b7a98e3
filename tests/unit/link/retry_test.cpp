// Retry policies for application errors: which failures they cover, the backoff, and the
// key the journal keeps.

#include <catch2/catch.hpp>

#include "shoal/core/error.hpp"
#include "shoal/link/retry.hpp"

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using namespace shoal::link;
using shoal::RetryPolicy;

TEST_CASE("a retry policy matches the thrown type, qualified or not, or any with *", "[link][retry]") {
  RetryPolicy p{.on = {"ValueError", "my::Flaky"}};
  CHECK(retry_matches(p, "shoal::ValueError"));
  CHECK(retry_matches(p, "ValueError"));
  CHECK(retry_matches(p, "my::Flaky"));
  CHECK_FALSE(retry_matches(p, "other::Flaky"));
  CHECK_FALSE(retry_matches(p, "shoal::TypeMismatch"));
  CHECK_FALSE(retry_matches(p, "NotValueError"));
  CHECK_FALSE(retry_matches(p, "x::NotValueError"));
  CHECK(retry_matches(RetryPolicy{.on = {"*"}}, "std::runtime_error"));
  CHECK_FALSE(retry_matches(RetryPolicy{}, "std::runtime_error"));
}

TEST_CASE("the backoff doubles up to its cap", "[link][retry]") {
  RetryPolicy p{.on = {"*"}, .attempts = 10, .backoff = 100ms, .max_backoff = 1000ms};
  CHECK(retry_delay(p, 1) == 100ms);
  CHECK(retry_delay(p, 2) == 200ms);
  CHECK(retry_delay(p, 4) == 800ms);
  CHECK(retry_delay(p, 5) == 1000ms);
  CHECK(retry_delay(p, 1000) == 1000ms);
  CHECK(retry_delay(RetryPolicy{.on = {"*"}, .backoff = 0ms, .max_backoff = 0ms}, 3) == 0ms);
}

TEST_CASE("bad retry policies are refused naming what is wrong", "[link][retry]") {
  CHECK_THROWS_WITH(check_retry({.on = {""}}), Contains("is not an exception type name"));
  CHECK_THROWS_WITH(check_retry({.on = {"a,b"}}), Contains("is not an exception type name"));
  CHECK_THROWS_WITH(check_retry({.on = {"*"}, .attempts = -1}), Contains("attempts must be 0 to 1000"));
  CHECK_THROWS_WITH(check_retry({.on = {"*"}, .backoff = 2s, .max_backoff = 1s}), Contains("at least the first"));
  CHECK_THROWS_WITH(check_retry({.on = {"*"}, .backoff = 2h, .max_backoff = 3h}), Contains("0 to 1 hour"));
  CHECK_NOTHROW(check_retry({.on = {"ValueError"}}));
}

TEST_CASE("a retry policy's key reads back the same", "[link][retry]") {
  RetryPolicy p{.on = {"ValueError", "*"}, .attempts = 5, .backoff = 250ms, .max_backoff = 4000ms};
  auto key = retry_key(p);
  CHECK(key == "5;250;4000;ValueError,*");
  CHECK(parse_retry_key(key) == p);
  CHECK(retry_key(RetryPolicy{}).empty());
  CHECK(retry_key(RetryPolicy{.on = {"*"}, .attempts = 0}).empty());
  CHECK_THROWS_AS(parse_retry_key("x;1;2;A"), shoal::ValueError);
  CHECK_THROWS_AS(parse_retry_key("1;2000;1000;A"), shoal::ValueError);
}
