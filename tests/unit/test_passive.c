/* Unit tests for daemon/table/passive.c: the passive side of TCP as the
 * event handlers (daemon/trace/events.c) and the reconcile
 * (daemon/table/reconcile.c) drive it through a table: SYN-ACK
 * retransmits make request sockets, a child reaching ESTABLISHED ends its
 * request (its half-open life timed), accept() times the accept wait,
 * drops are counted on the listener, dumps sample the queues, and
 * requests the dumps stop showing expired or were reset. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pointer the test goes on to use: asserted, so that a NULL (out of
 * memory in the allocation-failure sweep) fails the test, not crashes it. */
#define NN(p) (assert_non_null(p), (p))

#include "conntable.h"
#include "histo.h"
#include "ksock.h"
#include "lifecycle.h"
#include "listeners.h"
#include "passive.h"

#define NETNS   4026531840u
#define SEC     1000000000ull
#define MS      1000000ull
#define US      1000ull
#define T0      (500 * SEC)
#define LCOOKIE 1000
#define PORT    8080

static const struct tw_conntable_limits limits = {
	.max_live = 10000,
	.retain_count = 1000,
	.retain_age_ns = 3600 * SEC,
	.history_max = 32,
};

struct fixture {
	struct tw_conntable *t;
	struct tw_conn *lc; /* the listening socket */
	struct tw_listener *l;
};

static void addr4(uint8_t out[16], const char *text)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(AF_INET, text, out), 1);
}

/* A state change as events.c applies one: history entry, lifecycle,
 * state, listener index. */
static void transition(struct tw_conntable *t, struct tw_conn *c, uint8_t to, uint64_t time_ns,
		       uint32_t srtt_us)
{
	struct tw_hist h = {.time_ns = time_ns, .kind = TW_HIST_STATE, .from = c->state, .to = to};

	assert_int_equal(conntable_hist_append(t, c, &h), 0);
	lifecycle_on_transition(c, c->state, to, time_ns, 0, srtt_us);
	c->state = to;
	c->last_change_ns = time_ns;
	conntable_update_listener(t, c);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	bool created;

	if (!f)
		return -1;
	f->t = conntable_new(&limits);
	if (!f->t)
		return -1;
	/* 10.0.0.1:8080, listening since T0 - 60 s, owned by "server". */
	f->lc = conntable_get_or_add(f->t, LCOOKIE, &created);
	if (!f->lc)
		return -1;
	f->lc->netns = NETNS;
	f->lc->family = AF_INET;
	addr4(f->lc->local_addr, "10.0.0.1");
	f->lc->local_port = PORT;
	f->lc->pid = 4242;
	snprintf(f->lc->comm, sizeof(f->lc->comm), "server");
	f->lc->flags |= TW_CONN_HAS_TASK;
	f->lc->state = TW_TCP_CLOSE;
	transition(f->t, f->lc, TW_TCP_LISTEN, T0 - 60 * SEC, 0);
	f->l = conntable_listener(f->t, LCOOKIE);
	if (!f->l)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	passive_set_overflow_reason(-1);
	conntable_free(f->t);
	free(f);
	return 0;
}

/* The SYN-ACK retransmit event of a request from 192.0.2.<client>:<port>. */
static struct tw_synack synack(uint64_t req_cookie, unsigned client, uint16_t port,
			       uint64_t time_ns, uint64_t first_ns, uint16_t num_retrans,
			       uint32_t next_timer_us)
{
	struct tw_synack s = {
		.time_ns = time_ns,
		.listener_cookie = LCOOKIE,
		.request_cookie = req_cookie,
		.first_synack_ns = first_ns,
		.next_timer_us = next_timer_us,
		.num_retrans = num_retrans,
		.netns = NETNS,
		.family = AF_INET,
		.local_port = PORT,
		.remote_port = port,
	};
	char ip[32];

	addr4(s.local_addr, "10.0.0.1");
	snprintf(ip, sizeof(ip), "192.0.2.%u", client);
	addr4(s.remote_addr, ip);
	return s;
}

/* A child as events.c makes it: LISTEN -> SYN_RECV (attributed to its
 * listener, owned by the listener's process until accept()), then
 * SYN_RECV -> ESTABLISHED at est_ns with the kernel's SYN-ACK RTT sample
 * (0: none), and passive_on_established with the SYN-ACKs resent. */
