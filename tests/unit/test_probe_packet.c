/* Unit tests for daemon/probe/packet.c: the SYN the prober sends, the TCP
 * checksum, and the parsers of what comes back (IPv4 packets as a raw
 * IPv4 socket reads them, bare TCP segments as a raw IPv6 socket does,
 * the TCP header an ICMP error quotes).
 *
 * The reference packets are real: captured on a veth pair between two
 * network namespaces of Linux 6.18 with TX checksum offload off (so the
 * checksums are whole), a connect() from 198.18.0.1 / fd01::1 to a
 * listener on 198.18.0.2:443 / [fd01::2]:443, and one to the closed port
 * 81. Their checksums were verified apart (a Python one's-complement sum). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

static const uint8_t a4_client[16] = {198, 18, 0, 1}, a4_server[16] = {198, 18, 0, 2};
static const uint8_t a6_client[16] = {0xfd, 0x01, [15] = 1}, a6_server[16] = {0xfd, 0x01, [15] = 2};

/* 198.18.0.1:40866 > 198.18.0.2:443 [S] seq 0x7d7f7624 win 64240
 * <mss 1460,sackOK,TS val 0x12952c10 ecr 0,nop,wscale 10> (connect()) */
static const uint8_t syn4[60] = {
	0x45, 0x00, 0x00, 0x3c, 0x71, 0x55, 0x40, 0x00, 0x40, 0x06, 0x3d, 0x3f, 0xc6, 0x12, 0x00,
	0x01, 0xc6, 0x12, 0x00, 0x02, 0x9f, 0xa2, 0x01, 0xbb, 0x7d, 0x7f, 0x76, 0x24, 0x00, 0x00,
	0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0xed, 0x3d, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04,
	0x02, 0x08, 0x0a, 0x12, 0x95, 0x2c, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
};
/* Its answer: 198.18.0.2:443 > 198.18.0.1:40866 [S.] seq 0x3d578a2b
 * ack 0x7d7f7625 win 65160 <mss 1460,sackOK,TS val 0xea423aaa ecr
 * 0x12952c10,nop,wscale 10>, TTL 64, DF, checksum 0xfd24. */
static const uint8_t synack4[60] = {
	0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0xae, 0x94, 0xc6, 0x12, 0x00,
	0x02, 0xc6, 0x12, 0x00, 0x01, 0x01, 0xbb, 0x9f, 0xa2, 0x3d, 0x57, 0x8a, 0x2b, 0x7d, 0x7f,
	0x76, 0x25, 0xa0, 0x12, 0xfe, 0x88, 0xfd, 0x24, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04,
	0x02, 0x08, 0x0a, 0xea, 0x42, 0x3a, 0xaa, 0x12, 0x95, 0x2c, 0x10, 0x01, 0x03, 0x03, 0x0a,
};
/* The closed port: 198.18.0.2:81 > 198.18.0.1:47986 [R.] seq 0
 * ack 0xd3b5e30c win 0, checksum 0xb122. */
static const uint8_t rst4[40] = {
	0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0xae, 0xa8, 0xc6, 0x12,
	0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, 0x00, 0x51, 0xbb, 0x72, 0x00, 0x00, 0x00, 0x00,
	0xd3, 0xb5, 0xe3, 0x0c, 0x50, 0x14, 0x00, 0x00, 0xb1, 0x22, 0x00, 0x00,
};
/* [fd01::1]:43978 > [fd01::2]:443 [S] seq 0xb548d7ad win 64800
 * <mss 1440,sackOK,TS val 0x67d7a0fe ecr 0,nop,wscale 10>, TCP only. */
static const uint8_t syn6_tcp[40] = {
	0xab, 0xca, 0x01, 0xbb, 0xb5, 0x48, 0xd7, 0xad, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
	0xfd, 0x20, 0x0d, 0x98, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a,
	0x67, 0xd7, 0xa0, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
};
/* Its answer: [fd01::2]:443 > [fd01::1]:43978 [S.] seq 0xce7a70e4
 * ack 0xb548d7ae win 64260 <mss 1440,sackOK,TS,nop,wscale 10>,
 * checksum 0x9f69. */
