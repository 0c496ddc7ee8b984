#!/usr/bin/python3
"""README.md stays true to the daemon: every option `tcpwatchd --help`
lists and every figure /api/v1/stats reports is documented in it."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check  # noqa: E402

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")


def main():
    with open(README) as f:
        readme = f.read()
    helptext = subprocess.run([os.path.join(twtest.bin_dir(), "tcpwatchd"), "--help"],
                              capture_output=True, text=True, check=True).stdout
    options = sorted(set(re.findall(r"--([a-z][a-z0-9-]+)", helptext)))
    check(len(options) > 15, "--help lists only %s" % options)
    missing = [o for o in options if "`%s`" % o not in readme and "--%s" % o not in readme]
    check(not missing, "README.md does not document the options %s" % missing)
    with twtest.Daemon() as d:
        fields = sorted(d.stats())
    # drop_<REASON> (the kernel's reason names, upper case) are one entry.
    check("`drop_<REASON>`" in readme, "README.md does not document drop_<REASON>")
    missing = [k for k in fields if "`%s`" % k not in readme
               and not re.fullmatch(r"drop_[A-Z0-9_]+", k)]
    check(not missing, "README.md does not document the stats fields %s" % missing)
    twtest.log("%d options and %d stats fields documented" % (len(options), len(fields)))


if __name__ == "__main__":
    twtest.run(main)
