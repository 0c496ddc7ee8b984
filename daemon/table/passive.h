/*
 * The passive side of TCP: what events and sock_diag say about listeners,
 * their half-open (SYN) queue and their accept queue, kept in the
 * listener's record (listeners.h) and on the connections it accepts.
 *
 * A half-open connection is a request socket: the table keeps one as a
 * connection with TW_CONN_REQUEST (cookie: the request's), its history
 * the first SYN-ACK and each retransmit, indexed by 4-tuple so that the
 * child it becomes finds it. When it ends (the child came, the kernel gave
 * up, or it was reset) it leaves the table and its summary goes to the
 * listener's recent half-opens. Pure logic, no I/O.
 */
#ifndef TCPWATCH_PASSIVE_H
#define TCPWATCH_PASSIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "conntable.h"
#include "ksock.h"

/* A SYN-ACK retransmit of a listener's request socket. */
struct tw_synack {
	uint64_t time_ns;
	uint64_t listener_cookie;
	uint64_t request_cookie;
	uint64_t first_synack_ns; /* 0 = unknown */
	uint32_t next_timer_us;   /* 0 = unknown */
	uint16_t num_retrans;     /* before this one */
	uint32_t netns;
	uint8_t family;
	uint8_t local_addr[16], remote_addr[16];
	uint16_t local_port, remote_port;
};

/* The request the SYN-ACK is for, made if new; counted on the listener. */
void passive_on_synack(struct tw_conntable *t, const struct tw_synack *s);

/* A listener's child reached ESTABLISHED (total_retrans: the SYN-ACKs its
 * request resent). Its half-open life is timed, its request ended. */
void passive_on_established(struct tw_conntable *t, struct tw_conn *child, uint64_t time_ns,
			    unsigned total_retrans);

/* accept() returned child at time_ns: its wait in the accept queue. */
void passive_on_accept(struct tw_conntable *t, struct tw_conn *child, uint64_t time_ns);

/* A drop of a packet for listener l (may be NULL: counted nowhere). */
void passive_on_drop(struct tw_listener *l, unsigned reason);
/* The drop reason of an accept queue overflow (TCP_LISTEN_OVERFLOW), once
 * the names are known; -1 before. */
void passive_set_overflow_reason(int reason);

/* A request socket seen by a dump: counted in its listener's SYN queue for
 * pass gen, and indexed for its child. */
void passive_on_request_seen(struct tw_conntable *t, struct tw_conn *req, uint32_t gen,
			     uint64_t now_ns);
/* A request socket a dump showed but the table could not take (over
 * max_requests): counted in its listener's SYN queue all the same. */
void passive_on_request_untracked(struct tw_conntable *t, uint32_t netns, const struct tw_ksock *s,
				  uint32_t gen);
/* A listening socket seen by a dump: its queues now. */
void passive_on_listener_seen(struct tw_conntable *t, struct tw_conn *c, const struct tw_ksock *s,
			      uint64_t now_ns);
/* A request socket the dumps no longer show, and no child came: it
 * expired (its last timer ran out) or was reset. Leaves the table. */
void passive_request_gone(struct tw_conntable *t, struct tw_conn *req, uint64_t now_ns);
/* End of a pass: each listener's SYN queue of pass gen, and a sample of
 * both queues in its depth history. in_scope says whether a namespace was
 * dumped (a listener of another keeps its last values). */
void passive_pass_done(struct tw_conntable *t, uint32_t gen, uint64_t now_ns,
		       bool (*in_scope)(uint32_t netns, void *data), void *data);

#endif
