# Thin wrapper around CMake. `make run` and `make test` set a fresh Debian 12
# machine up (as root), build, then run the daemon or every test.
BUILD ?= build
SAN_BUILD ?= build-san
JOBS ?= $(shell nproc)
SOCKET ?= /run/tcpwatch/tcpwatchd.sock
LISTEN ?= 127.0.0.1:9466

.PHONY: all deps build run test test-unit test-sanitize bench clean format

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

# Every test through ctest, then the unit tests again under ASan+UBSan.
test:
	./scripts/install-deps.sh
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j1
	$(MAKE) test-sanitize

test-unit: build
	cd $(BUILD) && ctest -L unit --output-on-failure

test-sanitize:
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTCPWATCH_SANITIZE=ON
	cmake --build $(SAN_BUILD) -j$(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure -j1

# The benchmarks of BENCHMARKS.md (root, a quiet machine, ~10 minutes).
bench:
	./scripts/install-deps.sh --bench
	$(MAKE) build
	BUILD=$(BUILD) bench/run-churn.sh
	BUILD=$(BUILD) bench/run-listing.sh
	BUILD=$(BUILD) bench/run-rss.sh

clean:
	rm -rf $(BUILD) $(SAN_BUILD)

format:
	clang-format -i bpf/*.c bpf/*.h daemon/*.c daemon/*.h cli/*.c cli/*.h common/*.c common/*.h
