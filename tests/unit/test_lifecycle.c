/* Unit tests for daemon/lifecycle.c: role, handshake time, who closed
 * first, every end reason and the time spent per state, driven through
 * daemon/events.c with made-up BPF events as the daemon would see them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "events.h"
#include "lifecycle.h"
#include "tcpwatch.h"

#define NETNS 4026531840u
#define SEC   1000000000ull
#define MS    1000000ull
#define T0    (100 * SEC)

struct fixture {
	struct tw_conntable *t;
	struct tw_event_stats st;
};

static const struct tw_conntable_limits limits = {
	.max_live = 1000,
	.retain_count = 1000,
	.retain_age_ns = 3600 * SEC,
	.history_max = 64,
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->t = conntable_new(&limits);
	if (!f->t) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	conntable_free(f->t);
	free(f);
	return 0;
}

/* An event for an IPv4 client 10.0.0.1:40000 -> 10.0.0.2:80. */
static struct tw_event event(uint8_t kind, uint64_t cookie, uint64_t time_ns)
{
	struct tw_event e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.time_ns = time_ns;
	e.cookie = cookie;
	e.netns = NETNS;
	e.family = AF_INET;
	e.sport = 40000;
	e.dport = 80;
	assert_int_equal(inet_pton(AF_INET, "10.0.0.1", e.saddr), 1);
	assert_int_equal(inet_pton(AF_INET, "10.0.0.2", e.daddr), 1);
	return e;
}

static struct tw_conn *apply(struct fixture *f, const struct tw_event *e)
{
	struct tw_conn *c;

	events_apply(f->t, e, &f->st);
	c = conntable_get(f->t, e->cookie);
	assert_non_null(c);
	return c;
}

static struct tw_conn *transition(struct fixture *f, uint64_t cookie, uint64_t time_ns,
				  uint8_t from, uint8_t to, int32_t sk_err)
{
	struct tw_event e = event(TCPWATCH_EV_STATE, cookie, time_ns);

	e.oldstate = from;
	e.newstate = to;
	e.sk_err = sk_err;
	return apply(f, &e);
}

static struct tw_conn *other(struct fixture *f, uint8_t kind, uint64_t cookie, uint64_t time_ns,
			     uint8_t state_now)
{
	struct tw_event e = event(kind, cookie, time_ns);

	e.oldstate = state_now;
	return apply(f, &e);
}

/* connect() that got to ESTABLISHED: SYN_SENT at T0, ESTABLISHED 1 ms later. */
static struct tw_conn *connected(struct fixture *f, uint64_t cookie)
{
	transition(f, cookie, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	return transition(f, cookie, T0 + MS, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 0);
}

/* A listener on 0.0.0.0:port owned by pid 4242 "server". */
static struct tw_conn *listener(struct fixture *f, uint64_t cookie, uint16_t port)
{
	struct tw_event e = event(TCPWATCH_EV_STATE, cookie, T0 - SEC);

