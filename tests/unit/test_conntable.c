/* Unit tests for daemon/conntable.c: the cookie hash table, histories,
 * retention, limits and the listener index. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "conntable_int.h"

static const struct tw_conntable_limits default_limits = {
	.max_live = 1000000,
	.retain_count = 1000000,
	.retain_age_ns = UINT64_MAX / 2,
	.history_max = 32,
};

static struct tw_conntable *table_with(uint32_t max_live, uint32_t retain_count,
				       uint64_t retain_age_ns, uint16_t history_max)
{
	struct tw_conntable_limits l = {
		.max_live = max_live,
		.retain_count = retain_count,
		.retain_age_ns = retain_age_ns,
		.history_max = history_max,
	};
	struct tw_conntable *t = conntable_new(&l);

	assert_non_null(t);
	return t;
}

static struct tw_conn *add(struct tw_conntable *t, uint64_t cookie)
{
	bool created = false;
	struct tw_conn *c;

	assert_non_null(t);
	c = conntable_get_or_add(t, cookie, &created);

	assert_non_null(c);
	assert_true(created);
	assert_int_equal(c->cookie, cookie);
	return c;
}

/* splitmix64: a bijection, so distinct inputs give distinct cookies. */
static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static void shuffle(uint64_t *v, size_t n, uint64_t seed)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(mix(seed + i) % (i + 1));
		uint64_t tmp = v[i];

		v[i] = v[j];
		v[j] = tmp;
	}
}

static void test_new_and_free(void **state)
{
	struct tw_conntable *t = conntable_new(&default_limits);
	struct tw_conntable_stats st;

	(void)state;
	assert_non_null(t);
	assert_null(conntable_get(t, 1));
	conntable_get_stats(t, &st);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.retained, 0);
	assert_int_equal(st.listeners, 0);
	conntable_free(t);
	conntable_free(NULL); /* destructors accept NULL */
}

static void test_get_or_add_existing(void **state)
{
	struct tw_conntable *t = conntable_new(&default_limits);
	struct tw_conn *c = add(t, 42);
	bool created = true;

	(void)state;
	c->local_port = 1234;
	assert_ptr_equal(conntable_get_or_add(t, 42, &created), c);
	assert_false(created);
	assert_ptr_equal(conntable_get(t, 42), c);
	assert_int_equal(conntable_get(t, 42)->local_port, 1234);
	/* A new one is zeroed but for its cookie. */
	c = add(t, 43);
	assert_int_equal(c->state, 0);
	assert_int_equal(c->flags, 0);
	assert_int_equal(c->hist_len, 0);
	conntable_free(t);
}

/*
 * 100,000 random and 50,000 sequential cookies, then half removed in random
 * order: every survivor must still be found, every removed one must not.
 * The table grows through many sizes on the way.
 */
static void test_many_cookies(void **state)
{
	enum { N_RANDOM = 100000, N_SEQ = 50000, N = N_RANDOM + N_SEQ };
	struct tw_conntable *t = conntable_new(&default_limits);
	uint64_t *cookies = malloc(N * sizeof(*cookies));
	struct tw_conntable_stats st;
	size_t i;

	(void)state;
	assert_non_null(cookies);
	for (i = 0; i < N_RANDOM; i++)
		cookies[i] = mix(i) | 1ull << 63; /* disjoint from the sequential ones */
	for (i = 0; i < N_SEQ; i++)
		cookies[N_RANDOM + i] = 4096 + i;
	for (i = 0; i < N; i++)
		add(t, cookies[i]);
	for (i = 0; i < N; i++) {
		struct tw_conn *c = conntable_get(t, cookies[i]);

		assert_non_null(c);
		assert_int_equal(c->cookie, cookies[i]);
	}
	conntable_get_stats(t, &st);
	assert_int_equal(st.live, N);

	shuffle(cookies, N, 7);
	for (i = 0; i < N / 2; i++) {
		struct tw_conn *c = conntable_get(t, cookies[i]);

		assert_non_null(c);
		conntable_remove(t, c);
		assert_null(conntable_get(t, cookies[i]));
	}
	for (i = 0; i < N / 2; i++)
		assert_null(conntable_get(t, cookies[i]));
	for (i = N / 2; i < N; i++) {
		struct tw_conn *c = conntable_get(t, cookies[i]);

		assert_non_null(c);
		assert_int_equal(c->cookie, cookies[i]);
	}
	conntable_get_stats(t, &st);
	assert_int_equal(st.live, N - N / 2);

	/* Removed cookies can be added again, and only once. */
	for (i = 0; i < 1000; i++)
		add(t, cookies[i]);
	for (i = 0; i < N / 2; i++)
		assert_true(i < 1000 ? conntable_get(t, cookies[i]) != NULL
				     : conntable_get(t, cookies[i]) == NULL);
	free(cookies);
	conntable_free(t);
}

