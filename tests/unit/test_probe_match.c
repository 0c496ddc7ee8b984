/* Unit tests for daemon/probe/match.c: which probe a received segment or
 * ICMP error answers. A slot table of 8 ports from 61000 holds a live IPv4
 * probe, a live IPv6 one, an answered one, an ended one and unused ports;
 * each verdict is checked, and each field a reply must prove (the probe's
 * addresses, ports, family and the acknowledgment of its ISN) is
 * falsified alone to see it become FOREIGN. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "match.h"

#define PORT_MIN 61000
#define NSLOTS   8

enum { S_V4 = 0, S_V6 = 1, S_ANSWERED = 2, S_ENDED = 3, S_UNUSED = 4, S_WRAP = 5 };

static const uint8_t me4[16] = {198, 18, 0, 1}, peer4[16] = {198, 18, 0, 2};
static const uint8_t me6[16] = {0xfd, 0x01, [15] = 1}, peer6[16] = {0xfd, 0x01, [15] = 2};
static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static struct tw_probe_slot v[NSLOTS];
static struct tw_slots slots = {.v = v, .port_min = PORT_MIN, .n = NSLOTS};

static void set_slot(int i, uint32_t serial, int family, const uint8_t *src, const uint8_t *dst,
		     uint16_t dport)
{
	struct tw_probe_slot *p = &v[i];

	memset(p, 0, sizeof(*p));
	p->serial = serial;
	p->live = true;
	p->family = (uint8_t)family;
	memcpy(p->src, src, 16);
	memcpy(p->dst, dst, 16);
	p->dport = dport;
	p->isn = probe_isn(key, family, src, (uint16_t)(PORT_MIN + i), dst, dport, serial);
}

static int setup(void **state)
{
	(void)state;
	memset(v, 0, sizeof(v));
	set_slot(S_V4, 11, AF_INET, me4, peer4, 443);
	set_slot(S_V6, 12, AF_INET6, me6, peer6, 8443);
	set_slot(S_ANSWERED, 13, AF_INET, me4, peer4, 443);
	v[S_ANSWERED].answered = true;
	set_slot(S_ENDED, 14, AF_INET, me4, peer4, 443);
	v[S_ENDED].live = false; /* timed out, never answered */
	set_slot(S_WRAP, 15, AF_INET, me4, peer4, 80);
	v[S_WRAP].isn = 0xffffffff; /* its acknowledgment is 0 */
	return 0;
}

/* The reply a slot's probe would get: from its destination to its source. */
static struct tw_tcp_seg reply(int i, uint8_t flags)
{
	const struct tw_probe_slot *p = &v[i];
	struct tw_tcp_seg s;

	memset(&s, 0, sizeof(s));
	s.family = p->family;
	memcpy(s.src, p->dst, 16);
	memcpy(s.dst, p->src, 16);
	s.have_dst = true;
	s.sport = p->dport;
	s.dport = (uint16_t)(PORT_MIN + i);
	s.seq = 0x12345678;
	s.ack = p->isn + 1;
	s.flags = flags;
	s.ttl = 64;
	return s;
}

/* The verdict, and that *ret_slot is the slot for OPEN, CLOSED, ICMP and
 * DUPLICATE, NULL otherwise. */
static enum tw_verdict judge_seg(const struct tw_tcp_seg *s, int want_slot)
{
	struct tw_probe_slot *got = (struct tw_probe_slot *)&got; /* garbage */
	enum tw_verdict r = match_segment(&slots, s, &got);

	if (want_slot < 0)
		assert_null(got);
	else
		assert_ptr_equal(got, &v[want_slot]);
	return r;
}

static enum tw_verdict judge_icmp(int family, const uint8_t *dst, uint16_t sport, uint16_t dport,
				  uint32_t seq, int want_slot)
{
	struct tw_probe_slot *got = (struct tw_probe_slot *)&got;
	enum tw_verdict r = match_icmp(&slots, family, dst, sport, dport, seq, &got);

	if (want_slot < 0)
		assert_null(got);
	else
		assert_ptr_equal(got, &v[want_slot]);
	return r;
}

