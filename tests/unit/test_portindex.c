/* Unit tests for daemon/table/portindex.c and the query planner
 * (filter_required_ports, filter_plan_cookies): under many random inserts,
 * port changes, state changes, retirements and removals, each port's list
 * holds exactly the connections a scan finds with that port, and a
 * planned listing returns exactly what a scan returns, in the same order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "filter.h"

#define PORTS_USED 12 /* few, so lists are long and ports collide */
#define MAX_COOKIE 3000

static const struct tw_conntable_limits limits = {
	.max_live = 1000000,
	.retain_count = 200,
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

static uint16_t some_port(void)
{
	return (uint16_t)(next_rand() % 4 == 0 ? 0 : 1000 + next_rand() % PORTS_USED);
}

/* Every cookie with port on side, ascending: the scan. */
struct scan {
	enum tw_port_side side;
	uint16_t port;
	const struct tw_filter *filter; /* or by port */
	uint64_t *v;
	size_t n;
};

static void scan_one(struct tw_conn *c, void *data)
{
	struct scan *s = data;
	bool m = s->filter ? filter_match(s->filter, c)
			   : (s->side == TW_PORT_LOCAL ? c->local_port : c->remote_port) == s->port;

	if (m)
		s->v[s->n++] = c->cookie;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void scan(struct tw_conntable *t, struct scan *s)
{
	s->v = malloc((MAX_COOKIE + 1) * sizeof(*s->v));
	assert_non_null(s->v);
	s->n = 0;
	conntable_foreach(t, scan_one, s);
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
}

static void check_lists(struct tw_conntable *t)
{
	for (int side = 0; side < TW_PORT_SIDES; side++)
		for (unsigned p = 0; p <= PORTS_USED; p++) {
			uint16_t port = (uint16_t)(p == PORTS_USED ? 0 : 1000 + p);
			struct scan s = {.side = (enum tw_port_side)side, .port = port};
			size_t n;
			uint64_t *v = conntable_port_cookies(t, s.side, port, &n);

			scan(t, &s);
			assert_non_null(v);
			assert_int_equal(n, s.n);
			assert_memory_equal(v, s.v, n * sizeof(*v));
			assert_int_equal(conntable_port_count(t, s.side, port, SIZE_MAX), n);
			if (n > 2)
				assert_int_equal(conntable_port_count(t, s.side, port, 2), 2);
			free(v);
			free(s.v);
		}
}

static void set_filter(struct tw_filter *f, const char *key, const char *value)
{
	char err[256];

	assert_int_equal(filter_set(f, key, value, err, sizeof(err)), 0);
}

/* A planned listing: the planner's candidates, filtered. */
static void check_plan(struct tw_conntable *t, const struct tw_filter *f)
{
	struct scan s = {.filter = f};
	size_t n, m = 0;
	uint64_t *v = filter_plan_cookies(t, f, &n);

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		struct tw_conn *c = conntable_get(t, v[i]);

		assert_non_null(c);
		if (i)
			assert_true(v[i - 1] < v[i]);
		assert_true(filter_match(f, c)); /* only matches are planned */
		v[m++] = v[i];
	}
	scan(t, &s);
	assert_int_equal(m, s.n);
	assert_memory_equal(v, s.v, m * sizeof(*v));
	free(v);
	free(s.v);
}

static void check_plans(struct tw_conntable *t)
{
	static const char *const exprs[] = {
		"sport = :1003",
		"dport = :1005 and sport = :1001",
		"src 127.0.0.1:1002",
		"dst :1004",
		"sport = :1003 or dport = :1003",    /* no required port: scan */
		"not sport = :1003",                 /* no required port: scan */
		"( sport = :1007 ) and dport > :10", /* required under and */
	};
	char port[16];

	for (unsigned i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		struct tw_filter f;

		filter_init(&f);
		f.states = TW_STATES_ALL;
		set_filter(&f, "filter", exprs[i]);
		check_plan(t, &f);
	}
	for (unsigned p = 0; p < PORTS_USED; p += 3) {
		struct tw_filter f;

		filter_init(&f);
		f.states = TW_STATES_ALL;
		snprintf(port, sizeof(port), "%u", 1000 + p);
		set_filter(&f, "local_port", port);
		check_plan(t, &f);
		set_filter(&f, "remote_port", "1001");
		check_plan(t, &f);
		filter_init(&f);
		set_filter(&f, "remote_port", port);
		set_filter(&f, "state", "established");
		check_plan(t, &f);
	}
}

/* One random operation on the table: a new connection or its ports set,
 * the same ports again, a state change, a retirement, a removal. */
static void random_op(struct tw_conntable *t, uint64_t *now)
{
	uint64_t cookie = 1 + next_rand() % MAX_COOKIE;
	struct tw_conn *c = conntable_get(t, cookie);
	bool created;

	switch (next_rand() % 6) {
	case 0:
	case 1: /* a new connection, or its ports (re)set */
		c = conntable_get_or_add(t, cookie, &created);
		assert_non_null(c);
		c->family = AF_INET;
		c->local_addr[10] = c->local_addr[11] = 0xff;
		c->local_addr[12] = 127;
		c->local_addr[15] = 1;
		conntable_set_ports(t, c, some_port(), some_port());
		if (created)
			c->state = TW_TCP_ESTABLISHED;
		break;
	case 2: /* the same ports again: nothing moves */
		if (c)
			conntable_set_ports(t, c, c->local_port, c->remote_port);
		break;
	case 3: /* a state change */
		if (c && !(c->flags & TW_CONN_CLOSED))
			c->state = (uint8_t)(1 + next_rand() % 11);
		break;
	case 4: /* closed: into retention (the oldest may leave) */
		if (c && !(c->flags & TW_CONN_CLOSED)) {
			c->state = TW_TCP_CLOSE;
			conntable_retire(t, c, (*now)++);
		}
		break;
	case 5:
		if (c)
			conntable_remove(t, c);
		break;
	}
}

static void test_random_operations(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	uint64_t now = 1000;

	(void)state;
	assert_non_null(t);
	for (int round = 0; round < 400; round++) {
		for (int op = 0; op < 50; op++)
			random_op(t, &now);
		conntable_expire(t, now);
		check_lists(t);
		if (round % 20 == 0)
			check_plans(t);
	}
	conntable_free(t);
}

/* The build in slices: between its steps records are created, change
 * ports and states, retire and leave, and the table is rehashed twice
 * (its cursor's buckets move); once a step says it is complete, each
 * port's list holds exactly what a scan finds, without a build of the
 * query's own. Many times, with different tables. */
static void test_build_in_slices(void **state)
{
	(void)state;
	for (int run = 0; run < 30; run++) {
		struct tw_conntable *t = conntable_new(&limits);
		uint64_t now = 1000;
		int steps = 0;

		assert_non_null(t);
		for (int op = 0; op < 6000; op++)
			random_op(t, &now);
		assert_true(conntable_live(t) > 700);
		assert_false(conntable_port_index_ready(t));
		/* Budget 0: a step links a few hundred records. */
		while (!conntable_port_index_step(t, 0)) {
			steps++;
			assert_false(conntable_port_index_ready(t));
			for (int op = 0; op < 40; op++)
				random_op(t, &now);
			if (steps == 1 + run % 2)
				assert_int_equal(conntable_reserve(t, 8192), 0);
			if (steps == 2 + run % 2)
				assert_int_equal(conntable_reserve(t, 65536), 0);
			assert_true(steps < 10000);
		}
		assert_true(steps >= 2); /* it was sliced */
		assert_true(conntable_port_index_ready(t));
		check_lists(t);
		check_plans(t);
		for (int op = 0; op < 500; op++)
			random_op(t, &now);
		check_lists(t);
		conntable_free(t);
	}
}

/* A connection that leaves takes its links along: its neighbours in both
 * lists stay reachable, whichever of them goes first. */
static void test_neighbours(void **state)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conn *c[5];
	bool created;
	size_t n;
	uint64_t *v;

	(void)state;
	for (int i = 0; i < 5; i++) {
		c[i] = conntable_get_or_add(t, 100 + (uint64_t)i, &created);
		conntable_set_ports(t, c[i], 80, (uint16_t)(5000 + i % 2));
	}
	conntable_remove(t, c[2]);              /* the middle of port 80's list */
	conntable_remove(t, c[4]);              /* its head */
	conntable_set_ports(t, c[0], 81, 5000); /* its tail moves */
	v = conntable_port_cookies(t, TW_PORT_LOCAL, 80, &n);
	assert_int_equal(n, 2);
	assert_int_equal(v[0], 101);
	assert_int_equal(v[1], 103);
	free(v);
	v = conntable_port_cookies(t, TW_PORT_REMOTE, 5000, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0], 100);
	free(v);
	v = conntable_port_cookies(t, TW_PORT_LOCAL, 81, &n);
	assert_int_equal(n, 1);
	free(v);
	v = conntable_port_cookies(t, TW_PORT_LOCAL, 9, &n);
	assert_non_null(v);
	assert_int_equal(n, 0);
	free(v);
	/* A record made once the index is on, its ports not yet known, is
	 * listed under port 0 as a scan finds it. */
	conntable_get_or_add(t, 200, &created);
	v = conntable_port_cookies(t, TW_PORT_REMOTE, 0, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0], 200);
	free(v);
	conntable_free(t);
}

