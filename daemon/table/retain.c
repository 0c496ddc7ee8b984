#include <errno.h>
#include <stdlib.h>

#include "retain.h"

void retain_fini(struct tw_retain *r)
{
	free(r->ring);
	r->ring = NULL;
	r->cap = r->head = r->tail = 0;
	r->count = 0;
}

int retain_make_room(struct tw_retain *r)
{
	uint64_t cap = r->cap; /* 64 bits: doubling at the limit must not wrap */
	uint32_t n = 0;
	struct tw_conn **v;

	if (!cap || r->count > cap / 2)
		cap = cap ? cap * 2 : 1024;
	if (cap > (1u << 31)) /* the positions are 32-bit */
		return -ENOMEM;
	v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t pos = r->head; pos != r->tail; pos++) {
		struct tw_conn *c = *retain_slot(r, pos);

		if (c) {
			c->retain_pos = n;
			v[n++] = c;
		}
	}
	free(r->ring);
	r->ring = v;
	r->cap = (uint32_t)cap;
	r->head = 0;
	r->tail = n;
	return 0;
}
