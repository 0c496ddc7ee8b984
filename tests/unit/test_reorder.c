/* The per-CPU ring merge: records come back in time order, and only once
 * older than the watermark. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reorder.h"

struct rec {
	uint64_t time_ns;
	uint32_t queue;
	uint32_t seq;
};

struct got {
	struct rec v[4096];
	size_t n;
};

static void collect(const void *r, size_t len, void *data)
{
	struct got *g = data;

	assert_int_equal(len, sizeof(struct rec));
	memcpy(&g->v[g->n++], r, len);
}

static void push(struct tw_reorder *r, uint32_t q, uint64_t t, uint32_t seq)
{
	struct rec x = { .time_ns = t, .queue = q, .seq = seq };

	assert_int_equal(reorder_push(r, q, &x, sizeof(x), t), 0);
}

static void test_merges_in_time_order(void **state)
{
	struct tw_reorder *r = reorder_new(3, sizeof(struct rec), 100);
	struct got g = { .n = 0 };

	(void)state;
	assert_non_null(r);
	/* Each queue in order; across queues interleaved. */
	push(r, 0, 10, 0);
	push(r, 0, 40, 1);
	push(r, 1, 20, 2);
	push(r, 1, 30, 3);
	push(r, 2, 5, 4);
	push(r, 2, 50, 5);
	assert_int_equal(reorder_held(r), 6);
	assert_int_equal(reorder_release(r, 1000, collect, &g), 6);
	assert_int_equal(g.n, 6);
	for (size_t i = 1; i < g.n; i++)
		assert_true(g.v[i - 1].time_ns <= g.v[i].time_ns);
	assert_int_equal(g.v[0].time_ns, 5);
	assert_int_equal(g.v[5].time_ns, 50);
	assert_int_equal(reorder_held(r), 0);
	reorder_free(r);
}

/* A record not yet visible on one queue must not be overtaken: only what
 * is older than the watermark goes out. */
static void test_watermark_holds_back(void **state)
{
	struct tw_reorder *r = reorder_new(2, sizeof(struct rec), 100);
	struct got g = { .n = 0 };

	(void)state;
	push(r, 0, 100, 0);
	push(r, 1, 300, 1);
	assert_int_equal(reorder_release(r, 200, collect, &g), 1);
	assert_int_equal(g.v[0].time_ns, 100);
	assert_int_equal(reorder_held(r), 1);
	/* The late record of queue 0, stamped before the held one. */
	push(r, 0, 250, 2);
	assert_int_equal(reorder_release(r, 1000, collect, &g), 2);
	assert_int_equal(g.v[1].time_ns, 250);
	assert_int_equal(g.v[2].time_ns, 300);
	/* Exactly at the watermark is not yet older than it. */
	push(r, 1, 400, 3);
	assert_int_equal(reorder_release(r, 400, collect, &g), 0);
	assert_int_equal(reorder_release(r, 401, collect, &g), 1);
	reorder_free(r);
}

/* Queues grow, wrap around and refuse past their bound. */
static void test_growth_wrap_and_bound(void **state)
{
	struct tw_reorder *r = reorder_new(1, sizeof(struct rec), 3000);
	struct got *g = calloc(1, sizeof(*g));
	struct rec x = { .time_ns = 0 };
	uint64_t t = 0;

	(void)state;
	assert_non_null(g);
	/* Fill partly, release partly, so the ring wraps, then grow it. */
	for (int round = 0; round < 3; round++) {
		uint64_t first = t + 1;

		for (int i = 0; i < 900; i++) {
			t++;
			push(r, 0, t, (uint32_t)t);
		}
		g->n = 0;
		reorder_release(r, t - 99, collect, g);
		/* Everything before the watermark, in order, nothing after. */
		assert_int_equal(reorder_held(r), 100);
		assert_int_equal(g->v[g->n - 1].time_ns, t - 100);
		assert_true(round > 0 || g->v[0].time_ns == first);
		for (size_t i = 1; i < g->n; i++)
			assert_int_equal(g->v[i].time_ns, g->v[i - 1].time_ns + 1);
	}
	for (int i = 0; i < 1500; i++) {
		t++;
		push(r, 0, t, (uint32_t)t);
	}
	g->n = 0;
	reorder_release(r, UINT64_MAX, collect, g);
	assert_int_equal(g->n, 1600);
	for (size_t i = 1; i < g->n; i++)
		assert_int_equal(g->v[i].time_ns, g->v[i - 1].time_ns + 1);
	assert_int_equal(g->v[g->n - 1].time_ns, t);
	/* The bound. */
	for (int i = 0; i < 3000; i++) {
		t++;
		push(r, 0, t, 0);
	}
	x.time_ns = ++t;
	assert_int_equal(reorder_push(r, 0, &x, sizeof(x), t), -ENOBUFS);
	assert_int_equal(reorder_push(r, 1, &x, sizeof(x), t), -EINVAL);
	assert_int_equal(reorder_push(r, 0, &x, sizeof(x) + 1, t), -EINVAL);
	assert_null(reorder_new(0, 8, 8));
	free(g);
	reorder_free(r);
}

/* After a burst the queues give their memory back, once they have stayed
 * small for a while; under steady load they keep it. */
static void test_shrinks_after_burst(void **state)
{
	struct tw_reorder *r = reorder_new(1, sizeof(struct rec), 1 << 20);
	struct got *g = calloc(1, sizeof(*g));
	uint64_t t = 0;

	(void)state;
	assert_non_null(g);
	for (int i = 0; i < 100000; i++) {
		t++;
		push(r, 0, t, 0);
	}
	assert_true(reorder_capacity(r) >= 100000);
	/* Release in slices of 4000: the callback's array is 4096. */
	while (reorder_held(r)) {
		uint64_t upto = t - reorder_held(r) + 4000;

		g->n = 0;
		reorder_release(r, upto + 1, collect, g);
	}
	/* A quiet stretch: a record or two per release. */
	for (int i = 0; i < 600; i++) {
		t++;
		push(r, 0, t, 0);
		g->n = 0;
		reorder_release(r, t + 1, collect, g);
		assert_int_equal(g->n, 1);
	}
	assert_true(reorder_capacity(r) <= 4096);
	/* Still works after shrinking. */
	for (int i = 0; i < 3000; i++) {
		t++;
		push(r, 0, t, 0);
	}
	g->n = 0;
	assert_int_equal(reorder_release(r, t + 1, collect, g), 3000);
	free(g);
	reorder_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merges_in_time_order),
		cmocka_unit_test(test_watermark_holds_back),
		cmocka_unit_test(test_growth_wrap_and_bound),
		cmocka_unit_test(test_shrinks_after_burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
