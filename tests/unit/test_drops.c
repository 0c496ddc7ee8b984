/* Unit tests for daemon/table/drops.c (the names of the kernel's drop
 * reasons, sparse counts per reason) and the table's side of drops in
 * daemon/table/conntable.c: a connection's counts by reason, and
 * conntable_record_drop's rate limit (one history entry per reason per
 * TW_DROP_HIST_GAP_NS, the rest counted and reported as
 * drop_entries_elided). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "drops.h"
#include "stats.h"

#define SEC   1000000000ull
#define MS    1000000ull
#define T0    (1000 * SEC)
#define GAP   TW_DROP_HIST_GAP_NS
#define NETNS 4026531840u

/* Reasons as a 6.x kernel numbers them (enum skb_drop_reason). */
#define R_NOT_SPECIFIED 2
#define R_NO_SOCKET     3
#define R_TCP_CSUM      5
#define R_LISTEN_OVF    77

static const struct tw_conntable_limits limits = {
	.max_live = 100000,
	.retain_count = 1000,
	.retain_age_ns = 3600 * SEC,
	.history_max = 64,
};

static int teardown_names(void **state)
{
	(void)state;
	drops_free_names();
	return 0;
}

/* --- names --- */

static void test_names(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(drops_names_known(), 0);
	/* Unknown: a made-up name in the caller's buffer. */
	assert_string_equal(drops_name(R_TCP_CSUM, buf, sizeof(buf)), "REASON_5");
	assert_int_equal(drops_reason("TCP_CSUM"), -1);

	drops_set_name(R_NOT_SPECIFIED, "NOT_SPECIFIED");
	drops_set_name(R_TCP_CSUM, "TCP_CSUM");
	drops_set_name(R_LISTEN_OVF, "TCP_LISTEN_OVERFLOW");
	assert_int_equal(drops_names_known(), R_LISTEN_OVF + 1);
	assert_string_equal(drops_name(R_TCP_CSUM, buf, sizeof(buf)), "TCP_CSUM");
	assert_string_equal(drops_name(R_LISTEN_OVF, buf, sizeof(buf)), "TCP_LISTEN_OVERFLOW");
	/* A gap between known ones is still unknown. */
	assert_string_equal(drops_name(R_NO_SOCKET, buf, sizeof(buf)), "REASON_3");
	assert_int_equal(drops_reason("TCP_CSUM"), R_TCP_CSUM);
	assert_int_equal(drops_reason("TCP_LISTEN_OVERFLOW"), R_LISTEN_OVF);
	assert_int_equal(drops_reason("NOT_SPECIFIED"), R_NOT_SPECIFIED);
	assert_int_equal(drops_reason("TCP"), -1); /* whole names only */
	assert_int_equal(drops_reason(""), -1);
}

/* The name is copied; setting it again replaces it (no leak: ASan). */
static void test_name_copied_and_replaced(void **state)
{
	char name[32] = "TCP_OLD_DATA", buf[32];

	(void)state;
	drops_set_name(10, name);
	strcpy(name, "XXXXXXXXXXXX");
	assert_string_equal(drops_name(10, buf, sizeof(buf)), "TCP_OLD_DATA");
	drops_set_name(10, "TCP_OLD_SEQUENCE");
	assert_string_equal(drops_name(10, buf, sizeof(buf)), "TCP_OLD_SEQUENCE");
	assert_int_equal(drops_reason("TCP_OLD_DATA"), -1);
	assert_int_equal(drops_reason("TCP_OLD_SEQUENCE"), 10);
	/* A lower reason set later does not shrink the count known. */
	drops_set_name(4, "PKT_TOO_SMALL");
	assert_int_equal(drops_names_known(), 11);
}

/* Reasons past the table are refused by set, and get a made-up name;
 * a small buffer truncates, never overflows. */
static void test_names_out_of_range(void **state)
{
	char buf[32], tiny[5];

	(void)state;
	drops_set_name(TW_DROP_REASONS, "TOO_HIGH");
	drops_set_name(100000, "WAY_TOO_HIGH");
	assert_int_equal(drops_names_known(), 0);
	assert_int_equal(drops_reason("TOO_HIGH"), -1);
	assert_string_equal(drops_name(TW_DROP_REASONS, buf, sizeof(buf)), "REASON_256");
	assert_string_equal(drops_name(4000000000u, buf, sizeof(buf)), "REASON_4000000000");
	assert_string_equal(drops_name(123, tiny, sizeof(tiny)), "REAS");
	/* The last slot works. */
	drops_set_name(TW_DROP_REASONS - 1, "LAST");
	assert_string_equal(drops_name(TW_DROP_REASONS - 1, buf, sizeof(buf)), "LAST");
	assert_int_equal(drops_names_known(), TW_DROP_REASONS);
}

