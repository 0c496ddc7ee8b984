/* Unit tests for daemon/probe/allow.c: the probe-allow list (prefixes with
 * optional port ranges), its errors (each naming the entry at fault), and
 * what it lets through, loopback always included. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "allow.h"

static struct tw_allow allow;

/* An address in text, as 16 bytes (IPv4 in the first four). */
static const uint8_t *A(const char *text)
{
	static uint8_t buf[8][16];
	static unsigned next;
	uint8_t *a = buf[next++ % 8];

	memset(a, 0, 16);
	if (inet_pton(strchr(text, ':') ? AF_INET6 : AF_INET, text, a) != 1)
		fail_msg("bad test address %s", text);
	return a;
}

static bool ok4(const char *addr, uint16_t port)
{
	return allow_match(&allow, AF_INET, A(addr), port);
}

static bool ok6(const char *addr, uint16_t port)
{
	return allow_match(&allow, AF_INET6, A(addr), port);
}

static void parse_ok(const char *text)
{
	char err[256] = "";

	if (allow_parse(&allow, text, err, sizeof(err)) != 0)
		fail_msg("allow_parse(\"%s\"): %s", text, err);
}

static void test_parse_example(void **state)
{
	char err[256] = "untouched";
	const struct tw_allow_rule *r = allow.v;

	(void)state;
	assert_int_equal(allow_parse(&allow, "198.18.0.0/15, 10.1.0.0/16:443 [fd00::/8]:8000-8999",
				     err, sizeof(err)),
			 0);
	assert_int_equal(allow.n, 3);
	assert_int_equal(r[0].family, AF_INET);
	assert_memory_equal(r[0].addr, A("198.18.0.0"), 4);
	assert_int_equal(r[0].prefix_len, 15);
	assert_int_equal(r[0].port_lo, 1); /* no ports: all of them */
	assert_int_equal(r[0].port_hi, 65535);
	assert_int_equal(r[1].family, AF_INET);
	assert_memory_equal(r[1].addr, A("10.1.0.0"), 4);
	assert_int_equal(r[1].prefix_len, 16);
	assert_int_equal(r[1].port_lo, 443);
	assert_int_equal(r[1].port_hi, 443);
	assert_int_equal(r[2].family, AF_INET6);
	assert_memory_equal(r[2].addr, A("fd00::"), 16);
	assert_int_equal(r[2].prefix_len, 8);
	assert_int_equal(r[2].port_lo, 8000);
	assert_int_equal(r[2].port_hi, 8999);
}

static void test_parse_forms(void **state)
{
	const struct tw_allow_rule *r = allow.v;

	(void)state;
	/* Empty, or only separators: no rule. */
	parse_ok("198.18.0.0/15");
	parse_ok("");
	assert_int_equal(allow.n, 0);
	parse_ok(" ,\t, ");
	assert_int_equal(allow.n, 0);
	/* Separators of any kind and number; an address alone is a host;
	 * brackets with or without a prefix or ports; IPv6 bare. */
	parse_ok("\t192.0.2.7 ,, [::1]:22,fd00::1\t[2001:db8::/32] 0.0.0.0/0:1-65535 ");
	assert_int_equal(allow.n, 5);
	assert_int_equal(r[0].family, AF_INET);
	assert_int_equal(r[0].prefix_len, 32);
	assert_memory_equal(r[0].addr, A("192.0.2.7"), 4);
	assert_int_equal(r[1].family, AF_INET6);
	assert_int_equal(r[1].prefix_len, 128);
	assert_int_equal(r[1].port_lo, 22);
	assert_int_equal(r[1].port_hi, 22);
	assert_int_equal(r[2].family, AF_INET6);
	assert_int_equal(r[2].prefix_len, 128);
	assert_memory_equal(r[2].addr, A("fd00::1"), 16);
	assert_int_equal(r[2].port_lo, 1);
	assert_int_equal(r[2].port_hi, 65535);
	assert_int_equal(r[3].prefix_len, 32);
	assert_int_equal(r[3].port_lo, 1);
	assert_int_equal(r[3].port_hi, 65535);
	assert_int_equal(r[4].family, AF_INET);
	assert_int_equal(r[4].prefix_len, 0);
	assert_int_equal(r[4].port_lo, 1);
	assert_int_equal(r[4].port_hi, 65535);
	/* Ports at their edges. */
	parse_ok("10.0.0.0/8:1 10.0.0.0/8:65535 [::/0]:65535-65535 10.0.0.0/8:00080");
	assert_int_equal(allow.n, 4);
	assert_int_equal(r[0].port_lo, 1);
	assert_int_equal(r[1].port_hi, 65535);
	assert_int_equal(r[2].port_lo, 65535);
	assert_int_equal(r[2].port_hi, 65535);
	assert_int_equal(r[3].port_lo, 80);
	/* A shorter list after a longer one holds only its own. */
	parse_ok("10.0.0.0/8");
	assert_int_equal(allow.n, 1);
}

