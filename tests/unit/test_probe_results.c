/* Unit tests for daemon/probe/results.c: the ring of a target's latest
 * results (oldest first, wrapping), the totals since the start by state
 * (open, closed, hop and ICMP-filtered received; silent filtered lost;
 * errors apart), and the summary over the window: min, avg, max, mdev
 * (the population standard deviation, as ping's) and nearest-rank
 * percentiles, results without an RTT left out; then summary_of() over
 * an array, pending results skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "results.h"

static struct tw_probe_result res(uint32_t seq, unsigned state, int64_t rtt_ns)
{
	struct tw_probe_result r;

	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.state = (uint8_t)state;
	r.wscale = -1;
	r.rtt_ns = rtt_ns;
	return r;
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(probe_state_name(TW_PROBE_PENDING), "pending");
	assert_string_equal(probe_state_name(TW_PROBE_OPEN), "open");
	assert_string_equal(probe_state_name(TW_PROBE_CLOSED), "closed");
	assert_string_equal(probe_state_name(TW_PROBE_FILTERED), "filtered");
	assert_string_equal(probe_state_name(TW_PROBE_HOP), "hop");
	assert_string_equal(probe_state_name(TW_PROBE_ERROR), "error");
	assert_string_equal(probe_state_name(TW_PROBE_STATES), "?");
	assert_string_equal(probe_state_name(1000), "?");
}

static void test_ring_wrap(void **state)
{
	struct tw_results r;
	struct tw_probe_result x;

	(void)state;
	assert_int_equal(results_init(&r, 4), 0);
	assert_int_equal(results_count(&r), 0);
	for (uint32_t i = 0; i < 3; i++) {
		x = res(i, TW_PROBE_OPEN, 1000);
		results_add(&r, &x);
	}
	assert_int_equal(results_count(&r), 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(results_at(&r, i)->seq, i);
	for (uint32_t i = 3; i < 10; i++) {
		x = res(i, TW_PROBE_OPEN, 1000);
		results_add(&r, &x);
	}
	assert_int_equal(results_count(&r), 4);
	assert_int_equal(r.added, 10);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(results_at(&r, i)->seq, 6 + i);
	/* A copy was kept, not the caller's struct. */
	x.seq = 77;
	assert_int_equal(results_at(&r, 3)->seq, 9);
	/* Exactly full (a multiple of the capacity). */
	for (uint32_t i = 10; i < 12; i++) {
		x = res(i, TW_PROBE_CLOSED, 1000);
		results_add(&r, &x);
	}
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(results_at(&r, i)->seq, 8 + i);
	assert_int_equal(results_at(&r, 3)->state, TW_PROBE_CLOSED);
	results_free(&r);
	assert_null(r.ring);

	/* A capacity of 0 keeps one. */
	assert_int_equal(results_init(&r, 0), 0);
	assert_int_equal(r.cap, 1);
	for (uint32_t i = 0; i < 3; i++) {
		x = res(i, TW_PROBE_OPEN, 1000);
		results_add(&r, &x);
	}
	assert_int_equal(results_count(&r), 1);
	assert_int_equal(results_at(&r, 0)->seq, 2);
	results_free(&r);
}

static void test_totals(void **state)
{
	struct tw_results r;
	struct tw_probe_summary s;
	struct tw_probe_result x[] = {
		res(0, TW_PROBE_OPEN, 1000),   res(1, TW_PROBE_CLOSED, 2000),
		res(2, TW_PROBE_HOP, 3000),    res(3, TW_PROBE_FILTERED, 4000),
		res(4, TW_PROBE_FILTERED, -1), res(5, TW_PROBE_ERROR, -1),
		res(6, TW_PROBE_OPEN, 5000),   res(7, TW_PROBE_FILTERED, -1),
	};

	(void)state;
	x[3].flags = TW_RESULT_ICMP; /* an unreachable: an answer */
	assert_int_equal(results_init(&r, 2), 0);
	for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++)
		results_add(&r, &x[i]);
	/* Totals since the start, though the ring keeps 2. */
	assert_int_equal(r.sent, 8);
	assert_int_equal(r.received, 5); /* open x2, closed, hop, ICMP-filtered */
	assert_int_equal(r.lost, 2);     /* the silent filtered */
	assert_int_equal(r.errors, 1);
	assert_int_equal(r.by_state[TW_PROBE_OPEN], 2);
	assert_int_equal(r.by_state[TW_PROBE_CLOSED], 1);
	assert_int_equal(r.by_state[TW_PROBE_HOP], 1);
	assert_int_equal(r.by_state[TW_PROBE_FILTERED], 3);
	assert_int_equal(r.by_state[TW_PROBE_ERROR], 1);
	assert_int_equal(r.by_state[TW_PROBE_PENDING], 0);
	results_summary(&r, &s);
	assert_int_equal(s.sent, 8);
	assert_int_equal(s.received, 5);
	assert_int_equal(s.lost, 2);
	assert_int_equal(s.errors, 1);
	assert_memory_equal(s.by_state, r.by_state, sizeof(s.by_state));
	/* The RTTs of the window only: seq 6 (5000) and seq 7 (none). */
	assert_int_equal(s.rtt_count, 1);
	assert_int_equal(s.min_ns, 5000);
	assert_int_equal(s.max_ns, 5000);
	/* The histogram has every RTT since the start, in us, but the
	 * routers' (a trace's hops). */
	assert_non_null(r.histo);
	assert_int_equal(r.histo->count, 4);
	assert_int_equal(r.histo->min_us, 1);
	assert_int_equal(r.histo->max_us, 5);
	assert_int_equal(r.histo->sum_us, 12);
	results_free(&r);
}