static void test_free_names(void **state)
{
	char buf[32];

	(void)state;
	drops_set_name(7, "SEVEN");
	drops_free_names();
	assert_int_equal(drops_names_known(), 0);
	assert_string_equal(drops_name(7, buf, sizeof(buf)), "REASON_7");
	assert_int_equal(drops_reason("SEVEN"), -1);
	drops_free_names(); /* twice: harmless */
}

/* --- sparse counts --- */

static void test_counts_sparse(void **state)
{
	struct tw_drop_counts d = {0};

	(void)state;
	assert_int_equal(drop_counts_get(&d, R_TCP_CSUM), 0);
	drop_counts_add(&d, R_TCP_CSUM);
	drop_counts_add(&d, R_TCP_CSUM);
	drop_counts_add(&d, R_NO_SOCKET);
	drop_counts_add(&d, R_TCP_CSUM);
	assert_int_equal(d.total, 4);
	assert_int_equal(drop_counts_get(&d, R_TCP_CSUM), 3);
	assert_int_equal(drop_counts_get(&d, R_NO_SOCKET), 1);
	assert_int_equal(drop_counts_get(&d, R_LISTEN_OVF), 0);
	assert_int_equal(d.other, 0);
	/* Reason 0 is a reason like another (a slot is free by its count,
	 * not its reason). */
	drop_counts_add(&d, 0);
	assert_int_equal(drop_counts_get(&d, 0), 1);
	assert_int_equal(drop_counts_get(&d, R_TCP_CSUM), 3);
}

/* TW_DROP_SLOTS reasons get a slot; more are counted together in other,
 * and in total; the first ones keep counting. */
static void test_counts_overflow_to_other(void **state)
{
	struct tw_drop_counts d = {0};
	uint64_t sum = 0;

	(void)state;
	for (unsigned r = 10; r < 10 + TW_DROP_SLOTS; r++)
		for (unsigned i = 0; i <= r - 10; i++)
			drop_counts_add(&d, r);
	for (unsigned r = 10; r < 10 + TW_DROP_SLOTS; r++)
		assert_int_equal(drop_counts_get(&d, r), r - 10 + 1);
	drop_counts_add(&d, 50);
	drop_counts_add(&d, 51);
	drop_counts_add(&d, 50);
	assert_int_equal(d.other, 3);
	assert_int_equal(drop_counts_get(&d, 50), 0); /* folded into other */
	drop_counts_add(&d, 10);
	assert_int_equal(drop_counts_get(&d, 10), 2);
	for (unsigned i = 0; i < TW_DROP_SLOTS; i++)
		sum += d.count[i];
	assert_int_equal(d.total, sum + d.other);
}

/* Reasons past TW_DROP_REASONS share the last one. */
static void test_counts_high_reasons(void **state)
{
	struct tw_drop_counts d = {0};

	(void)state;
	drop_counts_add(&d, TW_DROP_REASONS + 5);
	drop_counts_add(&d, 0x10000); /* a subsystem's own reason */
	drop_counts_add(&d, TW_DROP_REASONS - 1);
	assert_int_equal(d.total, 3);
	assert_int_equal(drop_counts_get(&d, TW_DROP_REASONS - 1), 3);
	assert_int_equal(d.other, 0);
	/* One slot, not three. */
	assert_int_equal(d.count[1], 0);
}

/* --- the table: counts per connection, rate-limited history --- */

static struct tw_conn *conn(struct tw_conntable *t, uint64_t cookie)
{
	bool created;
	struct tw_conn *c = conntable_get_or_add(t, cookie, &created);

	assert_non_null(c);
	assert_true(created);
	c->state = TW_TCP_ESTABLISHED;
	c->netns = NETNS;
	return c;
}

static unsigned drop_entries(const struct tw_conn *c, unsigned reason)
{
	unsigned n = 0;

	for (uint16_t i = 0; i < c->hist_len; i++)
		if (conn_hist(c, i).kind == TW_HIST_DROP && conn_hist(c, i).value == reason)
			n++;
	return n;
}

static uint64_t elided(struct tw_conntable *t)
{
	struct tw_conntable_stats st;

	conntable_get_stats(t, &st);
	return st.drop_entries_elided;
}

