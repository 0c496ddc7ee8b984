/* Unit tests for daemon/table/histo.c: the log-linear histogram of
 * durations (exact below 16 us, then 16 buckets per power of two up to
 * 2^40 us). Checks the bucket layout itself, then what histo.h promises:
 * a quantile within 3.2 % of the true one, exact min, max, sum and
 * count, 0 when empty, and values past the range kept in the last
 * bucket without harm. (There is no merge operation to test.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "histo.h"

/* histo.h: "a quantile is the middle of its bucket, so it is within
 * 3.2 % of the true value". */
#define MAX_REL_ERR 0.032

static struct tw_histo *histo_new(void)
{
	struct tw_histo *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	return h;
}

static double rel_err(uint64_t got, uint64_t want)
{
	double g = (double)got, w = (double)want;

	if (!want)
		return got ? 1.0 : 0.0;
	return g > w ? (g - w) / w : (w - g) / w;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile of sorted v by nearest rank: the smallest value
 * with at least p % of the values at or below it. */
static uint64_t true_percentile(const uint64_t *sorted, size_t n, unsigned p)
{
	size_t rank = ((size_t)p * n + 99) / 100;

	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

/* The quantile is within MAX_REL_ERR of the true nearest-rank value (or
 * of a neighbour, should the rank's rounding differ by one). */
static void assert_percentile(const struct tw_histo *h, const uint64_t *sorted, size_t n,
			      unsigned p)
{
	size_t rank = ((size_t)p * n + 99) / 100;
	uint64_t got = histo_quantile(h, p / 100.0);
	double best = 1e9;

	for (size_t r = rank > 1 ? rank - 1 : 1; r <= rank + 1 && r <= n; r++) {
		double e = rel_err(got, sorted[r - 1]);

		if (e < best)
			best = e;
	}
	if (best > MAX_REL_ERR)
		fail_msg("p%u of %zu values: %llu, true %llu (error %.4f)", p, n,
			 (unsigned long long)got, (unsigned long long)true_percentile(sorted, n, p),
			 best);
	assert_true(got >= h->min_us && got <= h->max_us);
}

/* Below 16 us each value is a bucket of its own. */
static void test_bucket_exact_below_16(void **state)
{
	(void)state;
	for (uint64_t us = 0; us < TW_HISTO_SUB; us++) {
		assert_int_equal(histo_bucket(us), us);
		assert_int_equal(histo_bucket_low((unsigned)us), us);
	}
	/* 16 starts the first log-linear octave, right after them. */
	assert_int_equal(histo_bucket(16), TW_HISTO_SUB);
	assert_int_equal(histo_bucket_low(TW_HISTO_SUB), 16);
}

/* Every bucket's low bound maps back to it, bounds rise strictly, and a
 * bucket is at most 1/16 of its low bound wide: 16 per octave. */
static void test_bucket_layout(void **state)
{
	(void)state;
	assert_int_equal(TW_HISTO_BUCKETS, 16 + 37 * 16);
	for (unsigned b = 0; b < TW_HISTO_BUCKETS; b++) {
		uint64_t lo = histo_bucket_low(b);

		assert_int_equal(histo_bucket(lo), b);
		if (b + 1 < TW_HISTO_BUCKETS) {
			uint64_t next = histo_bucket_low(b + 1);

			assert_true(next > lo);
			/* The last value of b is still b. */
			assert_int_equal(histo_bucket(next - 1), b);
			if (b >= TW_HISTO_SUB)
				assert_true((next - lo) * 16 <= lo);
		}
	}
	/* One octave: [2^10, 2^11) is 16 buckets of 64 us. */
	assert_int_equal(histo_bucket(2048) - histo_bucket(1024), 16);
	assert_int_equal(histo_bucket_low(histo_bucket(1024) + 1) - 1024, 64);
}

/* A value lands in the bucket whose bounds hold it, across the range,
 * with a pseudo-random walk over every octave. */
static void test_bucket_holds_value(void **state)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		unsigned e;
		uint64_t us;
		unsigned b;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		e = (unsigned)(x % 41);            /* 2^0 .. 2^40 */
		us = (x >> 8) & ((1ull << e) - 1); /* below 2^e */
		us |= 1ull << e;
		b = histo_bucket(us);
		assert_true(b < TW_HISTO_BUCKETS);
		assert_true(histo_bucket_low(b) <= us);
		if (b + 1 < TW_HISTO_BUCKETS)
			assert_true(us < histo_bucket_low(b + 1));
	}
}

/* Past 2^41 us everything is the last bucket; nothing indexes past the
 * array. */
