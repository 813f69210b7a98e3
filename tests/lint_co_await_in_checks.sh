#!/usr/bin/env bash
# Fails when a test puts `co_await` inside a Catch2 assertion other than CHECK_THROWS*/
# REQUIRE_THROWS*. With g++ 12 the expression is evaluated up to three times there
# (Catch2 v2 repeats it inside __builtin_constant_p and its while(false) tail), so
# `CHECK(co_await q.get() == 1)` would consume three items. Bind to a local first.
set -euo pipefail
cd "$(dirname "$0")"
hits=$(grep -rnE '\b(CHECK|REQUIRE)(_FALSE|_NOTHROW|_THAT)?\s*\(\s*[^;]*co_await' --include='*.cpp' unit || true)
if [ -n "$hits" ]; then
  echo "co_await inside a Catch2 assertion (evaluated several times by g++ 12):"
  echo "$hits"
  exit 1
fi
echo "no co_await inside Catch2 assertions"
