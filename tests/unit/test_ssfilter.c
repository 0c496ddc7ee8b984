/* Unit tests for common/ssfilter.c: ss(8)'s filter grammar, what each
 * predicate matches, precedence, and the offset and message of every kind
 * of syntax error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssfilter.h"

/* A socket's endpoints with storage for the addresses. */
struct sock {
	uint8_t local[16], remote[16];
	struct tw_ssf_sock s;
};

static void sock_set(struct sock *k, int family, const char *local, uint16_t local_port,
		     const char *remote, uint16_t remote_port)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(inet_pton(family, local, k->local), 1);
	assert_int_equal(inet_pton(family, remote, k->remote), 1);
	k->s.family = family;
	k->s.local_addr = k->local;
	k->s.remote_addr = k->remote;
	k->s.local_port = local_port;
	k->s.remote_port = remote_port;
}

static struct sock sock4(const char *local, uint16_t local_port, const char *remote,
			 uint16_t remote_port)
{
	struct sock k;

	sock_set(&k, AF_INET, local, local_port, remote, remote_port);
	return k;
}

static struct sock sock6(const char *local, uint16_t local_port, const char *remote,
			 uint16_t remote_port)
{
	struct sock k;

	sock_set(&k, AF_INET6, local, local_port, remote, remote_port);
	return k;
}

/* Parses text (which must be valid) and matches it against k. The
 * address pointers are re-aimed since k was copied by value. */
static bool matches(const char *text, struct sock k)
{
	struct tw_ssfilter *f = malloc(sizeof(*f));
	struct tw_ssf_error err;
	int r;
	bool m;

	assert_non_null(f);
	k.s.local_addr = k.local;
	k.s.remote_addr = k.remote;
	r = ssfilter_parse(f, text, &err);
	if (r != 0) {
		free(f);
		fail_msg("'%s' did not parse: %s (offset %d)", text, err.message, err.offset);
	}
	m = ssfilter_match(f, &k.s);
	free(f);
	return m;
}

/* ssfilter_parse must fail with -EINVAL, the offset at want_offset and a
 * non-empty message. */
static void expect_error(const char *text, int want_offset)
{
	struct tw_ssfilter *f = malloc(sizeof(*f));
	struct tw_ssf_error err;
	int r;

	assert_non_null(f);
	memset(&err, 0x55, sizeof(err));
	r = ssfilter_parse(f, text, &err);
	free(f);
	if (r != -EINVAL)
		fail_msg("'%.60s': returned %d, expected -EINVAL", text, r);
	if (err.offset != want_offset)
		fail_msg("'%.60s': error offset %d, expected %d (%s)", text, err.offset,
			 want_offset, err.message);
	assert_true(err.message[0] != '\0');
	assert_non_null(memchr(err.message, '\0', sizeof(err.message)));
}

/* Offset of the n-th (0-based) occurrence of needle in text. */
static int offset_of(const char *text, const char *needle, int n)
{
	const char *p = text - 1;

	for (int i = 0; i <= n; i++) {
		p = strstr(p + 1, needle);
		assert_non_null(p);
	}
	return (int)(p - text);
}

/* --- predicates --- */

static void test_empty_matches_everything(void **state)
{
	struct tw_ssfilter f;
	struct tw_ssf_error err;
	struct sock k = sock4("10.0.0.1", 1, "10.0.0.2", 2);

	(void)state;
	assert_int_equal(ssfilter_parse(&f, "", &err), 0);
	assert_int_equal(f.root, -1);
	assert_true(ssfilter_match(&f, &k.s));
	assert_int_equal(ssfilter_parse(&f, "   \t\n ", &err), 0);
	assert_int_equal(f.root, -1);
	assert_true(matches("", sock6("::1", 1, "::2", 2)));
}