/* Cookies that share one bucket chain, emptied in every rotation of the
 * removal order: the head, the middle and the tail are unlinked. In the
 * initial 1024-bucket table a cookie's bucket is its low 10 bits (the batch
 * hash only moves whole 4096-cookie blocks); if the hash changes this test
 * still checks correctness, only less pointedly. */
static void test_remove_from_chain(void **state)
{
	enum { K = 8 };
	uint64_t c[K];

	(void)state;
	for (size_t i = 0; i < K; i++)
		c[i] = 5 + i * 1024;
	for (size_t start = 0; start < K; start++) {
		struct tw_conntable *t = conntable_new(&default_limits);

		for (size_t i = 0; i < K; i++)
			add(t, c[i]);
		for (size_t k = 0; k < K; k++) {
			size_t victim = (start + k * 3) % K; /* 3 is coprime with 8 */

			conntable_remove(t, conntable_get(t, c[victim]));
			for (size_t m = 0; m <= k; m++)
				assert_null(conntable_get(t, c[(start + m * 3) % K]));
			for (size_t m = k + 1; m < K; m++)
				assert_non_null(conntable_get(t, c[(start + m * 3) % K]));
		}
		conntable_free(t);
	}
}

static void append_state(struct tw_conntable *t, struct tw_conn *c, uint64_t time_ns)
{
	struct tw_hist h = {
		.time_ns = time_ns,
		.kind = TW_HIST_STATE,
		.from = 1,
		.to = 2,
	};

	assert_int_equal(conntable_hist_append(t, c, &h), 0);
}

static void test_history_bounds(void **state)
{
	struct tw_conntable *t = table_with(100, 100, UINT64_MAX, 8);
	struct tw_conn *c = add(t, 1), *d = add(t, 2);
	struct tw_conntable_stats st;

	(void)state;
	for (uint64_t i = 0; i < 8; i++)
		append_state(t, c, i);
	assert_int_equal(c->hist_len, 8);
	assert_int_equal(conn_hist_dropped(c), 0);

	for (uint64_t i = 8; i < 20; i++)
		append_state(t, c, i);
	assert_int_equal(c->hist_len, 8);
	assert_int_equal(conn_hist_dropped(c), 12);
	/* The first TW_HIST_KEEP_FIRST entries, then the latest ones. */
	for (int i = 0; i < TW_HIST_KEEP_FIRST; i++)
		assert_int_equal(conn_hist(c, i).time_ns, i);
	for (int i = TW_HIST_KEEP_FIRST; i < 8; i++)
		assert_int_equal(conn_hist(c, i).time_ns, 20 - 8 + i);
	assert_int_equal(conn_hist(c, 7).time_ns, 19);

	for (uint64_t i = 0; i < 3; i++)
		append_state(t, d, 100 + i);
	conntable_get_stats(t, &st);
	assert_int_equal(st.history_dropped, 12);
	assert_int_equal(conn_hist_dropped(d), 0);
	assert_int_equal(d->hist_len, 3);
	conntable_free(t);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* An entry in 8 bytes: every field back as it went in, the time exact
 * within 2^34 ns of first_seen (either side) and to one part in 2^34
 * beyond; a stamp exact within 2^27 ns, to one part in 2^27 beyond. */
static void test_hist_packing(void **state)
{
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint64_t base = rnd(&x) >> 2, span = rnd(&x) >> (rnd(&x) % 64), t, got, err;
		struct tw_hist back, h = {
					     .kind = (uint8_t)(1 + rnd(&x) % (TW_HIST_KINDS - 1)),
					     .flags = (uint8_t)(rnd(&x) & 1),
					     .from = (uint8_t)(rnd(&x) % TW_TCP_MAX_STATES),
				     };

		if (span > base)
			span = base;
		t = rnd(&x) & 1 ? base + span : base - span;
		h.time_ns = t;
		if (h.kind == TW_HIST_STATE)
			h.to = (uint8_t)(rnd(&x) % TW_TCP_MAX_STATES);
		else
			h.value = (uint32_t)(rnd(&x) % (TW_HIST_VALUE_MAX + 1));
		back = tw_hist_unpack(base, tw_hist_pack(base, &h));

		assert_int_equal(back.kind, h.kind);
		assert_int_equal(back.flags, h.flags);
		assert_int_equal(back.from, h.from);
		assert_int_equal(back.to, h.to);
		assert_int_equal(back.value, h.value);
		got = back.time_ns;
		err = got > t ? got - t : t - got;
		if (span < (1ull << 34))
			assert_int_equal(got, t);
		else
			assert_true(err < span >> 33);
		/* Rounded toward first_seen, never past it. */
		assert_true(span < (1ull << 34) || (t > base ? got <= t : got >= t));

		got = tw_stamp_dec(base, tw_stamp_enc(base, base + span));
		if (span >> 57)
			assert_true(got <= base + span); /* the most it keeps */
		else if (span < (1ull << 27))
			assert_int_equal(got, base + span);
		else
			assert_true(got <= base + span && base + span - got <= span >> 26);
	}
	/* Over the value's bits: the most it keeps. */
	assert_int_equal(tw_hist_unpack(0, tw_hist_pack(0, &(struct tw_hist){.kind = TW_HIST_ACCEPT,
									     .value = 1u << 20}))
				 .value,
			 TW_HIST_VALUE_MAX);
	assert_int_equal(tw_stamp_dec(7, 0), 0);
	assert_true(tw_stamp_enc(7, 7) != 0);
	assert_int_equal(tw_stamp_dec(7, tw_stamp_enc(7, 7)), 7);
}

