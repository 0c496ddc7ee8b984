/*
 * A pass over the whole table in slices: what a summary, the metrics and
 * the findings count, walked over as many loop turns as it takes instead
 * of one (a million records are 50 to 100 ms of cache misses).
 *
 * Each step visits buckets for about its budget. The table changes
 * between steps: a connection added to a bucket already walked is not
 * counted (it came after the pass began), one removed after its visit was
 * counted (it was there when the pass began). A table that grows between
 * two steps has moved its records to other buckets: reset clears what was
 * counted and the walk starts again (WALK_RESTARTS times at most, after
 * which it finishes in one step; the table doubles once per doubling of
 * its count, so in practice once or twice a pass at most), so every connection present throughout
 * is visited exactly once.
 */
#ifndef TCPWATCH_WALK_H
#define TCPWATCH_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

/* More than the table can double (it never shrinks, and a doubling now
 * ends in steps, the positions unchanged until then): a bound for a
 * table grown by conntable_reserve over and over, not a case seen. */
#define WALK_RESTARTS 64

struct tw_walk {
	struct tw_conntable *table;
	void (*visit)(struct tw_conn *c, void *data);
	void (*reset)(void *data); /* before a restart; NULL: nothing to clear */
	void *data;
	size_t next, buckets; /* the next bucket, of how many */
	unsigned restarts;
	uint64_t steps; /* steps taken: 1 for a pass done in one */
	bool done;
};

void walk_init(struct tw_walk *w, struct tw_conntable *t,
	       void (*visit)(struct tw_conn *c, void *data), void (*reset)(void *data), void *data);
/* Visits buckets for about budget_ns (at least one slice); true once the
 * whole table is walked. */
bool walk_step(struct tw_walk *w, uint64_t budget_ns);
/* The whole pass now, in this turn (a small table, or no loop to spread
 * it over). */
void walk_all(struct tw_walk *w);

#endif
