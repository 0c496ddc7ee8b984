/* Unit tests for daemon/events.c: BPF records, made up by hand, applied to
 * the connection table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "events.h"
#include "tcpwatch.h"

#define NETNS      4026531840u
#define CLIENT_PID 1234
#define SERVER_PID 500

static const uint8_t local_ip[16] = {127, 0, 0, 1};
static const uint8_t remote_ip[16] = {192, 0, 2, 7};

struct fixture {
	struct tw_conntable *t;
	struct tw_event_stats st;
};

static int setup(void **state)
{
	static const struct tw_conntable_limits limits = {
		.max_live = 1000,
		.retain_count = 1000,
		.retain_age_ns = UINT64_MAX / 2,
		.history_max = 32,
	};
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

/* A STATE event between two IPv4 endpoints, no task, ports given. */
static struct tw_event state_ev(uint64_t cookie, uint64_t time_ns, uint8_t from, uint8_t to,
				uint16_t sport, uint16_t dport)
{
	struct tw_event e;

	memset(&e, 0, sizeof(e));
	e.kind = TCPWATCH_EV_STATE;
	e.time_ns = time_ns;
	e.cookie = cookie;
	e.netns = NETNS;
	e.uid = 1000;
	e.family = AF_INET;
	memcpy(e.saddr, local_ip, 16);
	memcpy(e.daddr, remote_ip, 16);
	e.sport = sport;
	e.dport = dport;
	e.oldstate = from;
	e.newstate = to;
	return e;
}

static void with_task(struct tw_event *e, uint32_t pid, const char *comm)
{
	e->has_task = 1;
	e->pid = pid;
	e->tid = pid + 1;
	strncpy(e->comm, comm, sizeof(e->comm));
}

static struct tw_event other_ev(uint8_t kind, uint64_t cookie, uint64_t time_ns, uint8_t state,
				uint32_t value)
{
	struct tw_event e = state_ev(cookie, time_ns, state, 0, 40000, 80);

	e.kind = kind;
	e.value = value;
	return e;
}

static void apply(struct fixture *f, const struct tw_event *e)
{
	events_apply(f->t, e, &f->st);
}

static void assert_hist(const struct tw_hist *h, uint8_t kind, uint8_t from, uint8_t to,
			uint64_t time_ns, bool derived)
{
	assert_int_equal(h->kind, kind);
	assert_int_equal(h->from, from);
	if (kind == TW_HIST_STATE)
		assert_int_equal(h->to, to);
	assert_int_equal(h->time_ns, time_ns);
	assert_int_equal(!!(h->flags & TW_HIST_DERIVED), derived);
}

/* connect() up to ESTABLISHED: what every client test starts from. */
static struct tw_conn *client_established(struct fixture *f, uint64_t cookie)
{
	struct tw_event e = state_ev(cookie, 1000, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0, 80);

	/* connect() fires SYN_SENT in the caller's task, before the local
	 * port is chosen. */
	with_task(&e, CLIENT_PID, "curl");
	apply(f, &e);
	e = state_ev(cookie, 2000, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 40000, 80);
	apply(f, &e);
	return conntable_get(f->t, cookie);
}

