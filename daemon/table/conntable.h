/*
 * The connection table: every TCP socket tcpwatchd knows of, keyed by the
 * socket cookie, each with the history of its life. Live connections are
 * always kept; closed ones move to a retention queue bounded by count and
 * age (retain.h). Listeners are also indexed by (netns, port) so accepted
 * children can be attributed to the listener's owner (listeners.h).
 *
 * Single-threaded by design: only the event loop touches the table.
 */
#ifndef TCPWATCH_CONNTABLE_H
#define TCPWATCH_CONNTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histo.h"

#include "drops.h"
#include "listeners.h"
#include "stats.h"
#include "tcpstate.h"

enum tw_hist_kind {
	TW_HIST_STATE = 1,
	TW_HIST_RETRANSMIT,
	TW_HIST_RESET_SENT,
	TW_HIST_RESET_RECEIVED,
	TW_HIST_SYNACK_RETRANSMIT,
	TW_HIST_DROP,   /* value: enum skb_drop_reason; from: state at the time */
	TW_HIST_SYNACK, /* a request socket's first SYN-ACK */
	TW_HIST_ACCEPT, /* accept() returned it; value: the wait in ms (capped) */
	TW_HIST_KINDS,
};

#define TW_HIST_DERIVED 0x01 /* inferred (sock_diag, TIME_WAIT), not a kernel event */

/* A history entry as appended (conntable_hist_append) and read
 * (conn_hist). The record keeps each in 8 bytes (tw_hist_pack): six fit
 * in the record (an ordinary life is five or six). */
struct tw_hist {
	uint64_t time_ns; /* CLOCK_MONOTONIC */
	uint8_t kind;     /* enum tw_hist_kind */
	uint8_t flags;    /* TW_HIST_* */
	uint8_t from;     /* STATE: old state; other kinds: state at the time */
	uint8_t to;       /* STATE only (0 otherwise) */
	uint32_t value;   /* other kinds only (0 for STATE): RESET_SENT: reason;
			   * RETRANSMIT: error; DROP: reason; SYNACK_RETRANSMIT:
			   * its number; ACCEPT: the wait in ms; at most
			   * TW_HIST_VALUE_MAX */
};

#define TW_HIST_VALUE_MAX ((1u << 15) - 1)
_Static_assert(TW_HIST_KINDS <= 16, "a kind fits in tw_hist's 4 bits");
_Static_assert(TW_TCP_MAX_STATES <= 16, "a state fits in tw_hist's 4 bits");

/*
 * Times in fewer bits, relative to the record's first_seen_ns, as a
 * float: a mantissa shifted by an exponent. A history entry's time takes
 * 40 bits (sign, 5 bits of exponent, 34 of mantissa): exact within 17 s
 * of first_seen, to 1 ns in 2^34 beyond (4 us at a day, 30 us at a week).
 * A stamp (a closed or sampled time, never before first_seen) takes 32 (0:
 * none; 5 bits of exponent, 27 of mantissa): exact within 134 ms, to 1 in
 * 2^27 beyond (0.6 ms at a day).
 */
#define TW_TIME40_MANT 34
static inline uint64_t tw_time40_enc(int64_t d)
{
	uint64_t neg = d < 0, m = neg ? -(uint64_t)d : (uint64_t)d, e = 0;

	if (m >> TW_TIME40_MANT) {
		e = (uint64_t)(64 - __builtin_clzll(m) - TW_TIME40_MANT);
		m >>= e;
	}
	return neg << 39 | e << TW_TIME40_MANT | m;
}

static inline int64_t tw_time40_dec(uint64_t v)
{
	uint64_t m = (v & ((1ull << TW_TIME40_MANT) - 1)) << (v >> TW_TIME40_MANT & 31);

	return v >> 39 & 1 ? -(int64_t)m : (int64_t)m;
}

#define TW_STAMP_MANT 27
static inline uint32_t tw_stamp_enc(uint64_t base_ns, uint64_t t_ns)
{
	uint64_t m = t_ns > base_ns ? t_ns - base_ns : 0, e = 0;

	if (m >> TW_STAMP_MANT) {
		e = (uint64_t)(64 - __builtin_clzll(m) - TW_STAMP_MANT);
		m >>= e;
		if (e > 30) { /* past 2^57 ns (4.5 years): the most there is */
			e = 30;
			m = (1u << TW_STAMP_MANT) - 1;
		}
	}
	return (uint32_t)(e << TW_STAMP_MANT | m) + 1;
}