static void test_slots_of_port(void **state)
{
	struct tw_slots top = {.v = v, .port_min = 65530, .n = 6}, none = {.v = v, .n = 0};

	(void)state;
	assert_ptr_equal(slots_of_port(&slots, PORT_MIN), &v[0]);
	assert_ptr_equal(slots_of_port(&slots, PORT_MIN + 3), &v[3]);
	assert_ptr_equal(slots_of_port(&slots, PORT_MIN + NSLOTS - 1), &v[NSLOTS - 1]);
	assert_null(slots_of_port(&slots, PORT_MIN + NSLOTS));
	assert_null(slots_of_port(&slots, PORT_MIN - 1));
	assert_null(slots_of_port(&slots, 0));
	assert_null(slots_of_port(&slots, 65535));
	/* A range that ends at 65535. */
	assert_ptr_equal(slots_of_port(&top, 65535), &v[5]);
	assert_ptr_equal(slots_of_port(&top, 65530), &v[0]);
	assert_null(slots_of_port(&top, 65529));
	/* An empty range has no port. */
	assert_null(slots_of_port(&none, 0));
	assert_null(slots_of_port(&none, 1));
}

static void test_open_and_closed(void **state)
{
	struct tw_tcp_seg s;

	(void)state;
	s = reply(S_V4, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_V4), TW_VERDICT_OPEN);
	s = reply(S_V4, TW_TCP_RST | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_V4), TW_VERDICT_CLOSED);
	s = reply(S_V6, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_V6), TW_VERDICT_OPEN);
	s = reply(S_V6, TW_TCP_RST | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_V6), TW_VERDICT_CLOSED);
	/* An ECN-setup SYN-ACK (ECE) or one with PSH is still a SYN-ACK. */
	s = reply(S_V4, TW_TCP_SYN | TW_TCP_ACK | TW_TCP_ECE);
	assert_int_equal(judge_seg(&s, S_V4), TW_VERDICT_OPEN);
	s = reply(S_V4, TW_TCP_RST | TW_TCP_ACK | TW_TCP_PSH);
	assert_int_equal(judge_seg(&s, S_V4), TW_VERDICT_CLOSED);
	/* isn 0xffffffff is acknowledged by 0. */
	s = reply(S_WRAP, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(s.ack, 0);
	assert_int_equal(judge_seg(&s, S_WRAP), TW_VERDICT_OPEN);
	/* Without pktinfo (have_dst false) the destination is not checked. */
	s = reply(S_V6, TW_TCP_SYN | TW_TCP_ACK);
	s.have_dst = false;
	memset(s.dst, 0, 16);
	assert_int_equal(judge_seg(&s, S_V6), TW_VERDICT_OPEN);
	/* Judging does not mark the slot: that is the engine's. */
	assert_true(v[S_V4].live);
	assert_false(v[S_V4].answered);
}

/* Each field of a right answer falsified alone. */
static void check_foreign_fields(int i, uint8_t flags)
{
	const struct tw_probe_slot *p = &v[i];
	size_t alen = p->family == AF_INET ? 4 : 16;
	struct tw_tcp_seg s;

	s = reply(i, flags);
	s.ack = p->isn; /* the ISN itself */
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);
	s.ack = p->isn + 2;
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);
	s.ack = 0;
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);

	s = reply(i, flags);
	s.sport++;
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);
	s.sport = (uint16_t)(p->dport ^ 0x100);
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);

	for (size_t b = 0; b < alen; b++) {
		s = reply(i, flags);
		s.src[b] ^= 0x01;
		assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);
		s = reply(i, flags);
		s.dst[b] ^= 0x01;
		assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);
	}
	/* From the probe's own address (a reflection) */
	s = reply(i, flags);
	memcpy(s.src, p->src, 16);
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);

	s = reply(i, flags);
	s.family = p->family == AF_INET ? AF_INET6 : AF_INET;
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);
}

