# tcpwave — the two commands of the README, and a few more.
#   make run     set-up, build, and run the main job: `tcpwave sim` on its default scenario
#   make check   set-up, build, and the whole test suite (normal build, then ASan+UBSan build)
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all setup build run check check-fast check-asan format clean bench bench-quick

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/tcpwave sim

check-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: setup
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTCPW_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

check: check-fast check-asan

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# The benchmark (bench/README.md): tcpwave against lwIP and Linux loopback, built in its own
# directory by bench/Makefile so that the main build never depends on lwIP.
bench: setup
	@$(MAKE) --no-print-directory -C bench run MODE=full

bench-quick: setup
	@$(MAKE) --no-print-directory -C bench run MODE=quick
