#include <errno.h>
#include <stdlib.h>

#include "u64map.h"

static size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

void u64map_init(struct tw_u64map *m, size_t max)
{
	m->slots = NULL;
	m->cap = m->count = 0;
	m->max = max;
}

void u64map_fini(struct tw_u64map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}

uint64_t *u64map_get(const struct tw_u64map *m, uint64_t key)
{
	if (!m->cap || !key)
		return NULL;
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key)
			return &m->slots[i].value;
		if (!m->slots[i].key)
			return NULL;
	}
}

static int grow(struct tw_u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct tw_u64map_slot *s = calloc(cap, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->slots[i].key)
			continue;
		for (j = slot_of(m->slots[i].key, cap); s[j].key; j = (j + 1) & (cap - 1))
			;
		s[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = s;
	m->cap = cap;
	return 0;
}

int u64map_put(struct tw_u64map *m, uint64_t key, uint64_t value)
{
	uint64_t *v = u64map_get(m, key);
	size_t i;

	if (!key)
		return -EINVAL;
	if (v) {
		*v = value;
		return 0;
	}
	if (m->count >= m->max)
		return -ENOSPC;
	/* At most half full: probes stay short. */
	if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
		return -ENOMEM;
	for (i = slot_of(key, m->cap); m->slots[i].key; i = (i + 1) & (m->cap - 1))
		;
	m->slots[i].key = key;
	m->slots[i].value = value;
	m->count++;
	return 0;
}

bool u64map_del(struct tw_u64map *m, uint64_t key)
{
	size_t i, j;

	if (!m->cap || !key)
		return false;
	for (i = slot_of(key, m->cap); m->slots[i].key != key; i = (i + 1) & (m->cap - 1))
		if (!m->slots[i].key)
			return false;
	/* Backward shift: move up every entry after i whose home is not
	 * between i and it, so no probe sequence is broken. */
	for (j = (i + 1) & (m->cap - 1); m->slots[j].key; j = (j + 1) & (m->cap - 1)) {
		size_t home = slot_of(m->slots[j].key, m->cap);

		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = 0;
	m->slots[i].value = 0;
	m->count--;
	return true;
}
