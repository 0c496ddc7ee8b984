/*
 * A scan of the whole table in slices: the cookies of the connections a
 * filter keeps, gathered over as many loop turns as it takes, then read
 * back in ascending order. What a listing with no index to use walks, at
 * a million connections a few hundred milliseconds, no longer in one turn.
 *
 * Each step walks buckets for about its budget and sorts what that step
 * kept: the cookies become sorted runs, back to back in one array. They
 * are merged as they are read (a heap of the runs' heads), a few hundred
 * per block of the reply, so no turn sorts or merges the whole set either.
 *
 * The table changes between steps. A connection added to a bucket already
 * walked is not listed (it came after the listing began); one removed
 * after it was gathered leaves a cookie the reader looks up and skips. A
 * table that grows between two steps has moved its records to other
 * buckets: the scan starts again (GATHER_RESTARTS times at most, after
 * which it finishes in one step; the table doubles once per doubling of
 * its count, so in practice once or twice a pass at most), so every connection present throughout
 * is listed exactly once.
 */
#ifndef TCPWATCH_GATHER_H
#define TCPWATCH_GATHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

/* More than the table can double (it never shrinks, and a doubling now
 * ends in steps, the positions unchanged until then): a bound for a
 * table grown by conntable_reserve over and over, not a case seen. */
#define GATHER_RESTARTS 64

/* The first position in the ascending v[lo..hi) whose cookie is over
 * after (hi if none): a cursor's place, by binary search. */
size_t gather_after(const uint64_t *v, size_t lo, size_t hi, uint64_t after);

struct tw_gather_run {
	size_t pos, end; /* the run's unread part of the array */
};

struct tw_gather {
	struct tw_conntable *table;
	bool (*keep)(const struct tw_conn *c, const void *ctx); /* NULL: all */
	const void *ctx;
	size_t next, buckets; /* the walk: next bucket, of how many */
	unsigned restarts;
	bool done, oom;
	uint64_t *v; /* the runs, back to back */
	size_t n, cap;
	struct tw_gather_run *runs;
	size_t nruns, runs_cap;
	size_t *heap; /* the reader's: runs by their head, smallest first */
	size_t nheap;
	bool reading;
};

/* A scan of t for the connections keep(c, ctx) accepts. keep and ctx must
 * stay valid until gather_free. */
void gather_init(struct tw_gather *g, struct tw_conntable *t,
		 bool (*keep)(const struct tw_conn *c, const void *ctx), const void *ctx);
void gather_free(struct tw_gather *g);
/* Walks buckets for about budget_ns (at least one slice); true once the
 * whole table is walked. Out of memory it stops, done, with g->oom set. */
bool gather_step(struct tw_gather *g, uint64_t budget_ns);
/* Cookies gathered (with the duplicates a restart cannot leave: none). */
size_t gather_count(const struct tw_gather *g);

/* Reading, once done: gather_seek once (0 or -ENOMEM), then gather_next
 * gives the cookies in ascending order, those over `after` (0: all). */
int gather_seek(struct tw_gather *g, uint64_t after);
bool gather_next(struct tw_gather *g, uint64_t *ret);
/* Instead of reading: all of them in one sorted array, merged in one go
 * (sort= needs them all); the caller frees it. NULL on allocation
 * failure. */
uint64_t *gather_flatten(struct tw_gather *g, size_t *ret_n);

#endif