static void test_client_life_to_time_wait(void **state)
{
	struct fixture *f = *state;
	struct tw_event e = state_ev(1, 1000, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0, 80);
	struct tw_conntable_stats ts;
	struct tw_conn *c;

	with_task(&e, CLIENT_PID, "curl");
	apply(f, &e);
	c = conntable_get(f->t, 1);
	assert_non_null(c);
	assert_int_equal(c->state, TW_TCP_SYN_SENT);
	assert_true(c->flags & TW_CONN_HAS_TASK);
	assert_int_equal(c->pid, CLIENT_PID);
	assert_string_equal(c->comm, "curl");
	assert_int_equal(c->first_seen_ns, 1000);
	assert_int_equal(c->local_port, 0);
	assert_int_equal(c->remote_port, 80);
	assert_int_equal(c->family, AF_INET);
	assert_int_equal(c->netns, NETNS);
	assert_int_equal(c->uid, 1000);
	assert_memory_equal(c->remote_addr, remote_ip, 16);

	/* The port is known once the SYN is out; softirq: no task. */
	e = state_ev(1, 2000, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 40000, 80);
	apply(f, &e);
	assert_int_equal(c->state, TW_TCP_ESTABLISHED);
	assert_int_equal(c->local_port, 40000);
	assert_int_equal(c->pid, CLIENT_PID); /* not wiped by a task-less event */
	assert_string_equal(c->comm, "curl");

	e = state_ev(1, 3000, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 40000, 80);
	with_task(&e, CLIENT_PID, "curl");
	apply(f, &e);
	e = state_ev(1, 3100, TW_TCP_FIN_WAIT1, TW_TCP_FIN_WAIT2, 40000, 80);
	apply(f, &e);
	assert_int_equal(c->state, TW_TCP_FIN_WAIT2);

	/* The hand-over to the timewait minisocket: the full socket is
	 * unhashed, its ports read 0. */
	e = state_ev(1, 3200, TW_TCP_FIN_WAIT2, TW_TCP_CLOSE, 0, 0);
	memset(e.saddr, 0, 16);
	memset(e.daddr, 0, 16);
	apply(f, &e);
	assert_int_equal(c->state, TW_TCP_TIME_WAIT);
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_true(c->flags & TW_CONN_TW_DERIVED);
	assert_int_equal(c->local_port, 40000);
	assert_int_equal(c->remote_port, 80);
	assert_memory_equal(c->local_addr, local_ip, 16);
	assert_memory_equal(c->remote_addr, remote_ip, 16);
	assert_int_equal(c->last_change_ns, 3200);

	assert_int_equal(c->hist_len, 5);
	assert_hist((struct tw_hist[1]){conn_hist(c, 0)}, TW_HIST_STATE, TW_TCP_CLOSE,
		    TW_TCP_SYN_SENT, 1000, false);
	assert_hist((struct tw_hist[1]){conn_hist(c, 1)}, TW_HIST_STATE, TW_TCP_SYN_SENT,
		    TW_TCP_ESTABLISHED, 2000, false);
	assert_hist((struct tw_hist[1]){conn_hist(c, 2)}, TW_HIST_STATE, TW_TCP_ESTABLISHED,
		    TW_TCP_FIN_WAIT1, 3000, false);
	assert_hist((struct tw_hist[1]){conn_hist(c, 3)}, TW_HIST_STATE, TW_TCP_FIN_WAIT1,
		    TW_TCP_FIN_WAIT2, 3100, false);
	assert_hist((struct tw_hist[1]){conn_hist(c, 4)}, TW_HIST_STATE, TW_TCP_FIN_WAIT2,
		    TW_TCP_TIME_WAIT, 3200, true);

	assert_int_equal(f->st.received, 5);
	assert_int_equal(f->st.by_kind[TCPWATCH_EV_STATE], 5);
	assert_int_equal(f->st.unmatched, 0);
	assert_int_equal(f->st.refused, 0);
	conntable_get_stats(f->t, &ts);
	assert_int_equal(ts.live, 1); /* TIME_WAIT still exists in the kernel */
	assert_int_equal(ts.retained, 0);
}

/* Simultaneous close: FINs crossed, CLOSING -> CLOSE is also a hand-over. */
static void test_closing_to_time_wait(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = client_established(f, 2);
	struct tw_event e;

	assert_non_null(c);
	e = state_ev(2, 3000, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 40000, 80);
	apply(f, &e);
	e = state_ev(2, 3100, TW_TCP_FIN_WAIT1, TW_TCP_CLOSING, 40000, 80);
	apply(f, &e);
	e = state_ev(2, 3200, TW_TCP_CLOSING, TW_TCP_CLOSE, 0, 0);
	apply(f, &e);
	assert_int_equal(c->state, TW_TCP_TIME_WAIT);
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_hist((struct tw_hist[1]){conn_hist(c, c->hist_len - 1)}, TW_HIST_STATE,
		    TW_TCP_CLOSING, TW_TCP_TIME_WAIT, 3200, true);
}