static void test_port_equal(void **state)
{
	struct sock k = sock4("10.0.0.1", 80, "10.0.0.2", 443);

	(void)state;
	assert_true(matches("dport = :443", k));
	assert_false(matches("dport = :444", k));
	assert_false(matches("dport = :80", k)); /* dport is the remote port */
	assert_true(matches("sport == :80", k));
	assert_false(matches("sport == :443", k));
	assert_true(matches("dport eq 443", k));
	assert_true(matches("dport 443", k)); /* no operator: = */
	assert_true(matches("dport :443", k));
	assert_true(matches("dport *:443", k));
	assert_true(matches("sport = 80", k));
	assert_false(matches("sport = *:81", k));
}

static void test_port_not_equal(void **state)
{
	struct sock k = sock4("10.0.0.1", 22, "10.0.0.2", 5000);

	(void)state;
	assert_true(matches("dport != :22", k));
	assert_false(matches("dport != :5000", k));
	assert_false(matches("sport != :22", k));
	assert_true(matches("sport ne 23", k));
	assert_false(matches("sport neq 22", k));
	assert_true(matches("sport neq 21", k));
}

static void test_port_ordering(void **state)
{
	(void)state;
	/* > is strict */
	assert_true(matches("dport > :1024", sock4("1.1.1.1", 1, "2.2.2.2", 1025)));
	assert_false(matches("dport > :1024", sock4("1.1.1.1", 1, "2.2.2.2", 1024)));
	assert_true(matches("dport gt 1024", sock4("1.1.1.1", 1, "2.2.2.2", 65535)));
	assert_false(matches("dport gt 1024", sock4("1.1.1.1", 1, "2.2.2.2", 1023)));
	/* >= includes the bound */
	assert_true(matches("sport >= :1024", sock4("1.1.1.1", 1024, "2.2.2.2", 1)));
	assert_false(matches("sport >= :1024", sock4("1.1.1.1", 1023, "2.2.2.2", 1)));
	assert_true(matches("sport ge 1024", sock4("1.1.1.1", 1025, "2.2.2.2", 1)));
	assert_true(matches("sport geq 1024", sock4("1.1.1.1", 1024, "2.2.2.2", 1)));
	assert_false(matches("sport geq 1024", sock4("1.1.1.1", 7, "2.2.2.2", 1)));
	/* < is strict */
	assert_true(matches("dport < 100", sock4("1.1.1.1", 1, "2.2.2.2", 99)));
	assert_false(matches("dport < 100", sock4("1.1.1.1", 1, "2.2.2.2", 100)));
	assert_true(matches("dport lt :100", sock4("1.1.1.1", 1, "2.2.2.2", 0)));
	assert_false(matches("dport lt :100", sock4("1.1.1.1", 1, "2.2.2.2", 101)));
	/* <= includes the bound */
	assert_true(matches("dport <= :100", sock4("1.1.1.1", 1, "2.2.2.2", 100)));
	assert_false(matches("dport <= :100", sock4("1.1.1.1", 1, "2.2.2.2", 101)));
	assert_true(matches("dport le 100", sock4("1.1.1.1", 1, "2.2.2.2", 100)));
	assert_false(matches("dport le 100", sock4("1.1.1.1", 1, "2.2.2.2", 65535)));
	assert_true(matches("dport leq 100", sock4("1.1.1.1", 1, "2.2.2.2", 3)));
	assert_false(matches("dport leq 100", sock4("1.1.1.1", 1, "2.2.2.2", 200)));
	/* the extremes of the port range */
	assert_true(matches("sport = :0", sock4("1.1.1.1", 0, "2.2.2.2", 1)));
	assert_true(matches("sport = :65535", sock4("1.1.1.1", 65535, "2.2.2.2", 1)));
	assert_false(matches("sport < :0", sock4("1.1.1.1", 0, "2.2.2.2", 1)));
	assert_false(matches("sport > :65535", sock4("1.1.1.1", 65535, "2.2.2.2", 1)));
}

