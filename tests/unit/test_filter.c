/* Unit tests for daemon/filter.c: query parameters and matching. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "conntable.h"
#include "filter.h"

#define BIT(s) TW_STATE_BIT(TW_TCP_##s)

static void set_ok(struct tw_filter *f, const char *key, const char *value)
{
	char err[256] = "";

	if (filter_set(f, key, value, err, sizeof(err)) != 0)
		fail_msg("%s=%s rejected: %s", key, value, err);
}

/* A bad value is refused with a message naming the parameter, and the
 * filter is left as it was. */
static void set_bad(const char *key, const char *value)
{
	struct tw_filter f, before;
	char err[256] = "";

	filter_init(&f);
	set_ok(&f, "local_addr", "10.0.0.0/8");
	before = f;
	if (filter_set(&f, key, value, err, sizeof(err)) != -EINVAL)
		fail_msg("%s=%s accepted", key, value);
	if (!strstr(err, key))
		fail_msg("error for %s=%s does not name it: '%s'", key, value, err);
	assert_memory_equal(&f, &before, sizeof(f));
}

static void test_defaults(void **state)
{
	struct tw_filter f;

	(void)state;
	filter_init(&f);
	assert_int_equal(f.states, TW_STATES_ALL & ~BIT(CLOSE));
	assert_int_equal(f.family, 0);
	assert_false(f.local.set);
	assert_false(f.remote.set);
	assert_int_equal(f.local_port, -1);
	assert_int_equal(f.remote_port, -1);
	assert_int_equal(f.pid, -1);
	assert_int_equal(f.netns, -1);
	assert_int_equal(f.limit, TW_FILTER_DEFAULT_LIMIT);
	assert_int_equal(f.after, 0);
}

static void test_set_state(void **state)
{
	struct tw_filter f;

	(void)state;
	filter_init(&f);
	set_ok(&f, "state", "established");
	assert_int_equal(f.states, BIT(ESTABLISHED));
	set_ok(&f, "state", "established,time-wait,LISTEN");
	assert_int_equal(f.states, BIT(ESTABLISHED) | BIT(TIME_WAIT) | BIT(LISTEN));
	set_ok(&f, "state", "SYN-SENT");
	assert_int_equal(f.states, BIT(SYN_SENT));
	set_ok(&f, "state", "close");
	assert_int_equal(f.states, BIT(CLOSE));
	/* Groups, alone or in a list. */
	set_ok(&f, "state", "bucket");
	assert_int_equal(f.states, BIT(SYN_RECV) | BIT(TIME_WAIT));
	set_ok(&f, "state", "synchronized,listening");
	assert_true(f.states & BIT(LISTEN));
	assert_true(f.states & BIT(ESTABLISHED));
	assert_false(f.states & BIT(SYN_SENT));
	set_ok(&f, "state", "connected");
	assert_false(f.states & (BIT(LISTEN) | BIT(CLOSE)));
	assert_true(f.states & BIT(CLOSE_WAIT));
	set_ok(&f, "state", "all");
	assert_true(f.states & BIT(CLOSE));
	assert_true(f.states & BIT(LISTEN));
}

static void test_set_state_errors(void **state)
{
	(void)state;
	set_bad("state", "bogus");
	set_bad("state", "established,bogus");
	set_bad("state", "");
	set_bad("state", ",");
}

static void test_set_family(void **state)
{
	struct tw_filter f;

	(void)state;
	filter_init(&f);
	set_ok(&f, "family", "inet");
	assert_int_equal(f.family, AF_INET);
	set_ok(&f, "family", "inet6");
	assert_int_equal(f.family, AF_INET6);
	set_ok(&f, "family", "4");
	assert_int_equal(f.family, AF_INET);
	set_ok(&f, "family", "6");
	assert_int_equal(f.family, AF_INET6);
	set_bad("family", "ipx");
	set_bad("family", "");
	set_bad("family", "46");
}