static void assert_retired(struct fixture *f, struct tw_conn *c, uint8_t from, uint64_t time_ns)
{
	struct tw_conntable_stats ts;

	assert_int_equal(c->state, TW_TCP_CLOSE);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_false(c->flags & TW_CONN_TW_DERIVED);
	assert_int_equal(conn_closed_ns(c), time_ns);
	assert_hist((struct tw_hist[1]){conn_hist(c, c->hist_len - 1)}, TW_HIST_STATE, from,
		    TW_TCP_CLOSE, time_ns, false);
	conntable_get_stats(f->t, &ts);
	assert_int_equal(ts.live, 0);
	assert_int_equal(ts.retained, 1);
}

static void test_close_with_error_retires(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = client_established(f, 3);
	struct tw_event e;

	e = state_ev(3, 3000, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 40000, 80);
	apply(f, &e);
	e = state_ev(3, 3100, TW_TCP_FIN_WAIT1, TW_TCP_FIN_WAIT2, 40000, 80);
	apply(f, &e);
	e = state_ev(3, 3200, TW_TCP_FIN_WAIT2, TW_TCP_CLOSE, 0, 0);
	e.sk_err = ETIMEDOUT;
	apply(f, &e);
	assert_retired(f, c, TW_TCP_FIN_WAIT2, 3200);
	assert_int_equal(c->local_port, 40000); /* kept from before */
}

static void test_close_after_reset_received_retires(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = client_established(f, 4);
	struct tw_event e;

	e = state_ev(4, 3000, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 40000, 80);
	apply(f, &e);
	e = state_ev(4, 3100, TW_TCP_FIN_WAIT1, TW_TCP_FIN_WAIT2, 40000, 80);
	apply(f, &e);
	e = other_ev(TCPWATCH_EV_RESET_RECEIVED, 4, 3150, TW_TCP_FIN_WAIT2, 0);
	apply(f, &e);
	assert_int_equal(c->resets_received, 1);
	/* Even with sk_err 0, a reset is no orderly hand-over. */
	e = state_ev(4, 3200, TW_TCP_FIN_WAIT2, TW_TCP_CLOSE, 0, 0);
	apply(f, &e);
	assert_retired(f, c, TW_TCP_FIN_WAIT2, 3200);
	assert_hist((struct tw_hist[1]){conn_hist(c, c->hist_len - 2)}, TW_HIST_RESET_RECEIVED,
		    TW_TCP_FIN_WAIT2, 0, 3150, false);
}

static void test_abort_from_established_retires(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = client_established(f, 5);
	struct tw_event e = state_ev(5, 2500, TW_TCP_ESTABLISHED, TW_TCP_CLOSE, 0, 0);

	e.sk_err = ECONNRESET;
	apply(f, &e);
	assert_retired(f, c, TW_TCP_ESTABLISHED, 2500);
}

/* A failed connect() then a new one on the same socket: revived. */
static void test_closed_socket_reused(void **state)
{
	struct fixture *f = *state;
	struct tw_event e = state_ev(6, 1000, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0, 80);
	struct tw_conntable_stats ts;
	struct tw_conn *c;

	with_task(&e, CLIENT_PID, "curl");
	apply(f, &e);
	e = state_ev(6, 1100, TW_TCP_SYN_SENT, TW_TCP_CLOSE, 0, 80);
	e.sk_err = ECONNREFUSED;
	apply(f, &e);
	c = conntable_get(f->t, 6);
	assert_true(c->flags & TW_CONN_CLOSED);

	e = state_ev(6, 2000, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0, 81);
	with_task(&e, CLIENT_PID, "curl");
	apply(f, &e);
	assert_ptr_equal(conntable_get(f->t, 6), c);
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_int_equal(c->state, TW_TCP_SYN_SENT);
	conntable_get_stats(f->t, &ts);
	assert_int_equal(ts.live, 1);
	assert_int_equal(ts.retained, 0);
	assert_int_equal(c->hist_len, 3);
}

static void listen_on(struct fixture *f, uint64_t cookie, uint16_t port, bool task)
{
	struct tw_event e = state_ev(cookie, 100, TW_TCP_CLOSE, TW_TCP_LISTEN, port, 0);

	memset(e.saddr, 0, 16); /* 0.0.0.0 */
	memset(e.daddr, 0, 16);
	if (task)
		with_task(&e, SERVER_PID, "nginx");
	apply(f, &e);
}

/* The child's LISTEN->SYN_RECV runs in softirq: its owner is the
 * listener's. */
