/*
 * The port index: for each side (local, remote) and each port, a list of
 * the connections with that port, linked through their records (struct
 * tw_port_link: 16 bytes of the record, slab handles, not pointers). A listing asked for a port
 * walks its list instead of the table, and sorts what it found into cookie order; the lists are in
 * no order, so a record joins and leaves in O(1): a line of the heads and one of its neighbour,
 * which under churn are mostly not cached (a fifth of the daemon's time at 70,000 connections a
 * second). So the index is built on the first query by port and kept from then on: a daemon nobody
 * asks by port never pays for it. On a large table the build runs in
 * slices (conntable_port_index_step, a bucket cursor; a million records
 * took 100 ms in one turn) while the query waits: from the build's start
 * every record that changes or is created joins at once, and the cursor
 * links the rest, skipping what joined already. The heads are
 * 64 Ki handles a side; if they cannot be allocated the index stays off
 * (counted) and listings scan, as before it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "clock.h"
#include "conntable_int.h"
#include "slab.h"

static uint16_t port_of(const struct tw_conn *c, enum tw_port_side side)
{
	return side == TW_PORT_LOCAL ? c->local_port : c->remote_port;
}

static struct tw_conn *at(const struct tw_conntable *t, uint32_t h)
{
	return slab_at(t->records, h);
}

static void unlink_side(struct tw_conntable *t, struct tw_conn *c, enum tw_port_side side)
{
	struct tw_port_link *l = &c->by_port[side];

	if (!l->prev)
		return;
	if (l->prev == TW_PORT_AT_HEAD)
		t->port_heads[side][port_of(c, side)] = l->next;
	else
		at(t, l->prev)->by_port[side].next = l->next;
	if (l->next)
		at(t, l->next)->by_port[side].prev = l->prev;
	l->next = 0;
	l->prev = 0;
}

void conntable_unindex_ports(struct tw_conntable *t, struct tw_conn *c)
{
	unlink_side(t, c, TW_PORT_LOCAL);
	unlink_side(t, c, TW_PORT_REMOTE);
}

static bool heads_ready(struct tw_conntable *t)
{
	if (t->port_index_broken)
		return false;
	for (int side = 0; side < TW_PORT_SIDES; side++) {
		if (t->port_heads[side])
			continue;
		t->port_heads[side] = calloc(TW_PORT_HEADS, sizeof(*t->port_heads[side]));
		if (!t->port_heads[side]) {
			t->alloc_failures++;
			t->port_index_broken = true;
			return false;
		}
	}
	return true;
}

static void link_side(struct tw_conntable *t, struct tw_conn *c, uint32_t self,
		      enum tw_port_side side)
{
	uint32_t *head = &t->port_heads[side][port_of(c, side)];
	struct tw_port_link *l = &c->by_port[side];

	l->next = *head;
	l->prev = TW_PORT_AT_HEAD;
	if (*head)
		at(t, *head)->by_port[side].prev = self;
	*head = self;
}

static void link_both(struct tw_conntable *t, struct tw_conn *c)
{
	uint32_t self = slab_handle(t->records, c);

	link_side(t, c, self, TW_PORT_LOCAL);
	link_side(t, c, self, TW_PORT_REMOTE);
}

void conntable_set_ports(struct tw_conntable *t, struct tw_conn *c, uint16_t local_port,
			 uint16_t remote_port)
{
	/* Events set a record's ports on every transition: a listed record
	 * moves only when they changed. */
	if (t->port_index_kept && c->by_port[TW_PORT_LOCAL].prev && c->local_port == local_port &&
	    c->remote_port == remote_port)
		return;
	conntable_unindex_ports(t, c);
	c->local_port = local_port;
	c->remote_port = remote_port;
	if (!t->port_index_kept)
		return;
	link_both(t, c);
}

/* The build's start: heads, and records joining as they change. */
static bool build_begin(struct tw_conntable *t)
{
	if (t->port_index_kept)
		return true;
	if (!heads_ready(t))
		return false;
	t->port_index_kept = true;
	t->port_build_pos = 0;
	t->port_build_cap = conntable_bucket_count(t);
	return true;
}

/* Buckets between clock reads: a few microseconds. */
#define BUILD_CHECK_EVERY 128

static void build_one(struct tw_conn *c, void *data)
{
	struct tw_conntable *t = data;

	if (!c->by_port[TW_PORT_LOCAL].prev)
		link_both(t, c);
}

bool conntable_port_index_step(struct tw_conntable *t, uint64_t budget_ns)
{
	uint64_t t0;

	if (t->port_index_on)
		return true;
	if (!build_begin(t))
		return true; /* no heads: queries scan */
	if (t->port_build_cap != conntable_bucket_count(t)) {
		/* Rehashed: the cursor's buckets moved. Start over; what
		 * joined already is skipped. */
		t->port_build_pos = 0;
		t->port_build_cap = conntable_bucket_count(t);
	}
	t0 = budget_ns == UINT64_MAX ? 0 : clock_mono_ns();
	t->port_build_steps++;
	while (t->port_build_pos < t->port_build_cap) {
		t->port_build_pos = conntable_foreach_buckets(
			t, t->port_build_pos,
			budget_ns == UINT64_MAX ? t->port_build_cap : BUILD_CHECK_EVERY, build_one,
			t);
		if (budget_ns != UINT64_MAX && t->port_build_pos < t->port_build_cap &&
		    clock_mono_ns() - t0 >= budget_ns)
			return false;
	}
	t->port_index_on = true;
	return true;
}

bool conntable_port_index_ready(const struct tw_conntable *t)
{
	return t->port_index_on || t->port_index_broken;
}

/* A query by port: the index, completed at once if need be. */
static bool index_on(struct tw_conntable *t)
{
	conntable_port_index_step(t, UINT64_MAX);
	return t->port_index_on;
}

size_t conntable_port_count(struct tw_conntable *t, enum tw_port_side side, uint16_t port,
			    size_t stop)
{
	size_t n = 0;

	if (side >= TW_PORT_SIDES || !index_on(t))
		return SIZE_MAX;
	for (uint32_t h = t->port_heads[side][port]; h && n < stop;
	     h = at(t, h)->by_port[side].next)
		n++;
	return n;
}

uint64_t *conntable_port_cookies(struct tw_conntable *t, enum tw_port_side side, uint16_t port,
				 size_t *ret_count)
{
	return conntable_port_cookies_where(t, side, port, NULL, NULL, ret_count);
}

uint64_t *conntable_port_cookies_where(struct tw_conntable *t, enum tw_port_side side,
				       uint16_t port,
				       bool (*keep)(const struct tw_conn *c, const void *ctx),
				       const void *ctx, size_t *ret_count)
{
	size_t n = conntable_port_count(t, side, port, SIZE_MAX), i = 0;
	uint64_t *v;

	*ret_count = 0;
	if (n == SIZE_MAX) {
		errno = ENOENT;
		return NULL;
	}
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v) {
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t h = t->port_heads[side][port]; h && i < n; h = at(t, h)->by_port[side].next) {
		const struct tw_conn *c = at(t, h);

		if (!keep || keep(c, ctx))
			v[i++] = c->cookie;
	}
	qsort(v, i, sizeof(*v), conntable_cmp_u64);
	*ret_count = i;
	return v;
}

void conntable_free_port_index(struct tw_conntable *t)
{
	for (int side = 0; side < TW_PORT_SIDES; side++) {
		free(t->port_heads[side]);
		t->port_heads[side] = NULL;
	}
}
