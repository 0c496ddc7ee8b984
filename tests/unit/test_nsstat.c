/* Unit tests for daemon/table/nsstat.c: a namespace's own TCP counters at
 * the last two reads, their per-second rate, when each last grew and by
 * how much, and the set of namespaces (made on demand, forgotten when no
 * longer followed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "nsstat.h"

#define SEC 1000000000ull

static int near(double a, double b)
{
	double d = a - b;

	return d < 1e-9 && d > -1e-9;
}

static void fill(uint64_t v[TW_NS_KEYS], uint64_t base)
{
	for (int k = 0; k < TW_NS_KEYS; k++)
		v[k] = base + (uint64_t)k;
}

/* Each key has a group and a name as /proc spells them (node_exporter's
 * node_netstat_<Group>_<Name>), and no two keys are the same counter. */
static void test_names(void **state)
{
	(void)state;
	for (int k = 0; k < TW_NS_KEYS; k++) {
		assert_non_null(tw_nsstat_group[k]);
		assert_non_null(tw_nsstat_name[k]);
		assert_true(!strcmp(tw_nsstat_group[k], "TcpExt") ||
			    !strcmp(tw_nsstat_group[k], "Tcp"));
		assert_true(strlen(tw_nsstat_name[k]) > 0);
		assert_null(strchr(tw_nsstat_name[k], ' '));
		for (int j = 0; j < k; j++)
			assert_false(!strcmp(tw_nsstat_group[k], tw_nsstat_group[j]) &&
				     !strcmp(tw_nsstat_name[k], tw_nsstat_name[j]));
	}
	assert_string_equal(tw_nsstat_group[TW_NS_LISTEN_OVERFLOWS], "TcpExt");
	assert_string_equal(tw_nsstat_name[TW_NS_LISTEN_OVERFLOWS], "ListenOverflows");
	assert_string_equal(tw_nsstat_name[TW_NS_SYNCOOKIES_SENT], "SyncookiesSent");
	assert_string_equal(tw_nsstat_group[TW_NS_CURR_ESTAB], "Tcp");
	assert_string_equal(tw_nsstat_name[TW_NS_CURR_ESTAB], "CurrEstab");
	assert_string_equal(tw_nsstat_group[TW_NS_OUT_RSTS], "Tcp");
}

/* An entry is made once per namespace, zeroed and not yet valid; find
 * does not make one. */
