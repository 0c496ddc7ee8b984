/*
 * A scan of the whole table in slices: the cookies of the connections a
 * filter keeps, gathered over as many loop turns as it takes, then read
 * back in ascending order. What a listing with no index to use walks, at
 * a million connections a few hundred milliseconds, no longer in one turn.
 *
 * Each step walks the records in slab order (conntable_scan_states) for
 * about its budget and sorts what that step kept: the cookies become
 * sorted runs, back to back in one array. They are merged as they are
 * read (a heap of the runs' heads), a few hundred per block of the
 * reply, so no turn sorts or merges the whole set either.
 *
 * The walk reads the records' state tags, a byte each, and only the
 * records whose state the filter can keep: a query for SYN_SENT at a
 * million connections reads a megabyte of tags, not a million records.
 * In slab order, the records it does read come in address order (each
 * a few lines after the last), which the hardware prefetches; in bucket
 * order each was a cache miss.
 *
 * The table changes between steps. A record lives where it was put until
 * it is freed, so a connection present throughout is listed exactly once
 * and the walk never starts again (in bucket order a growth of the table
 * moved the records and it did). One added behind the cursor is not
 * listed (it came after the listing began); one removed after it was
 * gathered leaves a cookie the reader looks up and skips.
 */
#ifndef TCPWATCH_GATHER_H
#define TCPWATCH_GATHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

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
	uint32_t states; /* TW_STATE_BIT mask: the records' tags read */
	uint32_t cursor; /* the walk's next slot (conntable_scan_states) */
	bool done, oom;
	uint64_t *v; /* the runs, back to back */
	size_t n, cap;
	struct tw_gather_run *runs;
	size_t nruns, runs_cap;
	size_t *heap; /* the reader's: runs by their head, smallest first */
	size_t nheap;
	bool reading;
};

/* A scan of t for the connections keep(c, ctx) accepts, of those whose
 * state is in states (TW_STATE_BIT mask; UINT32_MAX: any): keep must
 * refuse every other state. keep and ctx must stay valid until
 * gather_free. */
void gather_init(struct tw_gather *g, struct tw_conntable *t,
		 bool (*keep)(const struct tw_conn *c, const void *ctx), const void *ctx,
		 uint32_t states);
void gather_free(struct tw_gather *g);
/* Walks records for about budget_ns (at least one slice); true once the
 * whole table is walked. Out of memory it stops, done, with g->oom set. */
bool gather_step(struct tw_gather *g, uint64_t budget_ns);
/* Cookies gathered. */
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