static void test_add_drop_counts(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conn *c, *other;
	const struct tw_drop_counts *d;

	(void)state;
	assert_non_null(t);
	c = conn(t, 100);
	other = conn(t, 101);
	assert_null(conntable_drops(t, c));
	assert_int_equal(conntable_add_drop(t, c, R_TCP_CSUM), 0);
	assert_int_equal(conntable_add_drop(t, c, R_TCP_CSUM), 0);
	assert_int_equal(conntable_add_drop(t, c, R_NO_SOCKET), 0);
	d = conntable_drops(t, c);
	assert_non_null(d);
	assert_int_equal(d->total, 3);
	assert_int_equal(drop_counts_get(d, R_TCP_CSUM), 2);
	assert_int_equal(drop_counts_get(d, R_NO_SOCKET), 1);
	assert_int_equal(c->drops, 3);
	assert_true(c->flags & TW_CONN_HAS_DROPS);
	/* Counting adds no history by itself. */
	assert_int_equal(c->hist_len, 0);
	/* Another connection's are its own. */
	assert_null(conntable_drops(t, other));
	assert_int_equal(other->drops, 0);
	/* They leave with the connection (ASan: no leak, no stale use). */
	conntable_remove(t, c);
	c = conn(t, 100);
	assert_null(conntable_drops(t, c));
	assert_int_equal(c->drops, 0);
	conntable_free(t);
}

/* c->drops saturates instead of wrapping; the counts by reason go on. */
static void test_drop_count_saturates(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conn *c;

	(void)state;
	assert_non_null(t);
	c = conn(t, 5);
	for (unsigned i = 0; i < UINT16_MAX + 10u; i++)
		assert_int_equal(conntable_add_drop(t, c, R_TCP_CSUM), 0);
	assert_int_equal(c->drops, UINT16_MAX);
	assert_int_equal(conntable_drops(t, c)->total, UINT16_MAX + 10u);
	conntable_free(t);
}

/* A burst of one reason: the first drop is a history entry, every other
 * one within TW_DROP_HIST_GAP_NS of it is counted on the connection and
 * in drop_entries_elided, with no entry. */
static void test_record_drop_same_reason_elided(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conn *c;
	const struct tw_hist *h;

	(void)state;
	assert_non_null(t);
	c = conn(t, 7);
	conntable_record_drop(t, c, R_TCP_CSUM, T0);
	assert_int_equal(c->hist_len, 1);
	h = (struct tw_hist[1]){conn_hist(c, 0)};
	assert_int_equal(h->kind, TW_HIST_DROP);
	assert_int_equal(h->value, R_TCP_CSUM);
	assert_int_equal(h->from, TW_TCP_ESTABLISHED);
	assert_int_equal(h->time_ns, T0);
	assert_int_equal(elided(t), 0);
	for (int i = 1; i <= 9; i++)
		conntable_record_drop(t, c, R_TCP_CSUM, T0 + (uint64_t)i * 100 * MS);
	/* 10 drops in 0.9 s: one entry, ten counted, nine elided. */
	assert_int_equal(c->hist_len, 1);
	assert_int_equal(c->drops, 10);
	assert_int_equal(drop_counts_get(conntable_drops(t, c), R_TCP_CSUM), 10);
	assert_int_equal(elided(t), 9);
	/* Just inside the gap: still elided. */
	conntable_record_drop(t, c, R_TCP_CSUM, T0 + GAP - 1);
	assert_int_equal(c->hist_len, 1);
	assert_int_equal(elided(t), 10);
	conntable_free(t);
}

/* The gap runs from the last entry, not the last drop: a drop at exactly
 * TW_DROP_HIST_GAP_NS after it is a new entry. */
static void test_record_drop_past_gap(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conn *c;

	(void)state;
	assert_non_null(t);
	c = conn(t, 8);
	conntable_record_drop(t, c, R_NO_SOCKET, T0);
	conntable_record_drop(t, c, R_NO_SOCKET, T0 + GAP / 2);
	conntable_record_drop(t, c, R_NO_SOCKET, T0 + GAP);
	assert_int_equal(drop_entries(c, R_NO_SOCKET), 2);
	assert_int_equal(conn_hist(c, 1).time_ns, T0 + GAP);
	assert_int_equal(elided(t), 1);
	/* A steady drop every 0.6 s: an entry every other one. */
	for (int i = 1; i <= 4; i++)
		conntable_record_drop(t, c, R_NO_SOCKET, T0 + GAP + (uint64_t)i * 600 * MS);
	assert_int_equal(drop_entries(c, R_NO_SOCKET), 4);
	assert_int_equal(elided(t), 3);
	assert_int_equal(c->drops, 7);
	conntable_free(t);
}

