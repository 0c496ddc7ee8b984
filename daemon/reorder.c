#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reorder.h"

/* A ring of records with their times beside them, so the merge compares
 * without touching the records. */
struct queue {
	uint8_t *recs;
	uint64_t *times;
	size_t cap, head, len; /* cap grows by doubling up to max */
	uint16_t *lens;
	size_t peak;     /* most records held since the last shrink check */
	unsigned checks; /* releases since then */
};

#define MIN_CAP 1024
#define SHRINK_EVERY 256 /* releases (about 5 s at the daemon's drain rate) */

struct tw_reorder {
	unsigned n;
	size_t rec_size;
	size_t max_per_queue;
	size_t held;
	struct queue q[];
};

struct tw_reorder *reorder_new(unsigned n_queues, size_t rec_size, size_t max_per_queue)
{
	struct tw_reorder *r;

	if (!n_queues || !rec_size || rec_size > UINT16_MAX || !max_per_queue)
		return NULL;
	r = calloc(1, sizeof(*r) + n_queues * sizeof(struct queue));
	if (!r)
		return NULL;
	r->n = n_queues;
	r->rec_size = rec_size;
	r->max_per_queue = max_per_queue;
	return r;
}

void reorder_free(struct tw_reorder *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n; i++) {
		free(r->q[i].recs);
		free(r->q[i].times);
		free(r->q[i].lens);
	}
	free(r);
}

/* Moves the queue into arrays of cap records (cap >= len). */
static int resize(struct tw_reorder *r, struct queue *q, size_t cap)
{
	uint8_t *recs;
	uint64_t *times;
	uint16_t *lens;

	recs = malloc(cap * r->rec_size);
	times = malloc(cap * sizeof(*times));
	lens = malloc(cap * sizeof(*lens));
	if (!recs || !times || !lens) {
		free(recs);
		free(times);
		free(lens);
		return -ENOBUFS;
	}
	/* Unwrap the ring into the new arrays. */
	for (size_t i = 0; i < q->len; i++) {
		size_t from = (q->head + i) % q->cap;

		memcpy(recs + i * r->rec_size, q->recs + from * r->rec_size, r->rec_size);
		times[i] = q->times[from];
		lens[i] = q->lens[from];
	}
	free(q->recs);
	free(q->times);
	free(q->lens);
	q->recs = recs;
	q->times = times;
	q->lens = lens;
	q->cap = cap;
	q->head = 0;
	return 0;
}

static int grow(struct tw_reorder *r, struct queue *q)
{
	size_t cap = q->cap ? q->cap * 2 : MIN_CAP;

	if (cap > r->max_per_queue)
		cap = r->max_per_queue;
	if (cap <= q->cap)
		return -ENOBUFS;
	return resize(r, q, cap);
}

/* A burst (a reconcile, a flood) grows a queue to megabytes; once the
 * queue has stayed small for a while, give the memory back. */
static void maybe_shrink(struct tw_reorder *r, struct queue *q)
{
	size_t want;

	if (q->len > q->peak)
		q->peak = q->len;
	if (++q->checks < SHRINK_EVERY)
		return;
	want = q->peak * 2 > MIN_CAP ? q->peak * 2 : MIN_CAP;
	if (q->cap > 4 * want)
		resize(r, q, want); /* on failure it just stays large */
	q->peak = q->len;
	q->checks = 0;
}

int reorder_push(struct tw_reorder *r, unsigned qi, const void *rec, size_t len, uint64_t time_ns)
{
	struct queue *q;
	size_t tail;

	if (qi >= r->n || len > r->rec_size)
		return -EINVAL;
	q = &r->q[qi];
	if (q->len == q->cap && grow(r, q) < 0)
		return -ENOBUFS;
	tail = (q->head + q->len) % q->cap;
	if (q->len + 1 > q->peak)
		q->peak = q->len + 1;
	memcpy(q->recs + tail * r->rec_size, rec, len);
	q->times[tail] = time_ns;
	q->lens[tail] = (uint16_t)len;
	q->len++;
	r->held++;
	return 0;
}

size_t reorder_release(struct tw_reorder *r, uint64_t watermark_ns, reorder_cb cb, void *data)
{
	size_t released = 0;

	for (;;) {
		struct queue *best = NULL;

		/* A handful of queues (one per CPU): a linear scan of the
		 * heads is the merge. */
		for (unsigned i = 0; i < r->n; i++) {
			struct queue *q = &r->q[i];

			if (q->len && q->times[q->head] < watermark_ns &&
			    (!best || q->times[q->head] < best->times[best->head]))
				best = q;
		}
		if (!best)
			break;
		cb(best->recs + best->head * r->rec_size, best->lens[best->head], data);
		best->head = (best->head + 1) % best->cap;
		best->len--;
		r->held--;
		released++;
	}
	for (unsigned i = 0; i < r->n; i++)
		maybe_shrink(r, &r->q[i]);
	return released;
}

size_t reorder_held(const struct tw_reorder *r)
{
	return r->held;
}

size_t reorder_capacity(const struct tw_reorder *r)
{
	size_t cap = 0;

	for (unsigned i = 0; i < r->n; i++)
		cap += r->q[i].cap;
	return cap;
}
