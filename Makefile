# The two commands: `make run` and `make test`. Both set up, build, then run.
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
JOBS ?= $(shell nproc)

.PHONY: run test setup build test-sanitize bench clean

run: build
	$(BUILD)/tools/devtensor info
	$(BUILD)/examples/hello_tensors
	$(BUILD)/examples/kv_cache_append
	$(BUILD)/examples/decode_loop

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

setup:
	@scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: setup
	cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDEVTENSOR_SANITIZE=ON \
	  -DDEVTENSOR_BUILD_BENCHMARKS=OFF
	cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --test-dir $(SANITIZE_BUILD) --output-on-failure -j $(JOBS)

# Google Benchmark figures (not part of `make test`): every case beside its baselines, with tables,
# bench.json and bandwidth.png in $(BENCH_OUT). BENCH_ARGS adds options (devtensor bench --help).
BENCH_OUT ?= $(BUILD)/bench-out
bench: build
	$(BUILD)/tools/devtensor bench --out $(BENCH_OUT) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD)
