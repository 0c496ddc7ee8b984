"""Helpers of the connection-lifecycle tests (end reasons, findings,
process owners, live events): finding connections in listings, waiting for
and checking end reasons, findings over the CLI and HTTP.

Tests use it as ``from twtest import lifecycle as lu``; for them it also
offers, as ``lu.NAME``, the TUN-host helpers of twtest.netns and the child
output readers of twtest.procs.
"""

import json
import re
import socket

from .checks import (list_conns, path_str, show, ss_port_filter,
                     state_history, transitions)
from .netns import (NS_CLIENT, NS_LOCAL, NS_PEER, TUNPEER, run_ns_client,
                    start_tunpeer)
from .procs import LineReader, json_lines, stop_proc, wait_for
from .runner import check, fail, log, pretty

__all__ = [
    # re-exported from twtest.netns and twtest.procs
    "NS_CLIENT", "NS_LOCAL", "NS_PEER", "TUNPEER", "run_ns_client",
    "start_tunpeer",
    "LineReader", "json_lines", "stop_proc",
    # connections
    "loopback_pair", "get_field", "is_num", "require_fields", "ports_expr",
    "matching", "find_one", "tuple_pred", "find_sides", "wait_show",
    "wait_ended", "check_end", "check_list_row_agrees", "duplicate_keys",
    "history_kinds", "listener_of", "reserve_closed_port", "refused_connect",
    # findings
    "FINDING_FIELDS", "findings_list", "http_findings", "cli_findings",
    "check_finding_shape", "wait_finding", "has_pid_token",
]


# --------------------------------------------------------------------------
# Connections


def loopback_pair(host="127.0.0.1", keep_listener=False):
    """A connected TCP pair on host.  Returns (client, accepted, port,
    client_port, listener); the listener is closed (None) unless
    keep_listener."""
    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    ls.bind((host, 0))
    ls.listen(8)
    ls.settimeout(10)
    port = ls.getsockname()[1]
    c = socket.socket(ls.family)
    c.settimeout(10)
    c.connect((host, port))
    a, _ = ls.accept()
    a.settimeout(10)
    if not keep_listener:
        ls.close()
        ls = None
    return c, a, port, c.getsockname()[1], ls


def get_field(conn, name, what="connection"):
    """A field of a connection object: top level, else inside "counters"."""
    if name in conn:
        return conn[name]
    counters = conn.get("counters")
    if isinstance(counters, dict) and name in counters:
        return counters[name]
    fail("%s has no field %r (neither top level nor in \"counters\"):\n%s"
         % (what, name, pretty(conn)[:4000]))


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def require_fields(conn, names, what):
    missing = [n for n in names if n not in conn]
    if missing:
        fail("%s lacks %s (does this tcpwatchd implement end reasons?):\n%s"
             % (what, missing, pretty(conn)[:4000]))


def ports_expr(local_port=None, remote_port=None, either=None):
    """An ss-style filter expression (CLI words) narrowing a listing, so
    that a busy host's full table need not be fetched and parsed."""
    if either is not None:
        return ss_port_filter(either)
    words = []
    if local_port is not None:
        words += ["sport", "=", ":%d" % local_port]
    if remote_port is not None:
        words += ["dport", "=", ":%d" % remote_port]
    return words


def matching(d, pred, flags=("-a",), expr=None):
    """Listed connections satisfying pred.  expr: filter words passed to
    `tcpwatch list` (default: pred.expr if the predicate carries one); pred
    is applied to the result in any case."""
    if expr is None:
        expr = getattr(pred, "expr", ())
    return [c for c in list_conns(d, *flags, *expr) if pred(c)]


def find_one(d, pred, what, timeout=10.0, flags=("-a",)):
    """Wait until exactly one listed connection satisfies pred; return it."""
    last = {}

    def probe():
        last["m"] = matching(d, pred, flags)
        return len(last["m"]) == 1

    wait_for(probe, timeout=timeout)
    if len(last["m"]) != 1:
        fail("%s: expected exactly 1 entry in `tcpwatch list %s --json`, "
             "found %d:\n%s" % (what, " ".join(flags), len(last["m"]),
                                pretty(last["m"])[:4000]))
    return last["m"][0]


