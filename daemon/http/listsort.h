/*
 * The order of a listing (sort=KEY, sort=-KEY descending): keys computed
 * once per connection, then one qsort. Ties, and the default, go by
 * cookie ascending, so an order is stable from one listing to the next.
 * Pure logic, no I/O.
 */
#ifndef TCPWATCH_LISTSORT_H
#define TCPWATCH_LISTSORT_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "conntable.h"

enum listsort_key {
	LISTSORT_NONE = 0, /* cookie order, the default */
	LISTSORT_COOKIE,
	LISTSORT_STATE,  /* the kernel's state numbers; retained (closed) as CLOSE */
	LISTSORT_LOCAL,  /* family, address, port */
	LISTSORT_REMOTE, /* family, address, port */
	LISTSORT_RTT,    /* the last tcp_info sample's srtt; unsampled last */
	LISTSORT_BYTES,  /* bytes_acked + bytes_received; unsampled last */
	LISTSORT_AGE,    /* since first seen (to its close, when closed) */
	LISTSORT_KEYS,
};

struct listsort {
	uint8_t key; /* enum listsort_key */
	bool descending;
};

/* One connection's place in the order. */
struct listsort_entry {
	uint64_t unknown; /* 1: no value for the key (sorts last both ways) */
	uint64_t k[4];    /* compared in turn; inverted when descending */
	uint64_t cookie;
};

/* The accepted keys, for messages: "state, local, ...". */
extern const char listsort_keys_text[];

/* Parses "KEY" or "-KEY" (descending). 0 or -EINVAL (ret untouched). */
int listsort_parse(const char *text, struct listsort *ret);
/* c's entry under order s at clk's time. */
void listsort_entry_of(const struct listsort *s, const struct tw_conn *c,
		       const struct tw_clock *clk, struct listsort_entry *ret);
/* qsort comparator of struct listsort_entry. */
int listsort_cmp(const void *a, const void *b);

#endif