static void test_foreign_fields(void **state)
{
	(void)state;
	check_foreign_fields(S_V4, TW_TCP_SYN | TW_TCP_ACK);
	check_foreign_fields(S_V4, TW_TCP_RST | TW_TCP_ACK);
	check_foreign_fields(S_V6, TW_TCP_SYN | TW_TCP_ACK);
	check_foreign_fields(S_V6, TW_TCP_RST | TW_TCP_ACK);
	/* The same mistakes to a probe already answered: still FOREIGN, not
	 * DUPLICATE (a duplicate must prove itself too). */
	check_foreign_fields(S_ANSWERED, TW_TCP_SYN | TW_TCP_ACK);
	check_foreign_fields(S_ENDED, TW_TCP_RST | TW_TCP_ACK);
}

/* A segment that is no answer to a SYN, right in every other field. */
static void test_foreign_flags(void **state)
{
	static const uint8_t flags[] = {
		0,
		TW_TCP_SYN,
		TW_TCP_ACK,
		TW_TCP_RST,
		TW_TCP_FIN | TW_TCP_ACK,
		TW_TCP_PSH | TW_TCP_ACK,
		TW_TCP_SYN | TW_TCP_RST,
		TW_TCP_SYN | TW_TCP_RST | TW_TCP_ACK,
		TW_TCP_SYN | TW_TCP_ECE | TW_TCP_CWR,
	};
	struct tw_tcp_seg s;

	(void)state;
	for (size_t k = 0; k < sizeof(flags); k++) {
		s = reply(S_V4, flags[k]);
		if (judge_seg(&s, -1) != TW_VERDICT_FOREIGN)
			fail_msg("flags 0x%02x to a live probe: not FOREIGN", flags[k]);
		s = reply(S_V6, flags[k]);
		if (judge_seg(&s, -1) != TW_VERDICT_FOREIGN)
			fail_msg("flags 0x%02x to a live IPv6 probe: not FOREIGN", flags[k]);
	}
}

/* A port of the range that never sent a probe. */
static void test_unused_slot(void **state)
{
	struct tw_tcp_seg s = reply(S_V4, TW_TCP_SYN | TW_TCP_ACK);

	(void)state;
	s.dport = PORT_MIN + S_UNUSED;
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);
	/* Even one that acks 1 (an ISN of 0) to an address of zeros. */
	memset(s.src, 0, 16);
	s.sport = 0;
	s.ack = 1;
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);
	/* Serial 0 means never used, whatever else the slot holds. */
	set_slot(S_UNUSED, 0, AF_INET, me4, peer4, 443);
	s = reply(S_UNUSED, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, -1), TW_VERDICT_FOREIGN);
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN + S_UNUSED, 443, v[S_UNUSED].isn, -1),
			 TW_VERDICT_FOREIGN);
}

static void test_ignored(void **state)
{
	static const uint16_t ports[] = {0, 1, 443, PORT_MIN - 1, PORT_MIN + NSLOTS, 65535};
	struct tw_tcp_seg s;

	(void)state;
	for (size_t k = 0; k < sizeof(ports) / sizeof(ports[0]); k++) {
		s = reply(S_V4, TW_TCP_SYN | TW_TCP_ACK);
		s.dport = ports[k];
		assert_int_equal(judge_seg(&s, -1), TW_VERDICT_IGNORED);
		/* whatever its flags */
		s.flags = TW_TCP_SYN;
		assert_int_equal(judge_seg(&s, -1), TW_VERDICT_IGNORED);
	}
}

static void test_duplicate(void **state)
{
	struct tw_tcp_seg s;

	(void)state;
	s = reply(S_ANSWERED, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_ANSWERED), TW_VERDICT_DUPLICATE);
	s = reply(S_ANSWERED, TW_TCP_RST | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_ANSWERED), TW_VERDICT_DUPLICATE);
	s = reply(S_ENDED, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_ENDED), TW_VERDICT_DUPLICATE);
	s = reply(S_ENDED, TW_TCP_RST | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_ENDED), TW_VERDICT_DUPLICATE);

	/* A live probe's answer, then the same once the engine marks it. */
	s = reply(S_V4, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_V4), TW_VERDICT_OPEN);
	v[S_V4].answered = true;
	assert_int_equal(judge_seg(&s, S_V4), TW_VERDICT_DUPLICATE);
	v[S_V4].live = false; /* answered and ended */
	assert_int_equal(judge_seg(&s, S_V4), TW_VERDICT_DUPLICATE);
	v[S_V4].answered = false; /* ended without answer */
	assert_int_equal(judge_seg(&s, S_V4), TW_VERDICT_DUPLICATE);
}

