/* Unit tests for daemon/probe/siphash.c and the ISN of daemon/probe/match.c:
 * SipHash-2-4 against the reference vectors (key 00..0f, message 00..n-1,
 * the reference siphash()'s 8 bytes read little-endian), across the
 * 8-byte block boundaries; then probe_isn(), which must be a function of
 * every field of the 4-tuple, the serial and the key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "match.h"
#include "siphash.h"

static const struct {
	size_t len;
	uint64_t want;
} vectors[] = {
	{0, 0x726fdb47dd0e0e31ull},  {1, 0x74f839c593dc67fdull},  {2, 0x0d6c8009d9a94f5aull},
	{3, 0x85676696d7fb7e2dull},  {4, 0xcf2794e0277187b7ull},  {5, 0x18765564cd99a68dull},
	{6, 0xcbc9466e58fee3ceull},  {7, 0xab0200f58b01d137ull},  {8, 0x93f5f5799a932462ull},
	{9, 0x9e0082df0ba9e4b0ull},  {15, 0xa129ca6149be45e5ull}, {16, 0x3f2acc7f57c29bdbull},
	{63, 0x958a324ceb064572ull},
};

static void ref_key_msg(uint8_t key[16], uint8_t msg[64])
{
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
}

static void test_reference_vectors(void **state)
{
	uint8_t key[16], msg[64];

	(void)state;
	ref_key_msg(key, msg);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		uint64_t got = siphash24(key, msg, vectors[i].len);

		if (got != vectors[i].want)
			fail_msg("siphash24(n=%zu) = %016llx, want %016llx", vectors[i].len,
				 (unsigned long long)got, (unsigned long long)vectors[i].want);
	}
}

/* The message is read from where it is, whatever its alignment, and not a
 * byte past its length. */
static void test_unaligned_and_bounded(void **state)
{
	uint8_t key[16], msg[64], buf[80];

	(void)state;
	ref_key_msg(key, msg);
	for (size_t off = 1; off < 8; off++) {
		memset(buf, 0xa5, sizeof(buf));
		memcpy(buf + off, msg, 16);
		assert_int_equal(siphash24(key, buf + off, 16), 0x3f2acc7f57c29bdbull);
		assert_int_equal(siphash24(key, buf + off, 9), 0x9e0082df0ba9e4b0ull);
		/* Garbage after the message changes nothing. */
		memset(buf + off + 9, 0x5a, 7);
		assert_int_equal(siphash24(key, buf + off, 9), 0x9e0082df0ba9e4b0ull);
	}
}

/* Each key byte matters (k0 and k1 both). */
static void test_key_matters(void **state)
{
	uint8_t key[16], msg[64];
	uint64_t base;

	(void)state;
	ref_key_msg(key, msg);
	base = siphash24(key, msg, 8);
	for (int i = 0; i < 16; i++) {
		key[i] ^= 0x80;
		assert_true(siphash24(key, msg, 8) != base);
		key[i] ^= 0x80;
	}
	assert_int_equal(siphash24(key, msg, 8), base);
}

static const uint8_t isn_key[16] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
				    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};

struct isn_in {
	uint8_t key[16];
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t serial;
};

static uint32_t isn_of(const struct isn_in *x)
{
	return probe_isn(x->key, x->family, x->src, x->sport, x->dst, x->dport, x->serial);
}

static struct isn_in isn_base(int family)
{
	struct isn_in x = {.family = family, .sport = 61000, .dport = 443, .serial = 7};

	memcpy(x.key, isn_key, 16);
	if (family == AF_INET) {
		memcpy(x.src, (uint8_t[]){198, 18, 0, 1}, 4);
		memcpy(x.dst, (uint8_t[]){198, 18, 0, 2}, 4);
	} else {
		memcpy(x.src, (uint8_t[16]){0xfd, 1, [15] = 1}, 16);
		memcpy(x.dst, (uint8_t[16]){0xfd, 1, [15] = 2}, 16);
	}
	return x;
}