static void add_rtts(struct tw_results *r, const int64_t *rtt, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct tw_probe_result x = res((uint32_t)i, TW_PROBE_OPEN, rtt[i]);

		if (rtt[i] < 0)
			x.flags = TW_RESULT_NO_RX_STAMP;
		results_add(r, &x);
	}
}

/* 2 4 4 4 5 5 7 9 (ms): mean 5, population standard deviation exactly 2
 * (the sample one would be 2.14); nearest rank: p50 the 4th (4), p90 and
 * p99 the 8th (9). Given unsorted. */
static void test_summary_known(void **state)
{
	static const int64_t ms = 1000000;
	const int64_t rtt[] = {5 * ms, 9 * ms, 2 * ms, 4 * ms, 7 * ms, 4 * ms, 5 * ms, 4 * ms};
	struct tw_results r;
	struct tw_probe_summary s;

	(void)state;
	assert_int_equal(results_init(&r, 16), 0);
	add_rtts(&r, rtt, 8);
	results_summary(&r, &s);
	assert_int_equal(s.rtt_count, 8);
	assert_int_equal(s.min_ns, 2 * ms);
	assert_int_equal(s.max_ns, 9 * ms);
	assert_int_equal(s.avg_ns, 5 * ms);
	assert_int_equal(s.mdev_ns, 2 * ms);
	assert_int_equal(s.p50_ns, 4 * ms);
	assert_int_equal(s.p90_ns, 9 * ms);
	assert_int_equal(s.p99_ns, 9 * ms);
	/* Summing does not reorder the ring. */
	assert_int_equal(results_at(&r, 0)->rtt_ns, 5 * ms);
	assert_int_equal(results_at(&r, 1)->rtt_ns, 9 * ms);
	results_free(&r);
}

/* 1..100 us in a scrambled order: nearest rank gives p50 = 50, p90 = 90,
 * p99 = 99 (interpolation would give 50.5, 90.1, 99.01); mean 50.5 us,
 * standard deviation sqrt((100^2 - 1) / 12) = 28.866 us. */
static void test_summary_percentiles(void **state)
{
	int64_t rtt[100];
	struct tw_results r;
	struct tw_probe_summary s;

	(void)state;
	for (int i = 0; i < 100; i++)
		rtt[i] = (int64_t)((i * 37 % 100) + 1) * 1000; /* 37 is prime to 100 */
	assert_int_equal(results_init(&r, 100), 0);
	add_rtts(&r, rtt, 100);
	results_summary(&r, &s);
	assert_int_equal(s.rtt_count, 100);
	assert_int_equal(s.min_ns, 1000);
	assert_int_equal(s.max_ns, 100000);
	assert_int_equal(s.avg_ns, 50500);
	assert_int_equal(s.mdev_ns, 28866);
	assert_int_equal(s.p50_ns, 50000);
	assert_int_equal(s.p90_ns, 90000);
	assert_int_equal(s.p99_ns, 99000);
	results_free(&r);

	/* 10 values: p50 is the 5th, p90 the 9th, p99 the 10th. */
	assert_int_equal(results_init(&r, 10), 0);
	for (int i = 0; i < 10; i++)
		rtt[i] = (int64_t)(10 - i) * 100;
	add_rtts(&r, rtt, 10);
	results_summary(&r, &s);
	assert_int_equal(s.p50_ns, 500);
	assert_int_equal(s.p90_ns, 900);
	assert_int_equal(s.p99_ns, 1000);
	results_free(&r);
}