static void test_entry_and_find(void **state)
{
	struct tw_nsstat_set s = {0};
	struct tw_nsstat *a, *b;

	(void)state;
	assert_null(nsstat_find(&s, 4026531840u));
	a = nsstat_entry(&s, 4026531840u);
	assert_non_null(a);
	assert_int_equal(a->netns, 4026531840u);
	assert_false(a->valid);
	assert_int_equal(a->prev_ns, 0);
	for (int k = 0; k < TW_NS_KEYS; k++)
		assert_int_equal(a->v[k], 0);
	assert_int_equal(s.n, 1);
	assert_ptr_equal(nsstat_entry(&s, 4026531840u), a);
	assert_int_equal(s.n, 1);
	b = nsstat_entry(&s, 7);
	assert_non_null(b);
	assert_int_equal(s.n, 2);
	assert_ptr_equal(nsstat_find(&s, 7), b);
	assert_null(nsstat_find(&s, 8));
	assert_int_equal(s.n, 2);
	nsstat_fini(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	/* fini again, on an empty set: harmless. */
	nsstat_fini(&s);
}

/* Many namespaces: the set grows and keeps each one's values. */
static void test_many_namespaces(void **state)
{
	struct tw_nsstat_set s = {0};
	uint64_t v[TW_NS_KEYS];

	(void)state;
	for (uint32_t ns = 1; ns <= 100; ns++) {
		struct tw_nsstat *e = nsstat_entry(&s, ns);

		assert_non_null(e);
		fill(v, ns * 1000);
		nsstat_update(e, v, ns * SEC);
	}
	assert_int_equal(s.n, 100);
	for (uint32_t ns = 1; ns <= 100; ns++) {
		const struct tw_nsstat *e = nsstat_find(&s, ns);

		assert_non_null(e);
		assert_int_equal(e->netns, ns);
		assert_true(e->valid);
		assert_int_equal(e->v[TW_NS_LISTEN_DROPS], ns * 1000 + TW_NS_LISTEN_DROPS);
		assert_int_equal(e->now_ns, ns * SEC);
	}
	nsstat_fini(&s);
}

/* The first read sets the values and nothing else: no previous read, no
 * rate, nothing "grew". */
static void test_first_read(void **state)
{
	struct tw_nsstat_set s = {0};
	struct tw_nsstat *e = nsstat_entry(&s, 1);
	uint64_t v[TW_NS_KEYS];

	(void)state;
	assert_non_null(e);
	fill(v, 500);
	nsstat_update(e, v, 10 * SEC);
	assert_true(e->valid);
	assert_int_equal(e->now_ns, 10 * SEC);
	assert_int_equal(e->prev_ns, 0);
	for (int k = 0; k < TW_NS_KEYS; k++) {
		assert_int_equal(e->v[k], 500 + (uint64_t)k);
		assert_int_equal(e->grew_ns[k], 0);
		assert_int_equal(e->grew_by[k], 0);
		assert_true(nsstat_rate(e, (enum tw_nsstat_key)k) == 0);
	}
	nsstat_fini(&s);
}

/* Two reads: prev holds the first, the rate is the difference per
 * second, and a key that grew says when and by how much. */
static void test_rate_and_growth(void **state)
{
	struct tw_nsstat_set s = {0};
	struct tw_nsstat *e = nsstat_entry(&s, 1);
	uint64_t v[TW_NS_KEYS] = {0};

	(void)state;
	assert_non_null(e);
	v[TW_NS_SYNCOOKIES_SENT] = 100;
	v[TW_NS_LISTEN_OVERFLOWS] = 7;
	v[TW_NS_ACTIVE_OPENS] = 5000000000ull; /* past 2^32 */
	nsstat_update(e, v, 10 * SEC);
	v[TW_NS_SYNCOOKIES_SENT] = 150;        /* +50 in 2 s */
	v[TW_NS_ACTIVE_OPENS] = 5000002000ull; /* +2000 */
	nsstat_update(e, v, 12 * SEC);
	assert_int_equal(e->prev_ns, 10 * SEC);
	assert_int_equal(e->now_ns, 12 * SEC);
	assert_int_equal(e->prev[TW_NS_SYNCOOKIES_SENT], 100);
	assert_int_equal(e->v[TW_NS_SYNCOOKIES_SENT], 150);
	assert_true(near(nsstat_rate(e, TW_NS_SYNCOOKIES_SENT), 25.0));
	assert_true(near(nsstat_rate(e, TW_NS_ACTIVE_OPENS), 1000.0));
	assert_true(nsstat_rate(e, TW_NS_LISTEN_OVERFLOWS) == 0);
	assert_int_equal(e->grew_ns[TW_NS_SYNCOOKIES_SENT], 12 * SEC);
	assert_int_equal(e->grew_by[TW_NS_SYNCOOKIES_SENT], 50);
	assert_int_equal(e->grew_by[TW_NS_ACTIVE_OPENS], 2000);
	/* Unchanged: never grew. */
	assert_int_equal(e->grew_ns[TW_NS_LISTEN_OVERFLOWS], 0);
	assert_int_equal(e->grew_by[TW_NS_LISTEN_OVERFLOWS], 0);

	/* A third read without growth: the rate is 0 again, but when it
	 * last grew (and by how much) is remembered. */
	nsstat_update(e, v, 14 * SEC);
	assert_true(nsstat_rate(e, TW_NS_SYNCOOKIES_SENT) == 0);
	assert_int_equal(e->grew_ns[TW_NS_SYNCOOKIES_SENT], 12 * SEC);
	assert_int_equal(e->grew_by[TW_NS_SYNCOOKIES_SENT], 50);
	/* A later growth replaces it. */
	v[TW_NS_SYNCOOKIES_SENT] = 151;
	nsstat_update(e, v, 16 * SEC);
	assert_int_equal(e->grew_ns[TW_NS_SYNCOOKIES_SENT], 16 * SEC);
	assert_int_equal(e->grew_by[TW_NS_SYNCOOKIES_SENT], 1);
	assert_true(near(nsstat_rate(e, TW_NS_SYNCOOKIES_SENT), 0.5));
	nsstat_fini(&s);
}

/* A value that went down (a gauge like CurrEstab, or counters of a
 * namespace re-created under the same inode) has no negative rate and
 * did not "grow". */
static void test_decrease(void **state)
{
	struct tw_nsstat_set s = {0};
	struct tw_nsstat *e = nsstat_entry(&s, 1);
	uint64_t v[TW_NS_KEYS] = {0};

	(void)state;
	assert_non_null(e);
	v[TW_NS_CURR_ESTAB] = 40;
	nsstat_update(e, v, 1 * SEC);
	v[TW_NS_CURR_ESTAB] = 10;
	nsstat_update(e, v, 2 * SEC);
	assert_true(nsstat_rate(e, TW_NS_CURR_ESTAB) == 0);
	assert_int_equal(e->grew_ns[TW_NS_CURR_ESTAB], 0);
	assert_int_equal(e->v[TW_NS_CURR_ESTAB], 10);
	assert_int_equal(e->prev[TW_NS_CURR_ESTAB], 40);
	nsstat_fini(&s);
}

/* Two reads at the same time (or time going backwards) give no rate, not
 * a division by zero. */
static void test_rate_same_time(void **state)
{
	struct tw_nsstat_set s = {0};
	struct tw_nsstat *e = nsstat_entry(&s, 1);
	uint64_t v[TW_NS_KEYS] = {0};

	(void)state;
	assert_non_null(e);
	nsstat_update(e, v, 5 * SEC);
	v[TW_NS_RETRANS_SEGS] = 10;
	nsstat_update(e, v, 5 * SEC);
	assert_true(nsstat_rate(e, TW_NS_RETRANS_SEGS) == 0);
	v[TW_NS_RETRANS_SEGS] = 20;
	nsstat_update(e, v, 4 * SEC);
	assert_true(nsstat_rate(e, TW_NS_RETRANS_SEGS) == 0);
	nsstat_fini(&s);
}

/* Retain keeps exactly the namespaces listed, with their values, and
 * forgets the others. */
static void test_retain(void **state)
{
	static const uint32_t keep[] = {2, 5, 9};
	struct tw_nsstat_set s = {0};
	uint64_t v[TW_NS_KEYS];

	(void)state;
	for (uint32_t ns = 1; ns <= 10; ns++) {
		struct tw_nsstat *e = nsstat_entry(&s, ns);

		assert_non_null(e);
		fill(v, ns);
		nsstat_update(e, v, SEC);
	}
	nsstat_retain(&s, keep, 3);
	assert_int_equal(s.n, 3);
	for (uint32_t ns = 1; ns <= 10; ns++) {
		const struct tw_nsstat *e = nsstat_find(&s, ns);

		if (ns == 2 || ns == 5 || ns == 9) {
			assert_non_null(e);
			assert_int_equal(e->v[0], ns);
			assert_true(e->valid);
		} else {
			assert_null(e);
		}
	}
	/* A forgotten one comes back fresh. */
	assert_false(nsstat_entry(&s, 3)->valid);
	/* Keeping none empties the set. */
	nsstat_retain(&s, NULL, 0);
	assert_int_equal(s.n, 0);
	assert_null(nsstat_find(&s, 2));
	nsstat_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),           cmocka_unit_test(test_entry_and_find),
		cmocka_unit_test(test_many_namespaces), cmocka_unit_test(test_first_read),
		cmocka_unit_test(test_rate_and_growth), cmocka_unit_test(test_decrease),
		cmocka_unit_test(test_rate_same_time),  cmocka_unit_test(test_retain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