static void test_set_addresses(void **state)
{
	struct tw_filter f;

	(void)state;
	filter_init(&f);
	set_ok(&f, "local_addr", "10.0.0.0/8");
	assert_true(f.local.set);
	assert_int_equal(f.local.family, AF_INET);
	assert_int_equal(f.local.prefix_len, 8);
	assert_int_equal(f.local.addr[0], 10);
	assert_false(f.remote.set);

	set_ok(&f, "remote_addr", "192.0.2.1");
	assert_true(f.remote.set);
	assert_int_equal(f.remote.prefix_len, 32);
	assert_int_equal(f.remote.addr[3], 1);

	set_ok(&f, "remote_addr", "2001:db8::/32");
	assert_int_equal(f.remote.family, AF_INET6);
	assert_int_equal(f.remote.prefix_len, 32);
	assert_int_equal(f.remote.addr[0], 0x20);
	assert_int_equal(f.remote.addr[3], 0xb8);

	set_ok(&f, "local_addr", "[::1]");
	assert_int_equal(f.local.family, AF_INET6);
	assert_int_equal(f.local.prefix_len, 128);
	assert_int_equal(f.local.addr[15], 1);

	set_ok(&f, "local_addr", "[fe80::]/10");
	assert_int_equal(f.local.prefix_len, 10);
	set_ok(&f, "local_addr", "0.0.0.0/0");
	assert_int_equal(f.local.prefix_len, 0);
}

static void test_set_address_errors(void **state)
{
	(void)state;
	set_bad("local_addr", "10.0.0.0/33");
	set_bad("local_addr", "2001:db8::/129");
	set_bad("local_addr", "300.1.1.1");
	set_bad("local_addr", "10.0.0.0/");
	set_bad("local_addr", "10.0.0.0/8x");
	set_bad("local_addr", "/8");
	set_bad("local_addr", "");
	set_bad("remote_addr", "example.com");
	set_bad("remote_addr", "1.2.3.4/-1");
}

static void test_set_ports(void **state)
{
	struct tw_filter f;

	(void)state;
	filter_init(&f);
	set_ok(&f, "local_port", "443");
	assert_int_equal(f.local_port, 443);
	assert_int_equal(f.remote_port, -1);
	set_ok(&f, "remote_port", "65535");
	assert_int_equal(f.remote_port, 65535);
	set_ok(&f, "remote_port", "0");
	assert_int_equal(f.remote_port, 0);
	set_bad("local_port", "65536");
	set_bad("local_port", "99999999999999999999999");
	set_bad("local_port", "-1");
	set_bad("remote_port", "+80");
	set_bad("remote_port", " 80");
	set_bad("remote_port", "80x");
	set_bad("remote_port", "0x50");
	set_bad("remote_port", "");
}

static void test_set_pid_netns(void **state)
{
	struct tw_filter f;

	(void)state;
	filter_init(&f);
	set_ok(&f, "pid", "1234");
	assert_int_equal(f.pid, 1234);
	set_ok(&f, "netns", "4026531840");
	assert_int_equal(f.netns, 4026531840ll);
	set_ok(&f, "netns", "4294967295");
	assert_int_equal(f.netns, 4294967295ll);
	set_bad("pid", "-1");
	set_bad("pid", "2147483648");
	set_bad("pid", "12ab");
	set_bad("netns", "4294967296");
	set_bad("netns", "-5");
}

static void test_set_limit_after(void **state)
{
	struct tw_filter f;

	(void)state;
	filter_init(&f);
	set_ok(&f, "limit", "10");
	assert_int_equal(f.limit, 10);
	set_ok(&f, "after", "123");
	assert_int_equal(f.after, 123);
	set_ok(&f, "after", "18446744073709551615");
	assert_int_equal(f.after, UINT64_MAX);
	set_bad("limit", "0");
	set_bad("limit", "-1");
	set_bad("limit", "100000001");
	set_bad("limit", "ten");
	set_bad("after", "18446744073709551616");
	set_bad("after", "-1");
}

/* strtoull() skips any leading white space and then accepts a minus sign:
 * a tab must not sneak a negative number past the checks. */
static void test_negative_after_whitespace(void **state)
{
	(void)state;
	set_bad("after", "\t-1");
	set_bad("limit", "\n5");
	set_bad("local_port", "\t80");
}