static void test_bucket_huge_values(void **state)
{
	(void)state;
	assert_int_equal(histo_bucket(1ull << 41), TW_HISTO_BUCKETS - 1);
	assert_int_equal(histo_bucket(1ull << 50), TW_HISTO_BUCKETS - 1);
	assert_int_equal(histo_bucket(UINT64_MAX), TW_HISTO_BUCKETS - 1);
	/* 2^40 itself is in range, in the last octave's first bucket. */
	assert_int_equal(histo_bucket(1ull << 40), TW_HISTO_BUCKETS - 16);
	assert_int_equal(histo_bucket((1ull << 41) - 1), TW_HISTO_BUCKETS - 1);
}

static void test_empty(void **state)
{
	struct tw_histo *h = histo_new();

	(void)state;
	assert_int_equal(histo_quantile(h, 0.5), 0);
	assert_int_equal(histo_quantile(h, 0.99), 0);
	assert_int_equal(histo_quantile(h, 1.0), 0);
	/* A histogram never allocated is empty too. */
	assert_int_equal(histo_quantile(NULL, 0.5), 0);
	free(h);
}

static void test_single_value(void **state)
{
	struct tw_histo *h = histo_new();

	(void)state;
	histo_add(h, 12345);
	assert_int_equal(h->count, 1);
	assert_int_equal(h->sum_us, 12345);
	assert_int_equal(h->min_us, 12345);
	assert_int_equal(h->max_us, 12345);
	/* One value: every quantile is it, exactly (min and max clamp the
	 * bucket's middle). */
	assert_int_equal(histo_quantile(h, 0.01), 12345);
	assert_int_equal(histo_quantile(h, 0.5), 12345);
	assert_int_equal(histo_quantile(h, 0.99), 12345);
	assert_int_equal(histo_quantile(h, 1.0), 12345);
	free(h);
}

/* min, max, sum and count are exact whatever the order; a first value of
 * 0 is a real minimum (not "unset"). */
static void test_min_max_sum_count(void **state)
{
	static const uint64_t v[] = {500, 3, 1000000, 0, 77, 999999, 16, 15};
	struct tw_histo *h = histo_new();
	uint64_t sum = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		histo_add(h, v[i]);
		sum += v[i];
	}
	assert_int_equal(h->count, sizeof(v) / sizeof(v[0]));
	assert_int_equal(h->sum_us, sum);
	assert_int_equal(h->min_us, 0);
	assert_int_equal(h->max_us, 1000000);
	/* q <= 0 is the minimum, q = 1 the maximum, exactly. */
	assert_int_equal(histo_quantile(h, 0), 0);
	assert_int_equal(histo_quantile(h, 1.0), 1000000);
	/* The counts add up to count. */
	{
		uint64_t n = 0;

		for (unsigned b = 0; b < TW_HISTO_BUCKETS; b++)
			n += h->buckets[b];
		assert_int_equal(n, h->count);
	}
	free(h);

	h = histo_new();
	histo_add(h, 0);
	histo_add(h, 40);
	assert_int_equal(h->min_us, 0);
	free(h);

	h = histo_new();
	histo_add(h, 40);
	histo_add(h, 7);
	histo_add(h, 9);
	assert_int_equal(h->min_us, 7);
	assert_int_equal(h->max_us, 40);
	free(h);
}

/* Small values are exact: a quantile below 16 us is the value itself. */
static void test_small_values_exact(void **state)
{
	struct tw_histo *h = histo_new();

	(void)state;
	for (uint64_t us = 1; us <= 10; us++)
		histo_add(h, us);
	assert_int_equal(histo_quantile(h, 0.5), 5);
	assert_int_equal(histo_quantile(h, 0.9), 9);
	assert_int_equal(histo_quantile(h, 0.1), 1);
	/* Nearest rank: p25 of ten is the 3rd value (2.5 rounds up). */
	assert_int_equal(histo_quantile(h, 0.25), 3);
	free(h);

	h = histo_new();
	histo_add(h, 1);
	histo_add(h, 2);
	histo_add(h, 3);
	/* The median of three is the second, not the first. */
	assert_int_equal(histo_quantile(h, 0.5), 2);
	free(h);
}

/* 1..100000 us uniformly: p50, p90, p99, p99.9 within the bucket's
 * relative error. */
static void test_quantiles_uniform(void **state)
{
	enum { N = 100000 };
	struct tw_histo *h = histo_new();
	uint64_t *v = malloc(N * sizeof(*v));

	(void)state;
	assert_non_null(v);
	for (size_t i = 0; i < N; i++)
		v[i] = i + 1;
	for (size_t i = N; i > 0; i--) /* added in descending order */
		histo_add(h, v[i - 1]);
	assert_percentile(h, v, N, 50);
	assert_percentile(h, v, N, 90);
	assert_percentile(h, v, N, 99);
	assert_percentile(h, v, N, 1);
	/* Not just "within the range": p50 is about 50000, p99 about 99000. */
	assert_true(rel_err(histo_quantile(h, 0.5), 50000) <= MAX_REL_ERR);
	assert_true(rel_err(histo_quantile(h, 0.99), 99000) <= MAX_REL_ERR);
	assert_true(histo_quantile(h, 0.5) < histo_quantile(h, 0.99));
	free(v);
	free(h);
}