static struct tw_conn *child(struct fixture *f, uint64_t cookie, unsigned client, uint16_t port,
			     uint64_t est_ns, uint32_t srtt_us, unsigned total_retrans)
{
	bool created;
	struct tw_conn *c = conntable_get_or_add(f->t, cookie, &created), *l;
	char ip[32];

	assert_non_null(c);
	assert_true(created);
	c->netns = NETNS;
	c->family = AF_INET;
	addr4(c->local_addr, "10.0.0.1");
	c->local_port = PORT;
	snprintf(ip, sizeof(ip), "192.0.2.%u", client);
	addr4(c->remote_addr, ip);
	c->remote_port = port;
	c->state = TW_TCP_LISTEN;
	c->first_seen_ns = est_ns;
	l = conntable_find_listener(f->t, NETNS, AF_INET, c->local_addr, PORT);
	assert_ptr_equal(l, f->lc);
	c->listener_cookie = l->cookie;
	c->pid = l->pid;
	memcpy(c->comm, l->comm, sizeof(c->comm));
	c->flags |= TW_CONN_HAS_TASK | TW_CONN_OWNER_LISTENER;
	transition(f->t, c, TW_TCP_SYN_RECV, est_ns, 0);
	transition(f->t, c, TW_TCP_ESTABLISHED, est_ns, srtt_us);
	passive_on_established(f->t, c, est_ns, total_retrans);
	return c;
}

/* A request socket as a dump finds it (reconcile.c): NEW_SYN_RECV,
 * flagged from the snapshot, its timer from idiag_expires. */
static struct tw_conn *dumped_request(struct fixture *f, uint64_t cookie, unsigned client,
				      uint16_t port, uint64_t now_ns, uint32_t expires_ms)
{
	bool created;
	struct tw_conn *c = conntable_get_or_add(f->t, cookie, &created);
	char ip[32];

	assert_non_null(c);
	assert_true(created);
	c->netns = NETNS;
	c->family = AF_INET;
	addr4(c->local_addr, "10.0.0.1");
	c->local_port = PORT;
	snprintf(ip, sizeof(ip), "192.0.2.%u", client);
	addr4(c->remote_addr, ip);
	c->remote_port = port;
	c->state = TW_TCP_SYN_RECV;
	c->first_seen_ns = c->last_change_ns = now_ns;
	c->flags |= TW_CONN_FROM_SNAPSHOT | TW_CONN_REQUEST;
	conn_set_sample_ns(c, now_ns);
	c->info.timer = TW_TIMER_RETRANSMIT;
	c->info.timer_expires_ms = expires_ms;
	return c;
}

static bool all_in_scope(uint32_t netns, void *data)
{
	(void)netns;
	(void)data;
	return true;
}

static bool none_in_scope(uint32_t netns, void *data)
{
	(void)netns;
	(void)data;
	return false;
}

static unsigned hist_count(const struct tw_conn *c, uint8_t kind)
{
	unsigned n = 0;

	for (uint16_t i = 0; i < c->hist_len; i++)
		n += conn_hist(c, i).kind == kind;
	return n;
}

static struct tw_conn *find_request(struct fixture *f, unsigned client, uint16_t port)
{
	uint8_t local[16], remote[16];
	char ip[32];

	addr4(local, "10.0.0.1");
	snprintf(ip, sizeof(ip), "192.0.2.%u", client);
	addr4(remote, ip);
	return conntable_find_request(f->t, NETNS, AF_INET, local, PORT, remote, port);
}

/* The first SYN-ACK retransmit makes the request: a passive SYN_RECV
 * connection of the listener, owned by the listener's process, its
 * history the first SYN-ACK and the retransmit, its timer the next one,
 * found by its 4-tuple. */