/* first_seen moves (a request's first SYN-ACK learnt after a dump): the
 * history, the close and the sample keep their times. */
static void test_first_seen_moves(void **state)
{
	struct tw_conntable *t = table_with(100, 100, UINT64_MAX, 32);
	struct tw_conn *c = add(t, 1);
	uint64_t T = 5000000000000ull;

	(void)state;
	c->first_seen_ns = T;
	for (uint64_t i = 0; i < 10; i++)
		append_state(t, c, T + i * 1000003);
	conn_set_sample_ns(c, T + 77);
	conntable_set_first_seen(c, T - 3000000000ull);
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(conn_hist(c, (uint32_t)i).time_ns, T + i * 1000003);
	/* 3 s from first_seen: a stamp is within 2^-27 of it (24 ns). */
	assert_true(conn_sample_ns(c) <= T + 77 && T + 77 - conn_sample_ns(c) < 32);
	assert_int_equal(c->first_seen_ns, T - 3000000000ull);
	/* A STATE entry's to, changed in place (reconcile's early TIME_WAIT). */
	conn_hist_set_to(c, 9, TW_TCP_FIN_WAIT2);
	assert_int_equal(conn_hist(c, 9).to, TW_TCP_FIN_WAIT2);
	assert_int_equal(conn_hist(c, 9).time_ns, T + 9 * 1000003);
	conntable_retire(t, c, T + 5);
	assert_true(conn_closed_ns(c) <= T + 5 && T + 5 - conn_closed_ns(c) < 32);
	conntable_set_first_seen(c, T);
	assert_true(conn_closed_ns(c) <= T + 5 && T + 5 - conn_closed_ns(c) < 32);
	conntable_free(t);
}

static void test_history_max_floor(void **state)
{
	/* Too small to fill the record's entries and drop only on the heap:
	 * raised. */
	struct tw_conntable *t = table_with(100, 100, UINT64_MAX, 1);
	struct tw_conn *c = add(t, 1);

	(void)state;
	assert_int_equal(conntable_limits(t)->history_max, TW_HIST_INLINE + 1);
	for (uint64_t i = 0; i < 50; i++)
		append_state(t, c, i);
	assert_int_equal(c->hist_len, TW_HIST_INLINE + 1);
	assert_int_equal(conn_hist(c, 0).time_ns, 0);
	assert_int_equal(conn_hist(c, c->hist_len - 1).time_ns, 49);
	assert_int_equal(conn_hist_dropped(c), 50 - (TW_HIST_INLINE + 1));
	conntable_free(t);
}

/* Request sockets have their own bound (a SYN flood is the outside's to
 * grow): over it they are refused and counted, ordinary connections are
 * not, and a removed request makes room again. */
static void test_max_requests(void **state)
{
	struct tw_conntable_limits l = default_limits;
	struct tw_conntable_stats st;
	struct tw_conntable *t;
	struct tw_conn *c, *reqs[4];
	bool created;

	(void)state;
	l.max_requests = 4;
	t = conntable_new(&l);
	assert_non_null(t);
	for (uint64_t i = 0; i < 4; i++) {
		reqs[i] = conntable_add_request(t, 100 + i, &created);
		assert_non_null(reqs[i]);
		assert_true(created);
		assert_true(reqs[i]->flags & TW_CONN_REQUEST);
	}
	/* An existing one is returned, not counted again. */
	assert_ptr_equal(conntable_add_request(t, 101, &created), reqs[1]);
	assert_false(created);
	assert_null(conntable_add_request(t, 200, &created));
	assert_null(conntable_get(t, 200));
	/* Ordinary connections are not held back. */
	c = add(t, 300);
	assert_false(c->flags & TW_CONN_REQUEST);
	conntable_get_stats(t, &st);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.requests_refused, 1);
	assert_int_equal(st.live, 5);
	conntable_remove(t, reqs[0]);
	c = conntable_add_request(t, 200, &created);
	assert_non_null(c);
	assert_true(created);
	conntable_get_stats(t, &st);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.requests_refused, 1);
	conntable_free(t);
}