static void test_attached_operators(void **state)
{
	struct sock k = sock4("10.0.0.1", 1, "10.0.0.2", 443);

	(void)state;
	assert_true(matches("dport=:443", k));
	assert_false(matches("dport=:444", k));
	assert_true(matches("dport==443", k));
	assert_true(matches("dport!=:444", k));
	assert_false(matches("dport!=:443", k));
	assert_true(matches("dport>=443", k));
	assert_true(matches("dport<=443", k));
	assert_false(matches("dport<443", k));
	assert_false(matches("dport>443", k));
	assert_true(matches("(dport = :443)", k));
	assert_false(matches("(dport = :1)", k));
	assert_true(matches("(dport=:443)&&(sport=:1)", k));
	assert_true(matches("!(dport=:1)", k));
	assert_true(matches("!dport=:1", k));
	assert_true(matches("dport=:1||dport=:443", k));
}

static void test_src_dst_ipv4(void **state)
{
	struct sock k = sock4("127.1.2.3", 5555, "10.0.0.1", 80);

	(void)state;
	assert_true(matches("src 127.0.0.0/8", k));
	assert_false(matches("src 128.0.0.0/8", k));
	assert_false(matches("dst 127.0.0.0/8", k)); /* dst is the remote address */
	assert_true(matches("src 127.1.2.3", k));
	assert_false(matches("src 127.1.2.4", k));
	assert_true(matches("src 127.1.2.2/31", k));
	assert_false(matches("src 127.1.2.4/31", k));
	assert_true(matches("src 0.0.0.0/0", k));
	assert_true(matches("dst 10.0.0.1:80", k));
	assert_false(matches("dst 10.0.0.1:81", k));
	assert_false(matches("dst 10.0.0.2:80", k));
	assert_true(matches("dst = 10.0.0.1", k));
	assert_true(matches("dst == 10.0.0.0/24:80", k));
	assert_true(matches("dst eq 10.0.0.1", k));
	assert_true(matches("dst != 10.0.0.2", k));
	assert_false(matches("dst != 10.0.0.1", k));
	assert_true(matches("dst ne 10.0.0.1:81", k));
	assert_false(matches("dst neq 10.0.0.1:80", k));
	assert_true(matches("src *:5555", k));
	assert_false(matches("src *:22", k));
	assert_true(matches("src *:22", sock4("1.2.3.4", 22, "5.6.7.8", 1)));
	assert_true(matches("dst :80", k));
	assert_false(matches("dst :81", k));
	assert_false(matches("src :80", k));
	assert_true(matches("dst 10.0.0.1:*", k));
	/* an IPv4 filter never matches an IPv6 socket, and the reverse */
	assert_false(matches("src 0.0.0.0/0", sock6("::", 5555, "::1", 80)));
	assert_false(matches("src ::/0", k));
}

static void test_src_dst_ipv6(void **state)
{
	struct sock k = sock6("fd12:3456::1", 40000, "::1", 443);

	(void)state;
	assert_true(matches("dst [::1]:443", k));
	assert_false(matches("dst [::1]:444", k));
	assert_false(matches("dst [::2]:443", k));
	assert_true(matches("dst [::1]", k));
	assert_true(matches("dst ::1", k));
	assert_false(matches("dst ::2", k));
	assert_false(matches("src ::1", k));
	assert_true(matches("src [fd00::]/8", k));
	assert_false(matches("src [fe00::]/8", k));
	assert_false(matches("dst [fd00::]/8", k));
	assert_true(matches("src [fd12:3456::]/32:40000", k));
	assert_false(matches("src [fd12:3456::]/32:40001", k));
	assert_true(matches("src fd12:3456::/32", k));
	assert_true(matches("src fd12:3456::1", k));
	assert_true(matches("dst != [::2]", k));
	assert_false(matches("dst != [::1]:443", k));
	assert_true(matches("src *:40000", k));
	assert_true(matches("dst :443", k));
	assert_true(matches("dport = :443 and sport > :32767", k));
	/* IPv6 sockets never match IPv4 addresses */
	assert_false(matches("dst 0.0.0.1", k));
}

/* --- boolean structure --- */

