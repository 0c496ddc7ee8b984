/*
 * The prober's packets: the SYN it sends (built to look like the one
 * Linux's own connect() sends) and the replies it reads (SYN-ACK, RST, and
 * the TCP header an ICMP error quotes). Pure functions, no I/O.
 */
#ifndef TCPWATCH_PACKET_H
#define TCPWATCH_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_SYN_LEN 40 /* TCP header 20 + options 20 */

#define TW_TCP_FIN 0x01
#define TW_TCP_SYN 0x02
#define TW_TCP_RST 0x04
#define TW_TCP_PSH 0x08
#define TW_TCP_ACK 0x10
#define TW_TCP_URG 0x20
#define TW_TCP_ECE 0x40
#define TW_TCP_CWR 0x80

struct tw_syn {
	int family; /* AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t isn;
	uint32_t tsval;
	uint16_t mss;
	uint16_t window;
	uint8_t wscale;
	bool checksum; /* fill it in (else the kernel does: IPV6_CHECKSUM) */
};

/*
 * The TCP header and options of a SYN, in Linux's order (tcp_options_write):
 * MSS, SACK-permitted merged into the timestamps word, timestamps, NOP,
 * window scale. Returns TW_SYN_LEN.
 */
size_t packet_build_syn(const struct tw_syn *s, uint8_t out[TW_SYN_LEN]);

/* The TCP checksum over the pseudo-header of family and seg (its checksum
 * field taken as it is: 0 when computing, the sent value when checking, in
 * which case a correct segment sums to 0). */
uint16_t packet_tcp_checksum(int family, const uint8_t src[16], const uint8_t dst[16],
			     const uint8_t *seg, size_t len);

#define TW_TCP_OPTS_FP 16 /* the options' fingerprint, with its NUL */

/* A TCP segment received, with what the IP layer said of it. */
struct tw_tcp_seg {
	int family;
	uint8_t src[16], dst[16];
	bool have_dst; /* dst known (IPv4 header, IPv6 pktinfo) */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint8_t ip_ecn; /* the ECN bits of the IP header (tos & 3); 0xff unknown */
	uint8_t ttl;    /* TTL or hop limit; 0 unknown */
	uint16_t window;
	uint16_t mss;  /* 0: no MSS option */
	int8_t wscale; /* -1: no window-scale option */
	bool sack_ok, timestamps;
	bool bad_options; /* an option's length ran past the header */
	/* The options in order, one letter each: M MSS, S SACK-permitted,
	 * T timestamps, W window scale, N NOP, E end, K SACK blocks, ? other. */
	char options[TW_TCP_OPTS_FP];
	const uint8_t *tcp; /* the TCP header in the buffer parsed */
	size_t tcp_len;
};

/* An IPv4 packet as a raw IPv4 socket reads it (IP header, then TCP).
 * 0, or -EINVAL if it is not a whole, unfragmented TCP segment. */
int packet_parse_ipv4(const uint8_t *pkt, size_t len, struct tw_tcp_seg *s);
/* A TCP segment without its IP header (as a raw IPv6 socket reads it);
 * s->family, addresses, TTL and ECN are the caller's. 0 or -EINVAL. */
int packet_parse_tcp(const uint8_t *seg, size_t len, struct tw_tcp_seg *s);
/* True if the segment's checksum is right (needs its addresses). */
bool packet_checksum_ok(const struct tw_tcp_seg *s);

/* The start of the TCP header an ICMP error quotes (8 bytes at least, as
 * RFC 792 asks). 0 or -EINVAL. */
int packet_parse_quote(const uint8_t *q, size_t len, uint16_t *sport, uint16_t *dport,
		       uint32_t *seq);

#endif