static inline uint64_t tw_stamp_dec(uint64_t base_ns, uint32_t v)
{
	if (!v)
		return 0;
	v--;
	return base_ns + ((uint64_t)(v & ((1u << TW_STAMP_MANT) - 1)) << (v >> TW_STAMP_MANT));
}

/* An entry in 8 bytes: kind 4 bits, flags 1, from 4, to (STATE) or value
 * (the others) 15, the time 40 (tw_time40, from base_ns). */
static inline uint64_t tw_hist_pack(uint64_t base_ns, const struct tw_hist *h)
{
	uint32_t tv = h->kind == TW_HIST_STATE ? h->to : h->value;

	if (tv > TW_HIST_VALUE_MAX)
		tv = TW_HIST_VALUE_MAX;
	return (uint64_t)(h->kind & 15) | (uint64_t)(h->flags & 1) << 4 |
	       (uint64_t)(h->from & 15) << 5 | (uint64_t)tv << 9 |
	       tw_time40_enc((int64_t)(h->time_ns - base_ns)) << 24;
}

static inline struct tw_hist tw_hist_unpack(uint64_t base_ns, uint64_t w)
{
	struct tw_hist h = {
		.time_ns = base_ns + (uint64_t)tw_time40_dec(w >> 24),
		.kind = (uint8_t)(w & 15),
		.flags = (uint8_t)(w >> 4 & 1),
		.from = (uint8_t)(w >> 5 & 15),
	};
	uint32_t tv = (uint32_t)(w >> 9 & TW_HIST_VALUE_MAX);

	if (h.kind == TW_HIST_STATE)
		h.to = (uint8_t)(tv & 15);
	else
		h.value = tv;
	return h;
}

/* The socket's memory (sock_diag INET_DIAG_SKMEMINFO, what ss -m prints
 * as skmem:(r,rb,t,tb,f,w,o,bl,d)): 36 bytes in the record, since a listing
 * shows the last sample, not a live query. */
struct tw_skmem {
	uint32_t rmem_alloc_bytes;  /* r: receive queue memory allocated */
	uint32_t rcvbuf_bytes;      /* rb: receive buffer limit */
	uint32_t wmem_alloc_bytes;  /* t: transmit memory allocated (in flight) */
	uint32_t sndbuf_bytes;      /* tb: send buffer limit */
	uint32_t fwd_alloc_bytes;   /* f: reserved, not yet used */
	uint32_t wmem_queued_bytes; /* w: send queue memory (written, not freed) */
	uint32_t optmem_bytes;      /* o: options and filters */
	uint32_t backlog_bytes;     /* bl: the backlog queue (while the socket was locked) */
	uint32_t drops;             /* d: packets dropped (sk_drops) */
};

/* The latest tcp_info sample sock_diag gave for the socket (when: the
 * record's sampled, conn_sample_ns). */
struct tw_tcpinfo {
	uint64_t bytes_acked;
	uint64_t bytes_received;
	uint64_t delivery_rate_bps; /* bytes per second */
	uint32_t rtt_us;
	uint32_t rttvar_us;
	uint32_t snd_cwnd;
	uint32_t total_retrans;
	uint32_t lost;
	uint32_t last_data_sent_ms;
	uint32_t last_data_recv_ms;
	uint32_t timer_expires_ms; /* sock_diag idiag_expires */
	struct tw_skmem mem;       /* valid with has_mem */
	uint8_t timer;             /* enum tw_timer_kind */
	uint8_t timer_retrans;     /* idiag_retrans: unanswered probes/retransmits */
	uint8_t has_info;          /* the tcp_info fields are valid */
	uint8_t has_mem;           /* the mem fields are valid */
};