static void test_not(void **state)
{
	struct sock k = sock4("10.0.0.1", 1, "10.0.0.2", 22);

	(void)state;
	assert_false(matches("not dport = :22", k));
	assert_true(matches("not dport = :23", k));
	assert_false(matches("! dport = :22", k));
	assert_true(matches("!dport = :23", k));
	assert_true(matches("not not dport = :22", k));
	assert_true(matches("! ! dport = :22", k));
	assert_false(matches("not ! not dport = :22", k));
	assert_false(matches("not src 10.0.0.0/8", k));
	/* not binds to the predicate, not to the whole and */
	assert_true(matches("not dport = :23 sport = :1", k));
	assert_false(matches("not dport = :22 sport = :1", k));
	assert_false(matches("not (dport = :22 sport = :1)", k));
	assert_true(matches("not (dport = :23 sport = :1)", k));
	assert_true(matches("not (dport = :22 sport = :2)", k));
}

static void test_and(void **state)
{
	struct sock k = sock4("10.0.0.1", 1, "10.0.0.2", 2);

	(void)state;
	assert_true(matches("sport = :1 and dport = :2", k));
	assert_false(matches("sport = :1 and dport = :3", k));
	assert_false(matches("sport = :9 and dport = :2", k));
	assert_true(matches("sport = :1 && dport = :2", k));
	assert_false(matches("sport = :1 && dport = :3", k));
	assert_true(matches("sport = :1&&dport = :2", k));
	/* juxtaposition is an implicit and */
	assert_true(matches("sport = :1 dport = :2", k));
	assert_false(matches("sport = :1 dport = :3", k));
	assert_false(matches("sport = :3 dport = :2", k));
	assert_true(matches("src 10.0.0.1 dst 10.0.0.2 sport :1 dport :2", k));
	assert_false(matches("src 10.0.0.1 dst 10.0.0.2 sport :1 dport :3", k));
}

static void test_or(void **state)
{
	struct sock k = sock4("10.0.0.1", 1, "10.0.0.2", 2);

	(void)state;
	assert_true(matches("dport = :2 or dport = :3", k));
	assert_true(matches("dport = :3 or dport = :2", k));
	assert_false(matches("dport = :3 or dport = :4", k));
	assert_true(matches("dport = :3 || dport = :2", k));
	assert_false(matches("dport = :3 || dport = :4", k));
	assert_true(matches("dport = :3 , dport = :2", k));
	assert_false(matches("dport = :3 , dport = :4", k));
	assert_true(matches("dport = :3 or dport = :4 or dport = :5 or sport = :1", k));
}

/* "," is an operator like "||" and "&&": it separates without spaces too,
 * as in "dport = :22, dport = :80". */
static void test_or_comma_attached(void **state)
{
	struct sock k = sock4("10.0.0.1", 1, "10.0.0.2", 2);

	(void)state;
	assert_true(matches("dport = :3, dport = :2", k));
	assert_false(matches("dport = :3,dport = :4", k));
	assert_true(matches("dport = :3 ,dport = :2", k));
}

static void test_precedence(void **state)
{
	(void)state;
	/* and binds tighter than or: A or (B and C) */
	assert_true(matches("dport = :1 or dport = :2 and sport = :3",
			    sock4("1.1.1.1", 9, "2.2.2.2", 1)));
	assert_false(matches("dport = :1 or dport = :2 and sport = :3",
			     sock4("1.1.1.1", 9, "2.2.2.2", 2)));
	assert_true(matches("dport = :1 or dport = :2 and sport = :3",
			    sock4("1.1.1.1", 3, "2.2.2.2", 2)));
	/* (A and B) or C */
	assert_true(matches("sport = :3 and dport = :2 || dport = :1",
			    sock4("1.1.1.1", 9, "2.2.2.2", 1)));
	assert_false(matches("sport = :3 and dport = :2 || dport = :7",
			     sock4("1.1.1.1", 9, "2.2.2.2", 2)));
	/* juxtaposition binds tighter than "," */
	assert_true(matches("dport :1 , dport :2 sport :3", sock4("1.1.1.1", 9, "2.2.2.2", 1)));
	assert_false(matches("dport :1 , dport :2 sport :3", sock4("1.1.1.1", 9, "2.2.2.2", 2)));
	/* parentheses override it */
	assert_false(matches("(dport = :1 or dport = :2) and sport = :3",
			     sock4("1.1.1.1", 9, "2.2.2.2", 1)));
	assert_true(matches("(dport = :1 or dport = :2) and sport = :3",
			    sock4("1.1.1.1", 3, "2.2.2.2", 1)));
}