def tuple_pred(local_port, remote_port, local_addr=None, netns=None,
               remote_addr=None, states=None):
    def pred(c):
        return (c.get("local_port") == local_port
                and c.get("remote_port") == remote_port
                and (local_addr is None or c.get("local_addr") == local_addr)
                and (remote_addr is None or c.get("remote_addr") == remote_addr)
                and (netns is None or c.get("netns") == netns)
                and (states is None or c.get("state") in states)
                and c.get("state") != "LISTEN")
    pred.expr = ports_expr(local_port, remote_port)
    return pred


def find_sides(d, cport, port, host, netns):
    """Both ends of a loopback connection from client port cport to the
    listener's port: (client side, server side)."""
    return (find_one(d, tuple_pred(cport, port, host, netns),
                     "client side %d->%d" % (cport, port)),
            find_one(d, tuple_pred(port, cport, host, netns),
                     "server side %d->%d" % (port, cport)))


def wait_show(d, cookie, pred, what, timeout=15.0):
    """Poll `show COOKIE --json` until pred(conn) is true; return the last
    answer either way (the caller asserts and prints it)."""
    last = {}

    def probe():
        last["c"] = show(d, cookie)
        return pred(last["c"])

    wait_for(probe, timeout=timeout, interval=0.3)
    return last["c"]


def wait_ended(d, cookie, what, expect=None, timeout=15.0, extra=None):
    """Wait until the connection's end_reason is expect (any non-null value
    if expect is None) and extra(conn) holds, if given; return its
    `show --json` (the last one on timeout: the caller asserts).  Waiting
    for the expected value, not the first one, matters: the daemon may
    refine an end reason (e.g. "aborted" becomes "reset_sent" when the
    RST event follows the CLOSE transition)."""
    def done(c):
        r = c.get("end_reason")
        ok = r is not None if expect is None else r == expect
        return ok and (extra is None or extra(c))

    c = wait_show(d, cookie, done, what, timeout)
    if not done(c):
        # Diagnostics for the failure the caller is about to report:
        # lost events or reconcile corrections explain most of them.
        r = d.cli_run("stats", "--json")
        try:
            st = json.loads(r.stdout)
        except ValueError:
            st = {}
        # The event path's counters first: where an event went missing.
        keys = ("events_received", "events_state", "events_lost",
                "events_nested_handed_over", "events_unread_bytes",
                "events_unread_oldest_ms", "events_unmatched",
                "events_malformed", "reconcile_vanished", "loop_max_ms")
        log("%s: not ended as expected after %.0f s; event path: %s; "
            "`tcpwatch stats --json`: %s"
            % (what, timeout,
               ", ".join("%s %s" % (k, st.get(k)) for k in keys),
               r.stdout.strip()[:3000]))
    require_fields(c, ("end_reason", "closed_first"), what)
    return c


def check_end(conn, reason, what, closed_first=None):
    if conn.get("end_reason") != reason:
        fail("%s end_reason:\n  expected: %r\n  actual:   %r\n"
             "state history: %s\nshow --json:\n%s"
             % (what, reason, conn.get("end_reason"),
                path_str(transitions(state_history(conn))),
                pretty(conn)[:6000]))
    if closed_first is not None and conn.get("closed_first") != closed_first:
        fail("%s closed_first:\n  expected: %r\n  actual:   %r\nshow --json:\n%s"
             % (what, closed_first, conn.get("closed_first"),
                pretty(conn)[:6000]))