static void test_synack_makes_request(void **state)
{
	struct fixture *f = *state;
	struct tw_synack s = synack(5001, 1, 40001, T0 + 1 * SEC, T0, 0, 2000000);
	struct tw_conn *req;

	passive_on_synack(f->t, &s);
	assert_int_equal(f->l->synack_retransmits, 1);
	req = conntable_get(f->t, 5001);
	assert_non_null(req);
	assert_true(req->flags & TW_CONN_REQUEST);
	assert_true(req->flags & TW_CONN_TUPLE_INDEXED);
	assert_int_equal(req->state, TW_TCP_SYN_RECV);
	assert_int_equal(req->role, TW_ROLE_PASSIVE);
	assert_int_equal(req->listener_cookie, LCOOKIE);
	assert_int_equal(req->netns, NETNS);
	assert_int_equal(req->local_port, PORT);
	assert_int_equal(req->remote_port, 40001);
	assert_true(req->flags & TW_CONN_HAS_TASK);
	assert_true(req->flags & TW_CONN_OWNER_LISTENER);
	assert_int_equal(req->pid, 4242);
	assert_string_equal(req->comm, "server");
	assert_int_equal(req->first_seen_ns, T0);
	assert_int_equal(req->syn_retransmits, 1);
	assert_int_equal(req->retransmits, 1);
	assert_int_equal(req->hist_len, 2);
	assert_int_equal(conn_hist(req, 0).kind, TW_HIST_SYNACK);
	assert_int_equal(conn_hist(req, 0).time_ns, T0);
	assert_int_equal(conn_hist(req, 1).kind, TW_HIST_SYNACK_RETRANSMIT);
	assert_int_equal(conn_hist(req, 1).time_ns, T0 + 1 * SEC);
	assert_int_equal(conn_hist(req, 1).value, 1);
	assert_int_equal(req->info.timer, TW_TIMER_RETRANSMIT);
	assert_int_equal(req->info.timer_retrans, 1);
	assert_int_equal(req->info.timer_expires_ms, 2000);
	assert_int_equal(conn_sample_ns(req), T0 + 1 * SEC);
	assert_ptr_equal(find_request(f, 1, 40001), req);
	/* Another client port is another tuple. */
	assert_null(find_request(f, 1, 40002));

	/* The second retransmit: the same request, one more of each. */
	s = synack(5001, 1, 40001, T0 + 3 * SEC, T0, 1, 4000000);
	passive_on_synack(f->t, &s);
	assert_ptr_equal(conntable_get(f->t, 5001), req);
	assert_int_equal(f->l->synack_retransmits, 2);
	assert_int_equal(req->syn_retransmits, 2);
	assert_int_equal(req->hist_len, 3);
	assert_int_equal(hist_count(req, TW_HIST_SYNACK), 1);
	assert_int_equal(conn_hist(req, 2).value, 2);
	assert_int_equal(req->info.timer_retrans, 2);
	assert_int_equal(req->info.timer_expires_ms, 4000);
	assert_int_equal(req->last_change_ns, T0 + 3 * SEC);
	/* A timer in microseconds rounds up to whole ms. */
	s = synack(5001, 1, 40001, T0 + 7 * SEC, T0, 2, 1500);
	passive_on_synack(f->t, &s);
	assert_int_equal(req->info.timer_expires_ms, 2);
}

/* A SYN-ACK without a request cookie counts on the listener only; one
 * whose cookie is a connection that is no request changes nothing; one
 * for an unknown listener still makes its request, unowned. */
static void test_synack_edge_cases(void **state)
{
	struct fixture *f = *state;
	struct tw_synack s = synack(0, 1, 40001, T0, T0 - SEC, 0, 1000000);
	struct tw_conntable_stats st;
	struct tw_conn *c, *req;
	bool created;

	passive_on_synack(f->t, &s);
	assert_int_equal(f->l->synack_retransmits, 1);
	conntable_get_stats(f->t, &st);
	assert_int_equal(st.live, 1); /* only the listener */

	c = conntable_get_or_add(f->t, 6000, &created);
	assert_non_null(c);
	c->state = TW_TCP_ESTABLISHED;
	s = synack(6000, 2, 40002, T0, T0 - SEC, 0, 1000000);
	passive_on_synack(f->t, &s);
	assert_false(c->flags & TW_CONN_REQUEST);
	assert_int_equal(c->state, TW_TCP_ESTABLISHED);
	assert_int_equal(c->syn_retransmits, 0);
	assert_int_equal(c->hist_len, 0);
	assert_int_equal(f->l->synack_retransmits, 2);

	s = synack(6001, 3, 40003, T0 + SEC, 0, 0, 1000000);
	s.listener_cookie = 999999; /* a listener we never saw */
	passive_on_synack(f->t, &s);
	req = conntable_get(f->t, 6001);
	assert_non_null(req);
	assert_true(req->flags & TW_CONN_REQUEST);
	assert_int_equal(req->listener_cookie, 0);
	assert_false(req->flags & TW_CONN_HAS_TASK);
	/* No first SYN-ACK time: the event's time stands in, no SYNACK
	 * entry. */
	assert_int_equal(req->first_seen_ns, T0 + SEC);
	assert_int_equal(hist_count(req, TW_HIST_SYNACK), 0);
	assert_int_equal(hist_count(req, TW_HIST_SYNACK_RETRANSMIT), 1);
	assert_int_equal(f->l->synack_retransmits, 2);
}

/* A child whose request had SYN-ACKs resent: the request ends completed,
 * its summary in the listener's recent half-opens (SYN-ACK times, child,
 * end), its life from the first SYN-ACK in the histogram and on the
 * child, and it leaves the table and the tuple index. */