/* Each bad entry fails the whole list, err naming it. */
static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"10.0.0.0/33",                     /* prefix too long */
		"fd00::/129",                      /* prefix too long */
		"10.0.0.0/",                       /* no prefix length */
		"10.0.0.0/-1",                     /* negative */
		"10.0.0.0/8/8",                    /* two */
		"10.0.0/8",                        /* not an address */
		"example.com",                     /* not an address */
		"10.0.0.0/8:0",                    /* port 0 */
		"10.0.0.0/8:70000",                /* past 65535 */
		"10.0.0.0/8:65536",                /* just past */
		"10.0.0.0/8:123456",               /* six digits */
		"10.0.0.0/8:18446744073709551696", /* 2^64 + 80: no wrap to 80 */
		"10.0.0.0/8:443-80",               /* reversed */
		"10.0.0.0/8:",                     /* no port */
		"10.0.0.0/8:80-",                  /* no end */
		"10.0.0.0/8:-80",                  /* no start */
		"10.0.0.0/8:80-90-99",             /* two dashes */
		"10.0.0.0/8:http",                 /* not a number */
		"10.0.0.0/8:+80",                  /* a sign */
		"[fd00::/8:8000",                  /* missing bracket */
		"[fd00::/8",                       /* missing bracket */
		"fd00::/8]:8000",                  /* missing bracket */
		"[fd00::/8]8000",                  /* no colon after the bracket */
		"[fd00::/8]:",                     /* no port */
		"[fd00::/8]:0-10",                 /* port 0 */
		"[fd00::/8]:9000-8000",            /* reversed */
		"[]:80",                           /* no address */
	};
	char err[256], list[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(err, 0, sizeof(err));
		if (allow_parse(&allow, bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("allow_parse took \"%s\"", bad[i]);
		if (!strstr(err, bad[i]))
			fail_msg("allow_parse(\"%s\"): err \"%s\" does not name it", bad[i], err);
		/* In the middle of a list: the bad one is named, not the others. */
		snprintf(list, sizeof(list), "192.0.2.0/24, %s [::1]:80", bad[i]);
		memset(err, 0, sizeof(err));
		assert_int_equal(allow_parse(&allow, list, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i]) || strstr(err, "192.0.2.0/24") || strstr(err, "[::1]:80"))
			fail_msg("allow_parse(\"%s\"): err \"%s\"", list, err);
	}
}

