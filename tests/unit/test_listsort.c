/* Unit tests for daemon/http/listsort.c: the orders of sort=, their
 * tie-break by cookie, and the keys refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "listsort.h"

#define N 5

static struct tw_conn conns[N];
static const struct tw_clock clk = {.now_mono_ns = 100 * NSEC_PER_SEC};

static int setup(void **state)
{
	static const char *const addrs[N] = {"10.0.0.2", "127.0.0.1", "10.0.0.2", "9.9.9.9",
					     "127.0.0.1"};
	static const uint16_t ports[N] = {80, 443, 22, 80, 443};
	static const uint8_t states[N] = {TW_TCP_ESTABLISHED, TW_TCP_LISTEN, TW_TCP_SYN_SENT,
					  TW_TCP_ESTABLISHED, TW_TCP_TIME_WAIT};
	static const uint32_t rtts[N] = {300, 0, 50, 1000, 50};

	(void)state;
	memset(conns, 0, sizeof(conns));
	for (int i = 0; i < N; i++) {
		struct tw_conn *c = &conns[i];

		c->cookie = 100 + (uint64_t)i;
		c->family = AF_INET;
		c->state = states[i];
		inet_pton(AF_INET, addrs[i], c->remote_addr);
		inet_pton(AF_INET, "127.0.0.1", c->local_addr);
		c->remote_port = ports[i];
		c->local_port = (uint16_t)(5000 - i);
		c->first_seen_ns = (uint64_t)(10 + i * 7 % 5) * NSEC_PER_SEC;
		c->info.has_info = i != 1; /* the listener has no sample */
		c->info.rtt_us = rtts[i];
		c->info.bytes_acked = (uint64_t)i * 1000;
		c->info.bytes_received = (uint64_t)(N - i) * 10;
	}
	/* An IPv6 connection sorts after every IPv4 one by address. */
	conns[3].family = AF_INET6;
	inet_pton(AF_INET6, "::1", conns[3].remote_addr);
	return 0;
}

/* The cookies in the order text gives. */
static void order(const char *text, uint64_t out[N])
{
	struct listsort s = {0};
	struct listsort_entry e[N];

	assert_int_equal(listsort_parse(text, &s), 0);
	for (int i = 0; i < N; i++)
		listsort_entry_of(&s, &conns[i], &clk, &e[i]);
	qsort(e, N, sizeof(e[0]), listsort_cmp);
	for (int i = 0; i < N; i++)
		out[i] = e[i].cookie;
}

static void expect(const char *text, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	uint64_t got[N], want[N] = {a, b, c, d, e};

	order(text, got);
	for (int i = 0; i < N; i++)
		if (got[i] != want[i])
			fail_msg("sort=%s: position %d is %llu, want %llu", text, i,
				 (unsigned long long)got[i], (unsigned long long)want[i]);
}

static void test_orders(void **state)
{
	(void)state;
	/* ESTABLISHED=1 (100, 103), SYN_SENT=2, TIME_WAIT=6, LISTEN=10;
	 * ties by cookie, ascending both ways. */
	expect("state", 100, 103, 102, 104, 101);
	expect("-state", 101, 104, 102, 100, 103);
	/* 10.0.0.2:22, 10.0.0.2:80, 127.0.0.1:443 (101, 104), then [::1]. */
	expect("remote", 102, 100, 101, 104, 103);
	/* Local ports 5000 - i, the IPv6 one (103) last. */
	expect("local", 104, 102, 101, 100, 103); /* [::1] of 103 last */
	/* 50 (102, 104), 300, 1000; the unsampled listener last both ways. */
	expect("rtt", 102, 104, 100, 103, 101);
	expect("-rtt", 103, 100, 102, 104, 101);
	/* acked i*1000 + received (5-i)*10: ascending with i; 101 unsampled. */
	expect("bytes", 100, 102, 103, 104, 101);
	expect("-bytes", 104, 103, 102, 100, 101);
	/* first seen 10, 12, 14, 11, 13 s: ages 90, 88, 86, 89, 87. */
	expect("age", 102, 104, 101, 103, 100);
	expect("-cookie", 104, 103, 102, 101, 100);
	expect("+cookie", 100, 101, 102, 103, 104);
}

static void test_closed_age_and_state(void **state)
{
	struct listsort s = {.key = LISTSORT_AGE};
	struct listsort_entry e;

	(void)state;
	conns[0].flags |= TW_CONN_CLOSED;
	conn_set_closed_ns(&conns[0], 15 * NSEC_PER_SEC);
	listsort_entry_of(&s, &conns[0], &clk, &e);
	assert_int_equal(e.k[0], 5 * NSEC_PER_SEC); /* first seen to its close */
	s.key = LISTSORT_STATE;
	listsort_entry_of(&s, &conns[0], &clk, &e);
	assert_int_equal(e.k[0], TW_TCP_CLOSE);
}

static void test_parse(void **state)
{
	struct listsort s = {.key = 77, .descending = true};

	(void)state;
	assert_int_equal(listsort_parse("rtt", &s), 0);
	assert_int_equal(s.key, LISTSORT_RTT);
	assert_false(s.descending);
	assert_int_equal(listsort_parse("-age", &s), 0);
	assert_int_equal(s.key, LISTSORT_AGE);
	assert_true(s.descending);
	s.key = 77;
	assert_int_equal(listsort_parse("bogus", &s), -EINVAL);
	assert_int_equal(listsort_parse("", &s), -EINVAL);
	assert_int_equal(listsort_parse("-", &s), -EINVAL);
	assert_int_equal(listsort_parse("rtts", &s), -EINVAL);
	assert_int_equal(s.key, 77); /* untouched on failure */
	assert_non_null(strstr(listsort_keys_text, "rtt"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_orders, setup),
		cmocka_unit_test_setup(test_closed_age_and_state, setup),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
