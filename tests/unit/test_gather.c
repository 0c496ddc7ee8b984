/* Unit tests for daemon/table/gather.c, the scan of the table in slices a
 * listing without a port index uses: step by step (the smallest budget,
 * so every step is one slice), with random inserts, state changes,
 * retirements and removals between the steps and growths of the table
 * under way, the cookies read back are ascending, have no duplicate, hold
 * every connection the filter kept before the scan and that nothing
 * touched while it ran, and nothing the filter never kept; with no change between steps they are
 * exactly what conntable_cookies_where returns. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "filter.h"
#include "gather.h"

static const struct tw_conntable_limits limits = {
	.max_live = 1000000,
	.retain_count = 5000,
	.retain_age_ns = UINT64_MAX / 2,
	.history_max = 32,
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t next_cookie = 1;

static struct tw_conn *add(struct tw_conntable *t)
{
	bool created;
	struct tw_conn *c = conntable_get_or_add(t, next_cookie++, &created);

	assert_non_null(c);
	assert_true(created);
	conntable_set_state(t, c, next_rand() % 3 == 0 ? TW_TCP_SYN_SENT : TW_TCP_ESTABLISHED);
	c->family = AF_INET;
	return c;
}

/* The filter of the tests: SYN_SENT, a third of them. */
static bool keep_syn_sent(const struct tw_conn *c, const void *ctx)
{
	(void)ctx;
	return c->state == TW_TCP_SYN_SENT;
}

static uint64_t *read_all(struct tw_gather *g, size_t *ret_n)
{
	uint64_t *v = malloc((gather_count(g) + 1) * sizeof(*v)), ck;
	size_t n = 0;

	assert_non_null(v);
	assert_int_equal(gather_seek(g, 0), 0);
	while (gather_next(g, &ck)) {
		assert_true(n < gather_count(g));
		v[n++] = ck;
	}
	*ret_n = n;
	return v;
}

/* Cookies are kept in a bitmap by value (they are small here). */
#define MAX_COOKIES (1u << 18)

struct marks {
	uint8_t v[MAX_COOKIES];
};

enum { KEPT = 1, TOUCHED = 2, EVER = 4, LISTED = 8 };

static void mark_kept(struct tw_conn *c, void *data)
{
	struct marks *m = data;

	if (keep_syn_sent(c, NULL))
		m->v[c->cookie] |= KEPT;
}

static void test_equals_a_scan(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_gather g;
	uint64_t *want, *got;
	size_t nwant, ngot, steps = 0;

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 50000; i++)
		add(t);
	want = conntable_cookies_where(t, keep_syn_sent, NULL, &nwant);
	assert_non_null(want);
	/* The walk reads only SYN_SENT's records (their tags). */
	gather_init(&g, t, keep_syn_sent, NULL, TW_STATE_BIT(TW_TCP_SYN_SENT));
	while (!gather_step(&g, 0))
		steps++;
	assert_false(g.oom);
	/* A budget of 0: a slice a step, so many steps and many runs. */
	assert_true(steps > 10);
	assert_true(g.nruns > 10);
	got = read_all(&g, &ngot);
	assert_int_equal(ngot, nwant);
	assert_memory_equal(got, want, nwant * sizeof(*want));
	/* after=: what follows the cursor, as the sorted array has it. */
	gather_free(&g);
	gather_init(&g, t, keep_syn_sent, NULL, UINT32_MAX);
	while (!gather_step(&g, 0))
		;
	assert_int_equal(gather_seek(&g, want[nwant / 2]), 0);
	for (size_t i = nwant / 2 + 1; i < nwant; i++) {
		uint64_t ck;

		assert_true(gather_next(&g, &ck));
		assert_int_equal(ck, want[i]);
	}
	{
		uint64_t ck;

		assert_false(gather_next(&g, &ck));
	}
	gather_free(&g);
	/* No filter: every connection; and flattened, the same. */
	gather_init(&g, t, NULL, NULL, UINT32_MAX);
	while (!gather_step(&g, 0))
		;
	free(want);
	want = conntable_sorted_cookies(t, &nwant);
	assert_non_null(want);
	free(got);
	got = gather_flatten(&g, &ngot);
	assert_non_null(got);
	assert_int_equal(ngot, nwant);
	assert_memory_equal(got, want, nwant * sizeof(*want));
	gather_free(&g);
	free(want);
	free(got);
	conntable_free(t);
}