enum tw_conn_flag {
	TW_CONN_CLOSED = 1 << 0,        /* in the retention queue */
	TW_CONN_HAS_TASK = 1 << 1,      /* pid/comm known */
	TW_CONN_FROM_SNAPSHOT = 1 << 2, /* first seen by sock_diag, not by an event */
	TW_CONN_REQUEST = 1 << 3,       /* request socket in a SYN queue (NEW_SYN_RECV) */
	TW_CONN_TW_DERIVED = 1 << 4,    /* TIME_WAIT derived from a close event */
	TW_CONN_LISTEN_INDEXED = 1 << 5,
	TW_CONN_OWNER_LISTENER = 1 << 6,   /* pid/comm are the listener's, not yet the acceptor's */
	TW_CONN_HANDSHAKE_SRTT = 1 << 7,   /* handshake_us is the kernel's SYN-ACK->ACK sample */
	TW_CONN_OWNER_WANTED = 1 << 8,     /* in the reconcile's owner_wanted list */
	TW_CONN_UNRECONCILED = 1 << 9,     /* its namespace was not dumped by the last
					    * reconcile (over max-netns, or its dump
					    * failed): kept as the events left it */
	TW_CONN_LISTENER_REC = 1 << 10,    /* has a listener record (listeners.h) */
	TW_CONN_HAS_DROPS = 1 << 11,       /* has drop counts (conntable_drops) */
	TW_CONN_TUPLE_INDEXED = 1 << 12,   /* a request socket in the 4-tuple index */
	TW_CONN_ACCEPTED = 1 << 13,        /* accept() returned it (accept_wait_us set) */
	TW_CONN_HALF_OPEN_TIMED = 1 << 14, /* handshake_us is its request's life, first
					    * SYN-ACK to ESTABLISHED (SYN-ACKs resent) */
	TW_CONN_OWNER_SEARCHED = 1 << 15,  /* a /proc scan did not find its owner (a
					    * descriptor in flight, a kernel socket) */
};

/* sock_diag's idiag_timer: what the socket's timer is waiting for. */
enum tw_timer_kind {
	TW_TIMER_NONE = 0,
	TW_TIMER_RETRANSMIT = 1,
	TW_TIMER_KEEPALIVE = 2,
	TW_TIMER_TIME_WAIT = 3,
	TW_TIMER_ZERO_WINDOW_PROBE = 4,
	TW_TIMER_KINDS,
};

#define TW_HIST_INLINE 6

/*
 * A link of a bucket's chain (the bucket's head, or a record's next): the
 * connection it leads to, with that connection's cookie and whether more
 * follow it. A lookup that reads a link learns whether the connection it
 * leads to is the one it wants, and whether any follow, without reading
 * that connection's record, which is mostly an older one and not cached.
 */
struct tw_link {
	uint64_t cookie; /* of the connection it leads to */
	uintptr_t to;    /* struct tw_conn *, | 1 if more follow it; 0: the end */
};

enum tw_port_side { TW_PORT_LOCAL, TW_PORT_REMOTE, TW_PORT_SIDES };

/* A connection's place in one side's port index (portindex.c): a list per
 * port, linked through the records by slab handles (slab.h); prev is the
 * record before it, TW_PORT_AT_HEAD if it is the list's first, 0 if it is
 * not indexed. */
struct tw_port_link {
	uint32_t next; /* 0: the last */
	uint32_t prev;
};

#define TW_PORT_AT_HEAD UINT32_MAX

/*
 * 320 bytes, five cache lines in the slab: the fields every event reads
 * first. Times other than first_seen and last_change are kept relative to
 * first_seen in fewer bits (tw_time40, tw_stamp): read them through
 * conn_hist, conn_closed_ns and conn_sample_ns, and move first_seen only
 * with conntable_set_first_seen.
 */
