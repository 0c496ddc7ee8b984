/* Unit tests for daemon/table/walk.c: a pass over the table in slices,
 * the table changed between its steps (connections added and removed, the
 * table grown twice mid-pass), visits every connection present throughout
 * exactly once and nothing that never was there, in slices still after
 * a restart. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "walk.h"

#define MAX_COOKIE 200000

static const struct tw_conntable_limits limits = {
	.max_live = 1000000,
	.retain_count = 0,
	.retain_age_ns = UINT64_MAX / 2,
	.history_max = 32,
};

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct seen {
	uint8_t visits[MAX_COOKIE];
	unsigned resets;
};

static void count(struct tw_conn *c, void *data)
{
	struct seen *s = data;

	assert_true(c->cookie < MAX_COOKIE);
	s->visits[c->cookie]++;
}

static void reset(void *data)
{
	struct seen *s = data;

	memset(s->visits, 0, sizeof(s->visits));
	s->resets++;
}

static void test_sliced_pass(void **state)
{
	(void)state;
	for (int run = 0; run < 6; run++) {
		struct tw_conntable *t = conntable_new(&limits);
		/* present: 0 never, 1 at the start and throughout, 2 came or
		 * went meanwhile (visited at most once, or not at all) */
		uint8_t *present = calloc(MAX_COOKIE, 1);
		struct seen *s = calloc(1, sizeof(*s));
		struct tw_walk w;
		int steps = 0, second = 0;
		bool created;

		assert_non_null(t);
		assert_non_null(present);
		assert_non_null(s);
		for (int i = 0; i < 30000; i++) {
			uint64_t k = 1 + next_rand() % (MAX_COOKIE - 1);

			if (conntable_get_or_add(t, k, &created) && created)
				present[k] = 1;
		}
		walk_init(&w, t, count, reset, s);
		while (!walk_step(&w, 0)) {
			steps++;
			for (int op = 0; op < 200; op++) {
				uint64_t k = 1 + next_rand() % (MAX_COOKIE - 1);
				struct tw_conn *c = conntable_get(t, k);

				if (c) {
					conntable_remove(t, c);
					present[k] = 2;
				} else if (conntable_get_or_add(t, k, &created)) {
					present[k] = 2;
				}
			}
			/* Grown mid-pass (run 0 and 1: once; later runs: twice). */
			if (steps == 2 + run % 3)
				assert_int_equal(conntable_reserve(t, 131072), 0);
			if (run >= 2 && steps == 5 + run % 3) {
				assert_int_equal(conntable_reserve(t, 524288), 0);
				second = steps;
			}
			assert_true(steps < 100000);
		}
		assert_true(steps >= 4); /* it was sliced */
		assert_int_equal(w.restarts, run >= 2 ? 2 : 1);
		assert_int_equal(s->resets, w.restarts);
		if (run >= 2) /* 256 slices of the grown table: still one a step */
			assert_true(steps - second >= 200);
		for (uint64_t k = 0; k < MAX_COOKIE; k++) {
			if (present[k] == 1)
				assert_int_equal(s->visits[k], 1);
			else if (present[k] == 2)
				assert_true(s->visits[k] <= 1);
			else
				assert_int_equal(s->visits[k], 0);
		}
		assert_true(walk_step(&w, 0)); /* done stays done */
		free(present);
		free(s);
		conntable_free(t);
	}
}

/* walk_all: the whole table in one step. */
static void test_all_at_once(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct seen *s = calloc(1, sizeof(*s));
	struct tw_walk w;
	bool created;
	size_t n = 0;

	(void)state;
	assert_non_null(t);
	assert_non_null(s);
	for (uint64_t k = 1; k <= 50000; k++)
		assert_non_null(conntable_get_or_add(t, k * 3, &created));
	walk_init(&w, t, count, reset, s);
	walk_all(&w);
	assert_true(w.done);
	assert_int_equal(w.steps, 1);
	for (uint64_t k = 0; k < MAX_COOKIE; k++) {
		assert_int_equal(s->visits[k], k && k % 3 == 0 && k <= 150000 ? 1 : 0);
		n += s->visits[k];
	}
	assert_int_equal(n, 50000);
	free(s);
	conntable_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sliced_pass),
		cmocka_unit_test(test_all_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
