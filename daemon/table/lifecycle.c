#include <errno.h>

#include "lifecycle.h"

const char *lifecycle_role_name(uint8_t role)
{
	switch (role) {
	case TW_ROLE_ACTIVE:
		return "active";
	case TW_ROLE_PASSIVE:
		return "passive";
	case TW_ROLE_LISTENER:
		return "listener";
	}
	return "unknown";
}

const char *lifecycle_closer_name(uint8_t closer)
{
	switch (closer) {
	case TW_CLOSER_LOCAL:
		return "local";
	case TW_CLOSER_PEER:
		return "peer";
	case TW_CLOSER_SIMULTANEOUS:
		return "simultaneous";
	}
	return NULL;
}

static const char *const end_names[TW_END_MAX] = {
	[TW_END_CLOSED_BY_LOCAL] = "closed_by_local",
	[TW_END_CLOSED_BY_PEER] = "closed_by_peer",
	[TW_END_SIMULTANEOUS] = "simultaneous_close",
	[TW_END_RESET_SENT] = "reset_sent",
	[TW_END_RESET_RECEIVED] = "reset_received",
	[TW_END_REFUSED] = "refused",
	[TW_END_CONNECT_TIMEOUT] = "connect_timeout",
	[TW_END_CONNECT_ABORTED] = "connect_aborted",
	[TW_END_SYN_RECV_ABORTED] = "syn_recv_aborted",
	[TW_END_TIMEOUT] = "timeout",
	[TW_END_ABORTED] = "aborted",
	[TW_END_LISTENER_CLOSED] = "listener_closed",
	[TW_END_VANISHED] = "vanished",
};

const char *lifecycle_end_name(uint8_t reason)
{
	return reason < TW_END_MAX ? end_names[reason] : NULL;
}

static uint64_t syn_sent_time(const struct tw_conn *c)
{
	/* The latest attempt: a socket may connect() again after a failure.
	 * It is among the latest entries, or the first ones: never dropped. */
	for (uint16_t i = c->hist_len; i > 0; i--) {
		struct tw_hist h = conn_hist(c, i - 1u);

		if (h.kind == TW_HIST_STATE && h.to == TW_TCP_SYN_SENT)
			return h.time_ns;
	}
	return 0;
}

static uint8_t orderly_end(const struct tw_conn *c)
{
	switch (c->closed_first) {
	case TW_CLOSER_LOCAL:
		return TW_END_CLOSED_BY_LOCAL;
	case TW_CLOSER_PEER:
		return TW_END_CLOSED_BY_PEER;
	case TW_CLOSER_SIMULTANEOUS:
		return TW_END_SIMULTANEOUS;
	}
	return TW_END_ABORTED;
}

static uint8_t end_at_close(const struct tw_conn *c, uint8_t from, int32_t sk_err)
{
	if (from == TW_TCP_LISTEN)
		return TW_END_LISTENER_CLOSED;
	if (from == TW_TCP_SYN_SENT) {
		if (sk_err == ECONNREFUSED || c->resets_received)
			return TW_END_REFUSED;
		if (sk_err == ETIMEDOUT || c->syn_retransmits)
			return TW_END_CONNECT_TIMEOUT;
		return TW_END_CONNECT_ABORTED;
	}
	if (c->resets_received || sk_err == ECONNRESET || sk_err == EPIPE)
		return TW_END_RESET_RECEIVED;
	if (sk_err == ETIMEDOUT)
		return TW_END_TIMEOUT;
	if (c->resets_sent)
		return TW_END_RESET_SENT;
	if (from == TW_TCP_SYN_RECV)
		return TW_END_SYN_RECV_ABORTED;
	/* LAST_ACK -> CLOSE: the peer acknowledged our FIN; orderly.
	 * FIN_WAIT2/CLOSING -> TIME_WAIT is handled by the caller. */
	if (from == TW_TCP_LAST_ACK || from == TW_TCP_TIME_WAIT || from == TW_TCP_FIN_WAIT2 ||
	    from == TW_TCP_CLOSING)
		return orderly_end(c);
	/* ESTABLISHED, CLOSE_WAIT, FIN_WAIT1 -> CLOSE without error: an
	 * abort on our side; the RST it sends follows (reset_sent). */
	return TW_END_ABORTED;
}

