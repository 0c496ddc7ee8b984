#!/bin/bash
# `cmake --install --prefix /usr` into a DESTDIR installs exactly the
# expected files, each the right one (the unit's ExecStart at the installed
# daemon, the config and completion as in packaging/, the man pages the
# gzipped docs/man/); another prefix keeps everything under it. `cpack -G
# DEB` builds a .deb with the same files, the config a conffile, the
# maintainer scripts, dependencies from dpkg-shlibdeps; lintian reports no
# error (its warnings are printed).
#
# Usage: test_install_deb.sh SRCDIR BUILDDIR
set -euo pipefail

src=$1
build=$2
tmp=$(mktemp -d /tmp/tw-pkg-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

for tool in cpack dpkg-deb dpkg-shlibdeps fakeroot lintian; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is missing (scripts/install-deps.sh installs it)"
		exit 77
	fi
done

expected="etc/tcpwatch/tcpwatchd.conf
lib/systemd/system/tcpwatchd.service
usr/bin/tcpwatch
usr/sbin/tcpwatchd
usr/share/bash-completion/completions/tcpwatch
usr/share/doc/tcpwatch/README.md
usr/share/doc/tcpwatch/changelog.Debian.gz
usr/share/doc/tcpwatch/copyright
usr/share/man/man1/tcpwatch.1.gz
usr/share/man/man8/tcpwatchd.8.gz"

# --- cmake --install, prefix /usr ---
dest=$tmp/root
# DESTDIR from the environment, as make install and CPack pass it.
DESTDIR=$dest cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install with DESTDIR failed"; exit 1; }
installed=$(cd "$dest" && find . -type f -o -type l | sed 's|^\./||' | LC_ALL=C sort)
if [ "$installed" != "$expected" ]; then
	fail "installed files differ from the expected ones:"
	diff <(echo "$expected") <(echo "$installed") || true
fi

grep -q '^ExecStart=/usr/sbin/tcpwatchd --foreground' "$dest/lib/systemd/system/tcpwatchd.service" ||
	fail "the unit's ExecStart is not /usr/sbin/tcpwatchd: $(grep ExecStart "$dest/lib/systemd/system/tcpwatchd.service")"
diff <(grep -v '^ExecStart=' "$src/packaging/tcpwatchd.service") \
	<(grep -v '^ExecStart=' "$dest/lib/systemd/system/tcpwatchd.service") >/dev/null ||
	fail "the installed unit differs from packaging/tcpwatchd.service beyond ExecStart"
cmp -s "$src/packaging/tcpwatchd.conf" "$dest/etc/tcpwatch/tcpwatchd.conf" ||
	fail "the installed config is not packaging/tcpwatchd.conf"
[ "$(stat -c %a "$dest/etc/tcpwatch/tcpwatchd.conf")" = 640 ] ||
	fail "the installed config is mode $(stat -c %a "$dest/etc/tcpwatch/tcpwatchd.conf"), not 0640"
cmp -s "$src/packaging/tcpwatch.bash-completion" "$dest/usr/share/bash-completion/completions/tcpwatch" ||
	fail "the installed completion is not packaging/tcpwatch.bash-completion"
for page in man1/tcpwatch.1 man8/tcpwatchd.8; do
	gzip -dc "$dest/usr/share/man/$page.gz" | cmp -s - "$src/docs/man/${page#*/}" ||
		fail "$page.gz is not docs/man/${page#*/} compressed (build first)"
done
for bin in usr/bin/tcpwatch usr/sbin/tcpwatchd; do
	[ -x "$dest/$bin" ] || fail "$bin is not executable"
done
"$dest/usr/sbin/tcpwatchd" --config "$dest/etc/tcpwatch/tcpwatchd.conf" --version >/dev/null ||
	fail "the installed daemon refuses the installed config"

# A second install keeps an administrator's edited config.
echo "retain-age = 60" >>"$dest/etc/tcpwatch/tcpwatchd.conf"
DESTDIR=$dest cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1 || fail "reinstall failed"
grep -q '^retain-age = 60' "$dest/etc/tcpwatch/tcpwatchd.conf" ||
	fail "a reinstall overwrote the edited config"

# --- another prefix: everything under it, the unit names the config ---
dest2=$tmp/opt
DESTDIR=$dest2 cmake --install "$build" --prefix /opt/tw >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install --prefix /opt/tw failed"; }
outside=$(cd "$dest2" && find . -type f | grep -v '^\./opt/tw/' || true)
[ -z "$outside" ] || fail "--prefix /opt/tw installed outside it: $outside"
grep -q '^ExecStart=/opt/tw/sbin/tcpwatchd --foreground.* --config /opt/tw/etc/tcpwatch/tcpwatchd.conf$' \
	"$dest2/opt/tw/lib/systemd/system/tcpwatchd.service" ||
	fail "prefix /opt/tw: ExecStart is $(grep ExecStart "$dest2/opt/tw/lib/systemd/system/tcpwatchd.service")"

# --- the .deb ---
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/deb" >"$tmp/cpack.log" 2>&1 ||
	{ cat "$tmp/cpack.log"; fail "cpack -G DEB failed"; exit 1; }
deb=$(ls "$tmp"/deb/tcpwatch_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
	cat "$tmp/cpack.log"
	fail "cpack made no tcpwatch_*.deb"
	exit 1
fi
echo "built $(basename "$deb")"
in_deb=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./||' | LC_ALL=C sort)
if [ "$in_deb" != "$expected" ]; then
	fail "the .deb's files differ from the expected ones:"
	diff <(echo "$expected") <(echo "$in_deb") || true
fi
owners=$(dpkg-deb -c "$deb" | awk '{ print $2 }' | sort -u)
[ "$owners" = root/root ] || fail "the .deb's files belong to $owners, not root/root"
dpkg-deb -x "$deb" "$tmp/x"
grep -q '^ExecStart=/usr/sbin/tcpwatchd ' "$tmp/x/lib/systemd/system/tcpwatchd.service" ||
	fail "the .deb's unit does not start /usr/sbin/tcpwatchd"

control=$(dpkg-deb -f "$deb")
echo "$control" | grep -q '^Package: tcpwatch$' || fail "Package is not tcpwatch"
echo "$control" | grep -q '^Section: net$' || fail "Section is not net"
echo "$control" | grep -q '^Maintainer: .*<.*@.*>$' || fail "no Maintainer"
description=$(dpkg-deb -f "$deb" Description)
[ "$(echo "$description" | wc -l)" -ge 5 ] || fail "the Description has no long part: $description"
echo "$description" | grep -q '^ ;\|^;' && fail "the Description's lines start with ';' (a CMake list)"
echo "$description" | awk 'length > 80 { exit 1 }' || fail "the Description has lines over 80 columns"
echo "$control" | grep -q '^Depends: .*adduser' || fail "Depends lacks adduser"
for lib in libc6 libbpf1 libmnl0 libcjson1 libcurl4; do
	echo "$control" | grep -q "^Depends: .*$lib" || fail "Depends lacks $lib (dpkg-shlibdeps)"
done
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/tcpwatch/tcpwatchd.conf ] ||
	fail "conffiles is not /etc/tcpwatch/tcpwatchd.conf"
for script in postinst prerm postrm; do
	dpkg-deb -I "$deb" "$script" | cmp -s - "$src/packaging/deb/$script" ||
		fail "the .deb's $script is not packaging/deb/$script"
	sh -n "$src/packaging/deb/$script" || fail "packaging/deb/$script: syntax"
done
dpkg-deb -I "$deb" postinst | grep -q 'addgroup --system --quiet tcpwatch' ||
	fail "postinst does not create the group tcpwatch"
dpkg-deb -I "$deb" postinst | grep -q 'adduser --system .*--ingroup tcpwatch' ||
	fail "postinst does not create the user tcpwatch"
dpkg-deb -I "$deb" postinst | grep -q 'dpkg-statoverride --update --add root tcpwatch 0640 /etc/tcpwatch/tcpwatchd.conf' ||
	fail "postinst does not give the config to the group tcpwatch (the unit's Group=)"
# The users the unit runs as are the ones postinst creates.
for key in User Group; do
	v=$(sed -n "s/^$key=//p" "$tmp/x/lib/systemd/system/tcpwatchd.service")
	[ -z "$v" ] || [ "$v" = tcpwatch ] || [ "$v" = root ] ||
		fail "the unit's $key=$v is not created by postinst (tcpwatch)"
done

# --- lintian: no errors; warnings listed ---
lintian --tag-display-limit 0 "$deb" >"$tmp/lintian.log" 2>&1 || true
cat "$tmp/lintian.log"
if grep -q '^E: ' "$tmp/lintian.log"; then
	fail "lintian reports errors"
fi
if ! grep -q '^[EWIPNXO]: \|^$' "$tmp/lintian.log" && [ -s "$tmp/lintian.log" ]; then
	fail "lintian did not run: $(head -3 "$tmp/lintian.log")"
fi
echo "lintian: $(grep -c '^W: ' "$tmp/lintian.log" || true) warnings, $(grep -c '^E: ' "$tmp/lintian.log" || true) errors"

if [ "$failures" -ne 0 ]; then
	echo "FAIL: $failures checks failed"
	exit 1
fi
echo "PASS: install (/usr and /opt/tw), .deb and lintian"