static void test_established_completes_request(void **state)
{
	struct fixture *f = *state;
	struct tw_synack s1 = synack(5001, 1, 40001, T0 + 1 * SEC, T0, 0, 2000000);
	struct tw_synack s2 = synack(5001, 1, 40001, T0 + 3 * SEC, T0, 1, 4000000);
	const struct tw_halfopen *h;
	struct tw_conntable_stats st;
	struct tw_conn *c;

	passive_on_synack(f->t, &s1);
	passive_on_synack(f->t, &s2);
	c = child(f, 7001, 1, 40001, T0 + 5 * SEC, 0, 2);
	assert_null(conntable_get(f->t, 5001));
	assert_null(find_request(f, 1, 40001));
	conntable_get_stats(f->t, &st);
	assert_int_equal(st.live, 2); /* listener and child */

	assert_int_equal(f->l->children, 1);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_COMPLETED], 1);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_EXPIRED], 0);
	assert_int_equal(c->syn_retransmits, 2);
	assert_int_equal(c->handshake_us, 5 * 1000000);
	assert_true(c->flags & TW_CONN_HALF_OPEN_TIMED);
	assert_false(c->flags & TW_CONN_HANDSHAKE_SRTT);
	assert_non_null(f->l->half_open_lifetime);
	assert_int_equal(NN(f->l->half_open_lifetime)->count, 1);
	assert_int_equal(NN(f->l->half_open_lifetime)->max_us, 5 * 1000000);

	h = listener_recent(f->l, 0);
	assert_non_null(h);
	assert_null(listener_recent(f->l, 1));
	assert_int_equal(h->cookie, 5001);
	assert_int_equal(h->child_cookie, 7001);
	assert_int_equal(h->end, TW_HALFOPEN_COMPLETED);
	assert_int_equal(h->first_synack_ns, T0);
	assert_int_equal(h->end_ns, T0 + 5 * SEC);
	assert_int_equal(h->retransmits, 2);
	assert_int_equal(h->retransmit_ns[0], T0 + 1 * SEC);
	assert_int_equal(h->retransmit_ns[1], T0 + 3 * SEC);
	assert_int_equal(h->retransmit_ns[2], 0);
	assert_int_equal(h->remote_port, 40001);
	assert_int_equal(h->family, AF_INET);
	assert_int_equal(h->flags & TW_HALFOPEN_FIRST_DERIVED, 0);
	{
		uint8_t want[16];

		addr4(want, "192.0.2.1");
		assert_memory_equal(h->remote_addr, want, 4);
	}
}

/* The usual case: no SYN-ACK resent, no request ever made. The child's
 * first RTT sample is its whole half-open life. */
static void test_established_without_request(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c;

	c = child(f, 7001, 1, 40001, T0, 1500, 0);
	assert_int_equal(f->l->children, 1);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_COMPLETED], 1);
	assert_int_equal(c->handshake_us, 1500);
	assert_true(c->flags & TW_CONN_HANDSHAKE_SRTT);
	assert_false(c->flags & TW_CONN_HALF_OPEN_TIMED);
	assert_non_null(f->l->half_open_lifetime);
	assert_int_equal(NN(f->l->half_open_lifetime)->count, 1);
	assert_int_equal(histo_quantile(f->l->half_open_lifetime, 0.5), 1500);
	/* Nothing ended that was kept: no recent half-open. */
	assert_null(listener_recent(f->l, 0));
	/* One waiting in the accept queue (by events). */
	assert_int_equal(f->l->accept_queue_events, 1);
	assert_int_equal(f->l->accept_queue_max_seen, 1);

	/* SYN-ACKs resent but their events lost: completed, but (Karn) no
	 * RTT sample, so no lifetime. */
	c = child(f, 7002, 2, 40002, T0 + SEC, 0, 3);
	assert_int_equal(c->syn_retransmits, 3);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_COMPLETED], 2);
	assert_int_equal(NN(f->l->half_open_lifetime)->count, 1);
	assert_int_equal(f->l->children, 2);
	assert_int_equal(f->l->accept_queue_events, 2);
	assert_int_equal(f->l->accept_queue_max_seen, 2);
}

/* A child of no known listener counts nowhere, and nothing breaks. */
static void test_established_no_listener(void **state)
{
	struct fixture *f = *state;
	bool created;
	struct tw_conn *c = conntable_get_or_add(f->t, 7100, &created);

	assert_non_null(c);
	c->state = TW_TCP_ESTABLISHED;
	passive_on_established(f->t, c, T0, 0);
	passive_on_accept(f->t, c, T0 + MS);
	assert_int_equal(f->l->children, 0);
	assert_int_equal(f->l->accepted, 0);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_COMPLETED], 0);
}

/* A request a dump found (its first SYN-ACK unknown), completed without
 * retransmits: the kernel's RTT sample times it, and its first SYN-ACK
 * is derived from that, not from when the dump saw it. */