struct tw_conn {
	uint64_t cookie;
	uint64_t first_seen_ns;   /* CLOCK_MONOTONIC */
	uint64_t last_change_ns;  /* CLOCK_MONOTONIC */
	uint64_t listener_cookie; /* passive connections: the listener that accepted it */
	struct tw_link next;      /* the table's bucket chain */
	uint32_t retain_pos;      /* its slot in the retention queue, while closed */
	uint32_t accept_wait_us;  /* passive, with TW_CONN_ACCEPTED: ESTABLISHED to accept() */
	uint32_t closed;          /* tw_stamp: when it moved to retention (conn_closed_ns) */
	uint32_t handshake_us;    /* 0 = unknown */
	uint8_t local_addr[16];
	uint8_t remote_addr[16];
	uint32_t netns;
	uint32_t pid; /* tgid, valid with TW_CONN_HAS_TASK */
	uint32_t uid;
	uint32_t inode;
	uint32_t retransmits;
	uint32_t sampled;         /* tw_stamp: when info was sampled (conn_sample_ns) */
	uint16_t syn_retransmits; /* active: SYNs resent; passive: its request's SYN-ACKs */
	uint16_t drops;           /* packets of it the kernel dropped */
	uint16_t resets_sent;
	uint16_t resets_received;
	uint16_t local_port;
	uint16_t remote_port;
	uint16_t flags;       /* enum tw_conn_flag */
	uint16_t hist_len;    /* entries; over TW_HIST_INLINE: in hist_heap */
	uint16_t seen_gen;    /* reconcile generation that last saw it (mod 2^16) */
	uint8_t family;       /* AF_INET, AF_INET6 */
	uint8_t state;        /* enum tw_tcp_state */
	uint8_t missed;       /* consecutive reconcile passes that did not see it */
	uint8_t role;         /* enum tw_role (lifecycle.h) */
	uint8_t closed_first; /* enum tw_closer */
	uint8_t end_reason;   /* enum tw_end_reason */
	char comm[16];
	struct tw_tcpinfo info;
	/* The first TW_HIST_KEEP_FIRST entries, then the latest (tw_hist_pack,
	 * from first_seen_ns): in the record while they fit, a whole
	 * ordinary life, then all of them on the heap. */
	union {
		uint64_t hist_inline[TW_HIST_INLINE];
		struct {
			uint64_t *v;
			uint32_t cap;
			uint32_t dropped; /* entries dropped to stay within history_max */
		} hist_heap;
	};
	/* Last: read only by the port index, once built (portindex.c), and
	 * out of the lines every event touches. */
	struct tw_port_link by_port[TW_PORT_SIDES];
};

_Static_assert(sizeof(struct tw_conn) == 320, "a record is five cache lines");

static inline const uint64_t *conn_hist_words(const struct tw_conn *c)
{
	return c->hist_len > TW_HIST_INLINE ? c->hist_heap.v : c->hist_inline;
}

/* History entry i (< hist_len). */
static inline struct tw_hist conn_hist(const struct tw_conn *c, uint32_t i)
{
	return tw_hist_unpack(c->first_seen_ns, conn_hist_words(c)[i]);
}

/* The newest entry's time (hist_len > 0). */
static inline uint64_t conn_hist_last_ns(const struct tw_conn *c)
{
	return conn_hist(c, c->hist_len - 1u).time_ns;
}

/* t as the record keeps a history entry's time (exact within 17 s of
 * first_seen): what conn_hist gives back for an entry of that time. */
static inline uint64_t conn_hist_time_kept(const struct tw_conn *c, uint64_t t)
{
	return c->first_seen_ns +
	       (uint64_t)tw_time40_dec(tw_time40_enc((int64_t)(t - c->first_seen_ns)));
}

/* Entry i's to (a STATE entry's). */
static inline void conn_hist_set_to(struct tw_conn *c, uint32_t i, uint8_t to)
{
	uint64_t *w = (uint64_t *)conn_hist_words(c) + i;

	*w = (*w & ~((uint64_t)TW_HIST_VALUE_MAX << 9)) | (uint64_t)(to & 15) << 9;
}

/* Entries dropped to stay within history_max (only a history on the heap
 * has dropped any). */
static inline uint32_t conn_hist_dropped(const struct tw_conn *c)
{
	return c->hist_len > TW_HIST_INLINE ? c->hist_heap.dropped : 0;
}

/* When it moved to retention (TW_CONN_CLOSED), CLOCK_MONOTONIC; 0: never. */
static inline uint64_t conn_closed_ns(const struct tw_conn *c)
{
	return tw_stamp_dec(c->first_seen_ns, c->closed);
}

/* When it moved to retention (0: it is live), relative to first_seen:
 * conntable_retire's and conntable_revive's to set (and tests'). */
static inline void conn_set_closed_ns(struct tw_conn *c, uint64_t ns)
{
	c->closed = ns ? tw_stamp_enc(c->first_seen_ns, ns) : 0;
}

/* When info was sampled, CLOCK_MONOTONIC; 0: never. */
static inline uint64_t conn_sample_ns(const struct tw_conn *c)
{
	return tw_stamp_dec(c->first_seen_ns, c->sampled);
}

