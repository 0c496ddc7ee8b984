#!/usr/bin/python3
"""A client on 127.0.0.1 connects, sends, and closes first; the server reads
EOF and then closes.  The client connection's state history must be exactly
CLOSE->SYN_SENT->ESTABLISHED->FIN_WAIT1->FIN_WAIT2->TIME_WAIT (TIME_WAIT may
be derived), attributed to the client's pid; the server side's must be exactly
LISTEN->SYN_RECV->ESTABLISHED->CLOSE_WAIT->LAST_ACK->CLOSE."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402


def main():
    twtest.client_closes_first(4)


if __name__ == "__main__":
    twtest.run(main)