static void test_established_dumped_request(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *req = dumped_request(f, 5002, 4, 40004, T0, 900);
	const struct tw_halfopen *h;

	passive_on_request_seen(f->t, req, 1, T0);
	assert_int_equal(req->listener_cookie, LCOOKIE);
	assert_ptr_equal(find_request(f, 4, 40004), req);
	child(f, 7004, 4, 40004, T0 + 200 * MS, 3000, 0);
	assert_null(conntable_get(f->t, 5002));
	h = listener_recent(f->l, 0);
	assert_non_null(h);
	assert_int_equal(h->end, TW_HALFOPEN_COMPLETED);
	assert_int_equal(h->child_cookie, 7004);
	assert_int_equal(h->first_synack_ns, T0 + 200 * MS - 3000 * US);
	assert_int_equal(h->flags & TW_HALFOPEN_FIRST_DERIVED, 0);
	assert_int_equal(NN(f->l->half_open_lifetime)->count, 1);
	assert_int_equal(NN(f->l->half_open_lifetime)->max_us, 3000);
}

/* The kernel gives a child its request's cookie once the request has one
 * (a dump or a SYN-ACK event made it): the child's ESTABLISHED then lands
 * on the request's own record. It completes the half-open and the record
 * lives on as the child (it was removed, and the caller read freed
 * memory: ASan under churn). */
static void test_child_takes_request_cookie(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *req = dumped_request(f, 5003, 5, 40005, T0, 900);
	const struct tw_halfopen *h;

	passive_on_request_seen(f->t, req, 1, T0);
	assert_ptr_equal(find_request(f, 5, 40005), req);
	transition(f->t, req, TW_TCP_ESTABLISHED, T0 + 100 * MS, 2000);
	passive_on_established(f->t, req, T0 + 100 * MS, 0);
	assert_ptr_equal(conntable_get(f->t, 5003), req);
	assert_int_equal(req->state, TW_TCP_ESTABLISHED);
	assert_int_equal(req->flags & (TW_CONN_REQUEST | TW_CONN_TUPLE_INDEXED), 0);
	assert_null(find_request(f, 5, 40005));
	h = listener_recent(f->l, 0);
	assert_non_null(h);
	assert_int_equal(h->end, TW_HALFOPEN_COMPLETED);
	assert_int_equal(h->child_cookie, 5003);
}

/* A dumped request, then its SYN-ACK event: the event knows the first
 * SYN-ACK's time, which replaces the dump's guess. */
static void test_synack_after_dump(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *req = dumped_request(f, 5003, 5, 40005, T0 + 2 * SEC, 1000);
	struct tw_synack s = synack(5003, 5, 40005, T0 + 3 * SEC, T0 + 500 * MS, 1, 3000000);

	passive_on_request_seen(f->t, req, 1, T0 + 2 * SEC);
	passive_on_synack(f->t, &s);
	assert_ptr_equal(conntable_get(f->t, 5003), req);
	assert_int_equal(req->first_seen_ns, T0 + 500 * MS);
	assert_false(req->flags & TW_CONN_FROM_SNAPSHOT);
	assert_int_equal(req->syn_retransmits, 1);
	assert_int_equal(req->info.timer_retrans, 2);
}

/* accept() after ESTABLISHED: the wait is on the child (and in its
 * history, in ms), in the listener's histogram, and the child leaves the
 * accept queue; a second accept of the same child changes nothing. */
static void test_accept_wait(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *c = child(f, 7001, 1, 40001, T0, 800, 0);

	assert_int_equal(f->l->accept_queue_events, 1);
	passive_on_accept(f->t, c, T0 + 250 * MS);
	assert_true(c->flags & TW_CONN_ACCEPTED);
	assert_int_equal(c->accept_wait_us, 250000);
	assert_int_equal(hist_count(c, TW_HIST_ACCEPT), 1);
	assert_int_equal(conn_hist(c, c->hist_len - 1).kind, TW_HIST_ACCEPT);
	assert_int_equal(conn_hist(c, c->hist_len - 1).value, 250);
	assert_int_equal(conn_hist(c, c->hist_len - 1).time_ns, T0 + 250 * MS);
	assert_int_equal(f->l->accepted, 1);
	assert_int_equal(f->l->accept_queue_events, 0);
	assert_non_null(f->l->accept_wait);
	assert_int_equal(f->l->accept_wait->count, 1);
	assert_int_equal(histo_quantile(f->l->accept_wait, 0.99), 250000);

	passive_on_accept(f->t, c, T0 + 900 * MS);
	assert_int_equal(c->accept_wait_us, 250000);
	assert_int_equal(f->l->accepted, 1);
	assert_int_equal(f->l->accept_wait->count, 1);
	assert_int_equal(hist_count(c, TW_HIST_ACCEPT), 1);

	/* Several: the histogram has each. */
	for (int i = 0; i < 10; i++) {
		struct tw_conn *k =
			child(f, 7100 + (uint64_t)i, 10 + (unsigned)i, 41000, T0, 500, 0);

		passive_on_accept(f->t, k, T0 + (uint64_t)(i + 1) * 10 * MS);
		assert_int_equal(k->accept_wait_us, (i + 1) * 10000);
	}
	assert_int_equal(f->l->accepted, 11);
	assert_int_equal(f->l->accept_wait->count, 11);
	assert_int_equal(f->l->accept_wait->min_us, 10000);
	assert_int_equal(f->l->accept_wait->max_us, 250000);
}