static void test_changes_between_steps(void **state)
{
	for (int round = 0; round < 6; round++) {
		struct tw_conntable *t = conntable_new(&limits);
		struct marks *before = calloc(1, sizeof(*before));
		struct tw_gather g;
		uint64_t *got;
		size_t ngot, grown = 0;

		(void)state;
		assert_non_null(t);
		assert_non_null(before);
		next_cookie = 1;
		/* Rounds 0-2 start small, so the inserts grow the table
		 * while the scan runs; the others start large. */
		for (int i = 0; i < (round < 3 ? 3000 : 40000); i++)
			add(t);
		conntable_foreach(t, mark_kept, before);
		/* Half the rounds read only SYN_SENT's records. */
		gather_init(&g, t, keep_syn_sent, NULL,
			    round % 2 ? TW_STATE_BIT(TW_TCP_SYN_SENT) : UINT32_MAX);
		while (!gather_step(&g, 0)) {
			size_t cap = conntable_bucket_count(t);

			for (int k = 0; k < 400; k++) {
				uint64_t ck = 1 + next_rand() % (next_cookie - 1);
				struct tw_conn *c = conntable_get(t, ck);

				if (c)
					before->v[ck] |= TOUCHED;
				switch (next_rand() % 4) {
				case 0:
					if (next_cookie < MAX_COOKIES) {
						c = add(t);
						before->v[c->cookie] |=
							TOUCHED |
							(keep_syn_sent(c, NULL) ? EVER : 0);
					}
					break;
				case 1:
					if (c) {
						conntable_set_state(t, c,
								    c->state == TW_TCP_SYN_SENT
									    ? TW_TCP_ESTABLISHED
									    : TW_TCP_SYN_SENT);
						if (keep_syn_sent(c, NULL))
							before->v[ck] |= EVER;
					}
					break;
				case 2:
					if (c && !(c->flags & TW_CONN_CLOSED))
						conntable_retire(t, c, 1);
					break;
				default:
					if (c)
						conntable_remove(t, c);
					break;
				}
			}
			/* Small tables: enough more to make them grow, and finish
			 * a doubling (done a few buckets per insert, the walk's
			 * positions change when it ends) within the step. */
			for (int k = 0; round < 3 && k < 4000 && next_cookie < MAX_COOKIES; k++) {
				struct tw_conn *c = add(t);

				before->v[c->cookie] |=
					TOUCHED | (keep_syn_sent(c, NULL) ? EVER : 0);
			}
			grown += conntable_bucket_count(t) != cap;
		}
		/* (Reading every record, the walk takes steps enough for the
		 * table to grow under it; reading tags, it may end first.) */
		if (round < 3 && round % 2 == 0)
			assert_true(grown > 0);
		assert_false(g.oom);
		got = read_all(&g, &ngot);
		for (size_t i = 1; i < ngot; i++)
			assert_true(got[i - 1] < got[i]); /* ascending, no duplicate */
		for (size_t i = 0; i < ngot; i++) {
			assert_true(got[i] < MAX_COOKIES);
			/* Listed: the filter kept it at some moment. */
			assert_true(before->v[got[i]] & (KEPT | EVER));
			before->v[got[i]] |= LISTED;
		}
		/* Kept before the scan and left alone: listed, every one. */
		for (uint64_t ck = 1; ck < next_cookie && ck < MAX_COOKIES; ck++)
			if ((before->v[ck] & (KEPT | TOUCHED)) == KEPT)
				assert_true(before->v[ck] & LISTED);
		conntable_free(t);
		gather_free(&g);
		free(got);
		free(before);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equals_a_scan),
		cmocka_unit_test(test_changes_between_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