static inline void conn_set_sample_ns(struct tw_conn *c, uint64_t ns)
{
	c->sampled = ns ? tw_stamp_enc(c->first_seen_ns, ns) : 0;
}

struct tw_conntable_limits {
	uint32_t max_live;      /* live connections; more are refused and counted */
	uint32_t max_requests;  /* of them request sockets (0: no bound of their own) */
	uint32_t retain_count;  /* closed connections kept */
	uint64_t retain_age_ns; /* closed connections older than this are dropped */
	uint16_t history_max;   /* history entries per connection */
};

struct tw_conntable_stats {
	uint64_t live;
	uint64_t retained;
	uint64_t listeners;
	uint64_t refused_full;     /* creations refused by max_live */
	uint64_t requests;         /* request sockets (half-opens) now */
	uint64_t requests_refused; /* refused by max_requests */
	uint64_t evicted;          /* closed connections dropped from retention */
	uint64_t history_dropped;
	uint64_t drop_entries_elided;
	uint64_t alloc_failures; /* records, histories, buckets, retention or listener
				  * index entries that could not be allocated */
	uint64_t bytes;          /* heap bytes held by records and histories */
};

#define TW_HIST_KEEP_FIRST 4

struct tw_conntable;

/* A new empty table; NULL on allocation failure. */
struct tw_conntable *conntable_new(const struct tw_conntable_limits *limits);

/* A new request socket's record: the connection with this cookie, made a
 * request (TW_CONN_REQUEST), unless max_requests of them are tracked
 * (then NULL, counted) or the table is full. An existing record is
 * returned as it is (*ret_created = false). */
struct tw_conn *conntable_add_request(struct tw_conntable *t, uint64_t cookie, bool *ret_created);
void conntable_free(struct tw_conntable *t);

/* Buckets for n connections (at most max_live) at once: the first
 * snapshot of a busy host then fills the table without rehashing it at
 * every doubling. 0 or -ENOMEM (counted; the table stays as it was). */
int conntable_reserve(struct tw_conntable *t, size_t n);
struct tw_conn *conntable_get(struct tw_conntable *t, uint64_t cookie);
/* Returns the connection with this cookie, creating a zeroed live one
 * (cookie set, *ret_created = true) if absent. NULL when the table is full
 * or memory ran out. */
struct tw_conn *conntable_get_or_add(struct tw_conntable *t, uint64_t cookie, bool *ret_created);

/* Sets c's state: every change of a record's state goes through here, so
 * that its slab tag (state + 1) says it too and a scan for some states
 * reads the tags, not the records (conntable_scan_states). */
void conntable_set_state(struct tw_conntable *t, struct tw_conn *c, uint8_t state);
/* One slice of a scan of the records whose state is in states
 * (TW_STATE_BIT mask): fn for each, in the order of their slab handles,
 * from *cursor (0 to begin), at most max_slots slots; true at the end.
 * A record present throughout is visited once whatever comes and goes,
 * so a scan in slices never starts again. */
bool conntable_scan_states(struct tw_conntable *t, uint32_t *cursor, uint32_t states,
			   void (*fn)(struct tw_conn *c, void *data), void *data,
			   uint32_t max_slots);

/* Sets c's first_seen_ns, the times kept relative to it following. */
void conntable_set_first_seen(struct tw_conn *c, uint64_t ns);

/* Appends a history entry; when history_max is reached the oldest entry
 * after the first TW_HIST_KEEP_FIRST is dropped and counted. 0 or -ENOMEM
 * (counted in alloc_failures). */
int conntable_hist_append(struct tw_conntable *t, struct tw_conn *c, const struct tw_hist *h);

/* Adds n to the entries c's history has dropped (a saved history's). */
void conntable_hist_add_dropped(struct tw_conn *c, uint32_t n);

/* Moves a live connection to the retention queue (state set by caller). */
void conntable_retire(struct tw_conntable *t, struct tw_conn *c, uint64_t now_ns);
/* Moves a retained connection back to live (a closed socket reconnecting). */
void conntable_revive(struct tw_conntable *t, struct tw_conn *c);
/* Removes and frees a connection (live or retained). */
void conntable_remove(struct tw_conntable *t, struct tw_conn *c);
/* Drops retained connections over the count or age bounds. Returns how
 * many were dropped. */
size_t conntable_expire(struct tw_conntable *t, uint64_t now_ns);