/* history_max is a uint16_t: every value it can hold must work. The
 * capacity doubling must not wrap at 32768 * 2. */
static void test_history_max_large(void **state)
{
	struct tw_conntable *t = table_with(100, 100, UINT64_MAX, 40000);
	struct tw_conn *c = add(t, 1);

	(void)state;
	for (uint64_t i = 0; i < 40010; i++)
		append_state(t, c, i);
	assert_int_equal(c->hist_len, 40000);
	assert_int_equal(conn_hist_dropped(c), 10);
	assert_int_equal(conn_hist(c, 39999).time_ns, 40009);
	conntable_free(t);
}

static void test_history_bytes_accounted(void **state)
{
	struct tw_conntable *t = table_with(100, 100, UINT64_MAX, 32);
	struct tw_conn *c = add(t, 1);
	struct tw_conntable_stats before, after;

	(void)state;
	conntable_get_stats(t, &before);
	assert_true(before.bytes > 0);
	for (uint64_t i = 0; i < 20; i++)
		append_state(t, c, i);
	conntable_get_stats(t, &after);
	assert_true(after.bytes >= before.bytes + 20 * sizeof(uint64_t)); /* 8 bytes an entry */
	/* The history's bytes are given back; the record's slab chunk stays,
	 * the table's only one. */
	conntable_remove(t, c);
	conntable_get_stats(t, &after);
	assert_int_equal(after.bytes, before.bytes);
	conntable_free(t);
}

static void test_retire_and_stats(void **state)
{
	struct tw_conntable *t = conntable_new(&default_limits);
	struct tw_conn *a = add(t, 1);
	struct tw_conntable_stats st;

	(void)state;
	add(t, 2);
	conntable_retire(t, a, 500);
	assert_true(a->flags & TW_CONN_CLOSED);
	assert_int_equal(conn_closed_ns(a), 500);
	conntable_get_stats(t, &st);
	assert_int_equal(st.live, 1);
	assert_int_equal(st.retained, 1);
	/* Retiring twice changes nothing. */
	conntable_retire(t, a, 900);
	assert_int_equal(conn_closed_ns(a), 500);
	conntable_get_stats(t, &st);
	assert_int_equal(st.live, 1);
	assert_int_equal(st.retained, 1);
	/* Retained connections are still found by cookie. */
	assert_ptr_equal(conntable_get(t, 1), a);
	conntable_remove(t, a);
	conntable_get_stats(t, &st);
	assert_int_equal(st.live, 1);
	assert_int_equal(st.retained, 0);
	assert_null(conntable_get(t, 1));
	conntable_free(t);
}

static void test_expire_by_count(void **state)
{
	struct tw_conntable *t = table_with(100, 3, UINT64_MAX, 8);
	struct tw_conntable_stats st;

	(void)state;
	for (uint64_t i = 1; i <= 3; i++)
		conntable_retire(t, add(t, i), i * 10);
	add(t, 99); /* live: never expired */
	conntable_get_stats(t, &st);
	assert_int_equal(st.retained, 3);
	assert_int_equal(st.evicted, 0);
	/* Past the bound, retiring evicts at once, the oldest first. */
	conntable_retire(t, add(t, 4), 40);
	assert_null(conntable_get(t, 1));
	assert_non_null(conntable_get(t, 2));
	conntable_retire(t, add(t, 5), 50);
	assert_int_equal(conntable_expire(t, 100), 0);
	assert_null(conntable_get(t, 1));
	assert_null(conntable_get(t, 2));
	for (uint64_t i = 3; i <= 5; i++)
		assert_non_null(conntable_get(t, i));
	assert_non_null(conntable_get(t, 99));
	conntable_get_stats(t, &st);
	assert_int_equal(st.retained, 3);
	assert_int_equal(st.live, 1);
	assert_int_equal(st.evicted, 2);
	assert_int_equal(conntable_expire(t, 100), 0);
	conntable_free(t);
}

static void test_expire_by_age(void **state)
{
	struct tw_conntable *t = table_with(100, 100, 100, 8);
	struct tw_conntable_stats st;

	(void)state;
	conntable_retire(t, add(t, 1), 10);
	conntable_retire(t, add(t, 2), 50);
	conntable_retire(t, add(t, 3), 90);
	assert_int_equal(conntable_expire(t, 110), 0); /* exactly the age: kept */
	assert_int_equal(conntable_expire(t, 140), 1);
	assert_null(conntable_get(t, 1));
	assert_non_null(conntable_get(t, 2));
	assert_int_equal(conntable_expire(t, 150), 0);
	assert_int_equal(conntable_expire(t, 1000), 2);
	assert_null(conntable_get(t, 2));
	assert_null(conntable_get(t, 3));
	conntable_get_stats(t, &st);
	assert_int_equal(st.retained, 0);
	assert_int_equal(st.evicted, 3);
	conntable_free(t);
}

