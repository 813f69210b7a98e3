// The daemons' log (link/log.hpp): levels, the text and JSON shapes, a task's id on the
// line, and JSON that stays valid whatever the message holds.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "shoal/core/error.hpp"
#include "shoal/link/log.hpp"
#include "support/stderr_capture.hpp"

using namespace shoal::link::log;

namespace {

struct Restore {
  ~Restore() { configure({}); }
};

}  // namespace

TEST_CASE("log lines below the level are not written, those at or above are", "[unit][log]") {
  Restore restore;
  configure({.level = Level::warn});
  CHECK_FALSE(enabled(Level::info));
  CHECK(enabled(Level::error));
  auto out = shoal::test::capture_stderr([] {
    write(Level::info, "d", "quiet please");
    write(Level::warn, "d", "loud enough");
  });
  CHECK(out.find("quiet please") == std::string::npos);
  CHECK(out.find("warn d: loud enough") != std::string::npos);
  configure({.level = Level::off});
  CHECK_FALSE(enabled(Level::error));
}

TEST_CASE("a text line has the time, the level, the daemon and task=ID", "[unit][log]") {
  Restore restore;
  configure({.level = Level::debug});
  auto out = shoal::test::capture_stderr([] { write(Level::debug, "shoal-coordinator", "assigned to w1", 42); });
  CHECK(out.find("debug shoal-coordinator: task=42 assigned to w1\n") != std::string::npos);
  CHECK(out.find("T") == 10);  // 2026-12-07T...
}

TEST_CASE("a JSON line is one valid object per line, whatever the message holds", "[unit][log]") {
  Restore restore;
  configure({.level = Level::info, .format = Format::json});
  std::string nasty = "quote \" backslash \\ newline \n tab \t bell \x07 bad utf-8 \xff\xfe ok \xc3\xa9";
  auto out = shoal::test::capture_stderr([&] { write(Level::error, "shoal-worker w1", nasty, 7); });
  REQUIRE(out.size() > 2);
  REQUIRE(out.back() == '\n');
  CHECK(out.find('\n') == out.size() - 1);  // one line
  auto j = nlohmann::json::parse(out);
  CHECK(j.at("level") == "error");
  CHECK(j.at("daemon") == "shoal-worker w1");
  CHECK(j.at("task") == "7");  // text: ids pass what a double holds
  CHECK(j.at("msg").get<std::string>().find("quote \" backslash \\ newline \n tab") == 0);
  CHECK(j.at("msg").get<std::string>().find("\xc3\xa9") != std::string::npos);  // valid UTF-8 kept
  CHECK(j.at("time").get<std::string>().back() == 'Z');
}

TEST_CASE("JSON lines hold no surrogate, overlong form or code point past U+10FFFF", "[unit][log]") {
  Restore restore;
  configure({.level = Level::info, .format = Format::json});
  // A surrogate (ED A0 80), an overlong '/' (E0 80 AF), past U+10FFFF (F4 90 80 80), then a
  // valid 4-byte one (U+1F600).
  std::string bad = "s\xed\xa0\x80|o\xe0\x80\xaf|p\xf4\x90\x80\x80|ok\xf0\x9f\x98\x80";
  auto out = shoal::test::capture_stderr([&] { write(Level::info, "d", bad); });
  auto msg = nlohmann::json::parse(out).at("msg").get<std::string>();
  CHECK(msg.find("\xed\xa0") == std::string::npos);
  CHECK(msg.find("\xe0\x80") == std::string::npos);
  CHECK(msg.find("\xf4\x90") == std::string::npos);
  CHECK(msg.find("ok\xf0\x9f\x98\x80") != std::string::npos);
  CHECK(msg.find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD in their place
}

TEST_CASE("log levels and formats parse, or name the choices", "[unit][log]") {
  CHECK(parse_level("debug") == Level::debug);
  CHECK(parse_format("json") == Format::json);
  CHECK_THROWS_WITH(parse_level("loud"), Catch::Matchers::Contains("expected trace, debug, info, warn, error or off"));
  CHECK_THROWS_AS(parse_format("xml"), shoal::ValueError);
}