	e.oldstate = TW_TCP_CLOSE;
	e.newstate = TW_TCP_LISTEN;
	e.sport = port;
	e.dport = 0;
	memset(e.saddr, 0, sizeof(e.saddr));
	memset(e.daddr, 0, sizeof(e.daddr));
	e.has_task = 1;
	e.pid = 4242;
	memcpy(e.comm, "server", 7);
	return apply(f, &e);
}

/* The kernel's child of a listener on port: LISTEN -> SYN_RECV, from
 * 10.0.0.9:50000 to 10.0.0.1:port. */
static struct tw_conn *accepted_child(struct fixture *f, uint64_t cookie, uint16_t port,
				      uint64_t time_ns)
{
	struct tw_event e = event(TCPWATCH_EV_STATE, cookie, time_ns);

	e.oldstate = TW_TCP_LISTEN;
	e.newstate = TW_TCP_SYN_RECV;
	e.sport = port;
	e.dport = 50000;
	assert_int_equal(inet_pton(AF_INET, "10.0.0.9", e.daddr), 1);
	return apply(f, &e);
}

static void assert_end(const struct tw_conn *c, uint8_t reason, const char *name)
{
	assert_int_equal(c->end_reason, reason);
	assert_string_equal(lifecycle_end_name(c->end_reason), name);
}

/* --- names --- */

static void test_names(void **state)
{
	static const char *const ends[] = {
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

	(void)state;
	assert_string_equal(lifecycle_role_name(TW_ROLE_UNKNOWN), "unknown");
	assert_string_equal(lifecycle_role_name(TW_ROLE_ACTIVE), "active");
	assert_string_equal(lifecycle_role_name(TW_ROLE_PASSIVE), "passive");
	assert_string_equal(lifecycle_role_name(TW_ROLE_LISTENER), "listener");
	assert_string_equal(lifecycle_role_name(200), "unknown");

	assert_null(lifecycle_closer_name(TW_CLOSER_UNKNOWN));
	assert_string_equal(lifecycle_closer_name(TW_CLOSER_LOCAL), "local");
	assert_string_equal(lifecycle_closer_name(TW_CLOSER_PEER), "peer");
	assert_string_equal(lifecycle_closer_name(TW_CLOSER_SIMULTANEOUS), "simultaneous");
	assert_null(lifecycle_closer_name(200));

	assert_null(lifecycle_end_name(TW_END_NONE));
	for (int r = TW_END_NONE + 1; r < TW_END_MAX; r++) {
		assert_non_null(lifecycle_end_name((uint8_t)r));
		assert_string_equal(lifecycle_end_name((uint8_t)r), ends[r]);
	}
	assert_null(lifecycle_end_name(TW_END_MAX));
	assert_null(lifecycle_end_name(255));
}

/* --- orderly closes --- */

static void test_closed_by_local(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 1);

	assert_int_equal(c->end_reason, TW_END_NONE);
	assert_int_equal(c->closed_first, TW_CLOSER_UNKNOWN);
	c = transition(f, 1, T0 + SEC, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 0);
	assert_int_equal(c->closed_first, TW_CLOSER_LOCAL);
	assert_int_equal(c->end_reason, TW_END_NONE);
	c = transition(f, 1, T0 + 2 * SEC, TW_TCP_FIN_WAIT1, TW_TCP_FIN_WAIT2, 0);
	assert_int_equal(c->end_reason, TW_END_NONE);
	c = transition(f, 1, T0 + 3 * SEC, TW_TCP_FIN_WAIT2, TW_TCP_CLOSE, 0);

	/* the full socket's CLOSE is the hand-over to a timewait socket */
	assert_int_equal(c->state, TW_TCP_TIME_WAIT);
	assert_true(c->flags & TW_CONN_TW_DERIVED);
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_int_equal(c->closed_first, TW_CLOSER_LOCAL);
	assert_string_equal(lifecycle_closer_name(c->closed_first), "local");
	assert_end(c, TW_END_CLOSED_BY_LOCAL, "closed_by_local");
	assert_int_equal(c->role, TW_ROLE_ACTIVE);
	assert_int_equal(conn_hist(c, c->hist_len - 1).to, TW_TCP_TIME_WAIT);
}

static void test_closed_by_peer(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 2);

	c = transition(f, 2, T0 + SEC, TW_TCP_ESTABLISHED, TW_TCP_CLOSE_WAIT, 0);
	assert_int_equal(c->closed_first, TW_CLOSER_PEER);
	assert_int_equal(c->end_reason, TW_END_NONE);
	c = transition(f, 2, T0 + 2 * SEC, TW_TCP_CLOSE_WAIT, TW_TCP_LAST_ACK, 0);
	assert_int_equal(c->closed_first, TW_CLOSER_PEER);
	assert_int_equal(c->end_reason, TW_END_NONE);
	c = transition(f, 2, T0 + 3 * SEC, TW_TCP_LAST_ACK, TW_TCP_CLOSE, 0);

