#!/usr/bin/env bash
# Installs what tcpwatch needs to build, run and test on Debian 12.
# Idempotent: installs only what is missing. Needs root.
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang llvm
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libmnl-dev libcjson-dev libmicrohttpd-dev libcmocka-dev libcurl4-openssl-dev libinih-dev
	iproute2 python3 clang-format
	prometheus
	lintian groff-base man-db bash-completion # the packaging tests (tests/packaging)
	libseccomp-dev util-linux # the sandbox tests (tests/tools/tw_sandbox.c, setpriv)
	valgrind # integration.valgrind_shutdown
)
if [ "${1:-}" = "--bench" ]; then
	# The peers benchmarks compare against, and their tools.
	packages+=(libbpf-tools hyperfine jq linux-perf nmap hping3)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Classic tracepoints and the peers (tcpstates) need tracefs; tcpwatchd
# itself uses tp_btf and does not.
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/kernel/tracing 2>/dev/null; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/kernel/debug 2>/dev/null; then
	mount -t debugfs nodev /sys/kernel/debug 2>/dev/null || true
fi

if [ ! -r /sys/kernel/btf/vmlinux ]; then
	echo "install-deps: warning: /sys/kernel/btf/vmlinux is missing: this kernel has no BTF, tcpwatchd will not load" >&2
fi

# The dashboard (web/): uPlot, embedded in the daemon at build time, and
# playwright-core, which drives Debian's Chromium in the browser test, both
# pinned in web/package-lock.json. npm ci runs only when web/node_modules is
# missing or older than the lock file, so builds after it need no network.
web_dir="$(cd "$(dirname "$0")/.." && pwd)/web"
if [ -f "$web_dir/package-lock.json" ]; then
	if ! command -v npm >/dev/null 2>&1; then
		echo "install-deps: npm (Node.js 20 or later) is missing: the dashboard's assets need it" >&2
		exit 1
	fi
	if [ ! -x /usr/bin/chromium ]; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "install-deps: chromium is missing (the dashboard's browser test); run as root to install it" >&2
			exit 1
		fi
		echo "install-deps: installing chromium"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends chromium
	fi
	if [ ! -d "$web_dir/node_modules" ] || [ "$web_dir/package-lock.json" -nt "$web_dir/node_modules" ]; then
		echo "install-deps: npm ci in web/"
		(cd "$web_dir" && npm ci --no-audit --no-fund)
		touch "$web_dir/node_modules"
	fi
fi
