/*
 * What a connection's life means: its role, handshake time, who closed
 * first and why it ended. Kept as a few bytes per connection, updated as
 * events arrive, so the answer survives a history that dropped entries.
 */
#ifndef TCPWATCH_LIFECYCLE_H
#define TCPWATCH_LIFECYCLE_H

#include <stdint.h>

#include "conntable.h"

enum tw_role {
	TW_ROLE_UNKNOWN = 0,
	TW_ROLE_ACTIVE,  /* connect(): SYN_SENT */
	TW_ROLE_PASSIVE, /* accepted: a listener's SYN_RECV child */
	TW_ROLE_LISTENER,
};

enum tw_closer {
	TW_CLOSER_UNKNOWN = 0,
	TW_CLOSER_LOCAL,        /* ESTABLISHED -> FIN_WAIT1: our FIN went first */
	TW_CLOSER_PEER,         /* ESTABLISHED -> CLOSE_WAIT: the peer's FIN came first */
	TW_CLOSER_SIMULTANEOUS, /* FIN_WAIT1 -> CLOSING: FINs crossed */
};

/* Why a connection ended. Documented in README.md ("End reasons"). */
enum tw_end_reason {
	TW_END_NONE = 0,         /* still open */
	TW_END_CLOSED_BY_LOCAL,  /* orderly close, our side first */
	TW_END_CLOSED_BY_PEER,   /* orderly close, the peer first */
	TW_END_SIMULTANEOUS,     /* orderly close, FINs crossed (CLOSING) */
	TW_END_RESET_SENT,       /* we aborted with RST (SO_LINGER 0, unread data...) */
	TW_END_RESET_RECEIVED,   /* the peer's RST ended it */
	TW_END_REFUSED,          /* SYN answered by RST: nothing listens there */
	TW_END_CONNECT_TIMEOUT,  /* SYNs retransmitted, never answered */
	TW_END_CONNECT_ABORTED,  /* closed while SYN_SENT, no RST, no timeout */
	TW_END_SYN_RECV_ABORTED, /* the half-open child died before ESTABLISHED */
	TW_END_TIMEOUT,          /* retransmission or keepalive timeout (ETIMEDOUT) */
	TW_END_ABORTED,          /* closed from an open state without FIN exchange */
	TW_END_LISTENER_CLOSED,  /* a listening socket closed */
	TW_END_VANISHED,         /* gone from sock_diag with no close event seen */
	TW_END_MAX,
};

const char *lifecycle_role_name(uint8_t role);
const char *lifecycle_closer_name(uint8_t closer); /* NULL when unknown */
const char *lifecycle_end_name(uint8_t reason);    /* NULL when open */

/* A state transition (already appended to the history). sk_err and
 * srtt_us are the event's; time_ns its time. */
void lifecycle_on_transition(struct tw_conn *c, uint8_t from, uint8_t to, uint64_t time_ns,
			     int32_t sk_err, uint32_t srtt_us);
/* The kernel sent a RST for this connection (possibly after its CLOSE). */
void lifecycle_on_reset_sent(struct tw_conn *c);
/* The reconcile found the connection gone without a close event. */
void lifecycle_on_vanished(struct tw_conn *c);

/* Time spent in each state (microseconds), from the history, the
 * current state counted until end_ns. */
void lifecycle_state_times(const struct tw_conn *c, uint64_t end_ns,
			   uint64_t ret_us[TW_TCP_MAX_STATES]);

#endif