static void test_server_child_gets_listener_owner(void **state)
{
	struct fixture *f = *state;
	struct tw_event e;
	struct tw_conn *l, *c;

	listen_on(f, 10, 8080, true);
	l = conntable_get(f->t, 10);
	assert_int_equal(l->state, TW_TCP_LISTEN);
	assert_true(l->flags & TW_CONN_LISTEN_INDEXED);
	assert_ptr_equal(conntable_find_listener(f->t, NETNS, AF_INET, local_ip, 8080), l);

	e = state_ev(11, 5000, TW_TCP_LISTEN, TW_TCP_SYN_RECV, 8080, 55555);
	apply(f, &e);
	c = conntable_get(f->t, 11);
	assert_non_null(c);
	assert_int_equal(c->state, TW_TCP_SYN_RECV);
	assert_true(c->flags & TW_CONN_HAS_TASK);
	assert_int_equal(c->pid, SERVER_PID);
	assert_string_equal(c->comm, "nginx");
	assert_int_equal(c->listener_cookie, 10);
	/* The child is not a listener itself. */
	assert_false(c->flags & TW_CONN_LISTEN_INDEXED);

	e = state_ev(11, 5001, TW_TCP_SYN_RECV, TW_TCP_ESTABLISHED, 8080, 55555);
	apply(f, &e);
	assert_int_equal(c->state, TW_TCP_ESTABLISHED);
	assert_int_equal(c->pid, SERVER_PID);
	assert_ptr_equal(conntable_find_listener(f->t, NETNS, AF_INET, local_ip, 8080), l);
}

static void test_server_child_without_known_owner(void **state)
{
	struct fixture *f = *state;
	struct tw_event e;
	struct tw_conn *c;

	listen_on(f, 20, 9000, false); /* listener's owner unknown */
	e = state_ev(21, 5000, TW_TCP_LISTEN, TW_TCP_SYN_RECV, 9000, 1111);
	apply(f, &e);
	c = conntable_get(f->t, 21);
	assert_false(c->flags & TW_CONN_HAS_TASK);

	/* No listener on that port at all. */
	e = state_ev(22, 5000, TW_TCP_LISTEN, TW_TCP_SYN_RECV, 9001, 1111);
	apply(f, &e);
	assert_false(conntable_get(f->t, 22)->flags & TW_CONN_HAS_TASK);

	/* A listener that closed is no longer an owner. */
	listen_on(f, 23, 9002, true);
	e = state_ev(23, 6000, TW_TCP_LISTEN, TW_TCP_CLOSE, 0, 0);
	with_task(&e, SERVER_PID, "nginx");
	apply(f, &e);
	assert_true(conntable_get(f->t, 23)->flags & TW_CONN_CLOSED);
	assert_null(conntable_find_listener(f->t, NETNS, AF_INET, local_ip, 9002));
	e = state_ev(24, 7000, TW_TCP_LISTEN, TW_TCP_SYN_RECV, 9002, 1111);
	apply(f, &e);
	assert_false(conntable_get(f->t, 24)->flags & TW_CONN_HAS_TASK);
}

static void test_retransmits_and_resets(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = client_established(f, 30);
	struct tw_event e;
	uint16_t len = c->hist_len;

	e = other_ev(TCPWATCH_EV_RETRANSMIT, 30, 2100, TW_TCP_ESTABLISHED, 0);
	apply(f, &e);
	e = other_ev(TCPWATCH_EV_RETRANSMIT, 30, 2200, TW_TCP_ESTABLISHED, 0);
	apply(f, &e);
	assert_int_equal(c->retransmits, 2);
	assert_int_equal(c->syn_retransmits, 0);
	assert_int_equal(c->hist_len, len + 2);
	assert_hist((struct tw_hist[1]){conn_hist(c, len)}, TW_HIST_RETRANSMIT, TW_TCP_ESTABLISHED,
		    0, 2100, false);

	e = other_ev(TCPWATCH_EV_RESET_SENT, 30, 2300, TW_TCP_ESTABLISHED, 7);
	apply(f, &e);
	assert_int_equal(c->resets_sent, 1);
	assert_hist((struct tw_hist[1]){conn_hist(c, len + 2)}, TW_HIST_RESET_SENT,
		    TW_TCP_ESTABLISHED, 0, 2300, false);
	assert_int_equal(conn_hist(c, len + 2).value, 7); /* the reset reason */

	e = other_ev(TCPWATCH_EV_RESET_RECEIVED, 30, 2400, TW_TCP_ESTABLISHED, 0);
	apply(f, &e);
	assert_int_equal(c->resets_received, 1);
	assert_hist((struct tw_hist[1]){conn_hist(c, len + 3)}, TW_HIST_RESET_RECEIVED,
		    TW_TCP_ESTABLISHED, 0, 2400, false);
	/* The state is not changed by these events. */
	assert_int_equal(c->state, TW_TCP_ESTABLISHED);

	assert_int_equal(f->st.by_kind[TCPWATCH_EV_RETRANSMIT], 2);
	assert_int_equal(f->st.by_kind[TCPWATCH_EV_RESET_SENT], 1);
	assert_int_equal(f->st.by_kind[TCPWATCH_EV_RESET_RECEIVED], 1);
	assert_int_equal(f->st.received, 2 + 4);
}

