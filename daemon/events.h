/*
 * Applies BPF events (bpf/tcpwatch.h records) to the connection table.
 * Pure logic: no BPF, no I/O, so unit tests drive it with made-up events.
 */
#ifndef TCPWATCH_EVENTS_H
#define TCPWATCH_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "conntable.h"

struct tcpwatch_event;

struct tw_event_stats {
	uint64_t received;       /* records decoded */
	uint64_t malformed;      /* wrong size or version */
	uint64_t unmatched;      /* retransmit/reset for a socket never seen */
	uint64_t refused;        /* table full or out of memory */
	uint64_t resets_sent_no_socket; /* RSTs answering packets for no socket */
	uint64_t time_wait_overflow; /* closes that found the TIME_WAIT table full */
	uint64_t by_kind[6];     /* indexed by enum tcpwatch_event_kind */
};

/* Checks a ring-buffer record. Returns the event or NULL if malformed. */
const struct tcpwatch_event *events_decode(const void *data, size_t len);

/* Applies one event. now_ns is unused by most events; the event's own
 * time is what the history records. */
void events_apply(struct tw_conntable *t, const struct tcpwatch_event *e,
		  struct tw_event_stats *st);

#endif
