#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint32_t sum_words(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len >= 2; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t packet_tcp_checksum(int family, const uint8_t src[16], const uint8_t dst[16],
			     const uint8_t *seg, size_t len)
{
	size_t alen = family == AF_INET6 ? 16 : 4;
	uint32_t sum = 0;

	sum = sum_words(sum, src, alen);
	sum = sum_words(sum, dst, alen);
	sum += 6; /* IPPROTO_TCP */
	sum += (uint32_t)len & 0xffff;
	sum += (uint32_t)(len >> 16);
	sum = sum_words(sum, seg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t packet_build_syn(const struct tw_syn *s, uint8_t out[TW_SYN_LEN])
{
	uint8_t *o = out + 20;

	memset(out, 0, TW_SYN_LEN);
	put16(out, s->sport);
	put16(out + 2, s->dport);
	put32(out + 4, s->isn);
	/* ack 0 */
	out[12] = (TW_SYN_LEN / 4) << 4;
	out[13] = TW_TCP_SYN;
	put16(out + 14, s->window);
	/* checksum and urgent pointer 0 */
	o[0] = 2, o[1] = 4, put16(o + 2, s->mss);
	o[4] = 4, o[5] = 2, o[6] = 8, o[7] = 10;
	put32(o + 8, s->tsval);
	/* TSecr 0 */
	o[16] = 1, o[17] = 3, o[18] = 3, o[19] = s->wscale;
	if (s->checksum)
		put16(out + 16, packet_tcp_checksum(s->family, s->src, s->dst, out, TW_SYN_LEN));
	return TW_SYN_LEN;
}

static void parse_options(const uint8_t *p, size_t len, struct tw_tcp_seg *s)
{
	size_t n = 0, i = 0;

	s->mss = 0;
	s->wscale = -1;
	s->sack_ok = s->timestamps = s->bad_options = false;
	while (i < len && n + 1 < sizeof(s->options)) {
		uint8_t kind = p[i], olen;
		char letter;

		if (kind == 0) {
			s->options[n++] = 'E';
			break;
		}
		if (kind == 1) {
			s->options[n++] = 'N';
			i++;
			continue;
		}
		if (i + 1 >= len || (olen = p[i + 1]) < 2 || i + olen > len) {
			s->bad_options = true;
			break;
		}
		switch (kind) {
		case 2:
			letter = 'M';
			if (olen == 4)
				s->mss = get16(p + i + 2);
			break;
		case 3:
			letter = 'W';
			if (olen == 3)
				s->wscale = (int8_t)(p[i + 2] > 14 ? 14 : p[i + 2]);
			break;
		case 4:
			letter = 'S';
			s->sack_ok = true;
			break;
		case 5:
			letter = 'K';
			break;
		case 8:
			letter = 'T';
			s->timestamps = olen == 10;
			break;
		default:
			letter = '?';
			break;
		}
		s->options[n++] = letter;
		i += olen;
	}
	s->options[n] = '\0';
}

int packet_parse_tcp(const uint8_t *seg, size_t len, struct tw_tcp_seg *s)
{
	size_t doff;

	if (len < 20)
		return -EINVAL;
	doff = (size_t)(seg[12] >> 4) * 4;
	if (doff < 20 || doff > len)
		return -EINVAL;
	s->sport = get16(seg);
	s->dport = get16(seg + 2);
	s->seq = get32(seg + 4);
	s->ack = get32(seg + 8);
	s->flags = seg[13];
	s->window = get16(seg + 14);
	s->tcp = seg;
	s->tcp_len = len;
	parse_options(seg + 20, doff - 20, s);
	return 0;
}

int packet_parse_ipv4(const uint8_t *pkt, size_t len, struct tw_tcp_seg *s)
{
	size_t ihl, tot;

	if (len < 20 || pkt[0] >> 4 != 4)
		return -EINVAL;
	ihl = (size_t)(pkt[0] & 15) * 4;
	tot = get16(pkt + 2);
	if (ihl < 20 || tot < ihl || tot > len || pkt[9] != 6)
		return -EINVAL;
	if (get16(pkt + 6) & 0x3fff) /* a fragment (MF or an offset) */
		return -EINVAL;
	s->family = AF_INET;
	memset(s->src, 0, sizeof(s->src));
	memset(s->dst, 0, sizeof(s->dst));
	memcpy(s->src, pkt + 12, 4);
	memcpy(s->dst, pkt + 16, 4);
	s->have_dst = true;
	s->ttl = pkt[8];
	s->ip_ecn = pkt[1] & 3;
	return packet_parse_tcp(pkt + ihl, tot - ihl, s);
}

bool packet_checksum_ok(const struct tw_tcp_seg *s)
{
	return s->have_dst &&
	       packet_tcp_checksum(s->family, s->src, s->dst, s->tcp, s->tcp_len) == 0;
}

int packet_parse_quote(const uint8_t *q, size_t len, uint16_t *sport, uint16_t *dport,
		       uint32_t *seq)
{
	if (len < 8)
		return -EINVAL;
	*sport = get16(q);
	*dport = get16(q + 2);
	*seq = get32(q + 4);
	return 0;
}