static void test_syn_retransmit(void **state)
{
	struct fixture *f = *state;
	struct tw_event e = state_ev(31, 1000, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0, 80);
	struct tw_conn *c;

	apply(f, &e);
	e = other_ev(TCPWATCH_EV_RETRANSMIT, 31, 2000, TW_TCP_SYN_SENT, 0);
	apply(f, &e);
	c = conntable_get(f->t, 31);
	assert_int_equal(c->retransmits, 1);
	assert_int_equal(c->syn_retransmits, 1);
}

static void test_synack_retransmit_on_listener(void **state)
{
	struct fixture *f = *state;
	struct tw_event e;
	struct tw_conn *l, *c;

	listen_on(f, 40, 8443, true);
	l = conntable_get(f->t, 40);
	assert_non_null(l);
	e = other_ev(TCPWATCH_EV_RETRANSMIT_SYNACK, 40, 2000, TW_TCP_LISTEN, 0);
	e.aux_cookie = 41;
	apply(f, &e);
	assert_int_equal(l->retransmits, 1);
	assert_int_equal(l->state, TW_TCP_LISTEN);
	assert_non_null(conntable_listener(f->t, 40));
	assert_int_equal(conntable_listener(f->t, 40)->synack_retransmits, 1);
	/* The request socket, a half-open connection of the listener's. */
	c = conntable_get(f->t, 41);
	assert_non_null(c);
	assert_true(c->flags & TW_CONN_REQUEST);
	assert_int_equal(c->state, TW_TCP_SYN_RECV);
	assert_int_equal(c->listener_cookie, 40);
	assert_int_equal(c->syn_retransmits, 1);
	assert_int_equal(conn_hist(c, c->hist_len - 1).kind, TW_HIST_SYNACK_RETRANSMIT);
	assert_int_equal(f->st.by_kind[TCPWATCH_EV_RETRANSMIT_SYNACK], 1);
}

static void test_unknown_cookie_unmatched(void **state)
{
	struct fixture *f = *state;
	struct tw_event e = other_ev(TCPWATCH_EV_RETRANSMIT, 999, 1, TW_TCP_ESTABLISHED, 0);
	struct tw_conntable_stats ts;

	apply(f, &e);
	e = other_ev(TCPWATCH_EV_RESET_RECEIVED, 998, 2, TW_TCP_ESTABLISHED, 0);
	apply(f, &e);
	assert_int_equal(f->st.unmatched, 2);
	assert_int_equal(f->st.received, 2);
	assert_null(conntable_get(f->t, 999));
	assert_null(conntable_get(f->t, 998));
	conntable_get_stats(f->t, &ts);
	assert_int_equal(ts.live, 0);

	/* A RST for a packet that matched no socket has cookie 0. */
	e = other_ev(TCPWATCH_EV_RESET_SENT, 0, 3, 0, 1);
	apply(f, &e);
	assert_int_equal(f->st.resets_sent_no_socket, 1);
	assert_int_equal(f->st.unmatched, 2);
}