/* accept() of a child whose ESTABLISHED time is unknown (found by a
 * dump) or later than the accept: marked accepted, no wait made up. */
static void test_accept_without_established_time(void **state)
{
	struct fixture *f = *state;
	bool created;
	struct tw_conn *c = conntable_get_or_add(f->t, 7200, &created), *k;

	assert_non_null(c);
	c->state = TW_TCP_ESTABLISHED;
	c->listener_cookie = LCOOKIE;
	c->flags |= TW_CONN_FROM_SNAPSHOT;
	passive_on_accept(f->t, c, T0);
	assert_true(c->flags & TW_CONN_ACCEPTED);
	assert_int_equal(c->accept_wait_us, 0);
	assert_int_equal(hist_count(c, TW_HIST_ACCEPT), 0);
	assert_null(f->l->accept_wait);

	k = child(f, 7201, 1, 40001, T0 + SEC, 500, 0);
	passive_on_accept(f->t, k, T0 + SEC - 1); /* before it was established */
	assert_true(k->flags & TW_CONN_ACCEPTED);
	assert_int_equal(k->accept_wait_us, 0);
	assert_null(f->l->accept_wait);
}

/* Drops on the listener by reason; those of the accept-queue overflow
 * reason (once its number is known) are also overflows. */
static void test_drops(void **state)
{
	struct fixture *f = *state;

	passive_on_drop(f->l, 77);
	assert_int_equal(f->l->drops.total, 1);
	assert_int_equal(f->l->overflows, 0); /* reason not known yet */
	passive_set_overflow_reason(77);
	passive_on_drop(f->l, 77);
	passive_on_drop(f->l, 77);
	passive_on_drop(f->l, 5);
	assert_int_equal(f->l->drops.total, 4);
	assert_int_equal(drop_counts_get(&f->l->drops, 77), 3);
	assert_int_equal(drop_counts_get(&f->l->drops, 5), 1);
	assert_int_equal(f->l->overflows, 2);
	passive_on_drop(NULL, 77); /* a drop of no listener: counted nowhere */
	assert_int_equal(f->l->drops.total, 4);
	passive_set_overflow_reason(-1);
	passive_on_drop(f->l, 77);
	assert_int_equal(f->l->overflows, 2);
}

/* A dump's sample of a listener: its queues now; the events' estimate
 * starts again from it. */
static void test_listener_seen(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = {
		.cookie = LCOOKIE,
		.state = TW_TCP_LISTEN,
		.rqueue = 5,
		.wqueue = 128,
		.has_mem = true,
		.sk_drops = 9,
	};
	bool created;
	struct tw_conn *other;

	child(f, 7001, 1, 40001, T0, 500, 0);
	child(f, 7002, 2, 40002, T0, 500, 0);
	assert_int_equal(f->l->accept_queue_events, 2);
	passive_on_listener_seen(f->t, f->lc, &s, T0 + SEC);
	assert_int_equal(f->l->sampled_ns, T0 + SEC);
	assert_int_equal(f->l->accept_queue, 5);
	assert_int_equal(f->l->accept_queue_limit, 128);
	assert_int_equal(f->l->listen_drops, 9);
	assert_int_equal(f->l->accept_queue_events, 0);
	assert_int_equal(f->l->accept_queue_max_seen, 5);
	/* The next child: 5 + 1 waiting, a new high. */
	child(f, 7003, 3, 40003, T0 + 2 * SEC, 500, 0);
	assert_int_equal(f->l->accept_queue_max_seen, 6);
	/* Without meminfo the drops keep their last value; a lower queue
	 * keeps the high-water mark. */
	s.has_mem = false;
	s.sk_drops = 0;
	s.rqueue = 1;
	passive_on_listener_seen(f->t, f->lc, &s, T0 + 3 * SEC);
	assert_int_equal(f->l->listen_drops, 9);
	assert_int_equal(f->l->accept_queue, 1);
	assert_int_equal(f->l->accept_queue_max_seen, 6);
	/* A socket with no listener record: ignored. */
	other = conntable_get_or_add(f->t, 8000, &created);
	assert_non_null(other);
	passive_on_listener_seen(f->t, other, &s, T0 + 3 * SEC);
	assert_null(conntable_listener(f->t, 8000));
}

/* A pass counts the requests it saw into the listener's SYN queue and
 * samples both queues; a pass that saw none leaves 0; a listener whose
 * namespace was not dumped keeps its values and gets no sample. */