/* No RTT (-1) is no RTT: not a 0, not a huge unsigned value. */
static void test_summary_without_rtt(void **state)
{
	const int64_t rtt[] = {-1, 3000, -1, 1000, 2000, -1};
	struct tw_results r;
	struct tw_probe_summary s;

	(void)state;
	assert_int_equal(results_init(&r, 8), 0);
	add_rtts(&r, rtt, 6);
	results_summary(&r, &s);
	assert_int_equal(s.sent, 6);
	assert_int_equal(s.received, 6); /* open, though without a time */
	assert_int_equal(s.rtt_count, 3);
	assert_int_equal(s.min_ns, 1000);
	assert_int_equal(s.max_ns, 3000);
	assert_int_equal(s.avg_ns, 2000);
	assert_int_equal(s.mdev_ns, 816); /* sqrt(2/3) * 1000 */
	assert_int_equal(s.p50_ns, 2000);
	assert_int_equal(s.p99_ns, 3000);
	assert_int_equal(r.histo->count, 3);
	results_free(&r);

	/* None at all: no figures, and nothing allocated for them. */
	assert_int_equal(results_init(&r, 8), 0);
	add_rtts(&r, (const int64_t[]){-1, -1}, 2);
	results_summary(&r, &s);
	assert_int_equal(s.sent, 2);
	assert_int_equal(s.rtt_count, 0);
	assert_int_equal(s.min_ns, 0);
	assert_int_equal(s.max_ns, 0);
	assert_int_equal(s.p50_ns, 0);
	assert_null(r.histo);
	results_free(&r);

	/* Empty. */
	assert_int_equal(results_init(&r, 8), 0);
	memset(&s, 0xee, sizeof(s));
	results_summary(&r, &s);
	assert_int_equal(s.sent, 0);
	assert_int_equal(s.received, 0);
	assert_int_equal(s.rtt_count, 0);
	assert_int_equal(s.max_ns, 0);
	results_free(&r);
}

/* The window's figures follow the ring: cap 4, RTTs 1..10 ms added, the
 * summary is over 7..10 ms. One value: mdev 0, every percentile it. */
static void test_summary_window(void **state)
{
	struct tw_results r;
	struct tw_probe_summary s;
	int64_t rtt[10];

	(void)state;
	for (int i = 0; i < 10; i++)
		rtt[i] = (int64_t)(i + 1) * 1000000;
	assert_int_equal(results_init(&r, 4), 0);
	add_rtts(&r, rtt, 10);
	results_summary(&r, &s);
	assert_int_equal(s.sent, 10);
	assert_int_equal(s.rtt_count, 4);
	assert_int_equal(s.min_ns, 7000000);
	assert_int_equal(s.max_ns, 10000000);
	assert_int_equal(s.avg_ns, 8500000);
	assert_int_equal(s.mdev_ns, 1118034); /* sqrt(1.25) ms */
	assert_int_equal(s.p50_ns, 8000000);
	assert_int_equal(r.histo->count, 10);
	results_free(&r);

	assert_int_equal(results_init(&r, 4), 0);
	add_rtts(&r, (const int64_t[]){123456}, 1);
	results_summary(&r, &s);
	assert_int_equal(s.rtt_count, 1);
	assert_int_equal(s.min_ns, 123456);
	assert_int_equal(s.max_ns, 123456);
	assert_int_equal(s.avg_ns, 123456);
	assert_int_equal(s.mdev_ns, 0);
	assert_int_equal(s.p50_ns, 123456);
	assert_int_equal(s.p90_ns, 123456);
	assert_int_equal(s.p99_ns, 123456);
	results_free(&r);
}

/* summary_of: the same sums over an array, pending results skipped (their
 * RTT, however set, included). */