static void test_parse_limits(void **state)
{
	char text[TW_ALLOW_MAX * 16 + 64], err[256], small[12];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < TW_ALLOW_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "10.%d.0.0/16,", i);
	parse_ok(text);
	assert_int_equal(allow.n, TW_ALLOW_MAX);
	assert_int_equal(allow.v[TW_ALLOW_MAX - 1].addr[1], TW_ALLOW_MAX - 1);
	/* One more is refused (and nothing past the table is written: ASan). */
	snprintf(text + n, sizeof(text) - n, "192.0.2.0/24");
	memset(err, 0, sizeof(err));
	assert_int_equal(allow_parse(&allow, text, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than 64"));

	/* An entry too long for the message is still refused, named by its
	 * start. */
	memset(text, '1', 300);
	text[300] = '\0';
	memset(err, 0, sizeof(err));
	assert_int_equal(allow_parse(&allow, text, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'1111111111"));
	/* A small err buffer is cut, not overrun. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(allow_parse(&allow, "10.0.0.0/99", small, 8), -EINVAL);
	assert_int_equal(strlen(small), 7);
	assert_int_equal(small[8], 'x');
}

static void test_match_example(void **state)
{
	(void)state;
	parse_ok("198.18.0.0/15, 10.1.0.0/16:443 [fd00::/8]:8000-8999");
	/* 198.18.0.0/15 is 198.18.0.0 - 198.19.255.255, every port. */
	assert_true(ok4("198.18.0.0", 1));
	assert_true(ok4("198.18.0.1", 80));
	assert_true(ok4("198.19.255.255", 65535));
	assert_false(ok4("198.17.255.255", 80));
	assert_false(ok4("198.20.0.0", 80));
	assert_false(ok4("198.18.0.1", 0)); /* port 0 is in no range */
	/* 10.1.0.0/16 on 443 only */
	assert_true(ok4("10.1.0.1", 443));
	assert_true(ok4("10.1.255.255", 443));
	assert_false(ok4("10.1.0.1", 442));
	assert_false(ok4("10.1.0.1", 444));
	assert_false(ok4("10.2.0.1", 443));
	assert_false(ok4("10.0.255.255", 443));
	/* fd00::/8 on 8000-8999, edges included */
	assert_true(ok6("fd00::1", 8000));
	assert_true(ok6("fd12:3456::1", 8999));
	assert_true(ok6("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 8500));
	assert_false(ok6("fd00::1", 7999));
	assert_false(ok6("fd00::1", 9000));
	assert_false(ok6("fc00::1", 8000));
	assert_false(ok6("fe00::1", 8000));
	/* The other family never matches, whatever its bytes. */
	assert_false(ok6("c612::1", 80));           /* 198.18.x.x's bytes as IPv6 */
	assert_false(ok6("::ffff:198.18.0.1", 80)); /* mapped */
	assert_false(ok6("::ffff:10.1.0.1", 443));
	assert_false(allow_match(&allow, AF_INET, (const uint8_t[16]){0xfd, 0, 0, 1}, 8000));
	/* Nor does an address outside every rule. */
	assert_false(ok4("192.0.2.1", 443));
	assert_false(ok6("2001:db8::1", 8000));
}

/* A rule's prefix compares its first bits only: host bits in the rule do
 * not matter, /0 takes every address of its family and none of the other. */
static void test_match_prefixes(void **state)
{
	(void)state;
	parse_ok("10.1.2.3/16:80 0.0.0.0/0:22 [2001:db8:ff::/33]:443");
	assert_true(ok4("10.1.200.200", 80));
	assert_false(ok4("10.2.0.0", 80));
	assert_true(ok4("255.255.255.255", 22));
	assert_true(ok4("1.2.3.4", 22));
	assert_false(ok6("2001:db8::1", 22));
	/* /33: the first bit of the third group counts */
	assert_true(ok6("2001:db8:7fff::1", 443));
	assert_false(ok6("2001:db8:8000::1", 443));
	/* A host rule is that host. */
	parse_ok("192.0.2.7:443 [fd00::7]:443");
	assert_true(ok4("192.0.2.7", 443));
	assert_false(ok4("192.0.2.6", 443));
	assert_false(ok4("192.0.2.8", 443));
	assert_true(ok6("fd00::7", 443));
	assert_false(ok6("fd00::6", 443));
	assert_false(ok6("fd00::1:7", 443));
}

/* Loopback needs no rule: 127/8, ::1, ::ffff:127.0.0.0/104. */
static void test_loopback(void **state)
{
	(void)state;
	parse_ok("");
	assert_true(ok4("127.0.0.1", 80));
	assert_true(ok4("127.0.0.0", 1));
	assert_true(ok4("127.255.255.254", 65535));
	assert_true(ok4("127.1.2.3", 9));
	assert_true(ok6("::1", 22));
	assert_true(ok6("::ffff:127.0.0.1", 8080));
	assert_true(ok6("::ffff:127.200.0.9", 1));
	assert_false(ok4("126.255.255.255", 80));
	assert_false(ok4("128.0.0.1", 80));
	assert_false(ok4("0.0.0.0", 80));
	assert_false(ok4("10.0.0.1", 80));
	assert_false(ok6("::", 80));
	assert_false(ok6("::2", 80));
	assert_false(ok6("::1:0:0:1", 80));
	assert_false(ok6("::ffff:128.0.0.1", 80));
	assert_false(ok6("::ffff:126.0.0.1", 80));
	assert_false(ok6("::127.0.0.1", 80));              /* IPv4-compatible, no ffff */
	assert_false(ok6("::fffe:127.0.0.1", 80));         /* not mapped */
	assert_false(ok6("2001:db8::ffff:127.0.0.1", 80)); /* ffff, but not ::ffff:0:0/96 */
	assert_false(ok6("7f00::1", 80));                  /* 127's byte as IPv6 */
	assert_false(ok6("fe80::1", 80));
	/* Also with rules that do not take them. */
	parse_ok("192.0.2.0/24:443");
	assert_true(ok4("127.0.0.53", 53));
	assert_true(ok6("::1", 9));
	/* addr_is_loopback itself */
	assert_true(addr_is_loopback(AF_INET, A("127.0.0.1")));
	assert_false(addr_is_loopback(AF_INET, A("192.0.2.1")));
	assert_true(addr_is_loopback(AF_INET6, A("::1")));
	assert_true(addr_is_loopback(AF_INET6, A("::ffff:127.0.0.1")));
	assert_false(addr_is_loopback(AF_INET6, A("::ffff:10.0.0.1")));
	/* 127.0.0.1's bytes as IPv6 (7f00:1::) are no loopback */
	assert_false(addr_is_loopback(AF_INET6, A("127.0.0.1")));
}

static void test_parse_endpoint(void **state)
{
	uint8_t a[16];
	uint16_t port = 0;
	int family = 0;
	static const char *const bad[] = {
		"",
		":",
		":80",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:0",
		"127.0.0.1:65536",
		"127.0.0.1:80x",
		"127.0.0.1:-1",
		"127.0.0.1: 80",
		"::1:80",
		"[::1]",
		"[::1]:",
		"[127.0.0.1]:80",
		"[::1:80",
		"::1]:80",
		"[]:80",
		"example.com:80",
		"127.0.0.1:99999999999999999999",
	};

	(void)state;
	assert_int_equal(probe_parse_endpoint("127.0.0.1:8080", &family, a, &port), 0);
	assert_int_equal(family, AF_INET);
	assert_int_equal(port, 8080);
	assert_memory_equal(a, "\x7f\0\0\1", 4);
	assert_int_equal(probe_parse_endpoint("[fd00::2]:65535", &family, a, &port), 0);
	assert_int_equal(family, AF_INET6);
	assert_int_equal(port, 65535);
	assert_int_equal(a[0], 0xfd);
	assert_int_equal(a[15], 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* each from a buffer of its own size: a read before or past it
		 * fails under ASan (the first version read s[-1]) */
		size_t n = strlen(bad[i]) + 1;
		char *s = malloc(n);

		assert_non_null(s);
		memcpy(s, bad[i], n);
		if (probe_parse_endpoint(s, &family, a, &port) != -EINVAL)
			fail_msg("'%s' was taken", bad[i]);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_endpoint), cmocka_unit_test(test_parse_example),
		cmocka_unit_test(test_parse_forms),    cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_limits),   cmocka_unit_test(test_match_example),
		cmocka_unit_test(test_match_prefixes), cmocka_unit_test(test_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