static void test_table_full_refused(void **state)
{
	static const struct tw_conntable_limits limits = {
		.max_live = 1,
		.retain_count = 10,
		.retain_age_ns = 1000,
		.history_max = 8,
	};
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_event_stats st = {0};
	struct tw_event e = state_ev(1, 1, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0, 80);

	(void)state;
	assert_non_null(t);
	events_apply(t, &e, &st);
	e.cookie = 2;
	events_apply(t, &e, &st);
	assert_int_equal(st.refused, 1);
	assert_null(conntable_get(t, 2));
	conntable_free(t);
}

/* Builds a wire record: header, the family's addresses, then the task or
 * the aux cookie as the flags say. Returns its length. */
static size_t wire(uint8_t *buf, uint8_t kind, uint8_t family, uint8_t flags)
{
	struct tcpwatch_rec r = {
		.time_ns = 77,
		.cookie = 5,
		.netns = NETNS,
		.uid = 1000,
		.sport = 40000,
		.dport = 80,
		.kind = kind,
		.version = TCPWATCH_EVENT_VERSION,
		.oldstate = TW_TCP_ESTABLISHED,
		.newstate = TW_TCP_FIN_WAIT1,
		.family = family,
		.flags = flags,
		.sk_err = 104,
		.value = 3,
	};
	size_t n = sizeof(r);

	memcpy(buf, &r, sizeof(r));
	if (family == AF_INET) {
		struct tcpwatch_addr4 a;

		memcpy(&a.saddr, local_ip, 4);
		memcpy(&a.daddr, remote_ip, 4);
		memcpy(buf + n, &a, sizeof(a));
		n += sizeof(a);
	} else if (family == AF_INET6) {
		struct tcpwatch_addr6 a;

		memset(a.saddr, 0x11, 16);
		memset(a.daddr, 0x22, 16);
		memcpy(buf + n, &a, sizeof(a));
		n += sizeof(a);
	}
	if (flags & TCPWATCH_EVF_TASK) {
		struct tcpwatch_task task = {.pid = CLIENT_PID, .tid = CLIENT_PID + 1};

		/* No terminator: the decoder supplies one. */
		memset(task.comm, 'x', sizeof(task.comm));
		memcpy(buf + n, &task, sizeof(task));
		n += sizeof(task);
	}
	if (flags & TCPWATCH_EVF_AUX) {
		uint64_t aux = 0xabcdef;

		memcpy(buf + n, &aux, sizeof(aux));
		n += sizeof(aux);
	}
	return n;
}

