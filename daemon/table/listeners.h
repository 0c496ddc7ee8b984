/*
 * Listeners: a record per listening socket with what its two queues do,
 * and the index that finds them.
 *
 * The index finds a listener by (netns, port), so that an accepted child
 * finds its listener (and the listener's owner) in one short chain, and by
 * cookie, so that a listener that closes leaves from its own chain without
 * a search of the others. A listener that closes leaves the (netns, port)
 * index at once but keeps its record, found by cookie, as long as the
 * table retains its connection.
 */
#ifndef TCPWATCH_LISTENERS_H
#define TCPWATCH_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drops.h"
#include "histo.h"

struct tw_conn;

#define TW_HALFOPEN_SYNACKS       8   /* SYN-ACK retransmit times kept per half-open */
#define TW_LISTENER_RECENT        16  /* ended half-opens kept per listener */
#define TW_LISTENER_DEPTH_SAMPLES 120 /* queue samples kept (10 min at the default interval) */

enum tw_halfopen_end {
	TW_HALFOPEN_OPEN = 0,
	TW_HALFOPEN_COMPLETED, /* its final ACK arrived: a connection (child_cookie) */
	TW_HALFOPEN_EXPIRED,   /* its SYN-ACKs unanswered: the kernel gave up */
	TW_HALFOPEN_RESET,     /* gone before its timer ran out: reset or dropped */
	TW_HALFOPEN_ENDS,
};

#define TW_HALFOPEN_FIRST_DERIVED 0x01 /* first SYN-ACK time estimated (sock_diag) */
#define TW_HALFOPEN_END_DERIVED   0x02 /* end time from the schedule or a pass */

/* One half-open connection (a request socket), as it ended. */
struct tw_halfopen {
	uint64_t cookie;                             /* the request socket's */
	uint64_t child_cookie;                       /* completed: the connection it became */
	uint64_t first_synack_ns;                    /* CLOCK_MONOTONIC */
	uint64_t retransmit_ns[TW_HALFOPEN_SYNACKS]; /* each SYN-ACK retransmit */
	uint64_t end_ns;
	uint16_t retransmits; /* all of them (the first TW_HALFOPEN_SYNACKS timed) */
	uint8_t end;          /* enum tw_halfopen_end */
	uint8_t flags;        /* TW_HALFOPEN_* */
	uint8_t family;
	uint16_t remote_port;
	uint8_t remote_addr[16];
};

/* The queues at one reconcile pass. */
struct tw_depth_sample {
	uint64_t time_ns;
	uint32_t accept_queue;
	uint32_t syn_queue;
	/* Counters so far, at the time: what grew within a window is the
	 * difference of two samples. */
	uint64_t overflows;
	uint64_t listen_drops;
	uint64_t synack_retransmits;
	uint64_t children;
	uint64_t expired;
	uint64_t drops;
};

struct tw_listener {
	uint64_t cookie;
	uint64_t key; /* (netns, port) while in the key index */
	struct tw_conn *conn;
	struct tw_listener *next_by_key;
	struct tw_listener *next_by_cookie;
	bool keyed;
	uint64_t created_ns;
	/* From sock_diag, at the last pass that dumped its namespace. */
	uint64_t sampled_ns;
	uint32_t accept_queue;          /* idiag_rqueue: children waiting for accept() */
	uint32_t accept_queue_limit;    /* idiag_wqueue: the backlog */
	uint32_t syn_queue;             /* request sockets (half-open) of the pass */
	uint32_t syn_queue_counting;    /* of the pass under way */
	uint32_t syn_queue_gen;         /* pass it counts for */
	uint32_t accept_queue_max_seen; /* high-water mark, samples and events */
	uint64_t listen_drops;          /* its sk_drops: SYNs and ACKs it dropped
					 * (tcp_listendrop), full queues among them */
	uint32_t syn_queue_max_seen;
	/* From events. */
	int64_t accept_queue_events; /* children established minus accepted, since the
				      * last sample (an estimate between samples) */
	uint64_t children;           /* connections through it */
	uint64_t accepted;           /* accept() returned one of them */
	uint64_t synack_retransmits;
	uint64_t half_open[TW_HALFOPEN_ENDS]; /* half-opens by how they ended */
	uint64_t overflows;                   /* drops with TCP_LISTEN_OVERFLOW */
	struct tw_drop_counts drops;
	struct tw_histo *accept_wait;        /* us from ESTABLISHED to accept() */
	struct tw_histo *half_open_lifetime; /* us from the first SYN-ACK to the end */
	/* Rings, allocated on first use. */
	struct tw_depth_sample *depth;
	uint16_t depth_head, depth_n;
	struct tw_halfopen *recent;
	uint16_t recent_head, recent_n;
};

struct tw_listen_index {
	struct tw_listener **by_key;
	struct tw_listener **by_cookie;
	size_t cap;              /* buckets of each, a power of two */
	size_t count;            /* records */
	size_t keyed;            /* records in the key index (listening now) */
	uint64_t alloc_failures; /* listeners, samples or half-opens not kept for want of memory */
	uint64_t steps;          /* chain links walked by removals (tests) */
};

/* 0 or -ENOMEM. */
int listen_index_init(struct tw_listen_index *x);
/* Frees the records and buckets. Accepts a zeroed index. */
void listen_index_fini(struct tw_listen_index *x);
/* The record of c, made on first call; (re)indexed under its netns and
 * local port. NULL on allocation failure (counted). */
struct tw_listener *listen_index_add(struct tw_listen_index *x, struct tw_conn *c, uint64_t now_ns);
/* Takes c's record out of the (netns, port) index (it no longer listens);
 * the record stays. */
void listen_index_unkey(struct tw_listen_index *x, struct tw_conn *c);
/* Frees c's record, walking only its own chains. */
void listen_index_remove(struct tw_listen_index *x, struct tw_conn *c);
/* A record by its listener's cookie; NULL if none. */
struct tw_listener *listen_index_get(const struct tw_listen_index *x, uint64_t cookie);
/* The listener for an accepted connection: same netns and port, the same
 * local address or a wildcard one (an IPv6 wildcard also takes IPv4).
 * NULL if none is known. */
struct tw_conn *listen_index_find(const struct tw_listen_index *x, uint32_t netns, int family,
				  const uint8_t addr[16], uint16_t port);
/* Calls fn for every record (listening or closed). */
void listen_index_foreach(struct tw_listen_index *x, void (*fn)(struct tw_listener *l, void *data),
			  void *data);
size_t listen_index_bytes(const struct tw_listen_index *x);

/* The record's rings and histograms. Each returns -ENOMEM when the memory
 * for a ring or histogram cannot be had (counted by the caller). */
int listener_sample(struct tw_listener *l, uint64_t now_ns);
int listener_add_halfopen(struct tw_listener *l, const struct tw_halfopen *h);
/* How much a sample's counter grew within the window from since_ns to
 * the newest sample: from the last sample before the window; for a record
 * made within it, from 0 (but listen_drops of a listener a dump found:
 * the kernel counted before we saw it); else from the oldest sample (0
 * with only one). field: offsetof into struct tw_depth_sample of a
 * uint64_t counter. */
uint64_t listener_growth(const struct tw_listener *l, size_t field, uint64_t since_ns);
/* The k-th sample / half-open, newest first; NULL past the end. */
const struct tw_depth_sample *listener_depth(const struct tw_listener *l, unsigned k);
const struct tw_halfopen *listener_recent(const struct tw_listener *l, unsigned k);

#endif