static void test_pass_syn_queue_and_samples(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock ls = {.cookie = LCOOKIE, .state = TW_TCP_LISTEN, .rqueue = 2, .wqueue = 10};
	const struct tw_depth_sample *d;

	for (unsigned i = 0; i < 3; i++) {
		struct tw_conn *r =
			dumped_request(f, 5100 + i, 20 + i, (uint16_t)(42000 + i), T0, 1000);

		passive_on_request_seen(f->t, r, 1, T0);
		assert_int_equal(r->listener_cookie, LCOOKIE);
	}
	passive_on_listener_seen(f->t, f->lc, &ls, T0);
	passive_pass_done(f->t, 1, T0, all_in_scope, NULL);
	assert_int_equal(f->l->syn_queue, 3);
	assert_int_equal(f->l->syn_queue_max_seen, 3);
	d = listener_depth(f->l, 0);
	assert_non_null(d);
	assert_int_equal(d->time_ns, T0);
	assert_int_equal(d->syn_queue, 3);
	assert_int_equal(d->accept_queue, 2);
	assert_ptr_equal(find_request(f, 21, 42001), conntable_get(f->t, 5101));

	/* Pass 2 sees only one of them. */
	passive_on_request_seen(f->t, conntable_get(f->t, 5100), 2, T0 + SEC);
	passive_pass_done(f->t, 2, T0 + SEC, all_in_scope, NULL);
	assert_int_equal(f->l->syn_queue, 1);
	assert_int_equal(f->l->syn_queue_max_seen, 3);
	assert_int_equal(NN(listener_depth(f->l, 0))->syn_queue, 1);
	assert_int_equal(NN(listener_depth(f->l, 1))->syn_queue, 3);

	/* Pass 3 sees none. */
	passive_pass_done(f->t, 3, T0 + 2 * SEC, all_in_scope, NULL);
	assert_int_equal(f->l->syn_queue, 0);
	assert_int_equal(f->l->depth_n, 3);

	/* Pass 4 did not dump its namespace: no change, no sample. */
	f->l->syn_queue = 7;
	passive_pass_done(f->t, 4, T0 + 3 * SEC, none_in_scope, NULL);
	assert_int_equal(f->l->syn_queue, 7);
	assert_int_equal(f->l->depth_n, 3);
}

/* A sample carries the counters of the time. */
static void test_sample_counters(void **state)
{
	struct fixture *f = *state;
	const struct tw_depth_sample *d;

	passive_set_overflow_reason(77);
	child(f, 7001, 1, 40001, T0, 500, 0);
	passive_on_drop(f->l, 77);
	passive_on_drop(f->l, 3);
	passive_pass_done(f->t, 1, T0 + SEC, all_in_scope, NULL);
	d = listener_depth(f->l, 0);
	assert_non_null(d);
	assert_int_equal(d->children, 1);
	assert_int_equal(d->overflows, 1);
	assert_int_equal(d->drops, 2);
	assert_int_equal(d->expired, 0);
}

/* A closed listener is not sampled. */
static void test_pass_skips_closed_listener(void **state)
{
	struct fixture *f = *state;

	f->lc->state = TW_TCP_CLOSE;
	conntable_retire(f->t, f->lc, T0);
	assert_non_null(conntable_listener(f->t, LCOOKIE));
	passive_pass_done(f->t, 1, T0 + SEC, all_in_scope, NULL);
	assert_int_equal(f->l->depth_n, 0);
}

/* A request the dumps stop showing after its timer was due: expired at
 * that time (from its last SYN-ACK's schedule), timed, summarized, and
 * gone from the table. */
static void test_request_gone_expired(void **state)
{
	struct fixture *f = *state;
	struct tw_synack s = synack(5001, 1, 40001, T0 + 1 * SEC, T0, 0, 2000000);
	const struct tw_halfopen *h;

	passive_on_synack(f->t, &s);
	s = synack(5001, 1, 40001, T0 + 3 * SEC, T0, 1, 4000000);
	passive_on_synack(f->t, &s);
	/* Due at 3 s + 4 s; missed by the pass at 10 s. */
	passive_request_gone(f->t, conntable_get(f->t, 5001), T0 + 10 * SEC);
	assert_null(conntable_get(f->t, 5001));
	assert_null(find_request(f, 1, 40001));
	assert_int_equal(f->l->half_open[TW_HALFOPEN_EXPIRED], 1);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_RESET], 0);
	h = listener_recent(f->l, 0);
	assert_non_null(h);
	assert_int_equal(h->end, TW_HALFOPEN_EXPIRED);
	assert_int_equal(h->end_ns, T0 + 7 * SEC);
	assert_true(h->flags & TW_HALFOPEN_END_DERIVED);
	assert_false(h->flags & TW_HALFOPEN_FIRST_DERIVED);
	assert_int_equal(h->child_cookie, 0);
	assert_int_equal(h->retransmits, 2);
	assert_int_equal(NN(f->l->half_open_lifetime)->count, 1);
	assert_int_equal(NN(f->l->half_open_lifetime)->max_us, 7 * 1000000);
	/* The next sample counts it. */
	passive_pass_done(f->t, 1, T0 + 10 * SEC, all_in_scope, NULL);
	assert_int_equal(NN(listener_depth(f->l, 0))->expired, 1);
}