static void test_nesting(void **state)
{
	struct sock k = sock4("192.168.1.10", 8080, "10.1.2.3", 5432);
	char deep[256];
	int n = 0;

	(void)state;
	assert_true(matches("((dport = :5432))", k));
	assert_true(matches("( ( src 192.168.0.0/16 and ( dport = :1 or dport = :5432 ) ) )", k));
	assert_false(matches("( ( src 192.168.0.0/16 and ( dport = :1 or dport = :2 ) ) )", k));
	assert_false(
		matches("not (not (sport = :8080) or (dst 10.0.0.0/8 and not dport > :6000))", k));
	assert_true(matches("(sport = :8080 or sport = :80) (dport = :5432 or dport = :3306)", k));
	assert_false(matches("(sport = :8080 or sport = :80) (dport = :1 or dport = :3306)", k));
	assert_true(matches("!(src 10.0.0.0/8) && (dst 10.0.0.0/8 || dst 172.16.0.0/12)", k));

	/* exactly TW_SSF_MAX_DEPTH parentheses are accepted */
	for (int i = 0; i < TW_SSF_MAX_DEPTH; i++)
		deep[n++] = '(';
	n += snprintf(deep + n, sizeof(deep) - (size_t)n, "dport = :5432");
	for (int i = 0; i < TW_SSF_MAX_DEPTH; i++)
		deep[n++] = ')';
	deep[n] = '\0';
	assert_true(matches(deep, k));
}

static void test_limits_accepted(void **state)
{
	struct sock k = sock4("1.1.1.1", 1, "2.2.2.2", 64);
	char *text = malloc(TW_SSF_MAX_LEN + 1);
	int n = 0;

	(void)state;
	assert_non_null(text);
	/* TW_SSF_MAX_LEN bytes exactly is fine */
	n = snprintf(text, TW_SSF_MAX_LEN + 1, "dport = :64");
	memset(text + n, ' ', (size_t)(TW_SSF_MAX_LEN - n));
	text[TW_SSF_MAX_LEN] = '\0';
	assert_int_equal(strlen(text), TW_SSF_MAX_LEN);
	assert_true(matches(text, k));

	/* 64 predicates joined by juxtaposition: 127 nodes, within the bound */
	n = 0;
	for (int i = 1; i <= 64; i++)
		n += snprintf(text + n, TW_SSF_MAX_LEN + 1 - (size_t)n, "%sdport > :%d",
			      i > 1 ? " " : "", i - 1);
	assert_true(matches(text, k));
	assert_false(matches(text, sock4("1.1.1.1", 1, "2.2.2.2", 63)));
	free(text);
}

/* --- errors --- */

static void test_error_unknown_word(void **state)
{
	(void)state;
	expect_error("foo", 0);
	expect_error("dport = :1 and foo", offset_of("dport = :1 and foo", "foo", 0));
	expect_error("dport = :1 or bar = :2", offset_of("dport = :1 or bar = :2", "bar", 0));
	expect_error("(  baz)", 3);
	/* a stray operator where a predicate should start */
	expect_error("dport = :1 = :2", 11);
	/* lone & and | are not operators */
	expect_error("dport = :1 & dport = :2", 11);
	expect_error("dport = :1 | dport = :2", 11);
}

