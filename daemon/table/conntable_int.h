/*
 * The connection table's record, shared by conntable.c (the chains,
 * retention, listeners) and sidemap.c (the side indexes: request sockets
 * by 4-tuple, drop counts by cookie). Not for other modules: they use
 * conntable.h.
 */
#ifndef TCPWATCH_CONNTABLE_INT_H
#define TCPWATCH_CONNTABLE_INT_H

#include "conntable.h"
#include "gaps.h"
#include "listeners.h"
#include "lookups.h"
#include "nsstat.h"
#include "retain.h"
#include "slab.h"
#include "u64map.h"

/* Request sockets in the 4-tuple index, and connections with drop counts,
 * at most (both are a few unless something is wrong; then bounded). */
#define REQUESTS_MAX    (1u << 20)
#define DROP_COUNTS_MAX 65536

struct tw_conntable {
	struct tw_conntable_limits limits;
	struct tw_link *buckets; /* chains, newest first */
	size_t cap;              /* buckets, a power of two */
	/* A doubling under way, done a few buckets per insert: the buckets
	 * before old_cap's mig are in buckets (each old bucket j split into
	 * j and j + old_cap), the rest still in old. NULL: none. */
	struct tw_link *old;
	size_t old_cap, mig;
	uint64_t doublings;
	size_t count;
	size_t live;
	struct tw_retain retained; /* closed connections, oldest first */
	struct tw_listen_index listeners;
	struct tw_u64map requests; /* 4-tuple hash -> request socket's cookie */
	struct tw_u64map drop_map; /* cookie -> struct tw_drop_counts * */
	struct tw_lookups lookups;
	struct tw_nsstat_set nsstat;
	uint64_t refused_full;
	uint64_t requests_live;    /* records with TW_CONN_REQUEST */
	uint64_t requests_refused; /* over max_requests */
	uint64_t evicted;
	uint64_t history_dropped;
	uint64_t drop_entries_elided; /* drops counted but not in a history */
	struct tw_totals totals;      /* since start: closes, histograms */
	uint64_t alloc_failures;
	uint64_t hist_bytes;
	struct tw_slab *records;
	struct tw_gaps gaps; /* when events were lost */
	/* The port index: per side, the first connection of each port's list
	 * (a slab handle, 0: none; allocated on first use, 256 KiB a side;
	 * broken if that failed, when queries scan instead). */
	uint32_t *port_heads[TW_PORT_SIDES]; /* TW_PORT_HEADS each */
	bool port_index_on;                  /* complete: answers queries by port */
	bool port_index_kept;      /* records join it as they change (from the build's start) */
	size_t port_build_pos;     /* the build's next bucket (conntable_port_index_step) */
	size_t port_build_cap;     /* the buckets it walks: a rehash starts it over */
	uint64_t port_build_steps; /* slices the builds took (a whole build: one) */
	bool port_index_broken;    /* its heads could not be allocated */
};

#define TW_PORT_HEADS 65536 /* one per port */

/* The connection a link leads to (conntable.c has the chains' story). */
static inline struct tw_conn *link_to(const struct tw_link *l)
{
	return (struct tw_conn *)(l->to & ~(uintptr_t)1);
}

/* qsort's order of uint64_t (cookies). */
int conntable_cmp_u64(const void *a, const void *b);

/* A connection leaves the port index (conntable_remove). */
void conntable_unindex_ports(struct tw_conntable *t, struct tw_conn *c);
void conntable_free_port_index(struct tw_conntable *t);

/* A request's tuple entry and a connection's drop counts leave with it
 * (sidemap.c). */
void conntable_forget_side_entries(struct tw_conntable *t, struct tw_conn *c);

#endif
