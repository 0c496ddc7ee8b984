/*
 * Which probe a packet answers. Each probe in flight owns a source port of
 * the reserved range (its slot), so a reply is found by its destination
 * port and then must prove itself: the addresses and ports of the probe,
 * and an acknowledgment of the probe's keyed ISN. Pure logic.
 */
#ifndef TCPWATCH_MATCH_H
#define TCPWATCH_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

/* A source port's last probe. It stays after the probe ends, so a late
 * or repeated answer to it is known as one. */
struct tw_probe_slot {
	uint32_t serial; /* the probe's serial; 0: the port was never used */
	bool live;       /* waiting for an answer */
	bool answered;   /* an answer came (live or not) */
	uint8_t family;
	uint8_t src[16], dst[16];
	uint16_t dport;
	uint32_t isn;
};

enum tw_verdict {
	TW_VERDICT_OPEN,      /* a SYN-ACK acknowledging a live probe */
	TW_VERDICT_CLOSED,    /* a RST acknowledging a live probe */
	TW_VERDICT_ICMP,      /* an ICMP error quoting a live probe */
	TW_VERDICT_DUPLICATE, /* an answer to a probe already answered or ended */
	TW_VERDICT_FOREIGN,   /* to our range, but no probe of ours asked for it */
	TW_VERDICT_IGNORED,   /* not to our range, or no answer to a SYN at all */
};

struct tw_slots {
	struct tw_probe_slot *v;
	uint16_t port_min;
	uint16_t n; /* ports port_min .. port_min + n - 1 */
};

/* The slot of a local port; NULL outside the range. */
struct tw_probe_slot *slots_of_port(const struct tw_slots *s, uint16_t port);

/* The ISN of a probe: SipHash of the 4-tuple and the probe's serial under
 * key (a secret drawn when the daemon starts). */
uint32_t probe_isn(const uint8_t key[16], int family, const uint8_t src[16], uint16_t sport,
		   const uint8_t dst[16], uint16_t dport, uint32_t serial);

/* Judges a TCP segment received; *ret_slot is its slot when the verdict is
 * OPEN, CLOSED or DUPLICATE. */
enum tw_verdict match_segment(const struct tw_slots *s, const struct tw_tcp_seg *seg,
			      struct tw_probe_slot **ret_slot);
/* Judges an ICMP error by the probe it quotes: to dst (the error's original
 * destination), sport, dport and seq from the quoted TCP header. */
enum tw_verdict match_icmp(const struct tw_slots *s, int family, const uint8_t dst[16],
			   uint16_t sport, uint16_t dport, uint32_t seq,
			   struct tw_probe_slot **ret_slot);

#endif