static void test_error_missing_value(void **state)
{
	(void)state;
	/* the value would start where the expression ends */
	expect_error("dport =", 7);
	expect_error("dport", 5);
	expect_error("sport >= ", 9);
	expect_error("src", 3);
	expect_error("dst !=", 6);
	/* a parenthesis is not a value */
	expect_error("(dport =)", 8);
	expect_error("dport = ( :1 )", 8);
	/* nothing after a binary operator */
	expect_error("dport = :1 and", 14);
	expect_error("dport = :1 or", 13);
	expect_error("dport = :1 ||", 13);
	expect_error("not", 3);
	expect_error("()", 1);
}

static void test_error_bad_port(void **state)
{
	(void)state;
	expect_error("dport = :99999", 8);
	expect_error("dport = :65536", 8);
	expect_error("dport = :abc", 8);
	expect_error("sport > 12a", 8);
	expect_error("dport = :", 8);
	expect_error("dport = :-1", 8);
	expect_error("dport = :1234567", 8);
	expect_error("sport = :1 and dport eq :0x50",
		     offset_of("sport = :1 and dport eq :0x50", ":0x50", 0));
	expect_error("dst 10.0.0.1:99999", 4);
	expect_error("dst 10.0.0.1:", 4);
	expect_error("dst [::1]:http", 4);
	expect_error("src *:abc", 4);
}

static void test_error_bad_address(void **state)
{
	(void)state;
	expect_error("src 1.2.3.999", 4);
	expect_error("dst [::1", 4);
	expect_error("dst [::1]:443 or dst [::1",
		     offset_of("dst [::1]:443 or dst [::1", "[::1", 1));
	expect_error("src 1.2.3.4/33", 4);
	expect_error("src [::1]/129", 4);
	expect_error("src 1.2.3.4/", 4);
	expect_error("dst [::1]x", 4);
	expect_error("dst localhost", 4);
	expect_error("dst :::1:2", 4);
	/* a bare "*" matches everything: refused */
	expect_error("src *", 4);
}

static void test_error_unbalanced(void **state)
{
	(void)state;
	/* the missing ')' was due where the expression ends */
	expect_error("( dport = :1", 12);
	expect_error("((dport = :1)", 13);
	/* a ')' nobody opened */
	expect_error("dport = :1 )", 11);
	expect_error("(dport = :1))", 12);
	expect_error(")", 0);
	/* one ')' too many after a complete group */
	expect_error("(dport = :1 dport = :2 ) )", 25);
}

static void test_error_src_dst_ordering(void **state)
{
	(void)state;
	/* src and dst compare addresses: only = and != make sense. The
	 * offending token is the operator. */
	expect_error("src > 1.2.3.4", 4);
	expect_error("dst < 1.2.3.4", 4);
	expect_error("src >= 1.2.3.4", 4);
	expect_error("dst le 1.2.3.4", 4);
	expect_error("dport = :1 and dst gt 1.2.3.4",
		     offset_of("dport = :1 and dst gt 1.2.3.4", "gt", 0));
}

static void test_error_too_long(void **state)
{
	char *text = malloc(TW_SSF_MAX_LEN + 2);

	(void)state;
	assert_non_null(text);
	/* a valid expression padded one byte past the limit */
	memset(text, ' ', TW_SSF_MAX_LEN + 1);
	memcpy(text, "dport = :1", 10);
	text[TW_SSF_MAX_LEN + 1] = '\0';
	expect_error(text, TW_SSF_MAX_LEN);
	free(text);
}

static void test_error_too_many_tokens(void **state)
{
	/* 600 "!" are 600 tokens in 600 bytes: more than the lexer keeps */
	char text[601];

	(void)state;
	memset(text, '!', 600);
	text[600] = '\0';
	expect_error(text, TW_SSF_MAX_NODES * 4);
}

