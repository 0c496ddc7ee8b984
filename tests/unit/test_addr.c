/* Unit tests for common/addr.c and the escaping of common/fmt.c: address
 * and endpoint text in both directions, prefixes, and what reaches a
 * terminal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "fmt.h"

static void test_format_and_parse(void **state)
{
	uint8_t a[16] = {0}, b[16];
	char text[TW_ADDR_STRLEN];
	int family;

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "198.18.0.7", a), 1);
	assert_string_equal(tw_addr_format(AF_INET, a, text, sizeof(text)), "198.18.0.7");
	assert_int_equal(tw_addr_parse("198.18.0.7", &family, b), 0);
	assert_int_equal(family, AF_INET);
	assert_memory_equal(a, b, 16);
	assert_int_equal(inet_pton(AF_INET6, "fd00::1:2", a), 1);
	assert_string_equal(tw_addr_format(AF_INET6, a, text, sizeof(text)), "fd00::1:2");
	assert_int_equal(tw_addr_parse("fd00::1:2", &family, b), 0);
	assert_int_equal(family, AF_INET6);
	assert_memory_equal(a, b, 16);
	/* Bad input leaves the outputs alone. */
	family = 99;
	memset(b, 0xee, 16);
	for (const char *const *s = (const char *const[]){"", "1.2.3", "1.2.3.256", "::g", "[::1]",
							  " 1.2.3.4", NULL};
	     *s; s++) {
		assert_int_equal(tw_addr_parse(*s, &family, b), -EINVAL);
		assert_int_equal(family, 99);
		assert_int_equal(b[0], 0xee);
	}
}

static void test_endpoints(void **state)
{
	uint8_t v4[16] = {127, 0, 0, 1}, v6[16] = {0}, any6[16] = {0};
	char out[TW_ENDPOINT_STRLEN], small[8];
	size_t n;

	(void)state;
	inet_pton(AF_INET6, "fd00::53", v6);
	assert_string_equal(tw_endpoint_format(AF_INET, v4, 8080, out, sizeof(out)),
			    "127.0.0.1:8080");
	assert_string_equal(tw_endpoint_format(AF_INET6, v6, 443, out, sizeof(out)),
			    "[fd00::53]:443");
	assert_string_equal(tw_endpoint_format(AF_INET6, any6, 0, out, sizeof(out)), "[::]:0");
	n = tw_endpoint_put(out, AF_INET, v4, 0, true);
	assert_int_equal(n, strlen("127.0.0.1:*"));
	assert_memory_equal(out, "127.0.0.1:*", n);
	/* The longest: a full IPv6 address and a five-digit port. */
	inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", v6);
	n = tw_endpoint_put(out, AF_INET6, v6, 65535, false);
	assert_true(n < TW_ENDPOINT_STRLEN);
	/* A short buffer gets a truncated, terminated string. */
	assert_string_equal(tw_endpoint_format(AF_INET, v4, 8080, small, sizeof(small)), "127.0.0");
	/* From the API's text: the same form, brackets for IPv6. */
	assert_string_equal(tw_endpoint_format_text("::1", 22, out, sizeof(out)), "[::1]:22");
	assert_string_equal(tw_endpoint_format_text("10.1.2.3", 22, out, sizeof(out)),
			    "10.1.2.3:22");
	assert_string_equal(tw_endpoint_format_text("?", 22, out, sizeof(out)), "?:22");
}

static void test_prefixes(void **state)
{
	uint8_t a[16], b[16] = {10, 1, 2, 3};
	unsigned len;
	int family;

	(void)state;
	assert_int_equal(tw_prefix_parse("10.0.0.0/8", &family, a, &len), 0);
	assert_int_equal(len, 8);
	assert_true(tw_addr_prefix_match(a, b, len));
	b[0] = 11;
	assert_false(tw_addr_prefix_match(a, b, len));
	assert_int_equal(tw_prefix_parse("[fd00::]/8", &family, a, &len), 0);
	assert_int_equal(family, AF_INET6);
	assert_int_equal(len, 8);
	assert_int_equal(tw_prefix_parse("1.2.3.4", &family, a, &len), 0);
	assert_int_equal(len, 32);
	assert_int_equal(tw_prefix_parse("1.2.3.4/33", &family, a, &len), -EINVAL);
	assert_int_equal(tw_prefix_parse("::/129", &family, a, &len), -EINVAL);
	assert_int_equal(tw_prefix_parse("1.2.3.4/", &family, a, &len), -EINVAL);
	assert_int_equal(tw_prefix_parse("1.2.3.4/-1", &family, a, &len), -EINVAL);
	assert_int_equal(tw_prefix_parse("/8", &family, a, &len), -EINVAL);
	/* Odd prefix lengths compare the bits, not the bytes. */
	assert_int_equal(tw_prefix_parse("10.0.0.0/9", &family, a, &len), 0);
	b[0] = 10;
	b[1] = 0x7f;
	assert_true(tw_addr_prefix_match(a, b, len));
	b[1] = 0x80;
	assert_false(tw_addr_prefix_match(a, b, len));
}

/* Strings from outside (process names) reach a terminal escaped. */
static void test_escaped(void **state)
{
	char out[128];

	(void)state;
	tw_fmt_escaped(out, sizeof(out), "nginx", 0);
	assert_string_equal(out, "nginx");
	tw_fmt_escaped(out, sizeof(out), "\x1b[2Jevil\x07", 0);
	assert_string_equal(out, "\\x1b[2Jevil\\x07");
	tw_fmt_escaped(out, sizeof(out), "a\\b\x7f", 0);
	assert_string_equal(out, "a\\x5cb\\x7f");
	tw_fmt_escaped(out, sizeof(out), "say \"hi\"", 1);
	assert_string_equal(out, "say \\x22hi\\x22");
	tw_fmt_escaped(out, sizeof(out), "say \"hi\"", 0);
	assert_string_equal(out, "say \"hi\"");
	/* U+009B (CSI) as UTF-8; other UTF-8 passes. */
	tw_fmt_escaped(out, sizeof(out),
		       "x\xc2\x9b"
		       "2J caf\xc3\xa9",
		       0);
	assert_string_equal(out, "x\\xc2\\x9b2J caf\xc3\xa9");
	/* Truncation stops at a whole escape. */
	assert_int_equal(tw_fmt_escaped(out, 6, "ab\x1b", 0), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(tw_fmt_escaped(out, 7, "ab\x1b", 0), 6);
	assert_int_equal(tw_fmt_escaped(out, 0, "ab", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_and_parse),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