static void test_decode(void **state)
{
	uint8_t buf[256];
	struct tw_event e;
	size_t n;

	(void)state;
	/* The common record: IPv4, no task: 56 bytes of ring with its header. */
	n = wire(buf, TCPWATCH_EV_STATE, AF_INET, 0);
	assert_int_equal(n + 8, 56);
	assert_int_equal(events_decode(buf, n, &e), 0);
	assert_int_equal(e.time_ns, 77);
	assert_int_equal(e.cookie, 5);
	assert_int_equal(e.netns, NETNS);
	assert_int_equal(e.uid, 1000);
	assert_int_equal(e.family, AF_INET);
	assert_memory_equal(e.saddr, local_ip, 4);
	assert_memory_equal(e.daddr, remote_ip, 4);
	assert_int_equal(e.sport, 40000);
	assert_int_equal(e.dport, 80);
	assert_int_equal(e.kind, TCPWATCH_EV_STATE);
	assert_int_equal(e.oldstate, TW_TCP_ESTABLISHED);
	assert_int_equal(e.newstate, TW_TCP_FIN_WAIT1);
	assert_int_equal(e.sk_err, 104);
	assert_int_equal(e.value, 3);
	assert_false(e.has_task);
	assert_int_equal(e.aux_cookie, 0);
	/* Short records are rejected, whatever they hold; longer ones (ring
	 * padding) are fine. */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(events_decode(buf, k, &e), -EINVAL);
	assert_int_equal(events_decode(buf, n + 8, &e), 0);

	/* IPv6 with the owner's task. */
	n = wire(buf, TCPWATCH_EV_STATE, AF_INET6, TCPWATCH_EVF_TASK);
	assert_int_equal(n, sizeof(struct tcpwatch_rec) + 32 + sizeof(struct tcpwatch_task));
	assert_int_equal(events_decode(buf, n, &e), 0);
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.saddr[15], 0x11);
	assert_int_equal(e.daddr[0], 0x22);
	assert_true(e.has_task);
	assert_int_equal(e.pid, CLIENT_PID);
	assert_int_equal(e.tid, CLIENT_PID + 1);
	assert_int_equal(strlen(e.comm), sizeof(e.comm) - 1);
	assert_int_equal(events_decode(buf, n - 1, &e), -EINVAL);

	/* IPv4 with the aux cookie after the addresses. */
	n = wire(buf, TCPWATCH_EV_RETRANSMIT_SYNACK, AF_INET, TCPWATCH_EVF_AUX);
	assert_int_equal(events_decode(buf, n, &e), 0);
	assert_int_equal(e.aux_cookie, 0xabcdef);
	assert_int_equal(events_decode(buf, n - 1, &e), -EINVAL);

	/* No addresses at all (a reset for a packet that could not be read). */
	n = wire(buf, TCPWATCH_EV_RESET_SENT, 0, 0);
	assert_int_equal(n, sizeof(struct tcpwatch_rec));
	assert_int_equal(events_decode(buf, n, &e), 0);
	assert_int_equal(e.family, 0);

	/* Unknown versions, kinds and families. */
	n = wire(buf, TCPWATCH_EV_STATE, AF_INET, 0);
	buf[offsetof(struct tcpwatch_rec, version)] = TCPWATCH_EVENT_VERSION + 1;
	assert_int_equal(events_decode(buf, n, &e), -EPROTO);
	buf[offsetof(struct tcpwatch_rec, version)] = TCPWATCH_EVENT_VERSION;
	buf[offsetof(struct tcpwatch_rec, family)] = 1;
	assert_int_equal(events_decode(buf, n, &e), -EINVAL);
	for (int k = 0; k <= TCPWATCH_EV_KINDS; k++) {
		n = wire(buf, (uint8_t)k, AF_INET, 0);
		assert_int_equal(events_decode(buf, n, &e),
				 k >= TCPWATCH_EV_STATE && k < TCPWATCH_EV_KINDS ? 0 : -EINVAL);
	}
}

static void test_ipv6_endpoints(void **state)
{
	struct fixture *f = *state;
	struct tw_event e = state_ev(50, 1000, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0, 443);
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 9};
	struct tw_conn *c;

	e.family = AF_INET6;
	memcpy(e.daddr, v6, 16);
	apply(f, &e);
	c = conntable_get(f->t, 50);
	assert_int_equal(c->family, AF_INET6);
	assert_memory_equal(c->remote_addr, v6, 16);
}

/* Only a socket's first transition carries the namespace and uid: later
 * events (0) leave them as they are, and a connection first seen by a
 * later event has neither until the reconcile. */
static void test_namespace_and_uid_from_first_transition(void **state)
{
	struct fixture *f = *state;
	struct tw_event e = state_ev(60, 1000, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 40000, 80);
	struct tw_conn *c;

	apply(f, &e);
	e = state_ev(60, 2000, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 40000, 80);
	e.netns = 0;
	e.uid = 0;
	apply(f, &e);
	c = conntable_get(f->t, 60);
	assert_int_equal(c->netns, NETNS);
	assert_int_equal(c->uid, 1000);
	assert_int_equal(c->state, TW_TCP_ESTABLISHED);

	e = state_ev(61, 3000, TW_TCP_ESTABLISHED, TW_TCP_FIN_WAIT1, 40001, 80);
	e.netns = 0;
	e.uid = 0;
	apply(f, &e);
	c = conntable_get(f->t, 61);
	assert_int_equal(c->netns, 0);
	assert_int_equal(c->local_port, 40001);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_client_life_to_time_wait),
		T(test_namespace_and_uid_from_first_transition),
		T(test_closing_to_time_wait),
		T(test_close_with_error_retires),
		T(test_close_after_reset_received_retires),
		T(test_abort_from_established_retires),
		T(test_closed_socket_reused),
		T(test_server_child_gets_listener_owner),
		T(test_server_child_without_known_owner),
		T(test_retransmits_and_resets),
		T(test_syn_retransmit),
		T(test_synack_retransmit_on_listener),
		T(test_unknown_cookie_unmatched),
		cmocka_unit_test(test_table_full_refused),
		cmocka_unit_test(test_decode),
		T(test_ipv6_endpoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
