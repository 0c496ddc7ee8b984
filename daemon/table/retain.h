/*
 * Retention: the closed connections the table keeps, oldest first, in a
 * ring of pointers. Who leaves next is known, and so is the one a few
 * places behind it, without reading the records in between: the table
 * prefetches the victims ahead (conntable.c).
 *
 * The positions run free (32 bits) and wrap; the capacity is a power of
 * two. A connection that leaves from the middle (revived, removed) leaves
 * a hole, which the ends step over. The small operations are inline: they
 * run for every connection that closes under churn.
 */
#ifndef TCPWATCH_RETAIN_H
#define TCPWATCH_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

struct tw_retain {
	struct tw_conn **ring;
	uint32_t cap, head, tail;
	size_t count; /* connections in it (not holes) */
};

static inline struct tw_conn **retain_slot(const struct tw_retain *r, uint32_t pos)
{
	return &r->ring[pos & (r->cap - 1)];
}

/* The oldest retained connection, or NULL. Steps over holes. */
static inline struct tw_conn *retain_oldest(struct tw_retain *r)
{
	for (; r->head != r->tail; r->head++) {
		struct tw_conn *c = *retain_slot(r, r->head);

		if (c)
			return c;
	}
	return NULL;
}

/* The connection k places after the head (a hole or beyond the tail:
 * NULL). */
static inline struct tw_conn *retain_ahead(const struct tw_retain *r, uint32_t k)
{
	return r->tail - r->head > k ? *retain_slot(r, r->head + k) : NULL;
}

static inline void retain_unlink(struct tw_retain *r, struct tw_conn *c)
{
	*retain_slot(r, c->retain_pos) = NULL;
	r->count--;
	if (c->retain_pos == r->head)
		retain_oldest(r);
	else if (c->retain_pos == r->tail - 1)
		while (r->tail != r->head && !*retain_slot(r, r->tail - 1))
			r->tail--;
}

static inline int retain_full(const struct tw_retain *r)
{
	return r->tail - r->head == r->cap;
}

/* Frees the ring (not the connections). Accepts a zeroed one. */
void retain_fini(struct tw_retain *r);
/* Makes room in a full ring: a new one, twice the size, or the same size
 * if at least half of it is holes. Renumbers the positions (touching every
 * retained record), so it runs at most once per cap / 2 retirements.
 * 0, or -ENOMEM (the ring is unchanged). */
int retain_make_room(struct tw_retain *r);
/* Appends c as the newest (the ring must not be full). */
static inline void retain_push(struct tw_retain *r, struct tw_conn *c)
{
	c->retain_pos = r->tail++;
	*retain_slot(r, c->retain_pos) = c;
	r->count++;
}

/* Heap bytes of the ring. */
static inline size_t retain_bytes(const struct tw_retain *r)
{
	return (size_t)r->cap * sizeof(*r->ring);
}

#endif
