/*
 * Decodes BPF records (bpf/tcpwatch.h) and applies them to the connection
 * table. Pure logic: no BPF, no I/O, so unit tests drive it with made-up
 * events.
 */
#ifndef TCPWATCH_EVENTS_H
#define TCPWATCH_EVENTS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntable.h"
#include "stats.h"
#include "tcpwatch.h"

/* A decoded record: every section of the wire format in one place, the
 * absent ones zero (comm an empty string). */
struct tw_event {
	uint64_t time_ns; /* CLOCK_MONOTONIC */
	uint64_t cookie;
	uint64_t aux_cookie; /* RETRANSMIT_SYNACK: the request socket's */
	uint32_t netns;
	uint32_t pid; /* tgid, when has_task */
	uint32_t tid;
	uint32_t uid;
	uint8_t saddr[16]; /* local; IPv4 in the first 4 bytes */
	uint8_t daddr[16]; /* remote */
	uint16_t sport;    /* host order */
	uint16_t dport;
	uint16_t family; /* AF_INET, AF_INET6, 0 */
	uint8_t kind;    /* enum tcpwatch_event_kind */
	uint8_t oldstate;
	uint8_t newstate;
	uint8_t has_task;
	uint8_t flags; /* TCPWATCH_EVF_* */
	int32_t sk_err;
	uint32_t value;
	char comm[16];
	bool has_req;
	struct tcpwatch_req req; /* RETRANSMIT_SYNACK with TCPWATCH_EVF_REQ */
};

struct tw_event_stats {
	uint64_t received;                   /* records decoded */
	uint64_t malformed;                  /* wrong size or version */
	uint64_t unmatched;                  /* retransmit/reset for a socket never seen */
	uint64_t refused;                    /* table full or out of memory */
	uint64_t resets_sent_no_socket;      /* RSTs answering packets for no socket */
	uint64_t time_wait_overflow;         /* closes that found the TIME_WAIT table full */
	uint64_t drops_to_listener;          /* drops counted on a listener */
	uint64_t drops_to_conn;              /* drops counted on a connection */
	uint64_t drops_looked_up;            /* drops waiting for a 4-tuple lookup */
	uint64_t drops_unattributed;         /* drops tied to no socket we know */
	uint64_t accepts_unmatched;          /* accept() of a socket not in the table */
	uint64_t by_kind[TCPWATCH_EV_KINDS]; /* indexed by enum tcpwatch_event_kind */
};

/* Decodes a ring-buffer record into *e. Returns 0, -EPROTO for another
 * version, or -EINVAL if it is malformed (too short for the sections it
 * announces, an unknown kind, state or family). */
int events_decode(const void *data, size_t len, struct tw_event *e);

/* Applies one event. now_ns is unused by most events; the event's own
 * time is what the history records. */
void events_apply(struct tw_conntable *t, const struct tw_event *e, struct tw_event_stats *st);

/* Adds the events_* figures to s. */
void events_report(const struct tw_event_stats *st, struct tw_stats *s);

#endif
