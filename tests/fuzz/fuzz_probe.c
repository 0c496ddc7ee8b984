/*
 * libFuzzer target: what the prober reads off the wire. Anyone on the path
 * can send a raw socket anything, so the parsers must never read past the
 * packet, and the matcher must never take a segment for an answer it does
 * not prove. The replies are judged against a fixed table of slots
 * 61000..61004 (a live IPv4 probe, a live IPv6 one, an answered one, one
 * ended unanswered, an unused port). The first byte chooses what the rest
 * is:
 *   0  an IPv4 packet (packet_parse_ipv4), then match_segment
 *   1  32 bytes of addresses (source, destination), then a bare TCP
 *      segment as a raw IPv6 socket reads it (packet_parse_tcp), then
 *      match_segment; bit 4: the destination known (pktinfo)
 *   2  16 bytes of the error's original destination, then the 8+ bytes an
 *      ICMP error quotes (packet_parse_quote), then match_icmp
 *   3  all three parsers over the same bytes, with the probes' addresses
 * Bit 5 makes the family of modes 1 and 2 IPv4 (else IPv6). What the
 * parsers say is checked, and every verdict against one worked out apart
 * from match.h's rules; a broken promise aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "allow.h"
#include "match.h"
#include "packet.h"

#define PORT_MIN 61000
#define NSLOTS   5

static const uint8_t me4[16] = {198, 18, 0, 1}, peer4[16] = {198, 18, 0, 2};
static const uint8_t me6[16] = {0xfd, 0x01, [15] = 1}, peer6[16] = {0xfd, 0x01, [15] = 2};

static struct tw_probe_slot v[NSLOTS] = {
	{.serial = 1, .live = true, .family = AF_INET, .dport = 443, .isn = 0x01020304},
	{.serial = 2, .live = true, .family = AF_INET6, .dport = 8443, .isn = 0xfffffffe},
	{.serial = 3, .live = true, .answered = true, .family = AF_INET, .dport = 80, .isn = 7},
	{.serial = 4, .live = false, .family = AF_INET, .dport = 22, .isn = 0x80000000},
	{.serial = 0}, /* never used */
};
static const struct tw_slots slots = {.v = v, .port_min = PORT_MIN, .n = NSLOTS};

static void init_slots(void)
{
	static int done;

	if (done)
		return;
	memcpy(v[0].src, me4, 16), memcpy(v[0].dst, peer4, 16);
	memcpy(v[1].src, me6, 16), memcpy(v[1].dst, peer6, 16);
	memcpy(v[2].src, me4, 16), memcpy(v[2].dst, peer4, 16);
	memcpy(v[3].src, me4, 16), memcpy(v[3].dst, peer4, 16);
	done = 1;
}

static void check_seg(const struct tw_tcp_seg *s, const uint8_t *buf, size_t len)
{
	size_t n = strnlen(s->options, sizeof(s->options));

	if (n >= sizeof(s->options))
		abort(); /* not NUL-terminated */
	for (size_t i = 0; i < n; i++)
		if (!strchr("MSTWNEK?", s->options[i]))
			abort();
	if (s->wscale < -1 || s->wscale > 14)
		abort();
	if (s->tcp < buf || s->tcp_len < 20 || s->tcp_len > len ||
	    (size_t)(s->tcp - buf) > len - s->tcp_len)
		abort();
	if (s->mss && !strchr(s->options, 'M'))
		abort();
	if (s->wscale >= 0 && !strchr(s->options, 'W'))
		abort();
	/* Reads the whole segment: ASan sees it if it were past the buffer. */
	(void)packet_checksum_ok(s);
}

