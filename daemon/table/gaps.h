/*
 * When events were lost: the windows in which the ring buffers overflowed
 * (or the daemon was not running). A connection whose life overlaps one
 * may lack part of its history; it is marked so (history_gap) rather
 * than telling a story with a hole in it. Kept as a bounded list of
 * windows, not as a mark on each connection: a loss under churn would
 * otherwise touch the whole table.
 */
#ifndef TCPWATCH_GAPS_H
#define TCPWATCH_GAPS_H

#include <stdbool.h>
#include <stdint.h>

#define TW_GAPS_MAX 64

struct tw_gaps {
	uint64_t start_ns[TW_GAPS_MAX], end_ns[TW_GAPS_MAX]; /* oldest first, from first */
	uint32_t first, n;
	/* Windows pushed out of the list end no later than this: a life
	 * that began before it may overlap one of them. 0: none. */
	uint64_t forgotten_end_ns;
	uint64_t noted; /* windows noted, all time */
};

void gaps_init(struct tw_gaps *g);
/* Events may be missing from [start_ns, end_ns] (CLOCK_MONOTONIC). A
 * window overlapping or touching the newest one extends it. */
void gaps_note(struct tw_gaps *g, uint64_t start_ns, uint64_t end_ns);
/* True if [from_ns, to_ns] overlaps a window. */
bool gaps_overlap(const struct tw_gaps *g, uint64_t from_ns, uint64_t to_ns);

#endif
