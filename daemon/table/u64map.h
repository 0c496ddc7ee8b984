/*
 * A map from 64-bit keys to 64-bit values, open addressing with linear
 * probing and backward-shift deletion (no tombstones). Key 0 is reserved
 * (empty). Bounded: past max entries an insertion is refused.
 */
#ifndef TCPWATCH_U64MAP_H
#define TCPWATCH_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tw_u64map_slot {
	uint64_t key;
	uint64_t value;
};

struct tw_u64map {
	struct tw_u64map_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t count;
	size_t max;
};

/* An empty map holding at most max entries. */
void u64map_init(struct tw_u64map *m, size_t max);
void u64map_fini(struct tw_u64map *m);
/* The value of key, or NULL. */
uint64_t *u64map_get(const struct tw_u64map *m, uint64_t key);
/* Sets key's value (adding it). 0, -ENOSPC over max, -ENOMEM, -EINVAL for
 * key 0. */
int u64map_put(struct tw_u64map *m, uint64_t key, uint64_t value);
/* Removes key; true if it was there. */
bool u64map_del(struct tw_u64map *m, uint64_t key);
static inline size_t u64map_bytes(const struct tw_u64map *m)
{
	return m->cap * sizeof(*m->slots);
}

#endif