static void test_revive(void **state)
{
	struct tw_conntable *t = table_with(100, 100, 5, 8);
	struct tw_conn *a = add(t, 1), *b = add(t, 2), *c = add(t, 3);
	struct tw_conntable_stats st;

	(void)state;
	conntable_retire(t, a, 1);
	conntable_retire(t, b, 2);
	conntable_retire(t, c, 3);
	/* Revived from the middle of the retention queue. */
	conntable_revive(t, b);
	assert_false(b->flags & TW_CONN_CLOSED);
	assert_int_equal(conn_closed_ns(b), 0);
	conntable_get_stats(t, &st);
	assert_int_equal(st.live, 1);
	assert_int_equal(st.retained, 2);
	/* Everything closed is too old at 10, the revived one stays. */
	assert_int_equal(conntable_expire(t, 10), 2);
	assert_null(conntable_get(t, 1));
	assert_null(conntable_get(t, 3));
	assert_ptr_equal(conntable_get(t, 2), b);
	/* Reviving a live connection changes nothing. */
	conntable_revive(t, b);
	conntable_get_stats(t, &st);
	assert_int_equal(st.live, 1);
	assert_int_equal(st.retained, 0);
	/* And it can be retired again. */
	conntable_retire(t, b, 20);
	assert_int_equal(conntable_expire(t, 30), 1);
	assert_null(conntable_get(t, 2));
	conntable_free(t);
}

/* Connections leaving retention from its head, middle and tail leave
 * holes; eviction still goes oldest first and skips them. */
static void test_retention_holes(void **state)
{
	struct tw_conntable *t = table_with(100, 100, 100, 8);
	struct tw_conn *c[6];
	struct tw_conntable_stats st;

	(void)state;
	for (int i = 0; i < 6; i++) {
		c[i] = add(t, (uint64_t)i + 1);
		conntable_retire(t, c[i], (uint64_t)i + 1);
	}
	conntable_remove(t, c[0]); /* the head */
	conntable_revive(t, c[2]); /* the middle */
	conntable_remove(t, c[5]); /* the tail */
	conntable_get_stats(t, &st);
	assert_int_equal(st.retained, 3);
	assert_int_equal(st.live, 1);
	/* A revived connection closing again is the newest. */
	conntable_retire(t, c[2], 50);
	/* Age 100: at 103 those closed before 3 go, which is only the one
	 * closed at 2 (the one closed at 1 was removed, at 3 revived). */
	assert_int_equal(conntable_expire(t, 103), 1);
	assert_null(conntable_get(t, 2));
	assert_non_null(conntable_get(t, 4));
	assert_int_equal(conntable_expire(t, 106), 2);
	assert_null(conntable_get(t, 4));
	assert_null(conntable_get(t, 5));
	assert_ptr_equal(conntable_get(t, 3), c[2]);
	assert_int_equal(conntable_expire(t, 151), 1);
	conntable_get_stats(t, &st);
	assert_int_equal(st.retained, 0);
	assert_int_equal(st.live, 0);
	assert_int_equal(conntable_expire(t, 1000), 0);
	conntable_free(t);
}

/* The queue grows past its first size (1024), and is rebuilt at the same
 * size when holes fill it; either way eviction stays oldest first. */
static void test_retention_grows_and_compacts(void **state)
{
	enum { N = 5000 };
	const uint64_t age = 1000;
	struct tw_conntable *t = table_with(N, N, age, 8);
	struct tw_conn **c = calloc(N, sizeof(*c));
	uint64_t *closed = calloc(N, sizeof(*closed)), now = 0;
	struct tw_conntable_stats st;

	(void)state;
	assert_non_null(c);
	assert_non_null(closed);
	for (uint64_t i = 0; i < N; i++) {
		c[i] = add(t, i + 1);
		closed[i] = ++now;
		conntable_retire(t, c[i], closed[i]);
	}
	/* Three in four revived and closed again, four times over: 20,000
	 * positions for 5,000 connections, so the ring doubles up to 16384
	 * and then has to be rebuilt for its holes. */
	for (int round = 0; round < 4; round++)
		for (uint64_t i = 0; i < N; i++)
			if (i % 4) {
				/* Out of memory (the allocation-failure sweep),
				 * a retire that cannot grow the ring evicts the
				 * oldest: its pointer here would dangle. */
				assert_ptr_equal(conntable_get(t, i + 1), c[i]);
				conntable_revive(t, c[i]);
				closed[i] = ++now;
				conntable_retire(t, c[i], closed[i]);
			}
	conntable_get_stats(t, &st);
	assert_int_equal(st.retained, N);
	assert_int_equal(st.evicted, 0);
	/* Expire in steps: exactly those closed more than `age` before go. */
	for (uint64_t step = now / 7;; step += now / 7) {
		uint64_t at = step + age, want = 0;

		for (uint64_t i = 0; i < N; i++)
			if (closed[i] && closed[i] + age < at)
				want++;
		assert_int_equal(conntable_expire(t, at), want);
		for (uint64_t i = 0; i < N; i++) {
			bool gone = closed[i] && closed[i] + age < at;

			if (gone)
				closed[i] = 0;
			assert_int_equal(conntable_get(t, i + 1) != NULL, closed[i] != 0);
		}
		if (step > now)
			break;
	}
	conntable_get_stats(t, &st);
	assert_int_equal(st.retained, 0);
	assert_int_equal(st.evicted, N);
	free(closed);
	free(c);
	conntable_free(t);
}