static size_t alen(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

/* match.h's rules, written apart: the slot of the port, then an answer to
 * a SYN (SYN-ACK or RST-ACK) that proves the probe's flow and ISN. */
static enum tw_verdict expect_seg(const struct tw_tcp_seg *s)
{
	const struct tw_probe_slot *p;
	uint8_t f = s->flags & (TW_TCP_SYN | TW_TCP_ACK | TW_TCP_RST);

	if (s->dport < PORT_MIN || s->dport - PORT_MIN >= NSLOTS)
		return TW_VERDICT_IGNORED;
	p = &v[s->dport - PORT_MIN];
	if (f != (TW_TCP_SYN | TW_TCP_ACK) && f != (TW_TCP_RST | TW_TCP_ACK))
		return TW_VERDICT_FOREIGN;
	if (p->serial == 0 || p->family != s->family || p->dport != s->sport ||
	    memcmp(p->dst, s->src, alen(s->family)) || s->ack != (uint32_t)(p->isn + 1) ||
	    (s->have_dst && memcmp(p->src, s->dst, alen(s->family))))
		return TW_VERDICT_FOREIGN;
	if (!p->live || p->answered)
		return TW_VERDICT_DUPLICATE;
	return f & TW_TCP_SYN ? TW_VERDICT_OPEN : TW_VERDICT_CLOSED;
}

static enum tw_verdict expect_icmp(int family, const uint8_t *dst, uint16_t sport, uint16_t dport,
				   uint32_t seq)
{
	const struct tw_probe_slot *p;

	if (sport < PORT_MIN || sport - PORT_MIN >= NSLOTS)
		return TW_VERDICT_IGNORED;
	p = &v[sport - PORT_MIN];
	if (p->serial == 0 || p->family != family || p->dport != dport ||
	    memcmp(p->dst, dst, alen(family)) || seq != p->isn)
		return TW_VERDICT_FOREIGN;
	if (!p->live || p->answered)
		return TW_VERDICT_DUPLICATE;
	return TW_VERDICT_ICMP;
}

static void judge_seg(const struct tw_tcp_seg *s)
{
	struct tw_probe_slot *p = (struct tw_probe_slot *)&p;
	enum tw_verdict r = match_segment(&slots, s, &p);
	uint8_t f = s->flags & (TW_TCP_SYN | TW_TCP_ACK | TW_TCP_RST);

	if (r != expect_seg(s))
		abort();

	switch (r) {
	case TW_VERDICT_OPEN:
	case TW_VERDICT_CLOSED:
	case TW_VERDICT_DUPLICATE:
		/* An answer must prove itself: the slot's flow and ISN + 1. */
		if (!p || p < v || p >= v + NSLOTS || p != &v[s->dport - PORT_MIN])
			abort();
		if (!p->serial || p->family != s->family || p->dport != s->sport ||
		    s->ack != p->isn + 1 || memcmp(p->dst, s->src, p->family == AF_INET ? 4 : 16))
			abort();
		if (s->have_dst && memcmp(p->src, s->dst, p->family == AF_INET ? 4 : 16))
			abort();
		if (r == TW_VERDICT_OPEN && f != (TW_TCP_SYN | TW_TCP_ACK))
			abort();
		if (r == TW_VERDICT_CLOSED && f != (TW_TCP_RST | TW_TCP_ACK))
			abort();
		if (r == TW_VERDICT_DUPLICATE && p->live && !p->answered)
			abort();
		if (r != TW_VERDICT_DUPLICATE && (!p->live || p->answered))
			abort();
		break;
	case TW_VERDICT_FOREIGN:
	case TW_VERDICT_IGNORED:
		if (p)
			abort();
		if ((r == TW_VERDICT_IGNORED) !=
		    (s->dport < PORT_MIN || s->dport >= PORT_MIN + NSLOTS))
			abort();
		break;
	default:
		abort();
	}
}

static void judge_icmp(int family, const uint8_t *dst, uint16_t sport, uint16_t dport, uint32_t seq)
{
	struct tw_probe_slot *p = (struct tw_probe_slot *)&p;
	enum tw_verdict r = match_icmp(&slots, family, dst, sport, dport, seq, &p);

	if (r != expect_icmp(family, dst, sport, dport, seq))
		abort();

	switch (r) {
	case TW_VERDICT_ICMP:
	case TW_VERDICT_DUPLICATE:
		if (!p || p != &v[sport - PORT_MIN] || !p->serial || p->family != family ||
		    p->dport != dport || p->isn != seq ||
		    memcmp(p->dst, dst, family == AF_INET ? 4 : 16))
			abort();
		if ((r == TW_VERDICT_ICMP) != (p->live && !p->answered))
			abort();
		break;
	case TW_VERDICT_FOREIGN:
	case TW_VERDICT_IGNORED:
		if (p)
			abort();
		if ((r == TW_VERDICT_IGNORED) != (sport < PORT_MIN || sport >= PORT_MIN + NSLOTS))
			abort();
		break;
	default:
		abort();
	}
}

static void do_ipv4(const uint8_t *d, size_t n)
{
	struct tw_tcp_seg s;

	memset(&s, 0, sizeof(s));
	if (packet_parse_ipv4(d, n, &s) < 0)
		return;
	if (s.family != AF_INET || !s.have_dst || n < 40)
		abort();
	check_seg(&s, d, n);
	judge_seg(&s);
}

/* A raw IPv6 socket's read: the source from its sockaddr, the destination
 * from pktinfo (have_dst), given in a[0..31]; the family is the caller's
 * too (IPv4 addresses in the first 4 bytes). */
static void do_tcp(const uint8_t *d, size_t n, int family, const uint8_t *a, int have_dst)
{
	struct tw_tcp_seg s;

	memset(&s, 0, sizeof(s));
	s.family = family;
	memcpy(s.src, a, 16);
	memcpy(s.dst, a + 16, 16);
	s.have_dst = have_dst;
	s.ttl = 9;
	s.ip_ecn = 0xff;
	if (packet_parse_tcp(d, n, &s) < 0)
		return;
	if (s.family != family || memcmp(s.src, a, 16) || memcmp(s.dst, a + 16, 16) ||
	    s.have_dst != !!have_dst || s.ttl != 9 || s.ip_ecn != 0xff)
		abort(); /* the caller's fields */
	check_seg(&s, d, n);
	judge_seg(&s);
}

static void do_quote(const uint8_t *d, size_t n, int family, const uint8_t *dst)
{
	uint16_t sport, dport;
	uint32_t seq;

	if (packet_parse_quote(d, n, &sport, &dport, &seq) < 0) {
		if (n >= 8)
			abort();
		return;
	}
	if (n < 8)
		abort();
	judge_icmp(family, dst, sport, dport, seq);
}

/* The API's and the config's target text and allow-list, as C strings
 * (the daemon gets them NUL-terminated from cJSON and the INI reader). */
static void do_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[128];
	struct tw_allow a;
	uint8_t addr[16];
	uint16_t port = 0;
	int family = 0;

	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (probe_parse_endpoint(s, &family, addr, &port) == 0 &&
	    (port == 0 || (family != AF_INET && family != AF_INET6)))
		abort();
	if (allow_parse(&a, s, err, sizeof(err)) == 0) {
		if (a.n > TW_ALLOW_MAX)
			abort();
		for (size_t i = 0; i < a.n; i++)
			if (a.v[i].port_lo > a.v[i].port_hi || !a.v[i].port_lo ||
			    a.v[i].prefix_len > (a.v[i].family == AF_INET ? 32 : 128))
				abort();
	} else if (!memchr(err, '\0', sizeof(err))) {
		abort();
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t fixed6[32], fixed4[32];
	uint8_t sel;
	int family;

	if (size < 1)
		return 0;
	init_slots();
	memcpy(fixed6, peer6, 16), memcpy(fixed6 + 16, me6, 16);
	memcpy(fixed4, peer4, 16), memcpy(fixed4 + 16, me4, 16);
	sel = data[0];
	data++, size--;
	family = sel & 0x20 ? AF_INET : AF_INET6;
	switch (sel & 3) {
	case 0:
		do_ipv4(data, size);
		break;
	case 1: /* source, destination (32 bytes), segment */
		if (size < 32)
			return 0;
		do_tcp(data + 32, size - 32, family, data, sel & 0x10);
		break;
	case 2: /* destination (16 bytes), quote */
		if (size < 16)
			return 0;
		do_quote(data + 16, size - 16, family, data);
		break;
	default:
		if (sel & 0x40) {
			do_text(data, size);
			break;
		}
		do_ipv4(data, size);
		do_tcp(data, size, AF_INET6, fixed6, 1);
		do_tcp(data, size, AF_INET, fixed4, sel & 0x10);
		do_quote(data, size, AF_INET6, peer6);
		do_quote(data, size, AF_INET, peer4);
		break;
	}
	return 0;
}
