/*
 * The port index: for each side (local, remote) and each port, a list of
 * the connections with that port, linked through their records (struct
 * tw_port_link, 32 bytes of the record, which the slab's 384-byte stride
 * had free). A listing asked for a port walks its list instead of the
 * table, and sorts what it found into cookie order; the lists are in no
 * order, so a record joins and leaves in O(1): a line of the heads and one
 * of its neighbour, which under churn are mostly not cached (a fifth of
 * the daemon's time at 70,000 connections a second). So the index is
 * built on the first query by port (one pass over the table) and kept from
 * then on: a daemon nobody asks by port never pays for it. The heads are
 * 64 Ki pointers a side; if they cannot be allocated the index stays off
 * (counted) and listings scan, as before it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "conntable_int.h"

static uint16_t port_of(const struct tw_conn *c, enum tw_port_side side)
{
	return side == TW_PORT_LOCAL ? c->local_port : c->remote_port;
}

static void unlink_side(struct tw_conn *c, enum tw_port_side side)
{
	struct tw_port_link *l = &c->by_port[side];

	if (!l->pprev)
		return;
	*l->pprev = l->next;
	if (l->next)
		l->next->by_port[side].pprev = l->pprev;
	l->next = NULL;
	l->pprev = NULL;
}

void conntable_unindex_ports(struct tw_conn *c)
{
	unlink_side(c, TW_PORT_LOCAL);
	unlink_side(c, TW_PORT_REMOTE);
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

static void link_side(struct tw_conntable *t, struct tw_conn *c, enum tw_port_side side)
{
	struct tw_conn **head = &t->port_heads[side][port_of(c, side)];
	struct tw_port_link *l = &c->by_port[side];

	l->next = *head;
	l->pprev = head;
	if (*head)
		(*head)->by_port[side].pprev = &l->next;
	*head = c;
}

void conntable_set_ports(struct tw_conntable *t, struct tw_conn *c, uint16_t local_port,
			 uint16_t remote_port)
{
	/* Events set a record's ports on every transition: a listed record
	 * moves only when they changed. */
	if (t->port_index_on && c->by_port[TW_PORT_LOCAL].pprev && c->local_port == local_port &&
	    c->remote_port == remote_port)
		return;
	conntable_unindex_ports(c);
	c->local_port = local_port;
	c->remote_port = remote_port;
	if (!t->port_index_on)
		return;
	link_side(t, c, TW_PORT_LOCAL);
	link_side(t, c, TW_PORT_REMOTE);
}

static void join(struct tw_conn *c, void *data)
{
	link_side(data, c, TW_PORT_LOCAL);
	link_side(data, c, TW_PORT_REMOTE);
}

/* The first query by port: every record joins its lists. */
static bool index_on(struct tw_conntable *t)
{
	if (t->port_index_on)
		return true;
	if (!heads_ready(t))
		return false;
	conntable_foreach(t, join, t);
	t->port_index_on = true;
	return true;
}

size_t conntable_port_count(struct tw_conntable *t, enum tw_port_side side, uint16_t port,
			    size_t stop)
{
	size_t n = 0;

	if (side >= TW_PORT_SIDES || !index_on(t))
		return SIZE_MAX;
	for (struct tw_conn *c = t->port_heads[side][port]; c && n < stop;
	     c = c->by_port[side].next)
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
	for (struct tw_conn *c = t->port_heads[side][port]; c && i < n; c = c->by_port[side].next)
		if (!keep || keep(c, ctx))
			v[i++] = c->cookie;
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
