/* Unit tests for common/tcprate.c: rates from two samples, the order of
 * `tcpwatch top`, and the units it prints. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tcprate.h"

#define SEC 1000000000ull

static void test_rates(void **state)
{
	struct tw_rate_sample prev[] = {
		{.cookie = 30, .bytes_acked = 1000, .bytes_received = 0},
		{.cookie = 10, .bytes_acked = 0, .bytes_received = 500},
		{.cookie = 20, .bytes_acked = 7, .bytes_received = 7}, /* gone by cur */
		{.cookie = 40, .bytes_acked = 900, .bytes_received = 900},
	};
	struct tw_rate_sample cur[] = {
		{.cookie = 40, .bytes_acked = 800, .bytes_received = 900}, /* went back */
		{.cookie = 10, .bytes_acked = 0, .bytes_received = 2500},
		{.cookie = 30, .bytes_acked = 5001000, .bytes_received = 0},
		{.cookie = 50, .bytes_acked = 300, .bytes_received = 100}, /* new */
	};
	struct tw_rate r[4];

	(void)state;
	tcprate_sort(prev, 4);
	tcprate_sort(cur, 4);
	assert_int_equal(cur[0].cookie, 10);
	assert_int_equal(cur[3].cookie, 50);
	tcprate_compute(prev, 4, cur, 4, 2 * SEC, r);
	assert_int_equal(r[0].cookie, 10);
	assert_true(r[0].sent_per_s == 0.0 && r[0].received_per_s == 1000.0);
	assert_int_equal(r[1].cookie, 30);
	assert_true(r[1].sent_per_s == 2500000.0 && r[1].received_per_s == 0.0);
	assert_int_equal(r[2].cookie, 40);
	assert_true(r[2].sent_per_s == 0.0 && r[2].received_per_s == 0.0);
	assert_int_equal(r[3].cookie, 50); /* began within the interval */
	assert_true(r[3].sent_per_s == 150.0 && r[3].received_per_s == 50.0);
	assert_int_equal(r[3].index, 3);
	/* By total rate, highest first; equal totals by cookie. */
	qsort(r, 4, sizeof(r[0]), tcprate_cmp);
	assert_int_equal(r[0].cookie, 30);
	assert_int_equal(r[1].cookie, 10);
	assert_int_equal(r[2].cookie, 50);
	assert_int_equal(r[3].cookie, 40);
	/* No time between the samples: no rate, not a division by zero. */
	tcprate_compute(prev, 4, cur, 4, 0, r);
	assert_true(r[1].sent_per_s == 0.0);
	/* Nothing before: everything is new. */
	tcprate_compute(NULL, 0, cur, 4, SEC / 2, r);
	assert_true(r[0].received_per_s == 5000.0);
}

static void test_format(void **state)
{
	char out[16];

	(void)state;
	assert_string_equal(tcprate_format(0, out), "0B/s");
	assert_string_equal(tcprate_format(950, out), "950B/s");
	assert_string_equal(tcprate_format(12345, out), "12.3KB/s");
	assert_string_equal(tcprate_format(1250000, out), "1.25MB/s");
	assert_string_equal(tcprate_format(999999, out), "1.00MB/s");
	assert_string_equal(tcprate_format(345e9, out), "345GB/s");
	assert_string_equal(tcprate_format(-5, out), "0B/s");
	assert_true(strlen(tcprate_format(9.9e18, out)) < 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
