#!/usr/bin/env bash
# Installs what tcpwatch needs to build, run and test on Debian 12.
# Idempotent: installs only what is missing. Needs root.
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang llvm
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libmnl-dev libcjson-dev libmicrohttpd-dev libcmocka-dev libcurl4-openssl-dev
	iproute2 python3 clang-format
	prometheus
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
