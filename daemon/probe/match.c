#include <string.h>
#include <sys/socket.h>

#include "match.h"
#include "siphash.h"

struct tw_probe_slot *slots_of_port(const struct tw_slots *s, uint16_t port)
{
	if (port < s->port_min || port - s->port_min >= s->n)
		return NULL;
	return &s->v[port - s->port_min];
}

uint32_t probe_isn(const uint8_t key[16], int family, const uint8_t src[16], uint16_t sport,
		   const uint8_t dst[16], uint16_t dport, uint32_t serial)
{
	uint8_t m[44];
	size_t alen = family == AF_INET6 ? 16 : 4, n = 0;
	uint64_t h;

	m[n++] = (uint8_t)family;
	memcpy(m + n, src, alen), n += alen;
	memcpy(m + n, dst, alen), n += alen;
	m[n++] = (uint8_t)(sport >> 8), m[n++] = (uint8_t)sport;
	m[n++] = (uint8_t)(dport >> 8), m[n++] = (uint8_t)dport;
	memcpy(m + n, &serial, 4), n += 4;
	h = siphash24(key, m, n);
	return (uint32_t)(h ^ (h >> 32));
}

static size_t addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

/* The slot's probe, to and from the same endpoints. */
static bool same_flow(const struct tw_probe_slot *p, int family, const uint8_t peer[16],
		      uint16_t peer_port)
{
	return p->serial && p->family == family && p->dport == peer_port &&
	       !memcmp(p->dst, peer, addr_len(family));
}

static enum tw_verdict judge(struct tw_probe_slot *p, enum tw_verdict v,
			     struct tw_probe_slot **ret_slot)
{
	*ret_slot = p;
	if (!p->live || p->answered)
		return TW_VERDICT_DUPLICATE;
	return v;
}

enum tw_verdict match_segment(const struct tw_slots *s, const struct tw_tcp_seg *seg,
			      struct tw_probe_slot **ret_slot)
{
	struct tw_probe_slot *p = slots_of_port(s, seg->dport);
	uint8_t f = seg->flags & (TW_TCP_SYN | TW_TCP_ACK | TW_TCP_RST);
	enum tw_verdict v;

	*ret_slot = NULL;
	if (!p)
		return TW_VERDICT_IGNORED;
	if (f == (TW_TCP_SYN | TW_TCP_ACK))
		v = TW_VERDICT_OPEN;
	else if (f == (TW_TCP_RST | TW_TCP_ACK))
		v = TW_VERDICT_CLOSED;
	else
		return TW_VERDICT_FOREIGN; /* a SYN, an ACK, a RST that acks nothing */
	if (!same_flow(p, seg->family, seg->src, seg->sport) || seg->ack != p->isn + 1 ||
	    (seg->have_dst && memcmp(seg->dst, p->src, addr_len(p->family))))
		return TW_VERDICT_FOREIGN;
	return judge(p, v, ret_slot);
}

enum tw_verdict match_icmp(const struct tw_slots *s, int family, const uint8_t dst[16],
			   uint16_t sport, uint16_t dport, uint32_t seq,
			   struct tw_probe_slot **ret_slot)
{
	struct tw_probe_slot *p = slots_of_port(s, sport);

	*ret_slot = NULL;
	if (!p)
		return TW_VERDICT_IGNORED;
	if (!same_flow(p, family, dst, dport) || seq != p->isn)
		return TW_VERDICT_FOREIGN;
	return judge(p, TW_VERDICT_ICMP, ret_slot);
}