/* Another reason within the gap is news: an entry of its own. */
static void test_record_drop_other_reason(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conn *c;

	(void)state;
	assert_non_null(t);
	c = conn(t, 9);
	conntable_record_drop(t, c, R_TCP_CSUM, T0);
	conntable_record_drop(t, c, R_NO_SOCKET, T0 + 1 * MS);
	conntable_record_drop(t, c, R_TCP_CSUM, T0 + 2 * MS);   /* elided */
	conntable_record_drop(t, c, R_NO_SOCKET, T0 + 3 * MS);  /* elided */
	conntable_record_drop(t, c, R_LISTEN_OVF, T0 + 4 * MS); /* new */
	assert_int_equal(c->hist_len, 3);
	assert_int_equal(drop_entries(c, R_TCP_CSUM), 1);
	assert_int_equal(drop_entries(c, R_NO_SOCKET), 1);
	assert_int_equal(drop_entries(c, R_LISTEN_OVF), 1);
	assert_int_equal(elided(t), 2);
	assert_int_equal(conntable_drops(t, c)->total, 5);
	assert_int_equal(drop_counts_get(conntable_drops(t, c), R_TCP_CSUM), 2);
	/* The state at the time is recorded. */
	c->state = TW_TCP_CLOSE_WAIT;
	conntable_record_drop(t, c, R_TCP_CSUM, T0 + 2 * GAP);
	assert_int_equal(conn_hist(c, c->hist_len - 1).from, TW_TCP_CLOSE_WAIT);
	conntable_free(t);
}

/* The limit is per connection: the same reason on two connections at the
 * same moment is an entry on each. */
static void test_record_drop_per_connection(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conn *a, *b;

	(void)state;
	assert_non_null(t);
	a = conn(t, 10);
	b = conn(t, 11);
	conntable_record_drop(t, a, R_TCP_CSUM, T0);
	conntable_record_drop(t, b, R_TCP_CSUM, T0);
	assert_int_equal(drop_entries(a, R_TCP_CSUM), 1);
	assert_int_equal(drop_entries(b, R_TCP_CSUM), 1);
	assert_int_equal(elided(t), 0);
	conntable_free(t);
}

/* The elided count is in the table's report under its documented name,
 * as a counter. */
static void test_elided_in_report(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_stats s;
	const struct tw_stat *st;
	struct tw_conn *c;

	(void)state;
	assert_non_null(t);
	c = conn(t, 12);
	for (int i = 0; i < 5; i++)
		conntable_record_drop(t, c, R_TCP_CSUM, T0 + (uint64_t)i * MS);
	stats_init(&s);
	conntable_report(t, &s);
	st = stats_find(&s, "drop_entries_elided");
	assert_non_null(st);
	assert_int_equal(st->type, TW_STAT_COUNTER);
	assert_int_equal(st->u, 4);
	assert_int_equal(s.refused, 0);
	conntable_free(t);
}

/* Drop counts are bounded (65536 connections with counts): past the
 * bound a connection's drop is still counted in c->drops and the
 * refusal in alloc_failures, and recording it does not crash. */
static void test_drop_counts_bounded(void **state)
{
	enum { N = 65536 };
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conntable_stats st;
	struct tw_conn *c;

	(void)state;
	assert_non_null(t);
	for (uint64_t i = 1; i <= N; i++)
		assert_int_equal(conntable_add_drop(t, conn(t, i), R_TCP_CSUM), 0);
	c = conn(t, N + 1);
	conntable_get_stats(t, &st);
	assert_int_equal(conntable_add_drop(t, c, R_TCP_CSUM), -ENOSPC);
	assert_int_equal(c->drops, 1);
	assert_null(conntable_drops(t, c));
	{
		struct tw_conntable_stats after;

		conntable_get_stats(t, &after);
		assert_int_equal(after.alloc_failures, st.alloc_failures + 1);
	}
	conntable_record_drop(t, c, R_TCP_CSUM, T0);
	assert_int_equal(drop_entries(c, R_TCP_CSUM), 1);
	/* One leaves: room for another. */
	conntable_remove(t, conntable_get(t, 1));
	assert_int_equal(conntable_add_drop(t, c, R_TCP_CSUM), 0);
	assert_non_null(conntable_drops(t, c));
	conntable_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_names, teardown_names),
		cmocka_unit_test_teardown(test_name_copied_and_replaced, teardown_names),
		cmocka_unit_test_teardown(test_names_out_of_range, teardown_names),
		cmocka_unit_test_teardown(test_free_names, teardown_names),
		cmocka_unit_test(test_counts_sparse),
		cmocka_unit_test(test_counts_overflow_to_other),
		cmocka_unit_test(test_counts_high_reasons),
		cmocka_unit_test(test_add_drop_counts),
		cmocka_unit_test(test_drop_count_saturates),
		cmocka_unit_test(test_record_drop_same_reason_elided),
		cmocka_unit_test(test_record_drop_past_gap),
		cmocka_unit_test(test_record_drop_other_reason),
		cmocka_unit_test(test_record_drop_per_connection),
		cmocka_unit_test(test_elided_in_report),
		cmocka_unit_test(test_drop_counts_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