/* Listener index, called from conntable_update_listener (and to re-key a
 * listener whose namespace became known). */
void conntable_index_listener(struct tw_conntable *t, struct tw_conn *c, bool want);

/* Listener index: call after a connection's state or port changed. Inline:
 * it runs for every state change, and nearly always decides nothing. */
static inline void conntable_update_listener(struct tw_conntable *t, struct tw_conn *c)
{
	bool want = c->state == TW_TCP_LISTEN && !(c->flags & TW_CONN_CLOSED) && c->local_port;

	if (want != !!(c->flags & TW_CONN_LISTEN_INDEXED))
		conntable_index_listener(t, c, want);
}
/* The listener for an accepted connection: same netns, family and port,
 * same local address or a wildcard one. NULL if none is known. */
struct tw_conn *conntable_find_listener(struct tw_conntable *t, uint32_t netns, int family,
					const uint8_t addr[16], uint16_t port);

/* Calls fn for every connection (live and retained), in no order. fn must
 * not add or remove connections. */
/* Buckets from..from+n (capped at the table's), each connection in them
 * to fn, which must not add or remove any; returns the bucket after the
 * last. The bucket count changes only when the table grows. */
size_t conntable_foreach_buckets(struct tw_conntable *t, size_t from, size_t n,
				 void (*fn)(struct tw_conn *c, void *data), void *data);
size_t conntable_bucket_count(const struct tw_conntable *t);
void conntable_foreach(struct tw_conntable *t, void (*fn)(struct tw_conn *c, void *data),
		       void *data);
/* Cookies of every connection, sorted ascending, in a new array the caller
 * frees; *ret_count set. NULL on allocation failure. */
uint64_t *conntable_sorted_cookies(struct tw_conntable *t, size_t *ret_count);
/* The same, of the connections keep() accepts (NULL: all): each record is
 * read once, while its line is in the cache, and only what is kept is
 * sorted. */
uint64_t *conntable_cookies_where(struct tw_conntable *t,
				  bool (*keep)(const struct tw_conn *c, const void *ctx),
				  const void *ctx, size_t *ret_count);

/*
 * The port index (portindex.c): every connection is listed under its local
 * and its remote port, so a query for a port costs the connections that
 * have it, not the table. It is built by the first call of
 * conntable_port_count or conntable_port_cookies, and kept from then on. A
 * record's ports are set only through conntable_set_ports, which moves it
 * when they change.
 */
void conntable_set_ports(struct tw_conntable *t, struct tw_conn *c, uint16_t local_port,
			 uint16_t remote_port);
/* Cookies of the connections whose port on side is port, sorted ascending,
 * in a new array the caller frees (*ret_count set): exactly what a scan of
 * the table for that port finds. NULL with *ret_count 0 on allocation
 * failure; NULL with errno ENOENT if the index cannot answer (it could not
 * be allocated): scan instead. */
uint64_t *conntable_port_cookies(struct tw_conntable *t, enum tw_port_side side, uint16_t port,
				 size_t *ret_count);
/* The same, of the connections keep() accepts (NULL: all). */
uint64_t *conntable_port_cookies_where(struct tw_conntable *t, enum tw_port_side side,
				       uint16_t port,
				       bool (*keep)(const struct tw_conn *c, const void *ctx),
				       const void *ctx, size_t *ret_count);
/* One slice of the port index's build, about budget_ns (UINT64_MAX: all
 * of it): true once it is complete (conntable_port_index_ready), or when
 * it cannot be (its heads could not be allocated: queries scan). A query
 * by port before that completes the build in its own turn. */
bool conntable_port_index_step(struct tw_conntable *t, uint64_t budget_ns);
/* Whether a query by port is answered without a build: the index is
 * complete, or broken (then the query scans). */
bool conntable_port_index_ready(const struct tw_conntable *t);
/* How many connections have port on side, counting at most stop of them
 * (a planner's cheap comparison of two lists); SIZE_MAX if the index
 * cannot answer. */
size_t conntable_port_count(struct tw_conntable *t, enum tw_port_side side, uint16_t port,
			    size_t stop);