	assert_int_equal(c->state, TW_TCP_CLOSE);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_int_equal(c->closed_first, TW_CLOSER_PEER);
	assert_string_equal(lifecycle_closer_name(c->closed_first), "peer");
	assert_end(c, TW_END_CLOSED_BY_PEER, "closed_by_peer");
}

static void test_simultaneous_close(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 3);

	c = transition(f, 3, T0 + SEC, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 0);
	assert_int_equal(c->closed_first, TW_CLOSER_LOCAL);
	c = transition(f, 3, T0 + 2 * SEC, TW_TCP_FIN_WAIT1, TW_TCP_CLOSING, 0);
	assert_int_equal(c->closed_first, TW_CLOSER_SIMULTANEOUS);
	assert_int_equal(c->end_reason, TW_END_NONE);
	c = transition(f, 3, T0 + 3 * SEC, TW_TCP_CLOSING, TW_TCP_CLOSE, 0);

	assert_int_equal(c->state, TW_TCP_TIME_WAIT);
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_string_equal(lifecycle_closer_name(c->closed_first), "simultaneous");
	assert_end(c, TW_END_SIMULTANEOUS, "simultaneous_close");
}

/* --- resets --- */

static void test_reset_sent(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 4);

	/* tcp_disconnect(): CLOSE first, no error, then the RST */
	c = transition(f, 4, T0 + SEC, TW_TCP_ESTABLISHED, TW_TCP_CLOSE, 0);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_end(c, TW_END_ABORTED, "aborted");
	c = other(f, TCPWATCH_EV_RESET_SENT, 4, T0 + SEC + 1000, TW_TCP_CLOSE);
	assert_int_equal(c->resets_sent, 1);
	assert_end(c, TW_END_RESET_SENT, "reset_sent");
	assert_int_equal(f->st.unmatched, 0);
}

static void test_reset_sent_from_close_wait(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 5);

	/* close() with unread data in CLOSE_WAIT aborts with a RST */
	transition(f, 5, T0 + SEC, TW_TCP_ESTABLISHED, TW_TCP_CLOSE_WAIT, 0);
	c = transition(f, 5, T0 + 2 * SEC, TW_TCP_CLOSE_WAIT, TW_TCP_CLOSE, 0);
	assert_end(c, TW_END_ABORTED, "aborted");
	c = other(f, TCPWATCH_EV_RESET_SENT, 5, T0 + 2 * SEC, TW_TCP_CLOSE);
	assert_end(c, TW_END_RESET_SENT, "reset_sent");
	assert_int_equal(c->closed_first, TW_CLOSER_PEER);
}

static void test_reset_sent_does_not_override_other_reasons(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 6);

	/* a RST sent after a timeout does not change why it ended */
	c = transition(f, 6, T0 + SEC, TW_TCP_ESTABLISHED, TW_TCP_CLOSE, ETIMEDOUT);
	assert_end(c, TW_END_TIMEOUT, "timeout");
	c = other(f, TCPWATCH_EV_RESET_SENT, 6, T0 + SEC, TW_TCP_CLOSE);
	assert_end(c, TW_END_TIMEOUT, "timeout");
}

static void test_reset_received(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 7);

	c = other(f, TCPWATCH_EV_RESET_RECEIVED, 7, T0 + SEC, TW_TCP_ESTABLISHED);
	assert_int_equal(c->resets_received, 1);
	assert_int_equal(c->end_reason, TW_END_NONE);
	c = transition(f, 7, T0 + SEC + 10, TW_TCP_ESTABLISHED, TW_TCP_CLOSE, ECONNRESET);
	assert_int_equal(c->state, TW_TCP_CLOSE);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_end(c, TW_END_RESET_RECEIVED, "reset_received");
}

