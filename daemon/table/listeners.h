/*
 * The listener index: listening sockets by (netns, port), so that an
 * accepted child finds its listener (and the listener's owner) in one
 * short chain, and by cookie, so that a listener that closes leaves from
 * its own chain without a search of the others.
 */
#ifndef TCPWATCH_LISTENERS_H
#define TCPWATCH_LISTENERS_H

#include <stddef.h>
#include <stdint.h>

struct tw_conn;

struct tw_listen_node {
	uint64_t cookie;
	uint64_t key; /* (netns, port) it was indexed under */
	struct tw_conn *conn;
	struct tw_listen_node *next_by_key;
	struct tw_listen_node *next_by_cookie;
};

struct tw_listen_index {
	struct tw_listen_node **by_key;
	struct tw_listen_node **by_cookie;
	size_t cap; /* buckets of each, a power of two */
	size_t count;
	uint64_t alloc_failures; /* listeners not indexed for want of memory */
	uint64_t steps;          /* chain links walked by removals (tests) */
};

/* 0 or -ENOMEM. */
int listen_index_init(struct tw_listen_index *x);
/* Frees the nodes and buckets. Accepts a zeroed index. */
void listen_index_fini(struct tw_listen_index *x);
/* Indexes c under its netns and local port. 0 or -ENOMEM (counted). */
int listen_index_add(struct tw_listen_index *x, struct tw_conn *c);
/* Removes c (indexed by listen_index_add), walking only its own chains. */
void listen_index_remove(struct tw_listen_index *x, struct tw_conn *c);
/* The listener for an accepted connection: same netns and port, the same
 * local address or a wildcard one (an IPv6 wildcard also takes IPv4).
 * NULL if none is known. */
struct tw_conn *listen_index_find(const struct tw_listen_index *x, uint32_t netns, int family,
				  const uint8_t addr[16], uint16_t port);
static inline size_t listen_index_bytes(const struct tw_listen_index *x)
{
	return 2 * x->cap * sizeof(*x->by_key) + x->count * sizeof(struct tw_listen_node);
}

#endif
