/*
 * A probe target's results: a bounded ring of the latest ones, the totals
 * since it began, and the summary over the ring (the window): min, avg,
 * max, mdev and exact percentiles of the RTTs in it. Pure logic.
 */
#ifndef TCPWATCH_RESULTS_H
#define TCPWATCH_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histo.h"
#include "packet.h"

enum tw_probe_state {
	TW_PROBE_PENDING,  /* sent, no answer yet */
	TW_PROBE_OPEN,     /* SYN-ACK */
	TW_PROBE_CLOSED,   /* RST */
	TW_PROBE_FILTERED, /* silence until the timeout, or an ICMP unreachable */
	TW_PROBE_HOP,      /* ICMP time exceeded (traceroute): a router on the way */
	TW_PROBE_ERROR,    /* could not be sent (no route...) */
	TW_PROBE_STATES
};

const char *probe_state_name(unsigned state);

/* What a result lacks or has that its fields do not say. */
#define TW_RESULT_NO_TX_STAMP 0x01 /* the kernel gave no send time: no RTT */
#define TW_RESULT_NO_RX_STAMP 0x02 /* the kernel gave no receive time: no RTT */
#define TW_RESULT_ICMP        0x04 /* icmp_type/icmp_code/from are an ICMP error's */
#define TW_RESULT_BAD_CLOCK   0x08 /* receive before send (a clock step): no RTT */

struct tw_probe_result {
	uint32_t seq;
	uint8_t state; /* enum tw_probe_state */
	uint8_t flags; /* TW_RESULT_* */
	uint8_t ttl_sent;
	uint8_t ttl; /* of the reply; 0 unknown */
	uint8_t ecn; /* the reply's ECE/CWR flags (0x40/0x80) | its IP ECN bits */
	uint8_t icmp_type, icmp_code;
	int8_t wscale; /* -1: none */
	uint16_t window, mss;
	uint16_t sport;
	uint8_t from_family; /* who answered (the target, or a router) */
	uint8_t from[16];
	char options[TW_TCP_OPTS_FP];
	int errno_;       /* TW_PROBE_ERROR: why */
	uint64_t sent_ns; /* wall-clock send time (the kernel's when known) */
	int64_t rtt_ns;   /* -1: none */
};

struct tw_probe_summary {
	uint64_t sent, received, lost, errors;
	uint64_t by_state[TW_PROBE_STATES];
	/* over the window (the results kept), in ns; valid if rtt_count */
	uint64_t rtt_count;
	uint64_t min_ns, max_ns, avg_ns, mdev_ns, p50_ns, p90_ns, p99_ns;
};

struct tw_results {
	struct tw_probe_result *ring;
	uint32_t cap;   /* results kept */
	uint64_t added; /* results ever added; the ring holds the last cap */
	uint64_t sent, received, lost, errors;
	uint64_t by_state[TW_PROBE_STATES];
	struct tw_histo *histo; /* every RTT since the start (allocated on first use) */
};

/* 0 or -ENOMEM. */
int results_init(struct tw_results *r, uint32_t cap);
void results_free(struct tw_results *r);
/* Adds a finished result (counted by its state). */
void results_add(struct tw_results *r, const struct tw_probe_result *res);
/* The i-th result kept, oldest first (i < results_count). */
uint32_t results_count(const struct tw_results *r);
const struct tw_probe_result *results_at(const struct tw_results *r, uint32_t i);
/* Totals, and the RTT figures over the window: the target's answers (a
 * trace's routers have their RTTs in their hops, not here). */
void results_summary(const struct tw_results *r, struct tw_probe_summary *s);
/* The same over an array of results (the CLI's view of one run). */
void summary_of(const struct tw_probe_result *v, size_t n, struct tw_probe_summary *s);

#endif
