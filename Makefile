# Thin wrapper over CMake. `make demo` and `make test` each install what is
# missing (scripts/install-deps.sh), configure, build and run.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build demo test bench asan clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# Runs kemu on the bundled hello sample and prints its report.
demo: build
	@./$(BUILD)/kemu run $(BUILD)/samples-bin/hello.sys

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

bench: build
	@./$(BUILD)/bench/kemu_bench

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer. LIEF 0.9
# leaks on some of its own error paths (dependency-notes.md): those, and only
# those, are suppressed.
asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKEMU_SANITIZE=ON \
	  -DKEMU_BUILD_SAMPLES=OFF -DKEMU_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -L unit

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