static void test_max_live(void **state)
{
	struct tw_conntable *t = table_with(3, 100, UINT64_MAX, 8);
	struct tw_conntable_stats st;
	bool created = true;
	struct tw_conn *a;

	(void)state;
	a = add(t, 1);
	add(t, 2);
	add(t, 3);
	assert_null(conntable_get_or_add(t, 4, &created));
	assert_false(created);
	assert_null(conntable_get(t, 4));
	conntable_get_stats(t, &st);
	assert_int_equal(st.refused_full, 1);
	assert_int_equal(st.live, 3);
	/* An existing one is still returned when full. */
	assert_ptr_equal(conntable_get_or_add(t, 1, &created), a);
	assert_false(created);
	conntable_get_stats(t, &st);
	assert_int_equal(st.refused_full, 1);
	/* Retained connections do not count against max_live. */
	conntable_retire(t, a, 1);
	add(t, 4);
	assert_null(conntable_get_or_add(t, 5, &created));
	conntable_get_stats(t, &st);
	assert_int_equal(st.refused_full, 2);
	assert_int_equal(st.live, 3);
	assert_int_equal(st.retained, 1);
	conntable_free(t);
}

static struct tw_conn *add_listener(struct tw_conntable *t, uint64_t cookie, uint32_t netns,
				    int family, const char *addr, uint16_t port)
{
	struct tw_conn *c = add(t, cookie);

	c->netns = netns;
	c->family = (uint8_t)family;
	c->state = TW_TCP_LISTEN;
	c->local_port = port;
	if (addr)
		memcpy(c->local_addr, addr, family == AF_INET ? 4 : 16);
	conntable_update_listener(t, c);
	return c;
}

/* 16 bytes each, IPv4 in the first four, as the table stores them. */
static const char v4_any[16] = {0};
static const char v4_a[16] = {10, 0, 0, 1};
static const char v4_b[16] = {10, 0, 0, 2};
static const char v6_any[16] = {0};
static const char v6_a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const char v6_b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

#define A(x) ((const uint8_t *)(x))

static void test_listener_exact_beats_wildcard(void **state)
{
	struct tw_conntable *t = conntable_new(&default_limits);
	struct tw_conn *any, *exact;
	struct tw_conntable_stats st;

	(void)state;
	/* Added in both orders so the chain order cannot decide. */
	any = add_listener(t, 1, 7, AF_INET, v4_any, 80);
	exact = add_listener(t, 2, 7, AF_INET, v4_a, 80);
	assert_true(exact->flags & TW_CONN_LISTEN_INDEXED);
	assert_ptr_equal(conntable_find_listener(t, 7, AF_INET, A(v4_a), 80), exact);
	assert_ptr_equal(conntable_find_listener(t, 7, AF_INET, A(v4_b), 80), any);
	assert_null(conntable_find_listener(t, 8, AF_INET, A(v4_a), 80));
	assert_null(conntable_find_listener(t, 7, AF_INET, A(v4_a), 81));
	/* An IPv4 listener does not take IPv6. */
	assert_null(conntable_find_listener(t, 7, AF_INET6, A(v6_a), 80));

	exact = add_listener(t, 3, 7, AF_INET, v4_b, 443);
	any = add_listener(t, 4, 7, AF_INET, v4_any, 443);
	assert_ptr_equal(conntable_find_listener(t, 7, AF_INET, A(v4_b), 443), exact);
	assert_ptr_equal(conntable_find_listener(t, 7, AF_INET, A(v4_a), 443), any);
	conntable_get_stats(t, &st);
	assert_int_equal(st.listeners, 4);
	conntable_free(t);
}

static void test_listener_ipv6(void **state)
{
	struct tw_conntable *t = conntable_new(&default_limits);
	struct tw_conn *any6, *exact6;

	(void)state;
	any6 = add_listener(t, 1, 7, AF_INET6, v6_any, 22);
	/* An IPv6 wildcard listener also accepts IPv4. */
	assert_ptr_equal(conntable_find_listener(t, 7, AF_INET, A(v4_a), 22), any6);
	assert_ptr_equal(conntable_find_listener(t, 7, AF_INET6, A(v6_a), 22), any6);

	exact6 = add_listener(t, 2, 7, AF_INET6, v6_b, 8080);
	assert_ptr_equal(conntable_find_listener(t, 7, AF_INET6, A(v6_b), 8080), exact6);
	assert_null(conntable_find_listener(t, 7, AF_INET6, A(v6_a), 8080));
	/* A specific IPv6 listener does not accept IPv4. */
	assert_null(conntable_find_listener(t, 7, AF_INET, A(v4_a), 8080));
	conntable_free(t);
}

