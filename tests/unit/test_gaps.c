/* Unit tests for daemon/table/gaps.c: loss windows, merged when they
 * touch, bounded, and a life's overlap with them (history_gap). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "gaps.h"

static void none(void **state)
{
	struct tw_gaps g;

	(void)state;
	gaps_init(&g);
	assert_false(gaps_overlap(&g, 0, UINT64_MAX));
}

static void overlap(void **state)
{
	struct tw_gaps g;

	(void)state;
	gaps_init(&g);
	gaps_note(&g, 100, 200);
	assert_true(gaps_overlap(&g, 50, 100));   /* ends as the window starts */
	assert_true(gaps_overlap(&g, 150, 160));  /* inside */
	assert_true(gaps_overlap(&g, 200, 300));  /* starts as it ends */
	assert_true(gaps_overlap(&g, 0, 1000));   /* around it */
	assert_false(gaps_overlap(&g, 0, 99));    /* closed before */
	assert_false(gaps_overlap(&g, 201, 300)); /* born after */
}

static void merged(void **state)
{
	struct tw_gaps g;

	(void)state;
	gaps_init(&g);
	gaps_note(&g, 100, 200);
	gaps_note(&g, 200, 300); /* touches: one window */
	gaps_note(&g, 150, 250); /* inside */
	assert_int_equal(g.n, 1);
	assert_int_equal(g.start_ns[g.first], 100);
	assert_int_equal(g.end_ns[g.first], 300);
	gaps_note(&g, 400, 500);
	assert_int_equal(g.n, 2);
	assert_false(gaps_overlap(&g, 301, 399));
	assert_true(gaps_overlap(&g, 301, 400));
	assert_int_equal(g.noted, 4);
}

static void bounded(void **state)
{
	struct tw_gaps g;

	(void)state;
	gaps_init(&g);
	for (uint64_t i = 0; i < 3 * TW_GAPS_MAX; i++)
		gaps_note(&g, 1000 * i, 1000 * i + 10);
	assert_int_equal(g.n, TW_GAPS_MAX);
	/* The windows pushed out still count for lives that began before
	 * they ended; a life after the newest forgotten one is judged by
	 * the windows kept. */
	assert_int_equal(g.forgotten_end_ns, 1000 * (2 * TW_GAPS_MAX - 1) + 10);
	assert_true(gaps_overlap(&g, 5, 6));
	uint64_t later = 1000 * (2 * TW_GAPS_MAX) + 500;
	assert_false(gaps_overlap(&g, later, later + 100));
	assert_true(gaps_overlap(&g, later, later + 600));
}

static void reversed(void **state)
{
	struct tw_gaps g;

	(void)state;
	gaps_init(&g);
	gaps_note(&g, 500, 100); /* end before start: the instant */
	assert_true(gaps_overlap(&g, 500, 500));
	assert_false(gaps_overlap(&g, 100, 400));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(none),    cmocka_unit_test(overlap),  cmocka_unit_test(merged),
		cmocka_unit_test(bounded), cmocka_unit_test(reversed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