void conntable_get_stats(struct tw_conntable *t, struct tw_conntable_stats *ret);
/* Live connections now. */
size_t conntable_live(const struct tw_conntable *t);
const struct tw_conntable_limits *conntable_limits(struct tw_conntable *t);
/* New retention bounds (SIGHUP); the next conntable_expire applies them. */
void conntable_set_retention(struct tw_conntable *t, uint32_t count, uint64_t age_ns);
/* Adds the connections_*, listeners, history_dropped, table_bytes and
 * table_alloc_failures figures to s. */
void conntable_report(struct tw_conntable *t, struct tw_stats *s);
/* Chain links walked by listener removals so far (tests). */
uint64_t conntable_listener_steps(struct tw_conntable *t);

/* The record of a listening socket (open or retained), by its cookie. */
struct tw_listener *conntable_listener(struct tw_conntable *t, uint64_t cookie);
/* Calls fn for every listener record. */
void conntable_foreach_listener(struct tw_conntable *t,
				void (*fn)(struct tw_listener *l, void *data), void *data);
/* Counts an allocation that failed outside the table (a listener's rings). */
void conntable_count_alloc_failure(struct tw_conntable *t);
/* Events may be missing from [start_ns, end_ns]: a ring buffer overflowed,
 * or the daemon was not running (gaps.h). */
void conntable_note_gap(struct tw_conntable *t, uint64_t start_ns, uint64_t end_ns);
/* True if c's life (first seen to closed, or now) overlaps such a window:
 * its history may lack entries. */
bool conntable_history_gap(const struct tw_conntable *t, const struct tw_conn *c, uint64_t now_ns);

/* Request sockets by their 4-tuple, so that the child a request becomes
 * finds it: c must be a request (TW_CONN_REQUEST) with its endpoints set. */
void conntable_index_request(struct tw_conntable *t, struct tw_conn *c);
/* A request's record that its child took over: the kernel gives the child
 * the request's cookie once the request has one (inet_csk_clone_lock), so
 * the child's events find the request's record. It leaves the 4-tuple
 * index and stops being a request; the record stays. */
void conntable_request_became_child(struct tw_conntable *t, struct tw_conn *c);
/* Calls fn for every request socket in the 4-tuple index. */
void conntable_foreach_request(struct tw_conntable *t, void (*fn)(struct tw_conn *req, void *data),
			       void *data);
struct tw_conn *conntable_find_request(struct tw_conntable *t, uint32_t netns, int family,
				       const uint8_t local[16], uint16_t local_port,
				       const uint8_t remote[16], uint16_t remote_port);

/* Drops that name only a 4-tuple, waiting for a sock_diag lookup. */
struct tw_lookups *conntable_lookups(struct tw_conntable *t);
/* The namespaces' own TCP counters (nsstat.h). */
struct tw_nsstat_set *conntable_nsstat(struct tw_conntable *t);

/* What the table saw since it began, for counters that only grow
 * (/metrics): connections that left retention by role and end reason and
 * their handshakes (us), and every accept wait and half-open lifetime.
 * Live and retained connections are the caller's to add. */
enum tw_total_histo {
	TW_TOTAL_HANDSHAKE,
	TW_TOTAL_ACCEPT_WAIT,
	TW_TOTAL_HALF_OPEN,
	TW_TOTAL_HISTOS
};
#define TW_TOTAL_ROLES 4  /* enum tw_role */
#define TW_TOTAL_ENDS  16 /* enum tw_end_reason, with room */
struct tw_totals {
	uint64_t closed[TW_TOTAL_ROLES][TW_TOTAL_ENDS];
	struct tw_histo *h[TW_TOTAL_HISTOS]; /* allocated on first use */
};
struct tw_totals *conntable_totals(struct tw_conntable *t);

/* Drops of a connection by reason (NULL if none). */
const struct tw_drop_counts *conntable_drops(struct tw_conntable *t, const struct tw_conn *c);
/* Counts a drop of c; 0, or -ENOSPC/-ENOMEM when no counts can be kept for
 * it (counted). */
int conntable_add_drop(struct tw_conntable *t, struct tw_conn *c, unsigned reason);
/* A drop of c at time_ns: counted, and a history entry unless one for the
 * same reason is less than TW_DROP_HIST_GAP_NS old (then only counted). */
#define TW_DROP_HIST_GAP_NS 1000000000ull
void conntable_record_drop(struct tw_conntable *t, struct tw_conn *c, unsigned reason,
			   uint64_t time_ns);

#endif
