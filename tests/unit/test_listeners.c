/* Unit tests for daemon/table/listeners.c: the listener index by (netns,
 * port) and by cookie. A removal walks only the chains of the listener it
 * removes, however many listeners there are. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "listeners.h"

#define N 100000

static struct tw_conn *listener(uint64_t cookie, uint32_t netns, uint16_t port)
{
	struct tw_conn *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->cookie = cookie;
	c->netns = netns;
	c->family = AF_INET;
	c->local_port = port;
	c->state = TW_TCP_LISTEN;
	return c;
}

/* Cookies as the kernel hands them out: consecutive runs. Ports and
 * namespaces spread like a host with many containers. */
static void test_remove_touches_one_chain(void **state)
{
	static const uint8_t any[16];
	struct tw_listen_index x;
	struct tw_conn **v = calloc(N, sizeof(*v));
	uint64_t steps_before, worst = 0, total = 0;

	(void)state;
	assert_non_null(v);
	assert_int_equal(listen_index_init(&x), 0);
	for (size_t i = 0; i < N; i++) {
		v[i] = listener(4096 + i, 4026531840u + (uint32_t)(i / 1000),
				(uint16_t)(1024 + i % 1000));
		assert_non_null(listen_index_add(&x, v[i], 1));
	}
	assert_int_equal(x.count, N);
	for (size_t i = 0; i < N; i += 997)
		assert_ptr_equal(listen_index_find(&x, v[i]->netns, AF_INET, any, v[i]->local_port),
				 v[i]);
	/* Remove every one, in a scattered order: each removal walks its own
	 * cookie chain and its own key chain, a few links, never the table. */
	for (size_t k = 0; k < N; k++) {
		size_t i = (k * 7919) % N;
		uint64_t steps;

		steps_before = x.steps;
		listen_index_remove(&x, v[i]);
		steps = x.steps - steps_before;
		total += steps;
		if (steps > worst)
			worst = steps;
		assert_null(listen_index_find(&x, v[i]->netns, AF_INET, any, v[i]->local_port));
	}
	assert_int_equal(x.count, 0);
	/* At most one listener per bucket on average: a removal's walk is a
	 * handful of links, where a scan of every bucket would be >= N. */
	assert_true(worst < 32);
	assert_true(total < 4 * (uint64_t)N);
	listen_index_fini(&x);
	for (size_t i = 0; i < N; i++)
		free(v[i]);
	free(v);
}

/* Removing one of several listeners on a port leaves the others found. */
static void test_same_key_chain(void **state)
{
	static const uint8_t any[16], a[16] = {10, 0, 0, 1};
	struct tw_listen_index x;
	struct tw_conn *wild = listener(1, 7, 80), *exact = listener(2, 7, 80),
		       *other = listener(3, 8, 80);

	(void)state;
	memcpy(exact->local_addr, a, 16);
	assert_int_equal(listen_index_init(&x), 0);
	assert_non_null(listen_index_add(&x, wild, 1));
	assert_non_null(listen_index_add(&x, exact, 1));
	assert_non_null(listen_index_add(&x, other, 1));
	assert_ptr_equal(listen_index_find(&x, 7, AF_INET, a, 80), exact);
	/* It stops listening: out of the key index, its record kept. */
	listen_index_unkey(&x, exact);
	assert_ptr_equal(listen_index_find(&x, 7, AF_INET, a, 80), wild);
	assert_non_null(listen_index_get(&x, 2));
	listen_index_remove(&x, exact);
	assert_null(listen_index_get(&x, 2));
	assert_ptr_equal(listen_index_find(&x, 8, AF_INET, any, 80), other);
	listen_index_remove(&x, wild);
	assert_null(listen_index_find(&x, 7, AF_INET, a, 80));
	/* Removing one not indexed is harmless. */
	assert_int_equal(x.count, 1);
	listen_index_remove(&x, wild);
	assert_int_equal(x.count, 1);
	listen_index_fini(&x);
	free(wild);
	free(exact);
	free(other);
}

/* Through the table: a listener that closes leaves the index (its
 * connection record is retired), and the stats count it. */
static void test_table_listener_close(void **state)
{
	static const struct tw_conntable_limits l = {
		.max_live = 1000,
		.retain_count = 1000,
		.retain_age_ns = UINT64_MAX / 2,
		.history_max = 16,
	};
	static const uint8_t any[16];
	struct tw_conntable *t = conntable_new(&l);
	struct tw_conntable_stats st;
	bool created;
	struct tw_conn *c;

	(void)state;
	assert_non_null(t);
	c = conntable_get_or_add(t, 42, &created);
	assert_non_null(c);
	c->netns = 5;
	c->family = AF_INET;
	c->local_port = 8080;
	c->state = TW_TCP_LISTEN;
	conntable_update_listener(t, c);
	assert_true(c->flags & TW_CONN_LISTEN_INDEXED);
	assert_ptr_equal(conntable_find_listener(t, 5, AF_INET, any, 8080), c);
	c->state = TW_TCP_CLOSE;
	conntable_retire(t, c, 1);
	assert_false(c->flags & TW_CONN_LISTEN_INDEXED);
	assert_null(conntable_find_listener(t, 5, AF_INET, any, 8080));
	conntable_get_stats(t, &st);
	assert_int_equal(st.listeners, 0);
	/* Closed, it keeps its record while the table retains it. */
	assert_non_null(conntable_listener(t, 42));
	conntable_remove(t, c);
	assert_null(conntable_listener(t, 42));
	assert_true(conntable_listener_steps(t) < 4);
	conntable_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remove_touches_one_chain),
		cmocka_unit_test(test_same_key_chain),
		cmocka_unit_test(test_table_listener_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
