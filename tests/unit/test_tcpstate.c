/* Unit tests for common/tcpstate.c: state names and ss(8) state groups. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <string.h>

#include "tcpstate.h"

#define BIT(s) TW_STATE_BIT(TW_TCP_##s)

static void test_kernel_names(void **state)
{
	(void)state;
	assert_string_equal(tcpstate_name(TW_TCP_ESTABLISHED), "ESTABLISHED");
	assert_string_equal(tcpstate_name(TW_TCP_SYN_SENT), "SYN_SENT");
	assert_string_equal(tcpstate_name(TW_TCP_SYN_RECV), "SYN_RECV");
	assert_string_equal(tcpstate_name(TW_TCP_FIN_WAIT1), "FIN_WAIT1");
	assert_string_equal(tcpstate_name(TW_TCP_FIN_WAIT2), "FIN_WAIT2");
	assert_string_equal(tcpstate_name(TW_TCP_TIME_WAIT), "TIME_WAIT");
	assert_string_equal(tcpstate_name(TW_TCP_CLOSE), "CLOSE");
	assert_string_equal(tcpstate_name(TW_TCP_CLOSE_WAIT), "CLOSE_WAIT");
	assert_string_equal(tcpstate_name(TW_TCP_LAST_ACK), "LAST_ACK");
	assert_string_equal(tcpstate_name(TW_TCP_LISTEN), "LISTEN");
	assert_string_equal(tcpstate_name(TW_TCP_CLOSING), "CLOSING");
	/* A request socket is shown as SYN_RECV, as ss does. */
	assert_string_equal(tcpstate_name(TW_TCP_NEW_SYN_RECV), "SYN_RECV");
	assert_string_equal(tcpstate_name(TW_TCP_BOUND_INACTIVE), "BOUND_INACTIVE");
}

static void test_names_out_of_range(void **state)
{
	(void)state;
	assert_string_equal(tcpstate_name(0), "UNKNOWN");
	assert_string_equal(tcpstate_name(-1), "UNKNOWN");
	assert_string_equal(tcpstate_name(TW_TCP_MAX_STATES), "UNKNOWN");
	assert_string_equal(tcpstate_name(255), "UNKNOWN");
	assert_string_equal(tcpstate_ss_name(0), "UNKNOWN");
	assert_string_equal(tcpstate_ss_name(TW_TCP_MAX_STATES), "UNKNOWN");
}

static void test_ss_names(void **state)
{
	(void)state;
	assert_string_equal(tcpstate_ss_name(TW_TCP_ESTABLISHED), "ESTAB");
	assert_string_equal(tcpstate_ss_name(TW_TCP_SYN_SENT), "SYN-SENT");
	assert_string_equal(tcpstate_ss_name(TW_TCP_SYN_RECV), "SYN-RECV");
	assert_string_equal(tcpstate_ss_name(TW_TCP_FIN_WAIT1), "FIN-WAIT-1");
	assert_string_equal(tcpstate_ss_name(TW_TCP_FIN_WAIT2), "FIN-WAIT-2");
	assert_string_equal(tcpstate_ss_name(TW_TCP_TIME_WAIT), "TIME-WAIT");
	assert_string_equal(tcpstate_ss_name(TW_TCP_CLOSE), "UNCONN");
	assert_string_equal(tcpstate_ss_name(TW_TCP_CLOSE_WAIT), "CLOSE-WAIT");
	assert_string_equal(tcpstate_ss_name(TW_TCP_LAST_ACK), "LAST-ACK");
	assert_string_equal(tcpstate_ss_name(TW_TCP_LISTEN), "LISTEN");
	assert_string_equal(tcpstate_ss_name(TW_TCP_CLOSING), "CLOSING");
	assert_string_equal(tcpstate_ss_name(TW_TCP_NEW_SYN_RECV), "SYN-RECV");
}