void lifecycle_on_transition(struct tw_conn *c, uint8_t from, uint8_t to, uint64_t time_ns,
			     int32_t sk_err, uint32_t srtt_us)
{
	if (from == TW_TCP_CLOSE && to == TW_TCP_SYN_SENT) {
		/* A new attempt: what ended an earlier one on this socket
		 * must not decide how this one ends. */
		c->role = TW_ROLE_ACTIVE;
		c->resets_sent = c->resets_received = 0;
		c->syn_retransmits = 0;
		c->closed_first = TW_CLOSER_UNKNOWN;
		c->handshake_us = 0;
		c->flags &= ~TW_CONN_HANDSHAKE_SRTT;
	} else if (from == TW_TCP_LISTEN && to == TW_TCP_SYN_RECV)
		c->role = TW_ROLE_PASSIVE;
	else if (to == TW_TCP_LISTEN)
		c->role = TW_ROLE_LISTENER;

	if (to == TW_TCP_ESTABLISHED && from == TW_TCP_SYN_SENT) {
		uint64_t t0 = syn_sent_time(c);

		if (t0 && time_ns > t0)
			c->handshake_us = (uint32_t)((time_ns - t0 + 999) / 1000);
	} else if (to == TW_TCP_ESTABLISHED && from == TW_TCP_SYN_RECV && srtt_us) {
		/* The child's SYN_RECV lasted no time: the kernel made it
		 * when the ACK came. The SYN-ACK->ACK time is its first RTT. */
		c->handshake_us = srtt_us;
		c->flags |= TW_CONN_HANDSHAKE_SRTT;
	}

	if (!c->closed_first) {
		if (to == TW_TCP_FIN_WAIT1)
			c->closed_first = TW_CLOSER_LOCAL;
		else if (to == TW_TCP_CLOSE_WAIT)
			c->closed_first = TW_CLOSER_PEER;
	}
	if (from == TW_TCP_FIN_WAIT1 && to == TW_TCP_CLOSING)
		c->closed_first = TW_CLOSER_SIMULTANEOUS;

	if (to == TW_TCP_TIME_WAIT)
		c->end_reason = orderly_end(c);
	else if (to == TW_TCP_CLOSE && !c->end_reason)
		c->end_reason = end_at_close(c, from, sk_err);
	else if (to != TW_TCP_CLOSE)
		c->end_reason = TW_END_NONE; /* a closed socket reused by connect() */
}

void lifecycle_on_reset_sent(struct tw_conn *c)
{
	/* tcp_disconnect() moves to CLOSE first, then sends the RST. */
	/* Only an abort is explained by it: a TIME_WAIT minisocket (same
	 * cookie) answering a stray segment with RST ended nothing. */
	if (c->end_reason == TW_END_ABORTED || c->end_reason == TW_END_SYN_RECV_ABORTED)
		c->end_reason = TW_END_RESET_SENT;
}

void lifecycle_on_vanished(struct tw_conn *c)
{
	if (!c->end_reason)
		c->end_reason = TW_END_VANISHED;
}

void lifecycle_state_times(const struct tw_conn *c, uint64_t end_ns,
			   uint64_t ret_us[TW_TCP_MAX_STATES])
{
	uint64_t since = 0;
	uint8_t state = 0;

	for (int i = 0; i < TW_TCP_MAX_STATES; i++)
		ret_us[i] = 0;
	for (uint16_t i = 0; i < c->hist_len; i++) {
		struct tw_hist h = conn_hist(c, i);

		if (h.kind != TW_HIST_STATE)
			continue;
		if (state && h.time_ns >= since && state < TW_TCP_MAX_STATES)
			ret_us[state] += (h.time_ns - since) / 1000;
		state = h.to;
		since = h.time_ns;
	}
	if (state && state != TW_TCP_CLOSE && end_ns >= since && state < TW_TCP_MAX_STATES)
		ret_us[state] += (end_ns - since) / 1000;
}