def check_list_row_agrees(d, conn, what, fields=("end_reason", "closed_first")):
    """The `list -a --json` row of conn carries the same values."""
    rows = [c for c in list_conns(
        d, "-a", *ports_expr(conn["local_port"], conn["remote_port"]))
        if c.get("cookie") == conn["cookie"]]
    check(len(rows) == 1, "%s: cookie %d appears %d times in `list -a --json`"
          % (what, conn["cookie"], len(rows)))
    for f in fields:
        check(f in rows[0], "%s: the `list -a --json` row lacks %r:\n%s"
              % (what, f, pretty(rows[0])))
        if rows[0][f] != conn[f]:
            fail("%s: %s in the list row (%r) differs from show (%r)"
                 % (what, f, rows[0][f], conn[f]))


def duplicate_keys(text):
    """Keys that occur more than once in one JSON object of text."""
    dups = []

    def hook(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                dups.append(k)
            seen.add(k)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return dups


def history_kinds(conn):
    return [h.get("kind") for h in conn.get("history", [])]


def listener_of(d, port, addr="127.0.0.1", netns=None, timeout=10.0):
    def pred(c):
        return (c.get("state") == "LISTEN" and c.get("local_port") == port
                and c.get("local_addr") == addr
                and (netns is None or c.get("netns") == netns))
    pred.expr = ports_expr(local_port=port)
    return find_one(d, pred, "listener %s:%d" % (addr, port),
                    timeout=timeout, flags=("-l",))


def reserve_closed_port(addr="127.0.0.1"):
    """A socket bound (not listening) to a free loopback port: connects to
    it are refused, and nothing else can take the port meanwhile."""
    s = socket.socket()
    s.bind((addr, 0))
    return s, s.getsockname()[1]


def refused_connect(addr, port):
    """connect() from an explicitly bound port (so the port is known after
    the failure); return that local port.  Asserts ECONNREFUSED."""
    s = socket.socket()
    try:
        s.bind((addr, 0))
        cport = s.getsockname()[1]
        s.settimeout(5)
        try:
            s.connect((addr, port))
        except ConnectionRefusedError:
            return cport
        fail("connect to %s:%d (nothing listening) did not fail with "
             "ECONNREFUSED" % (addr, port))
    finally:
        s.close()


# --------------------------------------------------------------------------
# Findings


def findings_list(v, what):
    if isinstance(v, dict):
        f = v.get("findings")
    else:
        f = v
    check(isinstance(f, list), "%s: no findings array:\n%s"
          % (what, pretty(v)[:3000]))
    for x in f:
        check(isinstance(x, dict), "%s: a finding is not an object: %r"
              % (what, x))
    return f


def http_findings(d):
    status, body = d.http_get("/api/v1/findings")
    if status != 200:
        fail("GET /api/v1/findings: status %d, body %s"
             % (status, pretty(body)[:2000]))
    return findings_list(body, "GET /api/v1/findings")


def cli_findings(d):
    return findings_list(d.cli_json("findings", "--json"),
                         "`tcpwatch findings --json`")


FINDING_FIELDS = ("kind", "severity", "summary", "explanation", "netns",
                  "count", "connections", "processes")


def check_finding_shape(f, what):
    missing = [k for k in FINDING_FIELDS if k not in f]
    check(not missing, "%s lacks fields %s:\n%s" % (what, missing, pretty(f)))
    check(isinstance(f["connections"], list),
          "%s: connections is not an array: %r" % (what, f["connections"]))
    check(isinstance(f["processes"], list),
          "%s: processes is not an array: %r" % (what, f["processes"]))
    for k in ("summary", "explanation"):
        check(isinstance(f[k], str) and f[k].strip(),
              "%s: %s is not a non-empty string: %r" % (what, k, f[k]))


def wait_finding(getter, pred, timeout=15.0):
    """Poll getter() (a list of findings) until one satisfies pred; return
    (finding or None, last list)."""
    last = {"all": []}

    def probe():
        last["all"] = getter()
        for f in last["all"]:
            if pred(f):
                return f
        return None

    f = wait_for(probe, timeout=timeout, interval=0.5)
    return f, last["all"]


def has_pid_token(text, pid):
    return re.search(r"(?<![0-9])%d(?![0-9])" % pid, text) is not None
