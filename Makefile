# The commands a newcomer and CI use. `make demo` and `make test` are the README's two.
# Every target installs missing Debian packages first (make deps).

SHELL := /bin/bash
JOBS ?= 2
PREFIX ?= /usr/local
FUZZ_SECONDS ?= 60

DEBIAN_PACKAGES := g++ make cmake pkgconf ccache python3 libasio-dev capnproto libcapnp-dev catch2 libmimalloc-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libssl-dev libsqlite3-dev libcpp-httplib-dev libspdlog-dev chromium python3-yaml gdb
# ccache: paths relative to the checkout, so that a fresh clone (CI) reuses the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
CMAKE_COMMON := -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

FUZZ_PACKAGES := clang-14 libclang-rt-14-dev

.PHONY: all deps build test test-asan test-tsan demo bench simulate install fuzz clean

all: build

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi

build/release/CMakeCache.txt: | deps
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_COMMON)

build: deps build/release/CMakeCache.txt
	cmake --build build/release -j$(JOBS)

# ASan+UBSan over every test, then TSan over the unit (concurrency) tests.
test: deps test-asan test-tsan

test-asan: deps
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DSHOAL_SANITIZE="address;undefined" -DSHOAL_BUILD_BENCH=OFF $(CMAKE_COMMON)
	cmake --build build/asan -j$(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS)

test-tsan: deps
	cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHOAL_SANITIZE=thread -DSHOAL_BUILD_BENCH=OFF -DSHOAL_BUILD_EXAMPLES=OFF $(CMAKE_COMMON)
	cmake --build build/tsan -j$(JOBS)
	cd build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j$(JOBS) -L unit

# The README's first command: the pi job (examples/jobs/pi.toml) through the CLI, on an
# embedded cluster of 2 workers that it starts and stops (no set-up).
demo: build
	./build/release/bin/shoal run --timeline build/demo-timeline.json examples/jobs/pi.toml

# The deterministic simulation's long run (docs/simulation.md): SIM_SEEDS seeds from
# SIM_SEED; a line per failing seed, then a summary. `make test` runs 300 of them.
SIM_SEED ?= 1
SIM_SEEDS ?= 100000
simulate: build
	./build/release/bin/shoal-sim --seed $(SIM_SEED) --seeds $(SIM_SEEDS) -q

bench: build
	python3 bench/run.py --build build/release --out bench/results/latest.json

# libFuzzer for FUZZ_SECONDS each (default 60): the frame decoder and envelope reader,
# then every message the coordinator and the worker decode after the handshake. Fails on
# any crash, sanitizer report or hang. New inputs found stay in build/fuzz/corpus-*.
fuzz: deps
	@missing=$$(for p in $(FUZZ_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; fi
	cmake -S tests/fuzz -B build/fuzz -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build/fuzz -j$(JOBS) --target frame_fuzz daemon_fuzz
	mkdir -p build/fuzz/corpus-frame build/fuzz/corpus-daemon
	./build/fuzz/frame_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	  build/fuzz/corpus-frame tests/fuzz/corpus
	ASAN_OPTIONS=detect_leaks=0 ./build/fuzz/daemon_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 \
	  -rss_limit_mb=4096 build/fuzz/corpus-daemon tests/fuzz/corpus-daemon

install: build
	cmake --install build/release --prefix $(PREFIX)

clean:
	rm -rf build
