#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ringmerge.h"

/* Hand space back to the producers at least this often during a long
 * release (one after a reconcile pass can be a whole ring). */
#define PUBLISH_EVERY 4096
/* How far ahead of the head record to prefetch (a few records; the data
 * is mapped twice, so this never leaves the mapping). */
#define PREFETCH_AHEAD 512

struct cursor {
	struct tw_ring_map map;
	uint64_t cons;      /* our position; published to map.consumer_pos */
	uint64_t prod;      /* the producer position last read */
	const uint8_t *rec; /* the head record, NULL: none ready */
	uint32_t len;
	uint64_t time_ns;
};

struct tw_ringmerge {
	unsigned n;
	struct cursor c[];
};

struct tw_ringmerge *ringmerge_new(unsigned n)
{
	struct tw_ringmerge *m;

	if (!n)
		return NULL;
	m = calloc(1, sizeof(*m) + n * sizeof(struct cursor));
	if (m)
		m->n = n;
	return m;
}

void ringmerge_free(struct tw_ringmerge *m)
{
	free(m);
}

void ringmerge_set(struct tw_ringmerge *m, unsigned i, const struct tw_ring_map *ring)
{
	struct cursor *c;

	if (i >= m->n)
		return;
	c = &m->c[i];
	*c = (struct cursor){.map = *ring};
	c->cons = __atomic_load_n(ring->consumer_pos, __ATOMIC_ACQUIRE);
	c->prod = c->cons;
}

static uint64_t round_up8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* Finds the ring's next committed record, stepping over discarded ones.
 * False when the ring is empty or its next record is still being written
 * (records are consumed in order: nothing past a busy one is read). */
static bool peek(struct cursor *c)
{
	c->rec = NULL;
	if (!c->map.data)
		return false;
	for (;;) {
		const uint8_t *h;
		uint32_t hdr, len;

		if (c->cons == c->prod) {
			c->prod = __atomic_load_n(c->map.producer_pos, __ATOMIC_ACQUIRE);
			if (c->cons == c->prod)
				return false;
		}
		h = c->map.data + (c->cons & (c->map.size - 1));
		hdr = __atomic_load_n((const uint32_t *)h, __ATOMIC_ACQUIRE);
		if (hdr & TW_RING_BUSY_BIT)
			return false;
		len = hdr & ~(TW_RING_BUSY_BIT | TW_RING_DISCARD_BIT);
		/* The kernel never writes this; reading it would leave the
		 * double mapping. Stop rather than trust it. */
		if (len > c->map.size - TW_RING_HDR_SZ)
			return false;
		if (hdr & TW_RING_DISCARD_BIT) {
			c->cons += round_up8(len + TW_RING_HDR_SZ);
			continue;
		}
		/* The records ahead were written by another CPU: start
		 * fetching them while this one is applied. */
		__builtin_prefetch(h + PREFETCH_AHEAD);
		c->rec = h + TW_RING_HDR_SZ;
		c->len = len;
		c->time_ns = 0;
		if (len >= sizeof(c->time_ns))
			memcpy(&c->time_ns, c->rec, sizeof(c->time_ns));
		return true;
	}
}

static void publish(struct tw_ringmerge *m)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->c[i].map.consumer_pos)
			__atomic_store_n(m->c[i].map.consumer_pos, m->c[i].cons, __ATOMIC_RELEASE);
}

size_t ringmerge_release(struct tw_ringmerge *m, uint64_t watermark_ns, ringmerge_cb cb, void *data)
{
	size_t released = 0;

	for (unsigned i = 0; i < m->n; i++)
		peek(&m->c[i]);
	for (;;) {
		struct cursor *best = NULL;

		/* A handful of rings (one per CPU): a linear scan of the
		 * heads is the merge. */
		for (unsigned i = 0; i < m->n; i++) {
			struct cursor *c = &m->c[i];

			if (c->rec && c->time_ns < watermark_ns &&
			    (!best || c->time_ns < best->time_ns))
				best = c;
		}
		if (!best)
			break;
		cb(best->rec, best->len, data);
		best->cons += round_up8(best->len + TW_RING_HDR_SZ);
		if (++released % PUBLISH_EVERY == 0)
			publish(m);
		peek(best);
	}
	publish(m);
	return released;
}

uint64_t ringmerge_pending_bytes(const struct tw_ringmerge *m)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < m->n; i++) {
		const struct cursor *c = &m->c[i];

		if (c->map.producer_pos)
			sum += __atomic_load_n(c->map.producer_pos, __ATOMIC_ACQUIRE) - c->cons;
	}
	return sum;
}

uint64_t ringmerge_oldest_held_ns(const struct tw_ringmerge *m)
{
	uint64_t oldest = 0;

	for (unsigned i = 0; i < m->n; i++) {
		const struct cursor *c = &m->c[i];

		if (c->rec && (!oldest || c->time_ns < oldest))
			oldest = c->time_ns;
	}
	return oldest;
}
