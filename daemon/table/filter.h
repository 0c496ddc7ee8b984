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

#endif