static void assert_isn_changes(const struct isn_in *x, uint32_t base, const char *what)
{
	uint32_t got = isn_of(x);

	if (got == base)
		fail_msg("probe_isn unchanged (%08x) when %s changes", base, what);
}

static void isn_sensitivity(int family)
{
	struct isn_in b = isn_base(family), x;
	size_t alen = family == AF_INET ? 4 : 16;
	uint32_t base = isn_of(&b);

	/* Deterministic: the same input, the same ISN, from a fresh copy. */
	x = isn_base(family);
	assert_int_equal(isn_of(&x), base);
	assert_int_equal(isn_of(&b), base);

	for (size_t i = 0; i < alen; i++) {
		x = b, x.src[i] ^= 1;
		assert_isn_changes(&x, base, "a source address byte");
		x = b, x.dst[i] ^= 1;
		assert_isn_changes(&x, base, "a destination address byte");
	}
	x = b, x.sport++;
	assert_isn_changes(&x, base, "the source port");
	x = b, x.sport ^= 0x100; /* its high byte */
	assert_isn_changes(&x, base, "the source port's high byte");
	x = b, x.dport++;
	assert_isn_changes(&x, base, "the destination port");
	x = b, x.dport ^= 0x100;
	assert_isn_changes(&x, base, "the destination port's high byte");
	for (int i = 0; i < 32; i += 8) {
		x = b, x.serial ^= 1u << i;
		assert_isn_changes(&x, base, "a byte of the serial");
	}
	for (int i = 0; i < 16; i++) {
		x = b, x.key[i] ^= 1;
		assert_isn_changes(&x, base, "a key byte");
	}
	/* Swapping the endpoints (the reply's direction) is another flow. */
	x = b;
	memcpy(x.src, b.dst, 16);
	memcpy(x.dst, b.src, 16);
	assert_isn_changes(&x, base, "source and destination swap");
	x = b, x.sport = b.dport, x.dport = b.sport;
	assert_isn_changes(&x, base, "the ports swap");
}

static void test_isn_ipv4(void **state)
{
	(void)state;
	isn_sensitivity(AF_INET);
}

static void test_isn_ipv6(void **state)
{
	(void)state;
	isn_sensitivity(AF_INET6);
}

/* The family is part of the input: the same bytes as IPv4 and as IPv6
 * give different ISNs; an IPv4 ISN reads only the first 4 address bytes. */
static void test_isn_family(void **state)
{
	struct isn_in x = isn_base(AF_INET);
	uint32_t v4 = isn_of(&x);

	(void)state;
	x.family = AF_INET6;
	assert_true(isn_of(&x) != v4);
	x.family = AF_INET;
	x.src[4] = x.dst[15] = 0xee;
	assert_int_equal(isn_of(&x), v4);
}

/* Many serials on one flow: no two consecutive ISNs alike, and every bit
 * of the high half is seen both set and clear. */
static void test_isn_spread(void **state)
{
	struct isn_in x = isn_base(AF_INET);
	uint32_t prev = 0, or_hi = 0, and_hi = 0xffff;

	(void)state;
	for (uint32_t s = 1; s <= 1000; s++) {
		uint32_t v;

		x.serial = s;
		v = isn_of(&x);
		if (s > 1)
			assert_true(v != prev);
		or_hi |= v >> 16;
		and_hi &= v >> 16;
		prev = v;
	}
	assert_int_equal(or_hi, 0xffff);
	assert_int_equal(and_hi, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_vectors),
		cmocka_unit_test(test_unaligned_and_bounded),
		cmocka_unit_test(test_key_matters),
		cmocka_unit_test(test_isn_ipv4),
		cmocka_unit_test(test_isn_ipv6),
		cmocka_unit_test(test_isn_family),
		cmocka_unit_test(test_isn_spread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
