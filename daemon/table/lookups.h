/*
 * Drops the kernel could not tie to a socket (a packet dropped before its
 * socket was looked up: a bad checksum, a netfilter rule) name only a
 * 4-tuple. The table has no index by 4-tuple for every connection (it
 * would cost every new connection), so they wait here, bounded, for the
 * kernel layer to ask sock_diag which socket has that tuple
 * (kernel/sync.c), then are counted on it. A drop that finds no room is
 * counted and forgotten.
 */
#ifndef TCPWATCH_LOOKUPS_H
#define TCPWATCH_LOOKUPS_H

#include <stdbool.h>
#include <stdint.h>

#define TW_LOOKUPS_MAX 256

struct tw_lookup {
	uint64_t time_ns;
	uint32_t netns;
	uint8_t family;
	uint16_t reason;
	uint8_t local_addr[16], remote_addr[16];
	uint16_t local_port, remote_port;
};

struct tw_lookups {
	struct tw_lookup v[TW_LOOKUPS_MAX];
	unsigned head, n;
	uint64_t queued, refused, found, not_found;
};

/* Queues a lookup; false (and counted) when the queue is full. */
bool lookups_push(struct tw_lookups *q, const struct tw_lookup *l);
/* Takes the oldest; false when empty. */
bool lookups_pop(struct tw_lookups *q, struct tw_lookup *ret);

#endif
