"""Reading and checking what tcpwatch reports: `tcpwatch list/show --json`
answers, their required fields, state histories (transitions, times, the
derived flag), and `ss` output to compare them with."""

from .procs import sh
from .runner import check, fail, pretty

SS_STATE_NAMES = {
    "ESTAB": "ESTABLISHED",
    "SYN-SENT": "SYN_SENT",
    "SYN-RECV": "SYN_RECV",
    "FIN-WAIT-1": "FIN_WAIT1",
    "FIN-WAIT-2": "FIN_WAIT2",
    "TIME-WAIT": "TIME_WAIT",
    "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
    "UNCONN": "CLOSE",
    "CLOSE": "CLOSE",
}

REQUIRED_FIELDS = ("cookie", "netns", "family", "state", "local_addr",
                   "local_port", "remote_addr", "remote_port", "pid", "comm",
                   "closed")


def check_conn_fields(c, what="connection"):
    missing = [k for k in REQUIRED_FIELDS if k not in c]
    check(not missing, "%s lacks fields %s: %s" % (what, missing, pretty(c)))
    check(isinstance(c["cookie"], int) and not isinstance(c["cookie"], bool),
          "%s: cookie is not a number: %r" % (what, c["cookie"]))
    check(isinstance(c["netns"], int) and not isinstance(c["netns"], bool),
          "%s: netns is not a number: %r" % (what, c["netns"]))
    check(c["pid"] is None or (isinstance(c["pid"], int)
                               and not isinstance(c["pid"], bool)),
          "%s: pid is neither a number nor null: %r" % (what, c["pid"]))
    check(c["comm"] is None or isinstance(c["comm"], str),
          "%s: comm is neither a string nor null: %r" % (what, c["comm"]))
    check(isinstance(c["closed"], bool),
          "%s: closed is not a bool: %r" % (what, c["closed"]))


def list_conns(d, *flags):
    v = d.cli_json("list", *flags, "--json")
    check(isinstance(v, list),
          "`tcpwatch list %s --json` did not print a JSON array: %s"
          % (" ".join(flags), pretty(v)[:2000]))
    return v


def show(d, cookie):
    v = d.cli_json("show", str(cookie), "--json")
    check(isinstance(v, dict),
          "`tcpwatch show %s --json` did not print a JSON object" % cookie)
    check(isinstance(v.get("history"), list),
          "`tcpwatch show %s --json` has no history array: %s"
          % (cookie, pretty(v)[:2000]))
    return v


def state_history(conn):
    return [h for h in conn.get("history", []) if h.get("kind") == "state"]


def transitions(hist):
    """[(from, to), ...] of a filtered state history."""
    return [(h.get("from"), h.get("to")) for h in hist]


def path_str(pairs):
    """Readable form of a transition list, marking discontinuities."""
    if not pairs:
        return "(empty)"
    out = str(pairs[0][0])
    prev_to = pairs[0][0]
    for frm, to in pairs:
        if frm != prev_to:
            out += " | %s" % frm
        out += "->%s" % to
        prev_to = to
    return out


def expected_pairs(states):
    return [(states[i], states[i + 1]) for i in range(len(states) - 1)]


def parse_ss_addr(text):
    """'127.0.0.1:80' / '[::1]:80' / '*:80' / '1.2.3.4%lo:80' -> (addr, port)."""
    addr, _, port = text.rpartition(":")
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    if "%" in addr:
        addr = addr.split("%", 1)[0]
    if addr == "*":
        addr = "::"  # ss prints a dual-stack wildcard as '*'
    return addr, (0 if port == "*" else int(port))


def ss_port_filter(port):
    """ss filter arguments selecting sockets with port on either side."""
    return ["(", "sport", "=", ":%d" % port, "or", "dport", "=", ":%d" % port,
            ")"]


def ss_sockets(args=("-tanH",), netns=None):
    """Parse `ss -tanH` into a list of (local_addr, local_port, remote_addr,
    remote_port, STATE) with kernel state names."""
    argv = (["ip", "netns", "exec", netns] if netns else []) + ["ss"] + list(args)
    out = sh(argv).stdout
    res = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        st = SS_STATE_NAMES.get(f[0])
        if st is None:
            fail("unknown ss state %r in line %r" % (f[0], line))
        la, lp = parse_ss_addr(f[3])
        ra, rp = parse_ss_addr(f[4])
        res.append((la, lp, ra, rp, st))
    return res



def check_history_times(conn, hist, t_lo, t_hi, what):
    times = [h.get("time_ns") for h in hist]
    for t in times:
        check(isinstance(t, int) and not isinstance(t, bool),
              "%s: time_ns is not an integer: %r (history %s)"
              % (what, t, pretty(hist)))
    for i in range(1, len(times)):
        check(times[i] >= times[i - 1],
              "%s: history times decrease at entry %d: %d then %d\n%s"
              % (what, i, times[i - 1], times[i], pretty(hist)))
    check(times[-1] - times[0] > 0,
          "%s: whole history span is not > 0 ns (first %d, last %d)"
          % (what, times[0], times[-1]))
    for t in times:
        check(t_lo <= t <= t_hi,
              "%s: time_ns %d is not wall-clock time within the test "
              "(expected between %d and %d)\n%s"
              % (what, t, t_lo, t_hi, pretty(hist)))


def check_derived(hist, may_be_derived, what):
    for h in hist:
        check(isinstance(h.get("derived"), bool),
              "%s: history entry without a bool 'derived': %s" % (what, h))
        if h.get("to") not in may_be_derived:
            check(h["derived"] is False,
                  "%s: transition %s->%s is marked derived although the kernel "
                  "reports it as an event\n%s"
                  % (what, h.get("from"), h.get("to"), pretty(hist)))