/* Gone before its timer was due: reset (at the pass), not expired. With
 * no timer known at all: reset too. */
static void test_request_gone_reset(void **state)
{
	struct fixture *f = *state;
	struct tw_synack s = synack(5001, 1, 40001, T0 + 1 * SEC, T0, 0, 2000000);
	struct tw_conn *r;
	const struct tw_halfopen *h;

	passive_on_synack(f->t, &s);
	passive_request_gone(f->t, conntable_get(f->t, 5001), T0 + 2 * SEC);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_RESET], 1);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_EXPIRED], 0);
	h = NN(listener_recent(f->l, 0));
	assert_int_equal(h->end, TW_HALFOPEN_RESET);
	assert_int_equal(h->end_ns, T0 + 2 * SEC);
	assert_null(conntable_get(f->t, 5001));

	r = dumped_request(f, 5002, 2, 40002, T0, 0);
	passive_on_request_seen(f->t, r, 1, T0);
	passive_request_gone(f->t, r, T0 + 100 * SEC);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_RESET], 2);
	/* Its first SYN-ACK was only guessed (the dump): no lifetime. */
	h = listener_recent(f->l, 0);
	assert_int_equal(h->cookie, 5002);
	assert_true(h->flags & TW_HALFOPEN_FIRST_DERIVED);
	assert_int_equal(NN(f->l->half_open_lifetime)->count, 1);
}

/* A dumped request expiring on the dump's schedule: expired, but its
 * life is not timed (its start was a guess). */
static void test_dumped_request_expires(void **state)
{
	struct fixture *f = *state;
	struct tw_conn *r = dumped_request(f, 5003, 3, 40003, T0, 3000);

	passive_on_request_seen(f->t, r, 1, T0);
	passive_request_gone(f->t, r, T0 + 5 * SEC);
	assert_int_equal(f->l->half_open[TW_HALFOPEN_EXPIRED], 1);
	assert_int_equal(NN(listener_recent(f->l, 0))->end_ns, T0 + 3 * SEC);
	assert_null(f->l->half_open_lifetime);
}

/* A child that is not the request's (another client port) leaves the
 * request alone. */
static void test_child_other_tuple(void **state)
{
	struct fixture *f = *state;
	struct tw_synack s = synack(5001, 1, 40001, T0 + 1 * SEC, T0, 0, 2000000);

	passive_on_synack(f->t, &s);
	child(f, 7001, 1, 40009, T0 + 2 * SEC, 0, 1);
	assert_non_null(conntable_get(f->t, 5001));
	assert_ptr_equal(find_request(f, 1, 40001), conntable_get(f->t, 5001));
	assert_int_equal(f->l->half_open[TW_HALFOPEN_COMPLETED], 1);
	assert_null(listener_recent(f->l, 0));
}

/* The recent half-opens are a ring of TW_LISTENER_RECENT, newest first. */
static void test_recent_ring(void **state)
{
	struct fixture *f = *state;

	for (unsigned i = 0; i < TW_LISTENER_RECENT + 4; i++) {
		struct tw_synack s = synack(5000 + i, 1 + i, (uint16_t)(43000 + i), T0 + i * SEC,
					    T0 + i * SEC - MS, 0, 1000000);

		passive_on_synack(f->t, &s);
		passive_request_gone(f->t, conntable_get(f->t, 5000 + i), T0 + i * SEC + 10 * MS);
	}
	assert_int_equal(f->l->half_open[TW_HALFOPEN_RESET], TW_LISTENER_RECENT + 4);
	assert_int_equal(NN(listener_recent(f->l, 0))->cookie, 5000 + TW_LISTENER_RECENT + 3);
	assert_int_equal(NN(listener_recent(f->l, TW_LISTENER_RECENT - 1))->cookie, 5004);
	assert_null(listener_recent(f->l, TW_LISTENER_RECENT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_synack_makes_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synack_edge_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_established_completes_request, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_established_without_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_established_no_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_established_dumped_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_takes_request_cookie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synack_after_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_without_established_time, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listener_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_syn_queue_and_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_skips_closed_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_gone_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_gone_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dumped_request_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_other_tuple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_ring, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