static void test_listener_unindexed(void **state)
{
	struct tw_conntable *t = conntable_new(&default_limits);
	struct tw_conn *l, *m, *n;
	struct tw_conntable_stats st;

	(void)state;
	l = add_listener(t, 1, 7, AF_INET, v4_any, 80);
	m = add_listener(t, 2, 7, AF_INET, v4_any, 81);
	n = add_listener(t, 3, 7, AF_INET, v4_any, 82);
	conntable_update_listener(t, l); /* again: no duplicate */
	conntable_get_stats(t, &st);
	assert_int_equal(st.listeners, 3);

	/* Leaving LISTEN removes it from the index. */
	l->state = TW_TCP_CLOSE;
	conntable_update_listener(t, l);
	assert_false(l->flags & TW_CONN_LISTEN_INDEXED);
	assert_null(conntable_find_listener(t, 7, AF_INET, A(v4_a), 80));

	/* So does retiring, even with the state still LISTEN. */
	conntable_retire(t, m, 5);
	assert_null(conntable_find_listener(t, 7, AF_INET, A(v4_a), 81));

	/* And removal: the index must not keep a dangling pointer. */
	conntable_remove(t, n);
	assert_null(conntable_find_listener(t, 7, AF_INET, A(v4_a), 82));
	conntable_get_stats(t, &st);
	assert_int_equal(st.listeners, 0);

	/* A socket without a port yet is not indexed. */
	l = add_listener(t, 4, 7, AF_INET, v4_any, 0);
	assert_false(l->flags & TW_CONN_LISTEN_INDEXED);
	conntable_free(t);
}

