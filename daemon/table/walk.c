#include "clock.h"
#include "walk.h"

/* Buckets per slice between two looks at the clock: a few hundred
 * microseconds of cache misses at worst. */
#define WALK_SLICE 2048

void walk_init(struct tw_walk *w, struct tw_conntable *t,
	       void (*visit)(struct tw_conn *c, void *data), void (*reset)(void *data), void *data)
{
	*w = (struct tw_walk){.table = t,
			      .visit = visit,
			      .reset = reset,
			      .data = data,
			      .buckets = conntable_bucket_count(t)};
}

bool walk_step(struct tw_walk *w, uint64_t budget_ns)
{
	uint64_t t0 = clock_mono_ns();
	bool bounded;

	if (w->done)
		return true;
	w->steps++;
	if (conntable_bucket_count(w->table) != w->buckets) {
		w->restarts++;
		w->next = 0;
		w->buckets = conntable_bucket_count(w->table);
		if (w->reset)
			w->reset(w->data);
	}
	/* Past its restarts the pass finishes now: nothing can move the
	 * records while one step runs. */
	bounded = w->restarts < WALK_RESTARTS;
	while (w->next < w->buckets) {
		w->next =
			conntable_foreach_buckets(w->table, w->next, WALK_SLICE, w->visit, w->data);
		if (bounded && clock_mono_ns() - t0 >= budget_ns)
			break;
	}
	w->done = w->next >= w->buckets;
	return w->done;
}

void walk_all(struct tw_walk *w)
{
	w->restarts = WALK_RESTARTS;
	walk_step(w, 0);
}
