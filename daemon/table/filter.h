/*
 * Filters for connection listings, set from the API's query parameters.
 * Errors come back as a message naming the bad parameter.
 */
#ifndef TCPWATCH_FILTER_H
#define TCPWATCH_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"
#include "ssfilter.h"

#define TW_FILTER_MAX_VALUE 256 /* longest value accepted for one parameter */

struct tw_addr_match {
	bool set;
	int family;
	uint8_t addr[16];
	unsigned prefix_len;
};

struct tw_filter {
	uint32_t states; /* TW_STATE_BIT mask; CLOSE selects retained connections */
	int family;      /* 0 = any */
	struct tw_addr_match local, remote;
	int32_t local_port; /* -1 = any */
	int32_t remote_port;
	int64_t pid;             /* -1 = any */
	int64_t netns;           /* -1 = any */
	uint64_t limit;          /* rows at most */
	uint64_t after;          /* cursor: only cookies greater than this */
	struct tw_ssfilter expr; /* filter=: an ss(8) expression */
	int error_offset;        /* a refused filter=: its bad token's offset, else -1 */
};

#define TW_FILTER_DEFAULT_LIMIT 1000000ull

void filter_init(struct tw_filter *f);
/* Applies one query parameter. 0, or -EINVAL with a message in err. */
int filter_set(struct tw_filter *f, const char *key, const char *value, char *err, size_t err_len);
bool filter_match(const struct tw_filter *f, const struct tw_conn *c);
/* True if f asks for every connection (state=all, no other condition):
 * the planner then gathers without it. What state=all still leaves out (a
 * half-open request socket, as ss does) is refused when the listing writes
 * it, which applies f again. */
bool filter_is_everything(const struct tw_filter *f);
/* The query planner's key: the port every match must have on each side
 * (ports[TW_PORT_LOCAL], ports[TW_PORT_REMOTE]; -1 where none is required),
 * from local_port= and remote_port= and from the and-ed terms of filter=
 * (sport = :P, dport = :P, src ADDR:P, dst ADDR:P; not under or or not). */
void filter_required_ports(const struct tw_filter *f, int32_t ports[TW_PORT_SIDES]);
/* The query planner: the cookies, ascending, of the connections f matches
 * now, gathered from a required port's list in the port index (the
 * shorter side's when both have one), else from every record. The same as
 * a scan of the table, in the same order. A new array the caller frees
 * (*ret_n set); NULL when out of memory. */
uint64_t *filter_plan_cookies(struct tw_conntable *t, const struct tw_filter *f, size_t *ret_n);
/* Whether filter_plan_cookies would scan the whole table (no port the
 * filter requires): what a listing then does in slices (gather.h). */
bool filter_plan_scans(const struct tw_filter *f);

#endif
