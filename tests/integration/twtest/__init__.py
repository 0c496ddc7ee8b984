"""Shared helpers for the tcpwatch integration tests (Python stdlib only).

Each test is a script that calls ``twtest.run(main)``.  ``run`` skips with
exit status 77 when not root, arms a hard timeout, turns assertion failures
into a clear message and exit status 1, and cleans up every child process and
network namespace the test created, whatever happens.

Network rule: tests talk only to loopback (127.0.0.0/8, ::1) or to addresses
inside network namespaces they create themselves (198.18.0.0/15 there).

The package, one job per module; everything tests use is also here, as
``twtest.NAME``:

  runner     run(), Skip, the hard timeout, cleanup, log/fail/check
  procs      commands and child processes (sh, spawn, read_line, ...)
  netns      network namespaces and the TUN peer (tunpeer.py) in them
  http       HTTP over the Unix socket; the one chunked-body decoder
  daemon     Daemon: tcpwatchd for a ``with`` block, its CLI and API
  checks     list/show/ss data and the assertions on it
  scenarios  the client-closes-first scenario (IPv4 and IPv6)
  lifecycle  helpers of the lifecycle tests: ``from twtest import
             lifecycle as lu`` (not imported here)
"""

from .checks import (REQUIRED_FIELDS, SS_STATE_NAMES, check_conn_fields,
                     check_derived, check_history_times, expected_pairs,
                     list_conns, parse_ss_addr, path_str, show, ss_port_filter,
                     ss_sockets, state_history, transitions)
from .daemon import STARTUP_TIMEOUT_S, STOP_TIMEOUT_S, Daemon, bin_dir
from .http import (ChunkedDecoder, HttpResponse, ResponseParser,
                   parse_http_response, recv_until_close, unix_exchange)
from .netns import (NS_LOCAL, NS_PEER, TUNPEER, Netns, host_netns_inode,
                    ipv6_loopback_available, run_ns_client, start_tunpeer)
from .procs import (LineReader, finish_child, free_port, json_lines, raise_fd_limit,
                    read_line, sh, spawn, spawn_python, stop_proc, wait_for)
from .runner import (HARD_TIMEOUT_S, SKIP_RC, Skip, TestTimeout, at_cleanup,
                     check, check_eq, cleanup_all, fail, log, pretty,
                     register_child, run)
from .scenarios import (CLIENT_CLOSES_FIRST, CLIENT_STATES, SERVER_STATES,
                        client_closes_first, hold_sockets, loopback_pairs)

__all__ = [
    # runner
    "HARD_TIMEOUT_S", "SKIP_RC", "Skip", "TestTimeout", "at_cleanup",
    "check", "check_eq", "cleanup_all", "fail", "log", "pretty",
    "register_child", "run",
    # procs
    "LineReader", "finish_child", "json_lines", "raise_fd_limit",
    "read_line", "sh", "spawn", "spawn_python", "stop_proc", "wait_for",
    # netns
    "NS_LOCAL", "NS_PEER", "TUNPEER", "Netns", "host_netns_inode",
    "ipv6_loopback_available", "run_ns_client", "start_tunpeer",
    # http
    "ChunkedDecoder", "HttpResponse", "ResponseParser",
    "parse_http_response", "recv_until_close", "unix_exchange",
    # daemon
    "STARTUP_TIMEOUT_S", "STOP_TIMEOUT_S", "Daemon", "bin_dir",
    # checks
    "REQUIRED_FIELDS", "SS_STATE_NAMES", "check_conn_fields",
    "check_derived", "check_history_times", "expected_pairs", "list_conns",
    "parse_ss_addr", "path_str", "show", "ss_port_filter", "ss_sockets",
    "state_history", "transitions",
    # scenarios
    "CLIENT_CLOSES_FIRST", "CLIENT_STATES", "SERVER_STATES",
    "client_closes_first", "hold_sockets", "loopback_pairs",
]
