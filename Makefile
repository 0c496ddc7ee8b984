# Thin wrapper around CMake. `make run` and `make test` set a fresh Debian 12
# machine up (as root), build, then run the daemon or every test.
BUILD ?= build
SAN_BUILD ?= build-san
JOBS ?= $(shell nproc)
SOCKET ?= /run/tcpwatch/tcpwatchd.sock
LISTEN ?= 127.0.0.1:9466

.PHONY: all deps build run test test-unit test-sanitize release-builds bench bench-scale clean format format-check install deb

all: build

deps:
	./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: deps
	$(MAKE) build
	@echo "tcpwatchd: API on unix:$(SOCKET) and http://$(LISTEN); Ctrl-C stops it"
	$(BUILD)/bin/tcpwatchd --foreground --socket $(SOCKET) --listen $(LISTEN)

# Every test through ctest, then the suite again under ASan+UBSan, then the
# Release builds of both compilers (-Werror holds at -O3 too).
test:
	./scripts/install-deps.sh
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j1
	$(MAKE) test-sanitize
	$(MAKE) release-builds

test-unit: build
	cd $(BUILD) && ctest -L unit --output-on-failure

test-sanitize:
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTCPWATCH_SANITIZE=ON
	cmake --build $(SAN_BUILD) -j$(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure -j1

# Build only: warnings are errors in every build type, with gcc and clang.
release-builds:
	cmake -S . -B build-release-gcc -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DTCPWATCH_FUZZ=OFF
	cmake --build build-release-gcc -j$(JOBS)
	cmake -S . -B build-release-clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DTCPWATCH_FUZZ=OFF
	cmake --build build-release-clang -j$(JOBS)

# The benchmarks of BENCHMARKS.md (root, a quiet machine, ~10 minutes).
bench:
	./scripts/install-deps.sh --bench
	$(MAKE) build
	BUILD=$(BUILD) bench/run-churn.sh
	BUILD=$(BUILD) bench/run-listing.sh
	BUILD=$(BUILD) bench/run-rss.sh

# The API, the loop, start-up and memory at 100,000 and at 1,000,000 held
# connections, churn at half the peak rate beside (root; about 15 minutes;
# the million takes some 5 GiB of kernel memory for its sockets).
bench-scale:
	./scripts/install-deps.sh --bench
	$(MAKE) build
	BUILD=$(BUILD) SOCKETS=100000 CHURN_WORKERS=2 CHURN_RATE=half bench/run-api.sh
	BUILD=$(BUILD) SOCKETS=1000000 CHURN_WORKERS=2 CHURN_RATE=half LIVE_TIMEOUT=600 \
		HOLD_START_TIMEOUT=900 DAEMON_ARGS="--max-connections 1500000" bench/run-api.sh

# Installs what packaging/install.cmake lists: binaries, the unit, the
# config (kept if it exists), man pages, bash completion. PREFIX (default
# /usr/local) and DESTDIR as usual: make install PREFIX=/usr DESTDIR=/tmp/root
install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

# The .deb of the same files: $(BUILD)/deb/tcpwatch_VERSION-1_ARCH.deb
deb: build
	cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD) $(SAN_BUILD) build-release-gcc build-release-clang

# Every C file of the tree; `make format-check` (also a ctest) fails if
# `make format` would change one.
FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)