static void test_reset_received_error_only(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 8);

	/* no RST event seen (lost), but the socket error says so */
	c = transition(f, 8, T0 + SEC, TW_TCP_ESTABLISHED, TW_TCP_CLOSE, ECONNRESET);
	assert_end(c, TW_END_RESET_RECEIVED, "reset_received");

	/* a RST while closing from FIN_WAIT2 is no TIME_WAIT */
	connected(f, 9);
	transition(f, 9, T0 + SEC, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 0);
	transition(f, 9, T0 + 2 * SEC, TW_TCP_FIN_WAIT1, TW_TCP_FIN_WAIT2, 0);
	other(f, TCPWATCH_EV_RESET_RECEIVED, 9, T0 + 3 * SEC, TW_TCP_FIN_WAIT2);
	c = transition(f, 9, T0 + 3 * SEC + 5, TW_TCP_FIN_WAIT2, TW_TCP_CLOSE, 0);
	assert_int_equal(c->state, TW_TCP_CLOSE);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_end(c, TW_END_RESET_RECEIVED, "reset_received");
}

/* --- connect failures --- */

static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;

	c = transition(f, 10, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	assert_int_equal(c->role, TW_ROLE_ACTIVE);
	c = transition(f, 10, T0 + 100, TW_TCP_SYN_SENT, TW_TCP_CLOSE, ECONNREFUSED);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_end(c, TW_END_REFUSED, "refused");
	assert_int_equal(c->handshake_us, 0);
	assert_int_equal(c->closed_first, TW_CLOSER_UNKNOWN);

	/* the RST seen as an event, the error lost */
	transition(f, 11, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	other(f, TCPWATCH_EV_RESET_RECEIVED, 11, T0 + 50, TW_TCP_SYN_SENT);
	c = transition(f, 11, T0 + 100, TW_TCP_SYN_SENT, TW_TCP_CLOSE, 0);
	assert_end(c, TW_END_REFUSED, "refused");
}

static void test_connect_timeout(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = NULL;

	transition(f, 12, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	for (int i = 1; i <= 3; i++)
		c = other(f, TCPWATCH_EV_RETRANSMIT, 12, T0 + (uint64_t)i * SEC, TW_TCP_SYN_SENT);
	assert_int_equal(c->syn_retransmits, 3);
	assert_int_equal(c->retransmits, 3);
	assert_int_equal(c->end_reason, TW_END_NONE);
	c = transition(f, 12, T0 + 10 * SEC, TW_TCP_SYN_SENT, TW_TCP_CLOSE, ETIMEDOUT);
	assert_end(c, TW_END_CONNECT_TIMEOUT, "connect_timeout");
	assert_int_equal(c->syn_retransmits, 3);

	/* retransmitted SYNs without the error still mean a timeout */
	transition(f, 13, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	other(f, TCPWATCH_EV_RETRANSMIT, 13, T0 + SEC, TW_TCP_SYN_SENT);
	c = transition(f, 13, T0 + 2 * SEC, TW_TCP_SYN_SENT, TW_TCP_CLOSE, 0);
	assert_int_equal(c->syn_retransmits, 1);
	assert_end(c, TW_END_CONNECT_TIMEOUT, "connect_timeout");

	/* retransmits of data are not SYN retransmits */
	connected(f, 14);
	c = other(f, TCPWATCH_EV_RETRANSMIT, 14, T0 + SEC, TW_TCP_ESTABLISHED);
	assert_int_equal(c->retransmits, 1);
	assert_int_equal(c->syn_retransmits, 0);
}

static void test_connect_aborted(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;

	/* close() on a non-blocking connect in progress */
	transition(f, 15, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	c = transition(f, 15, T0 + 100, TW_TCP_SYN_SENT, TW_TCP_CLOSE, 0);
	assert_end(c, TW_END_CONNECT_ABORTED, "connect_aborted");
}

/* --- other ends --- */

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 16);

	for (int i = 1; i <= 5; i++)
		other(f, TCPWATCH_EV_RETRANSMIT, 16, T0 + (uint64_t)i * SEC, TW_TCP_ESTABLISHED);
	c = transition(f, 16, T0 + 60 * SEC, TW_TCP_ESTABLISHED, TW_TCP_CLOSE, ETIMEDOUT);
	assert_end(c, TW_END_TIMEOUT, "timeout");
	assert_int_equal(c->syn_retransmits, 0);
	assert_int_equal(c->retransmits, 5);
}

static void test_aborted(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 17);

	c = transition(f, 17, T0 + SEC, TW_TCP_ESTABLISHED, TW_TCP_CLOSE, 0);
	assert_end(c, TW_END_ABORTED, "aborted");
}

static void test_syn_recv_aborted(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;

	listener(f, 100, 8080);
	c = accepted_child(f, 18, 8080, T0);
	assert_int_equal(c->role, TW_ROLE_PASSIVE);
	c = transition(f, 18, T0 + SEC, TW_TCP_SYN_RECV, TW_TCP_CLOSE, 0);
	assert_end(c, TW_END_SYN_RECV_ABORTED, "syn_recv_aborted");
	/* a RST that follows makes it reset_sent */
	c = other(f, TCPWATCH_EV_RESET_SENT, 18, T0 + SEC, TW_TCP_CLOSE);
	assert_end(c, TW_END_RESET_SENT, "reset_sent");
}

static void test_listener_closed(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = listener(f, 101, 9090);

	assert_int_equal(c->role, TW_ROLE_LISTENER);
	assert_string_equal(lifecycle_role_name(c->role), "listener");
	assert_int_equal(c->end_reason, TW_END_NONE);
	c = transition(f, 101, T0 + SEC, TW_TCP_LISTEN, TW_TCP_CLOSE, 0);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_int_equal(c->role, TW_ROLE_LISTENER);
	assert_end(c, TW_END_LISTENER_CLOSED, "listener_closed");
}

static void test_vanished(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = connected(f, 19);

	lifecycle_on_vanished(c);
	assert_end(c, TW_END_VANISHED, "vanished");

	/* a connection that already ended keeps its reason */
	transition(f, 20, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	c = transition(f, 20, T0 + 1, TW_TCP_SYN_SENT, TW_TCP_CLOSE, ECONNREFUSED);
	lifecycle_on_vanished(c);
	assert_end(c, TW_END_REFUSED, "refused");
}

static void test_end_reason_kept_after_close(void **state)
{
	struct tw_conn c;

	(void)state;
	/* Direct calls, no table: a second CLOSE does not rewrite the reason. */
	memset(&c, 0, sizeof(c));
	lifecycle_on_transition(&c, TW_TCP_SYN_SENT, TW_TCP_CLOSE, T0, ECONNREFUSED, 0);
	assert_int_equal(c.end_reason, TW_END_REFUSED);
	lifecycle_on_transition(&c, TW_TCP_ESTABLISHED, TW_TCP_CLOSE, T0 + 1, ETIMEDOUT, 0);
	assert_int_equal(c.end_reason, TW_END_REFUSED);
	/* and a reset sent does not turn a refusal into reset_sent */
	lifecycle_on_reset_sent(&c);
	assert_int_equal(c.end_reason, TW_END_REFUSED);
}

/* --- roles --- */

static void test_role_active(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = transition(f, 21, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);

	assert_int_equal(c->role, TW_ROLE_ACTIVE);
	assert_string_equal(lifecycle_role_name(c->role), "active");
	assert_int_equal(c->listener_cookie, 0);
	c = transition(f, 21, T0 + MS, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 0);
	assert_int_equal(c->role, TW_ROLE_ACTIVE);
}

static void test_role_passive_with_listener(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *l = listener(f, 102, 8443);
	struct tw_conn *c;

	assert_int_equal(l->role, TW_ROLE_LISTENER);
	c = accepted_child(f, 22, 8443, T0);
	assert_int_equal(c->role, TW_ROLE_PASSIVE);
	assert_string_equal(lifecycle_role_name(c->role), "passive");
	assert_int_equal(c->listener_cookie, 102);
	/* owned by the listener's process until accept() */
	assert_true(c->flags & TW_CONN_HAS_TASK);
	assert_true(c->flags & TW_CONN_OWNER_LISTENER);
	assert_int_equal(c->pid, 4242);
	assert_string_equal(c->comm, "server");
	c = transition(f, 22, T0 + MS, TW_TCP_SYN_RECV, TW_TCP_ESTABLISHED, 0);
	assert_int_equal(c->role, TW_ROLE_PASSIVE);
	assert_int_equal(c->listener_cookie, 102);
}

static void test_role_passive_without_listener(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;

	/* a listener on another port, and one in another netns */
	listener(f, 103, 7000);
	c = accepted_child(f, 23, 7001, T0);
	assert_int_equal(c->role, TW_ROLE_PASSIVE);
	assert_int_equal(c->listener_cookie, 0);
	assert_false(c->flags & TW_CONN_HAS_TASK);

	{
		struct tw_event e = event(TCPWATCH_EV_STATE, 24, T0);

		e.oldstate = TW_TCP_LISTEN;
		e.newstate = TW_TCP_SYN_RECV;
		e.sport = 7000;
		e.netns = NETNS + 1;
		c = apply(f, &e);
	}
	assert_int_equal(c->role, TW_ROLE_PASSIVE);
	assert_int_equal(c->listener_cookie, 0);
}

/* --- handshake --- */

static void test_handshake_active(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;
	struct tw_event e;

	/* 1.5 us is reported as 2 us: rounded up */
	transition(f, 25, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	c = transition(f, 25, T0 + 1500, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 0);
	assert_int_equal(c->handshake_us, 2);
	assert_false(c->flags & TW_CONN_HANDSHAKE_SRTT);

	/* a whole number of microseconds stays as it is */
	transition(f, 26, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	c = transition(f, 26, T0 + 3000, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 0);
	assert_int_equal(c->handshake_us, 3);

	/* 1 ns is 1 us; 250 ms is 250000 us; the event's srtt is not used */
	transition(f, 27, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	c = transition(f, 27, T0 + 1, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 0);
	assert_int_equal(c->handshake_us, 1);
	transition(f, 28, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	e = event(TCPWATCH_EV_STATE, 28, T0 + 250 * MS);
	e.oldstate = TW_TCP_SYN_SENT;
	e.newstate = TW_TCP_ESTABLISHED;
	e.value = 777;
	c = apply(f, &e);
	assert_int_equal(c->handshake_us, 250000);
	assert_false(c->flags & TW_CONN_HANDSHAKE_SRTT);
}

static void test_handshake_passive(void **state)
{
	struct fixture *f = *state;
	struct tw_event e;
	struct tw_conn *c;

	listener(f, 104, 8081);
	accepted_child(f, 29, 8081, T0);
	e = event(TCPWATCH_EV_STATE, 29, T0);
	e.oldstate = TW_TCP_SYN_RECV;
	e.newstate = TW_TCP_ESTABLISHED;
	e.sport = 8081;
	e.dport = 50000;
	e.value = 345;
	c = apply(f, &e);
	assert_int_equal(c->handshake_us, 345);
	assert_true(c->flags & TW_CONN_HANDSHAKE_SRTT);
	assert_int_equal(c->role, TW_ROLE_PASSIVE);

	/* no sample: unknown, not 0 us measured */
	accepted_child(f, 30, 8081, T0);
	c = transition(f, 30, T0 + 5000, TW_TCP_SYN_RECV, TW_TCP_ESTABLISHED, 0);
	assert_int_equal(c->handshake_us, 0);
	assert_false(c->flags & TW_CONN_HANDSHAKE_SRTT);
}

/* --- state times --- */

static void test_state_times_open(void **state)
{
	struct fixture *f = *state;
	uint64_t us[TW_TCP_MAX_STATES];
	uint64_t t = T0;
	struct tw_conn *c;

	transition(f, 31, t, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	t += 2 * MS;
	transition(f, 31, t, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 0);
	/* non-state entries do not split the ESTABLISHED time */
	other(f, TCPWATCH_EV_RETRANSMIT, 31, t + SEC, TW_TCP_ESTABLISHED);
	t += 5 * SEC;
	transition(f, 31, t, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 0);
	t += 100 * MS;
	c = transition(f, 31, t, TW_TCP_FIN_WAIT1, TW_TCP_FIN_WAIT2, 0);

	/* FIN_WAIT2 is current: counted until end_ns */
	lifecycle_state_times(c, t + 7 * SEC + 999, us);
	assert_int_equal(us[TW_TCP_SYN_SENT], 2000);
	assert_int_equal(us[TW_TCP_ESTABLISHED], 5000000);
	assert_int_equal(us[TW_TCP_FIN_WAIT1], 100000);
	assert_int_equal(us[TW_TCP_FIN_WAIT2], 7000000);
	assert_int_equal(us[TW_TCP_CLOSE], 0);
	assert_int_equal(us[TW_TCP_TIME_WAIT], 0);
	assert_int_equal(us[TW_TCP_UNKNOWN], 0);
	assert_int_equal(us[TW_TCP_LISTEN], 0);

	/* later, more of the current state and nothing else changes */
	lifecycle_state_times(c, t + 9 * SEC, us);
	assert_int_equal(us[TW_TCP_FIN_WAIT2], 9000000);
	assert_int_equal(us[TW_TCP_ESTABLISHED], 5000000);

	/* then TIME_WAIT, derived from the close */
	c = transition(f, 31, t + 10 * SEC, TW_TCP_FIN_WAIT2, TW_TCP_CLOSE, 0);
	assert_int_equal(c->state, TW_TCP_TIME_WAIT);
	lifecycle_state_times(c, t + 40 * SEC, us);
	assert_int_equal(us[TW_TCP_FIN_WAIT2], 10000000);
	assert_int_equal(us[TW_TCP_TIME_WAIT], 30000000);
	assert_int_equal(us[TW_TCP_SYN_SENT], 2000);
}

static void test_state_times_closed(void **state)
{
	struct fixture *f = *state;
	uint64_t us[TW_TCP_MAX_STATES];
	struct tw_conn *c = connected(f, 32);

	c = transition(f, 32, T0 + MS + 3 * SEC, TW_TCP_ESTABLISHED, TW_TCP_CLOSE_WAIT, 0);
	c = transition(f, 32, T0 + MS + 4 * SEC, TW_TCP_CLOSE_WAIT, TW_TCP_LAST_ACK, 0);
	c = transition(f, 32, T0 + MS + 4 * SEC + 20 * MS, TW_TCP_LAST_ACK, TW_TCP_CLOSE, 0);

	/* CLOSE is the end: it is not counted, however late end_ns is */
	lifecycle_state_times(c, T0 + 1000 * SEC, us);
	assert_int_equal(us[TW_TCP_SYN_SENT], 1000);
	assert_int_equal(us[TW_TCP_ESTABLISHED], 3000000);
	assert_int_equal(us[TW_TCP_CLOSE_WAIT], 1000000);
	assert_int_equal(us[TW_TCP_LAST_ACK], 20000);
	assert_int_equal(us[TW_TCP_CLOSE], 0);
}

static void test_state_times_empty(void **state)
{
	struct tw_conn c;
	uint64_t us[TW_TCP_MAX_STATES];

	(void)state;
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < TW_TCP_MAX_STATES; i++)
		us[i] = 12345;
	lifecycle_state_times(&c, T0, us);
	for (int i = 0; i < TW_TCP_MAX_STATES; i++)
		assert_int_equal(us[i], 0);
}

/* --- a closed socket used again --- */

static void test_reuse_after_refused(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;

	transition(f, 33, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	c = transition(f, 33, T0 + MS, TW_TCP_SYN_SENT, TW_TCP_CLOSE, ECONNREFUSED);
	assert_end(c, TW_END_REFUSED, "refused");
	assert_true(c->flags & TW_CONN_CLOSED);

	/* connect() again on the same socket */
	c = transition(f, 33, T0 + SEC, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	assert_int_equal(c->end_reason, TW_END_NONE);
	assert_null(lifecycle_end_name(c->end_reason));
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_int_equal(c->state, TW_TCP_SYN_SENT);
	assert_int_equal(c->role, TW_ROLE_ACTIVE);

	/* this time it times out */
	c = transition(f, 33, T0 + 10 * SEC, TW_TCP_SYN_SENT, TW_TCP_CLOSE, ETIMEDOUT);
	assert_end(c, TW_END_CONNECT_TIMEOUT, "connect_timeout");
}

/* The handshake of the second connect() is timed from its own SYN_SENT,
 * not from the first attempt's. */
static void test_reuse_handshake_from_latest_syn_sent(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;

	transition(f, 34, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	transition(f, 34, T0 + MS, TW_TCP_SYN_SENT, TW_TCP_CLOSE, ECONNREFUSED);
	transition(f, 34, T0 + 5 * SEC, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	c = transition(f, 34, T0 + 5 * SEC + 2 * MS, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 0);
	assert_int_equal(c->end_reason, TW_END_NONE);
	assert_int_equal(c->handshake_us, 2000);
}

/* A connection refused by RST (the kernel reports tcp_receive_reset in
 * SYN_SENT), reconnected on the same socket and then closed cleanly by us
 * ends closed_by_local in TIME_WAIT: the old attempt's RST is no part of
 * the new connection's life. */
static void test_reuse_forgets_previous_reset(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;

	transition(f, 35, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	other(f, TCPWATCH_EV_RESET_RECEIVED, 35, T0 + MS, TW_TCP_SYN_SENT);
	c = transition(f, 35, T0 + MS, TW_TCP_SYN_SENT, TW_TCP_CLOSE, ECONNREFUSED);
	assert_end(c, TW_END_REFUSED, "refused");

	transition(f, 35, T0 + SEC, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	transition(f, 35, T0 + SEC + MS, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 0);
	transition(f, 35, T0 + 2 * SEC, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 0);
	transition(f, 35, T0 + 3 * SEC, TW_TCP_FIN_WAIT1, TW_TCP_FIN_WAIT2, 0);
	c = transition(f, 35, T0 + 4 * SEC, TW_TCP_FIN_WAIT2, TW_TCP_CLOSE, 0);
	assert_int_equal(c->state, TW_TCP_TIME_WAIT);
	assert_end(c, TW_END_CLOSED_BY_LOCAL, "closed_by_local");
}

/* Same with a timed-out first attempt: the second, closed by the
 * application before any SYN was retransmitted, is connect_aborted, not
 * a connect timeout. */
static void test_reuse_forgets_previous_syn_retransmits(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;

	transition(f, 36, T0, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	other(f, TCPWATCH_EV_RETRANSMIT, 36, T0 + SEC, TW_TCP_SYN_SENT);
	c = transition(f, 36, T0 + 3 * SEC, TW_TCP_SYN_SENT, TW_TCP_CLOSE, ETIMEDOUT);
	assert_end(c, TW_END_CONNECT_TIMEOUT, "connect_timeout");

	transition(f, 36, T0 + 4 * SEC, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	/* close() before any answer, no retransmission this time */
	c = transition(f, 36, T0 + 4 * SEC + MS, TW_TCP_SYN_SENT, TW_TCP_CLOSE, 0);
	assert_end(c, TW_END_CONNECT_ABORTED, "connect_aborted");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_closed_by_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_by_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_sent_from_close_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_sent_does_not_override_other_reasons,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_received, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_received_error_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_aborted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aborted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_recv_aborted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listener_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vanished, setup, teardown),
		cmocka_unit_test(test_end_reason_kept_after_close),
		cmocka_unit_test_setup_teardown(test_role_active, setup, teardown),
		cmocka_unit_test_setup_teardown(test_role_passive_with_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_role_passive_without_listener, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_handshake_active, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_passive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_times_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_times_closed, setup, teardown),
		cmocka_unit_test(test_state_times_empty),
		cmocka_unit_test_setup_teardown(test_reuse_after_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reuse_handshake_from_latest_syn_sent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reuse_forgets_previous_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reuse_forgets_previous_syn_retransmits, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
