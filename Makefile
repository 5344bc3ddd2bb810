# The two commands: `make run` and `make test`. Both set up, build, then run.
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
# Seconds each fuzz target runs: in `make fuzz`, and in `make test`.
FUZZ_SECONDS ?= 180
TEST_FUZZ_SECONDS ?= 30
# Seconds the lifetime stress test runs under the sanitizers (`make test` keeps its short default).
STRESS_SECONDS ?= 20

# Where `make install` puts devtensor.
PREFIX ?= /usr/local
# What `make run` builds: the library, its providers, the CLI and the examples (no tests).
RUN_TARGETS = devtensor devtensor_webgpu devtensor_cuda devtensor_cli hello_tensors kv_cache_append decode_loop

.PHONY: run test setup configure build build-run install docs fuzz-build fuzz fuzz-seeds \
        test-sanitize test-tsan bench clean

run: build-run
	@scripts/run-examples.sh $(BUILD)

# Every test built with g++, then the whole project built again with clang (the fuzz build) and
# each fuzz target run for $(TEST_FUZZ_SECONDS) seconds.
test: build fuzz-build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure -j $(JOBS) -L fuzz

setup:
	@scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	cmake --build $(BUILD) -j $(JOBS)

build-run: configure
	cmake --build $(BUILD) -j $(JOBS) --target $(RUN_TARGETS)

# The library, its headers, the providers with the Dawn runtime, the CLI, the CMake package and
# devtensor.pc into $(PREFIX).
install: build-run
	cmake --install $(BUILD) --prefix $(PREFIX)

# The API reference (Doxygen) from the public headers into $(BUILD)/docs/html; warnings fail it.
docs: configure
	cmake --build $(BUILD) --target docs

# clang, every target, with coverage instrumentation, AddressSanitizer and UBSan, plus the
# libFuzzer targets of tests/fuzz.
fuzz-build: setup
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDEVTENSOR_FUZZ=ON \
	  -DDEVTENSOR_FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# Each fuzz target for $(FUZZ_SECONDS) seconds, one after the other; prints execs/s and totals.
fuzz: fuzz-build
	@for target in fuzz_api_cpu fuzz_api_webgpu; do \
	  tests/fuzz/run_fuzzer.sh $(FUZZ_BUILD)/tests/fuzz/$$target $(FUZZ_SECONDS) \
	    $(FUZZ_BUILD)/fuzz-corpus/$$target tests/fuzz/corpus/$$target || exit 1; \
	done

# Writes the committed seed corpus again (after a change to the program format).
fuzz-seeds: fuzz-build
	for device in cpu webgpu; do \
	  rm -rf tests/fuzz/corpus/fuzz_api_$$device && mkdir -p tests/fuzz/corpus/fuzz_api_$$device && \
	  $(FUZZ_BUILD)/tests/fuzz/fuzz_seeds $$device tests/fuzz/corpus/fuzz_api_$$device || exit 1; \
	done

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: setup
	cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDEVTENSOR_SANITIZE=ON \
	  -DDEVTENSOR_BUILD_BENCHMARKS=OFF
	cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp DEVTENSOR_STRESS_SECONDS=$(STRESS_SECONDS) \
	  ctest --test-dir $(SANITIZE_BUILD) --output-on-failure -j $(JOBS)

# The whole suite under ThreadSanitizer (clang); tests/tsan.supp names third-party libraries only.
test-tsan: setup
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEVTENSOR_TSAN=ON \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDEVTENSOR_BUILD_BENCHMARKS=OFF
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1" \
	  DEVTENSOR_STRESS_SECONDS=$(STRESS_SECONDS) \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -j $(JOBS) --timeout 1200

# Google Benchmark figures (not part of `make test`): every case beside its baselines, with tables,
# bench.json and bandwidth.png in $(BENCH_OUT). BENCH_ARGS adds options (devtensor bench --help).
BENCH_OUT ?= $(BUILD)/bench-out
bench: build
	$(BUILD)/tools/devtensor bench --out $(BENCH_OUT) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