static void test_summary_of(void **state)
{
	struct tw_probe_result v[] = {
		res(0, TW_PROBE_PENDING, 1),     res(1, TW_PROBE_OPEN, 2000),
		res(2, TW_PROBE_CLOSED, 4000),   res(3, TW_PROBE_PENDING, 999999999),
		res(4, TW_PROBE_FILTERED, 6000), res(5, TW_PROBE_FILTERED, -1),
		res(6, TW_PROBE_HOP, 8000),      res(7, TW_PROBE_ERROR, -1),
		res(8, TW_PROBE_PENDING, -1),
	};
	struct tw_probe_summary s;

	(void)state;
	v[4].flags = TW_RESULT_ICMP;
	memset(&s, 0xee, sizeof(s));
	summary_of(v, sizeof(v) / sizeof(v[0]), &s);
	assert_int_equal(s.sent, 6);
	assert_int_equal(s.received, 4); /* open, closed, ICMP-filtered, hop */
	assert_int_equal(s.lost, 1);
	assert_int_equal(s.errors, 1);
	assert_int_equal(s.by_state[TW_PROBE_PENDING], 0);
	assert_int_equal(s.by_state[TW_PROBE_OPEN], 1);
	assert_int_equal(s.by_state[TW_PROBE_CLOSED], 1);
	assert_int_equal(s.by_state[TW_PROBE_FILTERED], 2);
	assert_int_equal(s.by_state[TW_PROBE_HOP], 1);
	assert_int_equal(s.by_state[TW_PROBE_ERROR], 1);
	/* RTTs of the target's answers: not the hop's 8000 */
	assert_int_equal(s.rtt_count, 3);
	assert_int_equal(s.min_ns, 2000);
	assert_int_equal(s.max_ns, 6000);
	assert_int_equal(s.avg_ns, 4000);
	assert_int_equal(s.mdev_ns, 1633); /* sqrt(8 / 3) * 1000 */
	assert_int_equal(s.p50_ns, 4000);
	assert_int_equal(s.p90_ns, 6000);

	/* Only pending, or nothing. */
	memset(&s, 0xee, sizeof(s));
	summary_of(v, 1, &s);
	assert_int_equal(s.sent, 0);
	assert_int_equal(s.rtt_count, 0);
	assert_int_equal(s.min_ns, 0);
	memset(&s, 0xee, sizeof(s));
	summary_of(NULL, 0, &s);
	assert_int_equal(s.sent, 0);
	assert_int_equal(s.received, 0);
	assert_int_equal(s.rtt_count, 0);
}

/* Agreement: summary_of over the results as added gives what the ring's
 * totals and window figures give when nothing was dropped from it. */
static void test_summary_of_agrees(void **state)
{
	struct tw_probe_result v[40];
	struct tw_probe_summary a, b;
	struct tw_results r;

	(void)state;
	assert_int_equal(results_init(&r, 40), 0);
	for (uint32_t i = 0; i < 40; i++) {
		unsigned st = 1 + i % (TW_PROBE_STATES - 1);

		v[i] = res(i, st,
			   st == TW_PROBE_ERROR || i % 7 == 0 ? -1 : (int64_t)(i * 7919 % 1000));
		if (st == TW_PROBE_FILTERED && i % 2)
			v[i].flags = TW_RESULT_ICMP;
		results_add(&r, &v[i]);
	}
	results_summary(&r, &a);
	summary_of(v, 40, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_true(a.rtt_count > 0 && a.lost > 0 && a.errors > 0);
	results_free(&r);
}

/*
 * mdev of RTTs near a second, in ns: a one-pass sqrt(E[x^2] - E[x]^2) in
 * doubles cancels to noise there (x^2 ~ 1e18, a double's step 128): 15
 * identical RTTs of 999999999 ns gave 16 ns, not 0. Two passes are exact.
 */
static void test_mdev_large_rtts(void **state)
{
	static struct tw_probe_result v[1000];
	struct tw_probe_summary s;

	(void)state;
	for (int i = 0; i < 15; i++)
		v[i] = res((uint32_t)i, TW_PROBE_OPEN, 999999999);
	summary_of(v, 15, &s);
	assert_int_equal(s.avg_ns, 999999999);
	assert_int_equal(s.mdev_ns, 0);

	v[0].rtt_ns = 2000000000;
	v[1].rtt_ns = 2000000010;
	summary_of(v, 2, &s);
	assert_int_equal(s.avg_ns, 2000000005);
	assert_int_equal(s.mdev_ns, 5);

	for (int i = 0; i < 1000; i++)
		v[i] = res((uint32_t)i, TW_PROBE_OPEN, 1000000000 + i % 2);
	summary_of(v, 1000, &s);
	assert_in_range(s.mdev_ns, 0, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_ring_wrap),
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_summary_known),
		cmocka_unit_test(test_summary_percentiles),
		cmocka_unit_test(test_summary_without_rtt),
		cmocka_unit_test(test_summary_window),
		cmocka_unit_test(test_summary_of),
		cmocka_unit_test(test_summary_of_agrees),
		cmocka_unit_test(test_mdev_large_rtts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
