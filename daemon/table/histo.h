/*
 * Durations as a log-linear histogram: exact below 16 us, then 16 buckets
 * per power of two (each 1/16 of its octave wide), up to 2^40 us (12
 * days). A quantile is the middle of its bucket, so it is within 3.2 % of
 * the true value; max and min are exact.
 */
#ifndef TCPWATCH_HISTO_H
#define TCPWATCH_HISTO_H

#include <stddef.h>
#include <stdint.h>

#define TW_HISTO_SUB_BITS 4
#define TW_HISTO_SUB      (1u << TW_HISTO_SUB_BITS)
#define TW_HISTO_MAX_EXP  40
#define TW_HISTO_BUCKETS  (TW_HISTO_SUB + (TW_HISTO_MAX_EXP - TW_HISTO_SUB_BITS + 1) * TW_HISTO_SUB)

struct tw_histo {
	uint64_t count;
	uint64_t sum_us;
	uint64_t min_us, max_us;
	uint32_t buckets[TW_HISTO_BUCKETS];
};

/* The bucket of a value, and the smallest value of a bucket. */
unsigned histo_bucket(uint64_t us);
uint64_t histo_bucket_low(unsigned bucket);

void histo_add(struct tw_histo *h, uint64_t us);
/* The q-quantile (0 < q <= 1) in us; 0 when empty. */
uint64_t histo_quantile(const struct tw_histo *h, double q);

/* A histogram allocated on first use: *hp NULL until then. Returns 0, or
 * -ENOMEM (the value is not recorded). */
int histo_add_lazy(struct tw_histo **hp, uint64_t us);

#endif