static const uint8_t synack6_tcp[40] = {
	0x01, 0xbb, 0xab, 0xca, 0xce, 0x7a, 0x70, 0xe4, 0xb5, 0x48, 0xd7, 0xae, 0xa0, 0x12,
	0xfb, 0x04, 0x9f, 0x69, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a,
	0x7f, 0x67, 0xb1, 0x72, 0x67, 0xd7, 0xa0, 0xfe, 0x01, 0x03, 0x03, 0x0a,
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* packet_build_syn, given what connect() used, writes the very segment
 * Linux sent, checksum included. */
static void test_syn_is_linux_ipv4(void **state)
{
	struct tw_syn s = {.family = AF_INET,
			   .sport = 40866,
			   .dport = 443,
			   .isn = 0x7d7f7624,
			   .tsval = 0x12952c10,
			   .mss = 1460,
			   .window = 64240,
			   .wscale = 10,
			   .checksum = true};
	uint8_t out[TW_SYN_LEN];

	(void)state;
	memcpy(s.src, a4_client, 16);
	memcpy(s.dst, a4_server, 16);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(packet_build_syn(&s, out), TW_SYN_LEN);
	assert_memory_equal(out, syn4 + 20, TW_SYN_LEN);
}

static void test_syn_is_linux_ipv6(void **state)
{
	struct tw_syn s = {.family = AF_INET6,
			   .sport = 43978,
			   .dport = 443,
			   .isn = 0xb548d7ad,
			   .tsval = 0x67d7a0fe,
			   .mss = 1440,
			   .window = 64800,
			   .wscale = 10,
			   .checksum = true};
	uint8_t out[TW_SYN_LEN], want[TW_SYN_LEN];

	(void)state;
	memcpy(s.src, a6_client, 16);
	memcpy(s.dst, a6_server, 16);
	assert_int_equal(packet_build_syn(&s, out), TW_SYN_LEN);
	assert_memory_equal(out, syn6_tcp, TW_SYN_LEN);
	/* Without checksum (the kernel fills it in: IPV6_CHECKSUM) the field
	 * is 0 and the rest the same. */
	s.checksum = false;
	memset(out, 0xee, sizeof(out));
	assert_int_equal(packet_build_syn(&s, out), TW_SYN_LEN);
	memcpy(want, syn6_tcp, TW_SYN_LEN);
	want[16] = want[17] = 0;
	assert_memory_equal(out, want, TW_SYN_LEN);
}

/* The layout field by field, with values unlike the capture's. */
static void check_syn_layout(int family, const uint8_t *src, const uint8_t *dst)
{
	struct tw_syn s = {.family = family,
			   .sport = 61003,
			   .dport = 8443,
			   .isn = 0xfedcba98,
			   .tsval = 0x01020304,
			   .mss = 1220,
			   .window = 63440,
			   .wscale = 7,
			   .checksum = true};
	static const uint8_t opts[20] = {0x02, 0x04, 0x04, 0xc4, 0x04, 0x02, 0x08,
					 0x0a, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00,
					 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
	uint8_t out[TW_SYN_LEN], zeroed[TW_SYN_LEN];
	uint16_t sum;

	memcpy(s.src, src, 16);
	memcpy(s.dst, dst, 16);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(packet_build_syn(&s, out), TW_SYN_LEN);
	assert_int_equal(get16(out), 61003);
	assert_int_equal(get16(out + 2), 8443);
	assert_int_equal(get32(out + 4), 0xfedcba98);
	assert_int_equal(get32(out + 8), 0); /* ack */
	assert_int_equal(out[12], 10 << 4);  /* doff 10, reserved bits 0 */
	assert_int_equal(out[13], TW_TCP_SYN);
	assert_int_equal(get16(out + 14), 63440);
	assert_int_equal(get16(out + 18), 0); /* urgent pointer */
	assert_memory_equal(out + 20, opts, sizeof(opts));
	/* The checksum verifies over the pseudo-header of its family... */
	assert_int_equal(packet_tcp_checksum(family, src, dst, out, TW_SYN_LEN), 0);
	/* ...and is what the sum gives with the field zero. */
	memcpy(zeroed, out, TW_SYN_LEN);
	zeroed[16] = zeroed[17] = 0;
	sum = packet_tcp_checksum(family, src, dst, zeroed, TW_SYN_LEN);
	assert_int_equal(get16(out + 16), sum);
	assert_true(sum != 0);
	/* Another destination does not verify; nor, for IPv6, the IPv4
	 * pseudo-header (which reads 4 bytes of each address). An IPv4
	 * address as 16 bytes sums the same in both: zeros add nothing. */
	assert_true(packet_tcp_checksum(family, src, src, out, TW_SYN_LEN) != 0);
	if (family == AF_INET6)
		assert_true(packet_tcp_checksum(AF_INET, src, dst, out, TW_SYN_LEN) != 0);
}

static void test_syn_layout_ipv4(void **state)
{
	(void)state;
	check_syn_layout(AF_INET, a4_client, a4_server);
}

static void test_syn_layout_ipv6(void **state)
{
	(void)state;
	check_syn_layout(AF_INET6, a6_client, a6_server);
}

/* Known vectors: the captured segments sum to 0, and with the field
 * zeroed give the value they carried. */
static void check_vector(int family, const uint8_t *src, const uint8_t *dst, const uint8_t *seg,
			 size_t len, uint16_t want)
{
	uint8_t copy[64];

	assert_true(len <= sizeof(copy));
	assert_int_equal(packet_tcp_checksum(family, src, dst, seg, len), 0);
	memcpy(copy, seg, len);
	copy[16] = copy[17] = 0;
	assert_int_equal(packet_tcp_checksum(family, src, dst, copy, len), want);
	/* One bit off anywhere is seen. */
	for (size_t i = 0; i < len; i++) {
		memcpy(copy, seg, len);
		copy[i] ^= 0x04;
		assert_true(packet_tcp_checksum(family, src, dst, copy, len) != 0);
	}
}

static void test_checksum_vectors(void **state)
{
	(void)state;
	check_vector(AF_INET, a4_server, a4_client, synack4 + 20, 40, 0xfd24);
	check_vector(AF_INET, a4_server, a4_client, rst4 + 20, 20, 0xb122);
	check_vector(AF_INET, a4_client, a4_server, syn4 + 20, 40, 0xed3d);
	check_vector(AF_INET6, a6_server, a6_client, synack6_tcp, 40, 0x9f69);
	check_vector(AF_INET6, a6_client, a6_server, syn6_tcp, 40, 0x0d98);
}

/* An odd length pads the last byte with a zero (RFC 793); the sums were
 * computed apart (Python). */
static void test_checksum_odd_length(void **state)
{
	uint8_t seg[24];

	(void)state;
	memcpy(seg, rst4 + 20, 20);
	seg[16] = seg[17] = 0;
	seg[20] = 0xab;
	assert_int_equal(packet_tcp_checksum(AF_INET, a4_server, a4_client, seg, 21), 0x0621);
	seg[13] = TW_TCP_PSH | TW_TCP_ACK;
	memcpy(seg + 20, "abc", 3);
	assert_int_equal(packet_tcp_checksum(AF_INET, a4_server, a4_client, seg, 23), 0xecb8);
	/* And the byte past the end is not read. */
	seg[23] = 0xff;
	assert_int_equal(packet_tcp_checksum(AF_INET, a4_server, a4_client, seg, 23), 0xecb8);
}

static void test_parse_ipv4_synack(void **state)
{
	struct tw_tcp_seg s;

	(void)state;
	memset(&s, 0xee, sizeof(s));
	assert_int_equal(packet_parse_ipv4(synack4, sizeof(synack4), &s), 0);
	assert_int_equal(s.family, AF_INET);
	assert_memory_equal(s.src, a4_server, 16); /* the rest zeroed */
	assert_memory_equal(s.dst, a4_client, 16);
	assert_true(s.have_dst);
	assert_int_equal(s.ttl, 64);
	assert_int_equal(s.ip_ecn, 0);
	assert_int_equal(s.sport, 443);
	assert_int_equal(s.dport, 40866);
	assert_int_equal(s.seq, 0x3d578a2b);
	assert_int_equal(s.ack, 0x7d7f7625);
	assert_int_equal(s.flags, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(s.window, 65160);
	assert_int_equal(s.mss, 1460);
	assert_int_equal(s.wscale, 10);
	assert_true(s.sack_ok);
	assert_true(s.timestamps);
	assert_false(s.bad_options);
	assert_string_equal(s.options, "MSTNW");
	assert_ptr_equal(s.tcp, synack4 + 20);
	assert_int_equal(s.tcp_len, 40);
	assert_true(packet_checksum_ok(&s));
}

static void test_parse_ipv4_rst(void **state)
{
	struct tw_tcp_seg s;
	uint8_t pkt[46];

	(void)state;
	memset(&s, 0xee, sizeof(s));
	assert_int_equal(packet_parse_ipv4(rst4, sizeof(rst4), &s), 0);
	assert_int_equal(s.sport, 81);
	assert_int_equal(s.dport, 47986);
	assert_int_equal(s.seq, 0);
	assert_int_equal(s.ack, 0xd3b5e30c);
	assert_int_equal(s.flags, TW_TCP_RST | TW_TCP_ACK);
	assert_int_equal(s.window, 0);
	/* No options: nothing left from the 0xee the struct held. */
	assert_string_equal(s.options, "");
	assert_int_equal(s.mss, 0);
	assert_int_equal(s.wscale, -1);
	assert_false(s.sack_ok);
	assert_false(s.timestamps);
	assert_false(s.bad_options);
	assert_true(packet_checksum_ok(&s));

	/* Ethernet's padding after tot_len is no part of the segment. */
	memcpy(pkt, rst4, sizeof(rst4));
	memset(pkt + 40, 0x55, 6);
	assert_int_equal(packet_parse_ipv4(pkt, sizeof(pkt), &s), 0);
	assert_int_equal(s.tcp_len, 20);
	assert_true(packet_checksum_ok(&s));
	/* A flipped bit fails the checksum; an unknown destination cannot be
	 * checked. */
	pkt[30] ^= 1;
	assert_int_equal(packet_parse_ipv4(pkt, sizeof(pkt), &s), 0);
	assert_false(packet_checksum_ok(&s));
	assert_int_equal(packet_parse_ipv4(rst4, sizeof(rst4), &s), 0);
	s.have_dst = false;
	assert_false(packet_checksum_ok(&s));
}

/* The IP header's own fields: TTL, ECN (tos & 3), IP options. */
static void test_parse_ipv4_ip_fields(void **state)
{
	struct tw_tcp_seg s;
	uint8_t pkt[64];

	(void)state;
	memcpy(pkt, synack4, 60);
	pkt[1] = 0xb9; /* DSCP 46, ECT(1) */
	pkt[8] = 53;
	assert_int_equal(packet_parse_ipv4(pkt, 60, &s), 0);
	assert_int_equal(s.ip_ecn, 1);
	assert_int_equal(s.ttl, 53);
	pkt[1] = 0x03; /* CE */
	assert_int_equal(packet_parse_ipv4(pkt, 60, &s), 0);
	assert_int_equal(s.ip_ecn, 3);
	pkt[1] = 0x02; /* ECT(0) */
	assert_int_equal(packet_parse_ipv4(pkt, 60, &s), 0);
	assert_int_equal(s.ip_ecn, 2);

	/* ihl 6: a 4-byte IP option (NOPs) before TCP. */
	memcpy(pkt, synack4, 20);
	pkt[0] = 0x46;
	pkt[3] = 64; /* tot_len */
	memset(pkt + 20, 1, 4);
	memcpy(pkt + 24, synack4 + 20, 40);
	assert_int_equal(packet_parse_ipv4(pkt, 64, &s), 0);
	assert_ptr_equal(s.tcp, pkt + 24);
	assert_int_equal(s.tcp_len, 40);
	assert_int_equal(s.sport, 443);
	assert_int_equal(s.ack, 0x7d7f7625);
	assert_string_equal(s.options, "MSTNW");
	assert_true(packet_checksum_ok(&s));
}

static void assert_ipv4_rejected(const uint8_t *pkt, size_t len, const char *why)
{
	struct tw_tcp_seg s;

	memset(&s, 0, sizeof(s));
	if (packet_parse_ipv4(pkt, len, &s) != -EINVAL)
		fail_msg("packet_parse_ipv4 took a packet with %s", why);
}

static void test_parse_ipv4_rejects(void **state)
{
	uint8_t pkt[60];
	struct tw_tcp_seg s;

	(void)state;
	for (size_t n = 0; n < 20; n++)
		assert_ipv4_rejected(synack4, n, "less than an IP header");
	/* tot_len is 60: every shorter buffer is cut. */
	for (size_t n = 20; n < 60; n++)
		assert_ipv4_rejected(synack4, n, "tot_len past the buffer");

#define MUTATE(stmt, why)                                                                          \
	do {                                                                                       \
		memcpy(pkt, synack4, sizeof(pkt));                                                 \
		stmt;                                                                              \
		assert_ipv4_rejected(pkt, sizeof(pkt), why);                                       \
	} while (0)
	MUTATE(pkt[0] = 0x65, "version 6");
	MUTATE(pkt[0] = 0x05, "version 0");
	MUTATE(pkt[0] = 0x44, "ihl 4");
	MUTATE(pkt[0] = 0x40, "ihl 0");
	MUTATE(pkt[0] = 0x4f, "ihl 15 (60 bytes, no room for TCP)");
	MUTATE(pkt[3] = 19, "tot_len less than ihl");
	MUTATE(pkt[3] = 39, "tot_len cutting the TCP header");
	MUTATE((pkt[2] = 0x01, pkt[3] = 0), "tot_len 256 over a 60-byte buffer");
	MUTATE(pkt[9] = 17, "protocol UDP");
	MUTATE(pkt[9] = 1, "protocol ICMP");
	MUTATE(pkt[6] = 0x20, "MF set");
	MUTATE(pkt[6] = 0x60, "DF and MF set");
	MUTATE(pkt[7] = 0x01, "fragment offset 1");
	MUTATE((pkt[6] = 0x40 | 0x10, pkt[7] = 0), "fragment offset 0x1000");
	MUTATE(pkt[32] = 0x40, "doff 4");
	MUTATE(pkt[32] = 0x00, "doff 0");
	MUTATE(pkt[32] = 0xb0, "doff 11 (44 bytes in a 40-byte segment)");
	MUTATE(pkt[32] = 0xf0, "doff 15");
#undef MUTATE

	/* DF alone (the capture's) is no fragment. */
	memcpy(pkt, synack4, sizeof(pkt));
	assert_int_equal(get16(pkt + 6), 0x4000);
	assert_int_equal(packet_parse_ipv4(pkt, sizeof(pkt), &s), 0);
	/* doff exactly the segment: fine; tot_len short of the buffer: fine. */
	pkt[3] = 40, pkt[32] = 0x50;
	assert_int_equal(packet_parse_ipv4(pkt, sizeof(pkt), &s), 0);
	assert_int_equal(s.tcp_len, 20);
	assert_string_equal(s.options, "");
}

/* Parses options given as bytes after a bare 20-byte header. */
static int parse_opts(const uint8_t *opts, size_t olen, struct tw_tcp_seg *s)
{
	uint8_t seg[60] = {0};

	assert_true(olen <= 40 && olen % 4 == 0);
	memcpy(seg, synack4 + 20, 20);
	seg[12] = (uint8_t)((20 + olen) / 4 << 4);
	memcpy(seg + 20, opts, olen);
	memset(s, 0xee, sizeof(*s));
	return packet_parse_tcp(seg, 20 + olen, s);
}

static void test_options_orders(void **state)
{
	struct tw_tcp_seg s;

	(void)state;
	/* Another stack's order: M N W N N T S, then the end of the list. */
	assert_int_equal(parse_opts((const uint8_t[]){2, 4, 0x05, 0x78, 1, 3, 3, 6, 1, 1, 8, 10,
						      0, 0, 0,    1,    0, 0, 0, 0, 4, 2, 0, 0},
				    24, &s),
			 0);
	assert_string_equal(s.options, "MNWNNTSE");
	assert_int_equal(s.mss, 1400);
	assert_int_equal(s.wscale, 6);
	assert_true(s.sack_ok);
	assert_true(s.timestamps);
	assert_false(s.bad_options);

	/* The end of the list stops the reading: the window scale after it
	 * is padding, not an option. */
	assert_int_equal(parse_opts((const uint8_t[]){2, 4, 0x05, 0xb4, 0, 3, 3, 7}, 8, &s), 0);
	assert_string_equal(s.options, "ME");
	assert_int_equal(s.mss, 1460);
	assert_int_equal(s.wscale, -1);
	assert_false(s.sack_ok);
	assert_false(s.timestamps);
	assert_false(s.bad_options);

	/* SACK blocks (K), MPTCP and TFO (?). */
	assert_int_equal(parse_opts((const uint8_t[]){1, 1, 5,  10, 0, 0, 0,  1, 0, 0,
						      0, 2, 30, 4,  0, 0, 34, 2, 1, 1},
				    20, &s),
			 0);
	assert_string_equal(s.options, "NNK??NN");
	assert_int_equal(s.mss, 0);
	assert_int_equal(s.wscale, -1);
	assert_false(s.sack_ok);
	assert_false(s.timestamps);
	assert_false(s.bad_options);

	/* Known kinds of the wrong length are named but not taken: an MSS of
	 * 3 bytes, a window scale of 4, timestamps of 6. */
	assert_int_equal(
		parse_opts((const uint8_t[]){2, 3, 5, 3, 4, 7, 0, 8, 6, 1, 2, 3, 4, 0, 0, 0}, 16,
			   &s),
		0);
	assert_string_equal(s.options, "MWTE");
	assert_int_equal(s.mss, 0);
	assert_int_equal(s.wscale, -1);
	assert_false(s.timestamps);
	assert_false(s.bad_options);
}

static void test_options_wscale_cap(void **state)
{
	static const struct {
		uint8_t shift;
		int8_t want;
	} v[] = {{0, 0}, {7, 7}, {14, 14}, {15, 14}, {100, 14}, {255, 14}};
	struct tw_tcp_seg s;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(parse_opts((const uint8_t[]){3, 3, v[i].shift, 0}, 4, &s), 0);
		assert_string_equal(s.options, "WE");
		assert_int_equal(s.wscale, v[i].want);
	}
}

/* A length that runs past the options, or is below 2, marks them bad and
 * ends the reading; what came before stays. */
static void test_options_malformed(void **state)
{
	struct tw_tcp_seg s;

	(void)state;
	/* MSS of length 0 (would loop for ever if taken) */
	assert_int_equal(parse_opts((const uint8_t[]){1, 1, 2, 0}, 4, &s), 0);
	assert_true(s.bad_options);
	assert_string_equal(s.options, "NN");
	assert_int_equal(s.mss, 0);
	/* an unknown kind of length 1 */
	assert_int_equal(parse_opts((const uint8_t[]){254, 1, 1, 1}, 4, &s), 0);
	assert_true(s.bad_options);
	assert_string_equal(s.options, "");
	/* MSS of length 8 in 4 bytes of options */
	assert_int_equal(parse_opts((const uint8_t[]){2, 8, 0x05, 0xb4}, 4, &s), 0);
	assert_true(s.bad_options);
	assert_string_equal(s.options, "");
	assert_int_equal(s.mss, 0);
	/* a kind in the last byte, no room for its length */
	assert_int_equal(parse_opts((const uint8_t[]){1, 1, 1, 3}, 4, &s), 0);
	assert_true(s.bad_options);
	assert_string_equal(s.options, "NNN");
	assert_int_equal(s.wscale, -1);
	/* the MSS before a bad timestamps option is kept */
	assert_int_equal(parse_opts((const uint8_t[]){2, 4, 0x05, 0xb4, 8, 12, 0, 0}, 8, &s), 0);
	assert_true(s.bad_options);
	assert_string_equal(s.options, "M");
	assert_int_equal(s.mss, 1460);
	assert_false(s.timestamps);
	/* nothing after a bad one is read */
	assert_int_equal(parse_opts((const uint8_t[]){3, 1, 2, 4, 0x05, 0xb4, 4, 2}, 8, &s), 0);
	assert_true(s.bad_options);
	assert_string_equal(s.options, "");
	assert_int_equal(s.mss, 0);
	assert_false(s.sack_ok);
	/* and the flag clears on the next good segment */
	assert_int_equal(parse_opts((const uint8_t[]){4, 2, 1, 1}, 4, &s), 0);
	assert_false(s.bad_options);
	assert_true(s.sack_ok);
	assert_string_equal(s.options, "SNN");
}

/* 40 bytes of NOPs: the fingerprint holds 15 letters and its NUL. */
static void test_options_fingerprint_bounded(void **state)
{
	uint8_t nops[40];
	struct tw_tcp_seg s;

	(void)state;
	memset(nops, 1, sizeof(nops));
	assert_int_equal(parse_opts(nops, sizeof(nops), &s), 0);
	assert_int_equal(strlen(s.options), TW_TCP_OPTS_FP - 1);
	assert_string_equal(s.options, "NNNNNNNNNNNNNNN");
	assert_false(s.bad_options);
}

/* A raw IPv6 socket gives the TCP segment alone: family, addresses, TTL
 * and ECN are the caller's and stay as it set them. */
static void test_parse_tcp_ipv6(void **state)
{
	struct tw_tcp_seg s;
	uint8_t seg[40];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.family = AF_INET6;
	memcpy(s.src, a6_server, 16);
	memcpy(s.dst, a6_client, 16);
	s.have_dst = true;
	s.ttl = 63;
	s.ip_ecn = 0xff;
	assert_int_equal(packet_parse_tcp(synack6_tcp, sizeof(synack6_tcp), &s), 0);
	assert_int_equal(s.family, AF_INET6);
	assert_memory_equal(s.src, a6_server, 16);
	assert_memory_equal(s.dst, a6_client, 16);
	assert_true(s.have_dst);
	assert_int_equal(s.ttl, 63);
	assert_int_equal(s.ip_ecn, 0xff);
	assert_int_equal(s.sport, 443);
	assert_int_equal(s.dport, 43978);
	assert_int_equal(s.seq, 0xce7a70e4);
	assert_int_equal(s.ack, 0xb548d7ae);
	assert_int_equal(s.flags, TW_TCP_SYN | TW_TCP_ACK);
	assert_int_equal(s.window, 64260);
	assert_int_equal(s.mss, 1440);
	assert_int_equal(s.wscale, 10);
	assert_true(s.sack_ok && s.timestamps);
	assert_string_equal(s.options, "MSTNW");
	assert_ptr_equal(s.tcp, synack6_tcp);
	assert_int_equal(s.tcp_len, 40);
	assert_true(packet_checksum_ok(&s));
	/* Without pktinfo the destination is unknown: no checksum test. */
	s.have_dst = false;
	assert_false(packet_checksum_ok(&s));
	/* The wrong destination fails it. */
	s.have_dst = true;
	memcpy(s.dst, a6_server, 16);
	assert_false(packet_checksum_ok(&s));

	for (size_t n = 0; n < 40; n++) /* doff 10: 40 bytes needed */
		assert_int_equal(packet_parse_tcp(synack6_tcp, n, &s), -EINVAL);
	memcpy(seg, synack6_tcp, sizeof(seg));
	seg[12] = 0x40; /* doff 4 */
	assert_int_equal(packet_parse_tcp(seg, sizeof(seg), &s), -EINVAL);
	seg[12] = 0x00;
	assert_int_equal(packet_parse_tcp(seg, sizeof(seg), &s), -EINVAL);
	seg[12] = 0xb0; /* doff 11: 44 > 40 */
	assert_int_equal(packet_parse_tcp(seg, sizeof(seg), &s), -EINVAL);
	/* doff 5 needs only 20 bytes; what follows is payload. */
	seg[12] = 0x50;
	assert_int_equal(packet_parse_tcp(seg, 20, &s), 0);
	assert_string_equal(s.options, "");
	assert_int_equal(s.tcp_len, 20);
	assert_int_equal(packet_parse_tcp(seg, sizeof(seg), &s), 0);
	assert_string_equal(s.options, "");
	assert_int_equal(s.tcp_len, 40);
}

/* An ICMP error quotes 8 bytes of our SYN at least: ports and sequence. */
static void test_parse_quote(void **state)
{
	uint16_t sport = 1, dport = 2;
	uint32_t seq = 3;

	(void)state;
	for (size_t n = 0; n < 8; n++) {
		assert_int_equal(packet_parse_quote(syn4 + 20, n, &sport, &dport, &seq), -EINVAL);
		assert_int_equal(sport, 1);
		assert_int_equal(dport, 2);
		assert_int_equal(seq, 3);
	}
	assert_int_equal(packet_parse_quote(syn4 + 20, 8, &sport, &dport, &seq), 0);
	assert_int_equal(sport, 40866);
	assert_int_equal(dport, 443);
	assert_int_equal(seq, 0x7d7f7624);
	assert_int_equal(packet_parse_quote(syn6_tcp, 40, &sport, &dport, &seq), 0);
	assert_int_equal(sport, 43978);
	assert_int_equal(dport, 443);
	assert_int_equal(seq, 0xb548d7ad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syn_is_linux_ipv4),
		cmocka_unit_test(test_syn_is_linux_ipv6),
		cmocka_unit_test(test_syn_layout_ipv4),
		cmocka_unit_test(test_syn_layout_ipv6),
		cmocka_unit_test(test_checksum_vectors),
		cmocka_unit_test(test_checksum_odd_length),
		cmocka_unit_test(test_parse_ipv4_synack),
		cmocka_unit_test(test_parse_ipv4_rst),
		cmocka_unit_test(test_parse_ipv4_ip_fields),
		cmocka_unit_test(test_parse_ipv4_rejects),
		cmocka_unit_test(test_options_orders),
		cmocka_unit_test(test_options_wscale_cap),
		cmocka_unit_test(test_options_malformed),
		cmocka_unit_test(test_options_fingerprint_bounded),
		cmocka_unit_test(test_parse_tcp_ipv6),
		cmocka_unit_test(test_parse_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