/* The planner reads required ports from the parameters and from the
 * and-ed terms of an expression, never from under or / not. */
static void test_required_ports(void **state)
{
	static const struct {
		const char *expr;
		int32_t local, remote;
	} cases[] = {
		{"sport = :80", 80, -1},
		{"dport == :443", -1, 443},
		{"src 10.0.0.1:22 and dst :8080", 22, 8080},
		{"sport = :80 or sport = :81", -1, -1},
		{"not dport = :80", -1, -1},
		{"sport > :80", -1, -1},
		{"src 10.0.0.1", -1, -1},
		{"( sport = :80 and dport != :1 )", 80, -1},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tw_filter f;
		int32_t ports[TW_PORT_SIDES];

		filter_init(&f);
		set_filter(&f, "filter", cases[i].expr);
		filter_required_ports(&f, ports);
		assert_int_equal(ports[TW_PORT_LOCAL], cases[i].local);
		assert_int_equal(ports[TW_PORT_REMOTE], cases[i].remote);
	}
	{
		struct tw_filter f;
		int32_t ports[TW_PORT_SIDES];

		filter_init(&f);
		set_filter(&f, "filter", "sport = :80");
		set_filter(&f, "local_port", "81");
		filter_required_ports(&f, ports);
		assert_int_equal(ports[TW_PORT_LOCAL], 81); /* parameters win */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_operations),
		cmocka_unit_test(test_build_in_slices),
		cmocka_unit_test(test_neighbours),
		cmocka_unit_test(test_required_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
