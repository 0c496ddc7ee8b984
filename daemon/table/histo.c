#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "histo.h"

unsigned histo_bucket(uint64_t us)
{
	unsigned e;

	if (us < TW_HISTO_SUB)
		return (unsigned)us;
	e = 63u - (unsigned)__builtin_clzll(us);
	if (e > TW_HISTO_MAX_EXP)
		return TW_HISTO_BUCKETS - 1;
	return TW_HISTO_SUB + (e - TW_HISTO_SUB_BITS) * TW_HISTO_SUB +
	       (unsigned)((us >> (e - TW_HISTO_SUB_BITS)) & (TW_HISTO_SUB - 1));
}

uint64_t histo_bucket_low(unsigned b)
{
	unsigned e, sub;

	if (b < TW_HISTO_SUB)
		return b;
	e = (b - TW_HISTO_SUB) / TW_HISTO_SUB + TW_HISTO_SUB_BITS;
	sub = (b - TW_HISTO_SUB) % TW_HISTO_SUB;
	return (1ull << e) + ((uint64_t)sub << (e - TW_HISTO_SUB_BITS));
}

void histo_add(struct tw_histo *h, uint64_t us)
{
	if (!h->count || us < h->min_us)
		h->min_us = us;
	if (us > h->max_us)
		h->max_us = us;
	h->count++;
	h->sum_us += us;
	h->buckets[histo_bucket(us)]++;
}

uint64_t histo_quantile(const struct tw_histo *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h || !h->count)
		return 0;
	if (q <= 0)
		return h->min_us;
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank >= h->count)
		return h->max_us;
	for (unsigned b = 0; b < TW_HISTO_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			uint64_t lo = histo_bucket_low(b), hi, mid;

			if (b < TW_HISTO_SUB)
				return lo;
			hi = b + 1 < TW_HISTO_BUCKETS ? histo_bucket_low(b + 1) : lo * 2;
			mid = lo + (hi - lo) / 2;
			if (mid < h->min_us)
				mid = h->min_us;
			if (mid > h->max_us)
				mid = h->max_us;
			return mid;
		}
	}
	return h->max_us;
}

int histo_add_lazy(struct tw_histo **hp, uint64_t us)
{
	if (!*hp && !(*hp = calloc(1, sizeof(**hp))))
		return -ENOMEM;
	histo_add(*hp, us);
	return 0;
}
