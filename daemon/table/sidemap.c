/*
 * The table's side indexes: request sockets by their 4-tuple (so the child
 * a request becomes finds it), and drop counts by cookie (only the few
 * connections that have any), with the accessors of the table's parts.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conntable_int.h"
#include "lifecycle.h"

static uint64_t tuple_key(uint32_t netns, int family, const uint8_t local[16], uint16_t local_port,
			  const uint8_t remote[16], uint16_t remote_port)
{
	uint64_t h = 0xcbf29ce484222325ull ^ netns;
	size_t n = family == AF_INET6 ? 16 : 4;

	for (size_t i = 0; i < n; i++)
		h = (h ^ local[i]) * 0x100000001b3ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ remote[i]) * 0x100000001b3ull;
	h = (h ^ ((uint64_t)local_port << 16 | remote_port)) * 0x100000001b3ull;
	return h ? h : 1;
}

static uint64_t conn_tuple_key(const struct tw_conn *c)
{
	return tuple_key(c->netns, c->family, c->local_addr, c->local_port, c->remote_addr,
			 c->remote_port);
}

/* A request leaves the 4-tuple index (if the entry is still its own). */
static void unindex_tuple(struct tw_conntable *t, struct tw_conn *c)
{
	uint64_t key, *v;

	if (!(c->flags & TW_CONN_TUPLE_INDEXED))
		return;
	key = conn_tuple_key(c);
	v = u64map_get(&t->requests, key);
	if (v && *v == c->cookie)
		u64map_del(&t->requests, key);
	c->flags &= ~TW_CONN_TUPLE_INDEXED;
}

void conntable_forget_side_entries(struct tw_conntable *t, struct tw_conn *c)
{
	unindex_tuple(t, c);
	if (c->flags & TW_CONN_HAS_DROPS) {
		uint64_t *v = u64map_get(&t->drop_map, c->cookie);

		if (v) {
			free((void *)(uintptr_t)*v);
			u64map_del(&t->drop_map, c->cookie);
		}
		c->flags &= ~TW_CONN_HAS_DROPS;
	}
}

void conntable_request_became_child(struct tw_conntable *t, struct tw_conn *c)
{
	unindex_tuple(t, c);
	if (c->flags & TW_CONN_REQUEST) {
		c->flags &= ~TW_CONN_REQUEST;
		t->requests_live--;
	}
}

void conntable_index_request(struct tw_conntable *t, struct tw_conn *c)
{
	if (c->flags & TW_CONN_TUPLE_INDEXED)
		return;
	if (u64map_put(&t->requests, conn_tuple_key(c), c->cookie) < 0) {
		t->alloc_failures++;
		return;
	}
	c->flags |= TW_CONN_TUPLE_INDEXED;
}

void conntable_foreach_request(struct tw_conntable *t, void (*fn)(struct tw_conn *req, void *data),
			       void *data)
{
	for (size_t i = 0; i < t->requests.cap; i++) {
		struct tw_conn *c;

		if (t->requests.slots[i].key && (c = conntable_get(t, t->requests.slots[i].value)))
			fn(c, data);
	}
}

struct tw_conn *conntable_find_request(struct tw_conntable *t, uint32_t netns, int family,
				       const uint8_t local[16], uint16_t local_port,
				       const uint8_t remote[16], uint16_t remote_port)
{
	uint64_t *v = u64map_get(&t->requests,
				 tuple_key(netns, family, local, local_port, remote, remote_port));
	struct tw_conn *c;
	size_t n = family == AF_INET6 ? 16 : 4;

	if (!v || !(c = conntable_get(t, *v)))
		return NULL;
	/* The key is a hash: the request must really have this tuple. */
	if (c->netns != netns || c->family != family || c->local_port != local_port ||
	    c->remote_port != remote_port || memcmp(c->local_addr, local, n) ||
	    memcmp(c->remote_addr, remote, n))
		return NULL;
	return c;
}

struct tw_lookups *conntable_lookups(struct tw_conntable *t)
{
	return &t->lookups;
}

struct tw_totals *conntable_totals(struct tw_conntable *t)
{
	return &t->totals;
}

struct tw_nsstat_set *conntable_nsstat(struct tw_conntable *t)
{
	return &t->nsstat;
}

const struct tw_drop_counts *conntable_drops(struct tw_conntable *t, const struct tw_conn *c)
{
	uint64_t *v;

	if (!(c->flags & TW_CONN_HAS_DROPS) || !(v = u64map_get(&t->drop_map, c->cookie)))
		return NULL;
	return (const struct tw_drop_counts *)(uintptr_t)*v;
}

int conntable_add_drop(struct tw_conntable *t, struct tw_conn *c, unsigned reason)
{
	struct tw_drop_counts *d;
	uint64_t *v;
	int r;

	if (c->drops < UINT16_MAX)
		c->drops++;
	if (c->flags & TW_CONN_HAS_DROPS && (v = u64map_get(&t->drop_map, c->cookie))) {
		drop_counts_add((struct tw_drop_counts *)(uintptr_t)*v, reason);
		return 0;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		t->alloc_failures++;
		return -ENOMEM;
	}
	r = u64map_put(&t->drop_map, c->cookie, (uint64_t)(uintptr_t)d);
	if (r < 0) {
		free(d);
		t->alloc_failures++;
		return r;
	}
	drop_counts_add(d, reason);
	c->flags |= TW_CONN_HAS_DROPS;
	return 0;
}

void conntable_record_drop(struct tw_conntable *t, struct tw_conn *c, unsigned reason,
			   uint64_t time_ns)
{
	struct tw_hist h = {
		.time_ns = time_ns,
		.kind = TW_HIST_DROP,
		.from = c->state,
		.value = reason < TW_HIST_VALUE_MAX ? reason : TW_HIST_VALUE_MAX,
	};

	conntable_add_drop(t, c, reason);
	/* Rate-limited: a burst of the same drop is one entry and a count. */
	for (int i = c->hist_len; i > 0 && i > (int)c->hist_len - 8; i--) {
		struct tw_hist p = conn_hist(c, (uint32_t)i - 1u);

		if (p.kind == TW_HIST_DROP && p.value == h.value &&
		    time_ns < p.time_ns + TW_DROP_HIST_GAP_NS) {
			t->drop_entries_elided++;
			return;
		}
	}
	conntable_hist_append(t, c, &h);
}