static void test_many_listeners(void **state)
{
	enum { N = 500 };
	struct tw_conntable *t = conntable_new(&default_limits);
	struct tw_conntable_stats st;

	(void)state;
	for (uint16_t p = 1; p <= N; p++)
		add_listener(t, p, p % 3, AF_INET, v4_any, p);
	conntable_get_stats(t, &st);
	assert_int_equal(st.listeners, N);
	for (uint16_t p = 1; p <= N; p++) {
		struct tw_conn *l = conntable_find_listener(t, p % 3, AF_INET, A(v4_a), p);

		assert_non_null(l);
		assert_int_equal(l->cookie, p);
		assert_null(conntable_find_listener(t, (p + 1) % 3, AF_INET, A(v4_a), p));
	}
	conntable_free(t);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_sorted_cookies(void **state)
{
	enum { N = 3000 };
	struct tw_conntable *t = conntable_new(&default_limits);
	uint64_t want[N], *got;
	size_t n = 12345;

	(void)state;
	assert_non_null(t);
	got = conntable_sorted_cookies(t, &n);
	assert_non_null(got);
	assert_int_equal(n, 0);
	free(got);

	for (size_t i = 0; i < N; i++) {
		want[i] = mix(i + 1000);
		add(t, want[i]);
	}
	/* Retained connections are listed too. */
	conntable_retire(t, conntable_get(t, want[5]), 1);
	qsort(want, N, sizeof(want[0]), cmp_u64);
	got = conntable_sorted_cookies(t, &n);
	assert_non_null(got);
	assert_int_equal(n, N);
	assert_memory_equal(got, want, sizeof(want));
	free(got);
	conntable_free(t);
}

static void count_cb(struct tw_conn *c, void *data)
{
	uint64_t *sum = data;

	sum[0]++;
	sum[1] += c->cookie;
}

static void test_foreach(void **state)
{
	struct tw_conntable *t = conntable_new(&default_limits);
	uint64_t sum[2] = {0};

	(void)state;
	for (uint64_t i = 1; i <= 100; i++)
		add(t, i);
	conntable_retire(t, conntable_get(t, 50), 1);
	conntable_foreach(t, count_cb, sum);
	assert_int_equal(sum[0], 100);
	assert_int_equal(sum[1], 5050);
	conntable_free(t);
}

/* conntable_reserve: buckets for n at once (a power of two, at most
 * max_live's), never fewer than it has; the records in it are still
 * found, and adding up to n more does not grow it. */
static void test_reserve(void **state)
{
	struct tw_conntable_limits l = default_limits;
	struct tw_conntable *t;
	bool created;

	(void)state;
	l.max_live = 100000;
	t = conntable_new(&l);
	assert_non_null(t);
	for (uint64_t c = 1; c <= 500; c++)
		assert_non_null(conntable_get_or_add(t, c, &created));
	assert_int_equal(conntable_reserve(t, 5000), 0);
	assert_int_equal(conntable_bucket_count(t), 8192);
	for (uint64_t c = 1; c <= 500; c++) {
		struct tw_conn *x = conntable_get(t, c);

		assert_non_null(x);
		assert_int_equal(x->cookie, c);
	}
	for (uint64_t c = 501; c <= 8192; c++)
		assert_non_null(conntable_get_or_add(t, c, &created));
	assert_int_equal(conntable_bucket_count(t), 8192);
	/* Fewer than it has: unchanged. More than max_live: max_live's. */
	assert_int_equal(conntable_reserve(t, 10), 0);
	assert_int_equal(conntable_bucket_count(t), 8192);
	assert_int_equal(conntable_reserve(t, SIZE_MAX), 0);
	assert_int_equal(conntable_bucket_count(t), 131072);
	assert_non_null(conntable_get(t, 4096));
	conntable_free(t);
}

/* Visits per cookie (below 1 << 16) of a walk by positions. */
static void count_visit(struct tw_conn *c, void *data)
{
	uint8_t *v = data;

	assert_true(c->cookie < 65536);
	v[c->cookie]++;
}

/* The table doubles in steps, a few buckets per insert: meanwhile every
 * connection is found, removed and walked (by positions: each exactly
 * once, however far the doubling got), and once it ends the old buckets
 * are gone and the positions are the new buckets. */
static void test_doubling_in_steps(void **state)
{
	struct tw_conntable *t = conntable_new(&default_limits);
	uint8_t *present = calloc(65536, 1), *visits = calloc(65536, 1);
	uint64_t rnd = 12345, next_cookie = 1;
	bool created, saw_doubling = false;
	size_t n_present = 0;

	(void)state;
	assert_non_null(t);
	assert_non_null(present);
	assert_non_null(visits);
	for (int op = 0; op < 40000; op++) {
		rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
		if (rnd >> 62 == 0 && n_present) { /* a quarter: remove one */
			uint64_t k = 1 + (rnd >> 20) % (next_cookie - 1);
			struct tw_conn *c = conntable_get(t, k);

			assert_true(!c == !present[k]);
			if (c) {
				conntable_remove(t, c);
				present[k] = 0;
				n_present--;
			}
		} else if (next_cookie < 65536) {
			assert_non_null(conntable_get_or_add(t, next_cookie, &created));
			assert_true(created);
			present[next_cookie++] = 1;
			n_present++;
		}
		if (t->old) {
			saw_doubling = true;
			assert_int_equal(conntable_bucket_count(t), t->old_cap);
			assert_int_equal(t->cap, 2 * t->old_cap);
			assert_true(t->mig < t->old_cap);
		} else {
			assert_int_equal(conntable_bucket_count(t), t->cap);
		}
		if (op % 97 == 0) {
			size_t pos = 0, total = 0;

			memset(visits, 0, 65536);
			while (pos < conntable_bucket_count(t))
				pos = conntable_foreach_buckets(t, pos, 5, count_visit, visits);
			for (uint64_t k = 1; k < next_cookie; k++) {
				assert_int_equal(visits[k], present[k]);
				total += visits[k];
				assert_true(!conntable_get(t, k) == !present[k]);
			}
			assert_int_equal(total, n_present);
		}
	}
	assert_true(saw_doubling);
	/* Inserts finish a doubling within a quarter of the old count. */
	assert_true(t->cap >= n_present);
	conntable_free(t);
	free(present);
	free(visits);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_free),
		cmocka_unit_test(test_get_or_add_existing),
		cmocka_unit_test(test_many_cookies),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_remove_from_chain),
		cmocka_unit_test(test_history_bounds),
		cmocka_unit_test(test_history_max_floor),
		cmocka_unit_test(test_hist_packing),
		cmocka_unit_test(test_first_seen_moves),
		cmocka_unit_test(test_history_bytes_accounted),
		cmocka_unit_test(test_retire_and_stats),
		cmocka_unit_test(test_expire_by_count),
		cmocka_unit_test(test_expire_by_age),
		cmocka_unit_test(test_revive),
		cmocka_unit_test(test_retention_holes),
		cmocka_unit_test(test_retention_grows_and_compacts),
		cmocka_unit_test(test_max_live),
		cmocka_unit_test(test_max_requests),
		cmocka_unit_test(test_listener_exact_beats_wildcard),
		cmocka_unit_test(test_listener_ipv6),
		cmocka_unit_test(test_listener_unindexed),
		cmocka_unit_test(test_many_listeners),
		cmocka_unit_test(test_sorted_cookies),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_doubling_in_steps),
		/* Last: it exposes a bug that can leave a dangling pointer. */
		cmocka_unit_test(test_history_max_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