static void test_unknown_and_long(void **state)
{
	struct tw_filter f;
	char err[256] = "", value[TW_FILTER_MAX_VALUE + 2];

	(void)state;
	filter_init(&f);
	assert_int_equal(filter_set(&f, "sport", "80", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sport"));

	memset(value, '1', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0'; /* one byte over the bound */
	set_bad("after", value);
	set_bad("state", value);
	err[0] = '\0';
	assert_int_equal(filter_set(&f, "local_addr", value, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "local_addr"));
	/* A NULL value (key without "=") is an empty one, not a crash. */
	assert_int_equal(filter_set(&f, "limit", NULL, err, sizeof(err)), -EINVAL);
	/* A tiny error buffer is not overrun. */
	assert_int_equal(filter_set(&f, "nosuchkey", "1", err, 4), -EINVAL);
	assert_int_equal(strlen(err), 3);
}

static void make_conn(struct tw_conn *c, uint64_t cookie)
{
	static const uint8_t l[16] = {10, 20, 30, 40};
	static const uint8_t r[16] = {192, 0, 2, 1};

	memset(c, 0, sizeof(*c));
	c->cookie = cookie;
	c->family = AF_INET;
	c->state = TW_TCP_ESTABLISHED;
	memcpy(c->local_addr, l, 16);
	memcpy(c->remote_addr, r, 16);
	c->local_port = 40000;
	c->remote_port = 443;
	c->netns = 4026531840u;
	c->flags = TW_CONN_HAS_TASK;
	c->pid = 777;
}

static bool match1(const char *key, const char *value, const struct tw_conn *c)
{
	struct tw_filter f;

	filter_init(&f);
	set_ok(&f, key, value);
	return filter_match(&f, c);
}

static void test_match_default_and_states(void **state)
{
	struct tw_conn live, gone;
	struct tw_filter f;

	(void)state;
	make_conn(&live, 1);
	make_conn(&gone, 2);
	gone.state = TW_TCP_CLOSE;
	gone.flags |= TW_CONN_CLOSED;

	filter_init(&f);
	assert_true(filter_match(&f, &live));
	/* Retained connections only when CLOSE is asked for. */
	assert_false(filter_match(&f, &gone));
	assert_true(match1("state", "close", &gone));
	assert_false(match1("state", "close", &live));
	assert_true(match1("state", "established,closed", &gone));
	assert_true(match1("state", "established,closed", &live));
	assert_true(match1("state", "all", &gone));
	assert_false(match1("state", "connected", &gone));

	assert_true(match1("state", "established", &live));
	assert_false(match1("state", "time-wait", &live));
	live.state = TW_TCP_TIME_WAIT;
	assert_true(match1("state", "bucket", &live));
	assert_false(match1("state", "big", &live));
}

static void test_match_fields(void **state)
{
	struct tw_conn c;

	(void)state;
	make_conn(&c, 100);
	assert_true(match1("family", "inet", &c));
	assert_false(match1("family", "inet6", &c));
	assert_true(match1("local_port", "40000", &c));
	assert_false(match1("local_port", "443", &c));
	assert_true(match1("remote_port", "443", &c));
	assert_false(match1("remote_port", "40000", &c));
	assert_true(match1("pid", "777", &c));
	assert_false(match1("pid", "778", &c));
	assert_true(match1("netns", "4026531840", &c));
	assert_false(match1("netns", "4026531841", &c));
	assert_true(match1("after", "99", &c));
	assert_false(match1("after", "100", &c)); /* strictly greater */
	assert_false(match1("after", "101", &c));

	/* pid only matches a known owner. */
	c.flags &= (uint16_t)~TW_CONN_HAS_TASK;
	assert_false(match1("pid", "777", &c));
	c.pid = 0;
	assert_false(match1("pid", "0", &c));
}

static void test_match_prefixes(void **state)
{
	struct tw_conn c, c6;

	(void)state;
	make_conn(&c, 1);
	assert_true(match1("local_addr", "10.0.0.0/8", &c));
	assert_true(match1("local_addr", "10.20.30.40", &c));
	assert_false(match1("local_addr", "10.20.30.41", &c));
	assert_false(match1("local_addr", "11.0.0.0/8", &c));
	assert_true(match1("local_addr", "0.0.0.0/0", &c));
	/* A prefix not on a byte boundary: 10.16.0.0/12 is 10.16-10.31. */
	c.local_addr[1] = 31;
	assert_true(match1("local_addr", "10.16.0.0/12", &c));
	c.local_addr[1] = 32;
	assert_false(match1("local_addr", "10.16.0.0/12", &c));
	assert_true(match1("remote_addr", "192.0.2.0/24", &c));
	assert_false(match1("remote_addr", "192.0.3.0/24", &c));
	/* Another family never matches, not even ::/0. */
	assert_false(match1("remote_addr", "::/0", &c));

	make_conn(&c6, 2);
	c6.family = AF_INET6;
	memset(c6.local_addr, 0, 16);
	c6.local_addr[0] = 0x20;
	c6.local_addr[1] = 0x01;
	c6.local_addr[2] = 0x0d;
	c6.local_addr[3] = 0xb8;
	c6.local_addr[15] = 5;
	assert_true(match1("local_addr", "2001:db8::/32", &c6));
	assert_true(match1("local_addr", "2001:db8::5", &c6));
	assert_false(match1("local_addr", "2001:db8::6", &c6));
	assert_false(match1("local_addr", "2001:db9::/32", &c6));
	assert_false(match1("local_addr", "0.0.0.0/0", &c6));
	/* ::4/127 holds ::4 and ::5; ::6/127 holds ::6 and ::7. */
	assert_true(match1("local_addr", "2001:db8::4/127", &c6));
	assert_false(match1("local_addr", "2001:db8::6/127", &c6));
}

static void test_match_combined(void **state)
{
	struct tw_filter f;
	struct tw_conn c;

	(void)state;
	make_conn(&c, 50);
	filter_init(&f);
	set_ok(&f, "state", "established,close-wait");
	set_ok(&f, "family", "4");
	set_ok(&f, "local_addr", "10.20.0.0/16");
	set_ok(&f, "remote_addr", "192.0.2.1/32");
	set_ok(&f, "remote_port", "443");
	set_ok(&f, "pid", "777");
	set_ok(&f, "after", "49");
	assert_true(filter_match(&f, &c));
	/* Every criterion must hold. */
	c.remote_port = 80;
	assert_false(filter_match(&f, &c));
	c.remote_port = 443;
	c.state = TW_TCP_FIN_WAIT1;
	assert_false(filter_match(&f, &c));
	c.state = TW_TCP_CLOSE_WAIT;
	assert_true(filter_match(&f, &c));
	c.remote_addr[3] = 2;
	assert_false(filter_match(&f, &c));
}

/* The planner skips the filter while gathering only when it matches
 * everything: every state, and no other condition of any kind. */
static void test_is_everything(void **state)
{
	const char *conds[][2] = {
		{"state", "established"},
		{"family", "inet"},
		{"local_addr", "10.0.0.0/8"},
		{"remote_addr", "::1"},
		{"local_port", "80"},
		{"remote_port", "443"},
		{"pid", "1"},
		{"netns", "4026531840"},
		{"after", "7"},
		{"filter", "sport = :22"},
	};
	struct tw_filter f;

	(void)state;
	filter_init(&f);
	assert_false(filter_is_everything(&f)); /* the default leaves out LISTEN and CLOSE */
	set_ok(&f, "state", "all");
	assert_true(filter_is_everything(&f));
	for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]); i++) {
		filter_init(&f);
		set_ok(&f, "state", "all");
		set_ok(&f, conds[i][0], conds[i][1]);
		assert_false(filter_is_everything(&f));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set_state),
		cmocka_unit_test(test_set_state_errors),
		cmocka_unit_test(test_set_family),
		cmocka_unit_test(test_set_addresses),
		cmocka_unit_test(test_set_address_errors),
		cmocka_unit_test(test_set_ports),
		cmocka_unit_test(test_set_pid_netns),
		cmocka_unit_test(test_set_limit_after),
		cmocka_unit_test(test_negative_after_whitespace),
		cmocka_unit_test(test_unknown_and_long),
		cmocka_unit_test(test_match_default_and_states),
		cmocka_unit_test(test_match_fields),
		cmocka_unit_test(test_match_prefixes),
		cmocka_unit_test(test_match_combined),
		cmocka_unit_test(test_is_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