/* Every state's kernel and ss name parses back to it, in any case. */
static void test_parse_round_trip(void **state)
{
	(void)state;
	for (int s = 1; s < TW_TCP_MAX_STATES; s++) {
		int want = s == TW_TCP_NEW_SYN_RECV ? TW_TCP_SYN_RECV : s;
		char lower[32];
		const char *name = tcpstate_name(s);
		size_t i;

		/* BOUND_INACTIVE shares "UNCONN" with CLOSE in ss. */
		if (s != TW_TCP_BOUND_INACTIVE)
			assert_int_equal(tcpstate_parse(tcpstate_ss_name(s)), want);
		assert_int_equal(tcpstate_parse(name), want);
		for (i = 0; name[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)tolower((unsigned char)name[i]);
		lower[i] = '\0';
		assert_int_equal(tcpstate_parse(lower), want);
	}
}

static void test_parse_ss_filter_names(void **state)
{
	(void)state;
	assert_int_equal(tcpstate_parse("established"), TW_TCP_ESTABLISHED);
	assert_int_equal(tcpstate_parse("syn-sent"), TW_TCP_SYN_SENT);
	assert_int_equal(tcpstate_parse("syn-recv"), TW_TCP_SYN_RECV);
	assert_int_equal(tcpstate_parse("fin-wait-1"), TW_TCP_FIN_WAIT1);
	assert_int_equal(tcpstate_parse("fin-wait-2"), TW_TCP_FIN_WAIT2);
	assert_int_equal(tcpstate_parse("time-wait"), TW_TCP_TIME_WAIT);
	assert_int_equal(tcpstate_parse("closed"), TW_TCP_CLOSE);
	assert_int_equal(tcpstate_parse("close"), TW_TCP_CLOSE);
	assert_int_equal(tcpstate_parse("close-wait"), TW_TCP_CLOSE_WAIT);
	assert_int_equal(tcpstate_parse("last-ack"), TW_TCP_LAST_ACK);
	assert_int_equal(tcpstate_parse("listening"), TW_TCP_LISTEN);
	assert_int_equal(tcpstate_parse("listen"), TW_TCP_LISTEN);
	assert_int_equal(tcpstate_parse("closing"), TW_TCP_CLOSING);
	assert_int_equal(tcpstate_parse("Estab"), TW_TCP_ESTABLISHED);
}

static void test_parse_unknown(void **state)
{
	(void)state;
	assert_int_equal(tcpstate_parse(""), -1);
	assert_int_equal(tcpstate_parse("bogus"), -1);
	assert_int_equal(tcpstate_parse("UNKNOWN"), -1);
	assert_int_equal(tcpstate_parse("established "), -1);
	assert_int_equal(tcpstate_parse("estab-lished"), -1);
	assert_int_equal(tcpstate_parse_mask(""), 0);
	assert_int_equal(tcpstate_parse_mask("connected2"), 0);
}

static void test_mask_single_state(void **state)
{
	(void)state;
	assert_int_equal(tcpstate_parse_mask("established"), BIT(ESTABLISHED));
	assert_int_equal(tcpstate_parse_mask("TIME_WAIT"), BIT(TIME_WAIT));
	assert_int_equal(tcpstate_parse_mask("listen"), BIT(LISTEN));
	assert_int_equal(tcpstate_parse_mask("closed"), BIT(CLOSE));
	/* "syn-recv" is one state here: request sockets are stored as it. */
	assert_int_equal(tcpstate_parse_mask("syn-recv"), BIT(SYN_RECV));
}

/* The eleven states ss knows (no NEW_SYN_RECV, no BOUND_INACTIVE). */
static const uint32_t ss_all = BIT(ESTABLISHED) | BIT(SYN_SENT) | BIT(SYN_RECV) | BIT(FIN_WAIT1) |
			       BIT(FIN_WAIT2) | BIT(TIME_WAIT) | BIT(CLOSE) | BIT(CLOSE_WAIT) |
			       BIT(LAST_ACK) | BIT(LISTEN) | BIT(CLOSING);

static void test_group_all(void **state)
{
	(void)state;
	assert_int_equal(tcpstate_parse_mask("all"), ss_all);
	assert_int_equal(tcpstate_parse_mask("ALL"), ss_all);
}

/* ss(8): connected = all except listening and closed. */
static void test_group_connected(void **state)
{
	uint32_t m = tcpstate_parse_mask("connected");

	(void)state;
	assert_int_equal(m, ss_all & ~(BIT(LISTEN) | BIT(CLOSE)));
	assert_true(m & BIT(TIME_WAIT));
	assert_true(m & BIT(SYN_SENT));
	assert_true(m & BIT(SYN_RECV));
}

/* ss(8): synchronized = connected except syn-sent. */
static void test_group_synchronized(void **state)
{
	uint32_t m = tcpstate_parse_mask("synchronized");

	(void)state;
	assert_int_equal(m, ss_all & ~(BIT(LISTEN) | BIT(CLOSE) | BIT(SYN_SENT)));
	assert_true(m & BIT(ESTABLISHED));
	assert_false(m & BIT(SYN_SENT));
}

/* ss(8): bucket = states kept as minisockets; big = the opposite. */
static void test_group_bucket_and_big(void **state)
{
	uint32_t bucket = tcpstate_parse_mask("bucket");
	uint32_t big = tcpstate_parse_mask("big");

	(void)state;
	assert_int_equal(bucket, BIT(SYN_RECV) | BIT(TIME_WAIT));
	assert_int_equal(big, ss_all & ~(BIT(SYN_RECV) | BIT(TIME_WAIT)));
	assert_int_equal(bucket & big, 0);
	assert_int_equal(bucket | big, ss_all);
	assert_true(big & BIT(LISTEN));
	assert_true(big & BIT(CLOSE));
}

static void test_connected_default_mask(void **state)
{
	(void)state;
	/* What `ss -t` shows without -a. */
	assert_true(TW_STATES_CONNECTED_DEFAULT & BIT(ESTABLISHED));
	assert_true(TW_STATES_CONNECTED_DEFAULT & BIT(CLOSE_WAIT));
	assert_false(TW_STATES_CONNECTED_DEFAULT & BIT(LISTEN));
	assert_false(TW_STATES_CONNECTED_DEFAULT & BIT(TIME_WAIT));
	assert_false(TW_STATES_CONNECTED_DEFAULT & BIT(SYN_RECV));
	assert_false(TW_STATES_CONNECTED_DEFAULT & BIT(CLOSE));
	assert_false(TW_STATES_ALL & TW_STATE_BIT(TW_TCP_UNKNOWN));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_names),
		cmocka_unit_test(test_names_out_of_range),
		cmocka_unit_test(test_ss_names),
		cmocka_unit_test(test_parse_round_trip),
		cmocka_unit_test(test_parse_ss_filter_names),
		cmocka_unit_test(test_parse_unknown),
		cmocka_unit_test(test_mask_single_state),
		cmocka_unit_test(test_group_all),
		cmocka_unit_test(test_group_connected),
		cmocka_unit_test(test_group_synchronized),
		cmocka_unit_test(test_group_bucket_and_big),
		cmocka_unit_test(test_connected_default_mask),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
