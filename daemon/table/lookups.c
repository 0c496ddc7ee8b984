#include "lookups.h"

bool lookups_push(struct tw_lookups *q, const struct tw_lookup *l)
{
	if (q->n == TW_LOOKUPS_MAX) {
		q->refused++;
		return false;
	}
	q->v[(q->head + q->n) % TW_LOOKUPS_MAX] = *l;
	q->n++;
	q->queued++;
	return true;
}

bool lookups_pop(struct tw_lookups *q, struct tw_lookup *ret)
{
	if (!q->n)
		return false;
	*ret = q->v[q->head];
	q->head = (q->head + 1) % TW_LOOKUPS_MAX;
	q->n--;
	return true;
}
