/* Unit tests for daemon/probe/handshakes.c: the handshakes of this host's
 * connections to a probed endpoint, and the handshake_slow finding when
 * they are much slower than the probe RTT to it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "findings.h"
#include "lifecycle.h"
#include "prober_int.h"

#define NETNS 4026531840u

static const struct tw_conntable_limits limits = {.max_live = 1000,
						  .retain_count = 1000,
						  .retain_age_ns = 3600000000000ull,
						  .history_max = 16};

static uint64_t next_cookie = 1;

static void add_conn(struct tw_conntable *t, const char *remote, uint16_t port, uint8_t role,
		     uint32_t handshake_us, uint32_t netns)
{
	bool created = false;
	struct tw_conn *c;

	assert_non_null(t);
	c = conntable_get_or_add(t, next_cookie++, &created);

	assert_non_null(c);
	c->state = TW_TCP_ESTABLISHED;
	c->family = AF_INET;
	c->netns = netns;
	assert_int_equal(inet_pton(AF_INET, remote, c->remote_addr), 1);
	c->remote_port = port;
	c->local_port = (uint16_t)(40000 + next_cookie);
	c->role = role;
	c->handshake_us = handshake_us;
}

static struct tw_probe_target *add_target(struct tw_prober *p, const char *addr, uint16_t port,
					  uint32_t id, const int64_t *rtts_ns, size_t n)
{
	struct tw_probe_target *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_int_equal(results_init(&t->results, 64), 0);
	t->id = id;
	t->family = AF_INET;
	t->port = port;
	t->netns = NETNS;
	t->configured = true;
	assert_int_equal(inet_pton(AF_INET, addr, t->addr), 1);
	for (size_t i = 0; i < n; i++) {
		struct tw_probe_result r = {
			.seq = (uint32_t)i, .state = TW_PROBE_OPEN, .rtt_ns = rtts_ns[i]};

		results_add(&t->results, &r);
	}
	t->next = p->targets;
	p->targets = t;
	return t;
}

static void free_targets(struct tw_prober *p)
{
	while (p->targets) {
		struct tw_probe_target *t = p->targets;

		p->targets = t->next;
		results_free(&t->results);
		free(t);
	}
}

static const int64_t one_ms[] = {1000000, 1000000, 1100000, 900000, 1000000};

static void test_slow_handshakes_found(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_prober p = {0};
	struct tw_finding out[4];
	struct tw_probe_target *x;
	size_t n;

	(void)state;
	x = add_target(&p, "198.18.0.2", 80, 7, one_ms, 5);
	for (int i = 0; i < 5; i++)
		add_conn(t, "198.18.0.2", 80, TW_ROLE_ACTIVE, 50000 + (uint32_t)i, NETNS);
	/* not counted: another port, a passive one, an unknown handshake,
	 * another namespace */
	add_conn(t, "198.18.0.2", 81, TW_ROLE_ACTIVE, 90000, NETNS);
	add_conn(t, "198.18.0.2", 80, TW_ROLE_PASSIVE, 90000, NETNS);
	add_conn(t, "198.18.0.2", 80, TW_ROLE_ACTIVE, 0, NETNS);
	add_conn(t, "198.18.0.2", 80, TW_ROLE_ACTIVE, 90000, NETNS + 1);
	n = prober_handshakes(&p, t, 4, out, 4);
	assert_int_equal(n, 1);
	assert_int_equal(x->hs_count, 5);
	assert_int_equal(x->hs_p50_us, 50002);
	assert_int_equal(x->hs_max_us, 50004);
	assert_int_equal(out[0].kind, TW_FINDING_HANDSHAKE_SLOW);
	assert_int_equal(out[0].port, 80);
	assert_int_equal(out[0].count, 5);
	assert_int_equal(out[0].value, 50002);
	assert_int_equal(out[0].limit, 1000);
	assert_int_equal(out[0].listener_cookie, 7);
	assert_int_equal(out[0].n_cookies, 5);
	assert_false(findings_kind_listener(out[0].kind));
	assert_string_equal(findings_kind_name(out[0].kind), "handshake_slow");
	free_targets(&p);
	conntable_free(t);
}

static void test_within_ratio_no_finding(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_prober p = {0};
	struct tw_finding out[4];
	struct tw_probe_target *x;

	(void)state;
	x = add_target(&p, "198.18.0.2", 80, 1, one_ms, 5);
	for (int i = 0; i < 5; i++)
		add_conn(t, "198.18.0.2", 80, TW_ROLE_ACTIVE, 3900, NETNS); /* < 4 x 1 ms */
	assert_int_equal(prober_handshakes(&p, t, 4, out, 4), 0);
	assert_int_equal(x->hs_count, 5);
	assert_int_equal(x->hs_p50_us, 3900);
	free_targets(&p);
	conntable_free(t);
}

static void test_small_gap_or_few_samples(void **state)
{
	static const int64_t tiny[] = {30000, 30000, 30000}; /* 30 us on loopback */
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_prober p = {0};
	struct tw_finding out[4];

	(void)state;
	/* 10x slower but only 270 us more: not worth a finding */
	add_target(&p, "127.0.0.1", 80, 1, tiny, 3);
	for (int i = 0; i < 3; i++)
		add_conn(t, "127.0.0.1", 80, TW_ROLE_ACTIVE, 300, NETNS);
	/* slow, but two handshakes only */
	add_target(&p, "198.18.0.3", 80, 2, one_ms, 5);
	for (int i = 0; i < 2; i++)
		add_conn(t, "198.18.0.3", 80, TW_ROLE_ACTIVE, 80000, NETNS);
	/* slow handshakes, but two probe RTTs only */
	add_target(&p, "198.18.0.4", 80, 3, one_ms, 2);
	for (int i = 0; i < 5; i++)
		add_conn(t, "198.18.0.4", 80, TW_ROLE_ACTIVE, 80000, NETNS);
	assert_int_equal(prober_handshakes(&p, t, 4, out, 4), 0);
	/* the bound on findings written */
	assert_int_equal(prober_handshakes(&p, t, 4, out, 0), 0);
	free_targets(&p);
	conntable_free(t);
}

static void test_findings_add(void **state)
{
	struct tw_findings f = {0};
	struct tw_finding v[2] = {{.used = true, .kind = TW_FINDING_HANDSHAKE_SLOW, .count = 3},
				  {.used = true, .kind = TW_FINDING_HANDSHAKE_SLOW, .count = 4}};

	(void)state;
	assert_int_equal(findings_add(&f, v, 2), 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.list[1]->count, 4);
	assert_ptr_not_equal(f.list[0], &v[0]); /* copied */
	findings_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_handshakes_found),
		cmocka_unit_test(test_within_ratio_no_finding),
		cmocka_unit_test(test_small_gap_or_few_samples),
		cmocka_unit_test(test_findings_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
