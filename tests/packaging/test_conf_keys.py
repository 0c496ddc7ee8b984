#!/usr/bin/python3
"""packaging/tcpwatchd.conf documents every setting of the daemon, and
nothing else: each file key `tcpwatchd --help` lists is in it once,
commented out at the default --help shows; each key in it is one the daemon
knows; the daemon accepts the file as shipped, and with every key
uncommented (the defaults, written out). An option of --help that is not in
the file must be one the daemon refuses as a file key (--foreground).

Usage: test_conf_keys.py TCPWATCHD CONF"""

import os
import re
import subprocess
import sys
import tempfile

# The options that are no settings at all: getopt's own, not in the key table.
NOT_SETTINGS = {"config", "help", "version"}
KEY_LINE = re.compile(r"^#([a-z][a-z0-9_-]*) =(?: (.*))?$")
HELP_LINE = re.compile(r"^\s+(?:-\w, )?--([a-z][a-z0-9-]*)(.*)$")


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def run_daemon(daemon, *args):
    return subprocess.run([daemon] + list(args), capture_output=True, text=True, timeout=10,
                          stdin=subprocess.DEVNULL)


def help_options(daemon):
    """{option: default or None} from tcpwatchd --help."""
    r = run_daemon(daemon, "--help")
    if r.returncode != 0:
        fail("tcpwatchd --help exited %d: %s" % (r.returncode, r.stderr))
    options = {}
    for line in r.stdout.splitlines():
        m = HELP_LINE.match(line)
        if not m:
            continue
        default = re.search(r"\(default ([^()]*)\)\s*$", m.group(2))
        options[m.group(1)] = default.group(1) if default else None
    if len(options) < 20:
        fail("--help lists only %s" % sorted(options))
    return options


def conf_keys(path):
    """{key: commented default} of the file, failing on a key given twice."""
    keys = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = KEY_LINE.match(line.rstrip("\n"))
            if not m:
                continue
            key = m.group(1).replace("_", "-")
            if key in keys:
                fail("%s:%d: %s is documented twice" % (path, n, key))
            keys[key] = m.group(2) or ""
    return keys


def accepts(daemon, path):
    # --config FILE --help: the file is parsed before --help prints and exits.
    r = run_daemon(daemon, "--config", path, "--help")
    return r.returncode == 0, r.stderr.strip()


def main():
    daemon, conf = sys.argv[1], sys.argv[2]
    options = help_options(daemon)
    keys = conf_keys(conf)

    unknown = sorted(set(keys) - set(options))
    if unknown:
        fail("%s has keys tcpwatchd --help does not list: %s" % (conf, unknown))

    missing = sorted(set(options) - set(keys) - NOT_SETTINGS)
    with tempfile.TemporaryDirectory() as tmp:
        # A missing option passes only if the daemon refuses it as a file key.
        really_missing = []
        for opt in missing:
            probe = os.path.join(tmp, "one.conf")
            with open(probe, "w") as f:
                f.write("%s = %s\n" % (opt, options[opt] or "true"))
            r = run_daemon(daemon, "--config", probe, "--help")
            if r.returncode == 0 or "unknown" not in r.stderr:
                really_missing.append(opt)
            else:
                print("--%s is a flag only (%s)" % (opt, r.stderr.strip()))
        if really_missing:
            fail("%s does not document the keys %s; add for each:\n%s" % (
                conf, really_missing, "\n".join(
                    "# HELP TEXT.\n# Flag: --%s\n#%s = %s\n" % (k, k, options[k] or "")
                    for k in really_missing)))

        for key, value in keys.items():
            default = options[key]
            if default is not None and value != default:
                fail("%s: #%s = %s, but --help says the default is %s"
                     % (conf, key, value, default))
            if default is None and value not in ("", "0", "false"):
                fail("%s: #%s = %s, but --help shows no default (empty, 0 or false)"
                     % (conf, key, value))

        ok, err = accepts(daemon, conf)
        if not ok:
            fail("tcpwatchd does not accept %s as shipped: %s" % (conf, err))

        uncommented = os.path.join(tmp, "uncommented.conf")
        with open(conf) as src, open(uncommented, "w") as dst:
            for line in src:
                dst.write(line[1:] if KEY_LINE.match(line.rstrip("\n")) else line)
        ok, err = accepts(daemon, uncommented)
        if not ok:
            fail("tcpwatchd refuses %s with every key uncommented: %s" % (conf, err))

        # The check itself has teeth: a key the daemon does not know fails it.
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[tcpwatchd]\nno-such-key = 1\n")
        ok, _ = accepts(daemon, bad)
        if ok:
            fail("tcpwatchd --config FILE --help accepted an unknown key: the check is blind")

    print("PASS: %d keys documented at their defaults; the daemon accepts the file "
          "commented and uncommented" % len(keys))


if __name__ == "__main__":
    main()