/* A long-tailed distribution over ten octaves (latencies as they come):
 * each percentile within the error, and quantiles never decrease. */
static void test_quantiles_long_tail(void **state)
{
	enum { N = 20011 };
	struct tw_histo *h = histo_new();
	uint64_t *v = malloc(N * sizeof(*v)), x = 88172645463325252ull, prev = 0;

	(void)state;
	assert_non_null(v);
	for (size_t i = 0; i < N; i++) {
		unsigned e;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Mostly 100 us .. 1 ms, 1 % up to a second. */
		e = i % 100 ? 7 + (unsigned)(x % 4) : 10 + (unsigned)(x % 10);
		v[i] = (1ull << e) + (x >> 20) % (1ull << e);
		histo_add(h, v[i]);
	}
	qsort(v, N, sizeof(*v), cmp_u64);
	for (unsigned p = 1; p <= 100; p++) {
		uint64_t q = histo_quantile(h, p / 100.0);

		assert_percentile(h, v, N, p);
		assert_true(q >= prev);
		prev = q;
	}
	assert_int_equal(histo_quantile(h, 1.0), v[N - 1]);
	free(v);
	free(h);
}

/* The quantile of a bucket is its middle: two clusters far apart give a
 * p50 in the first and a p99 in the second, each within the error. */
static void test_quantiles_two_clusters(void **state)
{
	struct tw_histo *h = histo_new();

	(void)state;
	for (int i = 0; i < 98; i++)
		histo_add(h, 2000 + (uint64_t)i); /* 2.0 .. 2.1 ms */
	histo_add(h, 5000000);
	histo_add(h, 5000100);
	assert_true(rel_err(histo_quantile(h, 0.5), 2049) <= MAX_REL_ERR);
	assert_true(rel_err(histo_quantile(h, 0.99), 5000000) <= MAX_REL_ERR);
	assert_int_equal(histo_quantile(h, 1.0), 5000100);
	free(h);
}

/* Values past the range (days, years, UINT64_MAX) are counted in the
 * last bucket; max stays exact and quantiles stay within [min, max]. */
static void test_huge_values(void **state)
{
	struct tw_histo *h = histo_new();
	uint64_t q;

	(void)state;
	histo_add(h, 1ull << 45);
	histo_add(h, 1ull << 45);
	assert_int_equal(h->buckets[TW_HISTO_BUCKETS - 1], 2);
	/* All alike: the quantile is that value (clamped to min = max). */
	assert_int_equal(histo_quantile(h, 0.5), 1ull << 45);
	histo_add(h, UINT64_MAX / 4);
	assert_int_equal(h->max_us, UINT64_MAX / 4);
	assert_int_equal(h->min_us, 1ull << 45);
	assert_int_equal(h->count, 3);
	assert_int_equal(h->buckets[TW_HISTO_BUCKETS - 1], 3);
	q = histo_quantile(h, 0.99);
	assert_true(q >= h->min_us && q <= h->max_us);
	assert_int_equal(histo_quantile(h, 1.0), UINT64_MAX / 4);
	free(h);

	/* In range at the top: 2^40 + a bit (12 days) within the error. */
	h = histo_new();
	for (int i = 0; i < 100; i++)
		histo_add(h, (1ull << 40) + (uint64_t)i * 1000000);
	q = histo_quantile(h, 0.5);
	assert_true(rel_err(q, (1ull << 40) + 49ull * 1000000) <= MAX_REL_ERR);
	free(h);
}

/* histo_add_lazy allocates on first use, then adds to the same one. */
static void test_add_lazy(void **state)
{
	struct tw_histo *h = NULL, *first;

	(void)state;
	assert_int_equal(histo_add_lazy(&h, 250), 0);
	assert_non_null(h);
	first = h;
	assert_int_equal(h->count, 1);
	assert_int_equal(histo_quantile(h, 0.5), 250);
	assert_int_equal(histo_add_lazy(&h, 750), 0);
	assert_ptr_equal(h, first);
	assert_int_equal(h->count, 2);
	assert_int_equal(h->sum_us, 1000);
	assert_int_equal(h->min_us, 250);
	assert_int_equal(h->max_us, 750);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_exact_below_16),
		cmocka_unit_test(test_bucket_layout),
		cmocka_unit_test(test_bucket_holds_value),
		cmocka_unit_test(test_bucket_huge_values),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_single_value),
		cmocka_unit_test(test_min_max_sum_count),
		cmocka_unit_test(test_small_values_exact),
		cmocka_unit_test(test_quantiles_uniform),
		cmocka_unit_test(test_quantiles_long_tail),
		cmocka_unit_test(test_quantiles_two_clusters),
		cmocka_unit_test(test_huge_values),
		cmocka_unit_test(test_add_lazy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