static void test_error_too_deep(void **state)
{
	char text[256];
	int n = 0;

	(void)state;
	for (int i = 0; i < TW_SSF_MAX_DEPTH + 1; i++)
		text[n++] = '(';
	n += snprintf(text + n, sizeof(text) - (size_t)n, "dport = :1");
	for (int i = 0; i < TW_SSF_MAX_DEPTH + 1; i++)
		text[n++] = ')';
	text[n] = '\0';
	/* the first '(' over the bound */
	expect_error(text, TW_SSF_MAX_DEPTH);

	/* with spaces: "( " per level */
	n = 0;
	for (int i = 0; i < TW_SSF_MAX_DEPTH + 5; i++) {
		text[n++] = '(';
		text[n++] = ' ';
	}
	snprintf(text + n, sizeof(text) - (size_t)n, "dport = :1");
	expect_error(text, 2 * TW_SSF_MAX_DEPTH);

	/* "not" nests too */
	n = 0;
	for (int i = 0; i < TW_SSF_MAX_DEPTH + 1; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "! ");
	snprintf(text + n, sizeof(text) - (size_t)n, "dport = :1");
	expect_error(text, 2 * TW_SSF_MAX_DEPTH);
}

static void test_error_too_many_nodes(void **state)
{
	char *text = malloc(TW_SSF_MAX_LEN + 1);
	int n = 0, want = 0;

	(void)state;
	assert_non_null(text);
	/* "! P1 P2 ... P65": P1, NOT, then Pk and its AND for each later k;
	 * node 129 (one past TW_SSF_MAX_NODES) is the predicate P65. */
	n = snprintf(text, TW_SSF_MAX_LEN + 1, "!");
	for (int i = 1; i <= 65; i++) {
		if (i == 65)
			want = n + 1;
		n += snprintf(text + n, TW_SSF_MAX_LEN + 1 - (size_t)n, " dport = :%d", i);
	}
	assert_true(n < TW_SSF_MAX_LEN);
	expect_error(text, want);

	/* without the "!", node 129 is the and joining P65: the error points
	 * at the start of its right operand, P65 again */
	n = 0;
	for (int i = 1; i <= 65; i++) {
		if (i == 65)
			want = n + 1;
		n += snprintf(text + n, TW_SSF_MAX_LEN + 1 - (size_t)n, "%sdport = :%d",
			      i > 1 ? " " : "", i);
	}
	expect_error(text, want);
	free(text);
}

static void test_error_leaves_filter_empty(void **state)
{
	struct tw_ssfilter f;
	struct tw_ssf_error err;

	(void)state;
	assert_int_equal(ssfilter_parse(&f, "dport = :1 and foo", &err), -EINVAL);
	/* a later successful parse starts from scratch */
	assert_int_equal(ssfilter_parse(&f, "dport = :1", &err), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.root, 0);
	assert_int_equal(f.nodes[0].type, TW_SSF_PRED);
	assert_int_equal(f.nodes[0].field, TW_SSF_DPORT);
	assert_int_equal(f.nodes[0].op, TW_SSF_EQ);
	assert_int_equal(f.nodes[0].port, 1);
	assert_int_equal(err.message[0], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_matches_everything),
		cmocka_unit_test(test_port_equal),
		cmocka_unit_test(test_port_not_equal),
		cmocka_unit_test(test_port_ordering),
		cmocka_unit_test(test_attached_operators),
		cmocka_unit_test(test_src_dst_ipv4),
		cmocka_unit_test(test_src_dst_ipv6),
		cmocka_unit_test(test_not),
		cmocka_unit_test(test_and),
		cmocka_unit_test(test_or),
		cmocka_unit_test(test_or_comma_attached),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_limits_accepted),
		cmocka_unit_test(test_error_unknown_word),
		cmocka_unit_test(test_error_missing_value),
		cmocka_unit_test(test_error_bad_port),
		cmocka_unit_test(test_error_bad_address),
		cmocka_unit_test(test_error_unbalanced),
		cmocka_unit_test(test_error_src_dst_ordering),
		cmocka_unit_test(test_error_too_long),
		cmocka_unit_test(test_error_too_many_tokens),
		cmocka_unit_test(test_error_too_deep),
		cmocka_unit_test(test_error_too_many_nodes),
		cmocka_unit_test(test_error_leaves_filter_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
