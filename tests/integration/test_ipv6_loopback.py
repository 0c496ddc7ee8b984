#!/usr/bin/python3
"""The close-by-client scenario on ::1: family "inet6", addresses "::1", and
the same exact state histories as over IPv4.  Skips if IPv6 on lo is off."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402


def main():
    if not twtest.ipv6_loopback_available():
        raise twtest.Skip("IPv6 is disabled on lo (cannot bind ::1)")
    twtest.client_closes_first(6)


if __name__ == "__main__":
    twtest.run(main)