/* The port's next probe has another ISN: the old probe's answer is no
 * answer to it. */
static void test_reused_port(void **state)
{
	struct tw_tcp_seg old = reply(S_V4, TW_TCP_SYN | TW_TCP_ACK), s;

	(void)state;
	set_slot(S_V4, 99, AF_INET, me4, peer4, 443);
	assert_true(v[S_V4].isn + 1 != old.ack);
	assert_int_equal(judge_seg(&old, -1), TW_VERDICT_FOREIGN);
	s = reply(S_V4, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(judge_seg(&s, S_V4), TW_VERDICT_OPEN);
}

static void test_icmp(void **state)
{
	const struct tw_probe_slot *p4 = &v[S_V4], *p6 = &v[S_V6];

	(void)state;
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN + S_V4, 443, p4->isn, S_V4),
			 TW_VERDICT_ICMP);
	assert_int_equal(judge_icmp(AF_INET6, peer6, PORT_MIN + S_V6, 8443, p6->isn, S_V6),
			 TW_VERDICT_ICMP);
	/* The quoted sequence is the ISN itself, not ISN + 1. */
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN + S_V4, 443, p4->isn + 1, -1),
			 TW_VERDICT_FOREIGN);
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN + S_V4, 443, p4->isn - 1, -1),
			 TW_VERDICT_FOREIGN);
	/* Another destination port, address or family */
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN + S_V4, 444, p4->isn, -1),
			 TW_VERDICT_FOREIGN);
	assert_int_equal(judge_icmp(AF_INET, me4, PORT_MIN + S_V4, 443, p4->isn, -1),
			 TW_VERDICT_FOREIGN);
	assert_int_equal(judge_icmp(AF_INET6, peer4, PORT_MIN + S_V4, 443, p4->isn, -1),
			 TW_VERDICT_FOREIGN);
	{
		uint8_t other6[16];

		memcpy(other6, peer6, 16);
		other6[15] ^= 1; /* past the first 4 bytes: all 16 count */
		assert_int_equal(judge_icmp(AF_INET6, other6, PORT_MIN + S_V6, 8443, p6->isn, -1),
				 TW_VERDICT_FOREIGN);
	}
	/* Quoting another probe's port: that probe's ISN does not fit. */
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN + S_WRAP, 443, p4->isn, -1),
			 TW_VERDICT_FOREIGN);
	/* An unused port of the range */
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN + S_UNUSED, 443, 0, -1),
			 TW_VERDICT_FOREIGN);
	/* Out of the range: not ours to judge */
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN - 1, 443, p4->isn, -1),
			 TW_VERDICT_IGNORED);
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN + NSLOTS, 443, p4->isn, -1),
			 TW_VERDICT_IGNORED);
	/* The destination port of the quote is not the one looked up. */
	assert_int_equal(judge_icmp(AF_INET, peer4, 443, PORT_MIN + S_V4, p4->isn, -1),
			 TW_VERDICT_IGNORED);
	/* Answered or ended */
	assert_int_equal(judge_icmp(AF_INET, peer4, PORT_MIN + S_ANSWERED, 443, v[S_ANSWERED].isn,
				    S_ANSWERED),
			 TW_VERDICT_DUPLICATE);
	assert_int_equal(
		judge_icmp(AF_INET, peer4, PORT_MIN + S_ENDED, 443, v[S_ENDED].isn, S_ENDED),
		TW_VERDICT_DUPLICATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_slots_of_port, setup),
		cmocka_unit_test_setup(test_open_and_closed, setup),
		cmocka_unit_test_setup(test_foreign_fields, setup),
		cmocka_unit_test_setup(test_foreign_flags, setup),
		cmocka_unit_test_setup(test_unused_slot, setup),
		cmocka_unit_test_setup(test_ignored, setup),
		cmocka_unit_test_setup(test_duplicate, setup),
		cmocka_unit_test_setup(test_reused_port, setup),
		cmocka_unit_test_setup(test_icmp, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
