/* Unit tests for daemon/reconcile.c: passes of made-up sock_diag sockets
 * against the connection table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "ksock.h"
#include "lifecycle.h"
#include "reconcile.h"

#define NS       4026531840u
#define NS_OTHER 4026532000u
#define SEC      1000000000ull

struct fixture {
	struct tw_conntable *t;
	struct tw_reconcile r;
	uint64_t now_ns;
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
	reconcile_init(&f->r, f->t);
	f->now_ns = 100 * SEC;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	reconcile_fini(&f->r);
	conntable_free(f->t);
	free(f);
	return 0;
}

static struct tw_ksock dsock(uint64_t cookie, uint8_t state, uint16_t lport, uint16_t rport)
{
	struct tw_ksock s;

	memset(&s, 0, sizeof(s));
	s.cookie = cookie;
	s.family = AF_INET;
	s.state = state;
	s.local_port = lport;
	s.remote_port = rport;
	s.local_addr[0] = 127;
	s.local_addr[3] = 1;
	if (rport) {
		s.remote_addr[0] = 10;
		s.remote_addr[3] = 2;
	}
	s.uid = 1000;
	s.inode = 5000 + (uint32_t)cookie;
	return s;
}

/* Ends a pass whose dumps covered both namespaces but those in failed[];
 * both exist. */
static void end_pass(struct fixture *f, const uint32_t *failed, size_t n_failed, uint64_t now)
{
	static const uint32_t all[] = {NS, NS_OTHER}; /* sorted */
	uint32_t dumped[2];
	size_t n = 0;

	for (size_t i = 0; i < 2; i++) {
		bool skip = false;

		for (size_t k = 0; k < n_failed; k++)
			skip |= failed[k] == all[i];
		if (!skip)
			dumped[n++] = all[i];
	}
	reconcile_end(&f->r,
		      &(struct tw_reconcile_scope){.dumped = dumped,
						   .n_dumped = n,
						   .existing = all,
						   .n_existing = 2,
						   .existing_complete = true},
		      now);
}

/* One whole pass over socks[] in namespace netns; a second apart each. */
static void pass_ns(struct fixture *f, uint32_t netns, const struct tw_ksock *socks, size_t n,
		    const uint32_t *spared, size_t n_spared)
{
	f->now_ns += SEC;
	reconcile_begin(&f->r, f->now_ns);
	for (size_t i = 0; i < n; i++)
		reconcile_sock(&f->r, netns, &socks[i], f->now_ns + i);
	end_pass(f, spared, n_spared, f->now_ns + n);
}

static void pass(struct fixture *f, const struct tw_ksock *socks, size_t n)
{
	pass_ns(f, NS, socks, n, NULL, 0);
}

static void test_initial_pass_no_corrections(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock socks[] = {
		dsock(1, TW_TCP_ESTABLISHED, 40000, 80),
		dsock(2, TW_TCP_LISTEN, 8080, 0),
		dsock(3, TW_TCP_TIME_WAIT, 40001, 80),
	};
	struct tw_conntable_stats ts;
	struct tw_conn *c;
	uint8_t any[16] = {127, 0, 0, 1};

	assert_true(f->r.initial);
	pass(f, socks, 3);
	assert_false(f->r.initial);
	assert_int_equal(f->r.stats.runs, 1);
	assert_int_equal(f->r.stats.corrections, 0);
	assert_int_equal(f->r.stats.added, 0);

	c = conntable_get(f->t, 1);
	assert_non_null(c);
	assert_int_equal(c->state, TW_TCP_ESTABLISHED);
	assert_true(c->flags & TW_CONN_FROM_SNAPSHOT);
	assert_int_equal(c->netns, NS);
	assert_int_equal(c->local_port, 40000);
	assert_int_equal(c->remote_port, 80);
	assert_int_equal(c->inode, 5001);
	assert_int_equal(c->uid, 1000);
	assert_int_equal(c->family, AF_INET);
	assert_int_equal(conntable_get(f->t, 3)->state, TW_TCP_TIME_WAIT);
	/* A listener found by snapshot is indexed too. */
	assert_ptr_equal(conntable_find_listener(f->t, NS, AF_INET, any, 8080),
			 conntable_get(f->t, 2));
	conntable_get_stats(f->t, &ts);
	assert_int_equal(ts.live, 3);
}

static void test_later_pass_counts_added(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock socks[] = {
		dsock(1, TW_TCP_ESTABLISHED, 40000, 80),
		dsock(2, TW_TCP_ESTABLISHED, 40001, 80),
		dsock(3, TW_TCP_NEW_SYN_RECV, 8080, 50000),
	};

	pass(f, socks, 1);
	pass(f, socks, 3);
	/* The events missed socket 2; a request socket never has events. */
	assert_int_equal(f->r.stats.added, 1);
	assert_int_equal(f->r.stats.corrections, 1);
	assert_non_null(conntable_get(f->t, 2));
	assert_true(conntable_get(f->t, 2)->flags & TW_CONN_FROM_SNAPSHOT);
	assert_non_null(conntable_get(f->t, 3));
	/* Seen again: nothing new. */
	pass(f, socks, 3);
	assert_int_equal(f->r.stats.corrections, 1);
	assert_int_equal(f->r.stats.runs, 3);
}

/* The dump ran ahead of the ring buffer: the events explaining the new
 * state arrive before the pass ends. That is no disagreement. */
static void test_inflight_event_not_a_correction(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(1, TW_TCP_ESTABLISHED, 40000, 80);
	struct tw_conn *c;
	uint16_t len;

	pass(f, &s, 1);
	c = conntable_get(f->t, 1);
	len = c->hist_len;

	f->now_ns += SEC;
	reconcile_begin(&f->r, f->now_ns);
	s.state = TW_TCP_CLOSE_WAIT;
	reconcile_sock(&f->r, NS, &s, f->now_ns);
	/* The event, drained before reconcile_end, moves it. */
	c->state = TW_TCP_CLOSE_WAIT;
	c->last_change_ns = f->now_ns + 1;
	end_pass(f, NULL, 0, f->now_ns + 2);
	assert_int_equal(c->state, TW_TCP_CLOSE_WAIT);
	assert_int_equal(c->hist_len, len);
	assert_int_equal(f->r.stats.state_fixed, 0);
	assert_int_equal(f->r.stats.corrections, 0);

	/* A socket the events had not announced yet, then did. */
	f->now_ns += SEC;
	reconcile_begin(&f->r, f->now_ns);
	s = dsock(7, TW_TCP_ESTABLISHED, 40007, 80);
	reconcile_sock(&f->r, NS, &s, f->now_ns);
	conntable_get(f->t, 7)->flags &= ~TW_CONN_FROM_SNAPSHOT; /* its event came */
	end_pass(f, NULL, 0, f->now_ns + 1);
	assert_int_equal(f->r.stats.added, 0);
	assert_int_equal(f->r.stats.corrections, 0);
}

static void test_state_mismatch_fixed(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(1, TW_TCP_ESTABLISHED, 40000, 80);
	struct tw_conn *c;
	uint16_t len;

	pass(f, &s, 1);
	c = conntable_get(f->t, 1);
	len = c->hist_len;

	/* The peer's FIN event was lost. */
	s.state = TW_TCP_CLOSE_WAIT;
	pass(f, &s, 1);
	assert_int_equal(c->state, TW_TCP_CLOSE_WAIT);
	assert_int_equal(c->hist_len, len + 1);
	assert_int_equal(conn_hist(c, len).kind, TW_HIST_STATE);
	assert_int_equal(conn_hist(c, len).from, TW_TCP_ESTABLISHED);
	assert_int_equal(conn_hist(c, len).to, TW_TCP_CLOSE_WAIT);
	assert_true(conn_hist(c, len).flags & TW_HIST_DERIVED);
	/* Judged at the end of the pass, once events in flight are in. */
	assert_int_equal(conn_hist(c, len).time_ns, f->now_ns + 1);
	assert_int_equal(c->last_change_ns, f->now_ns + 1);
	assert_int_equal(f->r.stats.state_fixed, 1);
	assert_int_equal(f->r.stats.corrections, 1);

	/* Agreement is not counted. */
	pass(f, &s, 1);
	assert_int_equal(f->r.stats.state_fixed, 1);
	assert_int_equal(f->r.stats.corrections, 1);
	assert_int_equal(c->hist_len, len + 1);
}

static void test_listener_state_fix_updates_index(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(7, TW_TCP_CLOSE_WAIT, 9000, 0);
	uint8_t addr[16] = {127, 0, 0, 1};

	pass(f, &s, 1);
	assert_null(conntable_find_listener(f->t, NS, AF_INET, addr, 9000));
	s.state = TW_TCP_LISTEN;
	pass(f, &s, 1);
	assert_ptr_equal(conntable_find_listener(f->t, NS, AF_INET, addr, 9000),
			 conntable_get(f->t, 7));
}

static void test_missing_twice_retired(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock socks[] = {
		dsock(1, TW_TCP_ESTABLISHED, 40000, 80),
		dsock(2, TW_TCP_ESTABLISHED, 40001, 80),
	};
	struct tw_conntable_stats ts;
	struct tw_conn *c;

	pass(f, socks, 2);
	c = conntable_get(f->t, 2);

	/* Missing from one pass: a dump can skip a socket under churn. */
	pass(f, socks, 1);
	assert_int_equal(c->state, TW_TCP_ESTABLISHED);
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_int_equal(f->r.stats.vanished, 0);
	/* Seen again: the count of misses starts over. */
	pass(f, socks, 2);
	pass(f, socks, 1);
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_int_equal(f->r.stats.vanished, 0);

	/* TW_RECONCILE_MISSES in a row: gone. */
	pass(f, socks, 1);
	assert_int_equal(c->state, TW_TCP_CLOSE);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_int_equal(f->r.stats.vanished, 1);
	assert_int_equal(f->r.stats.corrections, 1);
	assert_int_equal(conn_hist(c, c->hist_len - 1).from, TW_TCP_ESTABLISHED);
	assert_int_equal(conn_hist(c, c->hist_len - 1).to, TW_TCP_CLOSE);
	assert_true(conn_hist(c, c->hist_len - 1).flags & TW_HIST_DERIVED);
	conntable_get_stats(f->t, &ts);
	assert_int_equal(ts.live, 1);
	assert_int_equal(ts.retained, 1);
	/* The survivor is untouched. */
	assert_false(conntable_get(f->t, 1)->flags & TW_CONN_CLOSED);

	/* Already retired: later passes leave it alone. */
	pass(f, socks, 1);
	pass(f, socks, 1);
	assert_int_equal(f->r.stats.vanished, 1);
}

/* The generation a record keeps is 16 bits: passes across its wrap see
 * what they see, and miss what they miss, as any others. */
static void test_generation_wraps(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock socks[] = {
		dsock(1, TW_TCP_ESTABLISHED, 40000, 80),
		dsock(2, TW_TCP_ESTABLISHED, 40001, 80),
	};
	struct tw_conn *c;

	f->r.gen = UINT16_MAX - 2;
	pass(f, socks, 2);
	c = conntable_get(f->t, 2);
	for (int i = 0; i < 6; i++)
		pass(f, socks, 2); /* over 2^16: both seen every time */
	assert_true(f->r.gen > UINT16_MAX);
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_false(conntable_get(f->t, 1)->flags & TW_CONN_CLOSED);
	assert_int_equal(f->r.stats.vanished, 0);
	pass(f, socks, 1);
	pass(f, socks, 1);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_int_equal(f->r.stats.vanished, 1);
	assert_false(conntable_get(f->t, 1)->flags & TW_CONN_CLOSED);
}

static void test_time_wait_end_not_correction(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(1, TW_TCP_TIME_WAIT, 40000, 80);
	struct tw_conn *c, *d;
	bool created;

	pass(f, &s, 1);
	c = conntable_get(f->t, 1);

	/* And one the events made TIME_WAIT (derived from FIN_WAIT2->CLOSE). */
	d = conntable_get_or_add(f->t, 2, &created);
	d->state = TW_TCP_TIME_WAIT;
	d->flags |= TW_CONN_TW_DERIVED;
	d->netns = NS;
	d->last_change_ns = f->now_ns;

	pass(f, NULL, 0);
	pass(f, NULL, 0);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_true(d->flags & TW_CONN_CLOSED);
	assert_int_equal(c->state, TW_TCP_CLOSE);
	assert_int_equal(f->r.stats.time_wait_ended, 2);
	assert_int_equal(f->r.stats.vanished, 0);
	assert_int_equal(f->r.stats.corrections, 0);
	assert_int_equal(conn_hist(c, c->hist_len - 1).from, TW_TCP_TIME_WAIT);
	assert_int_equal(conn_hist(c, c->hist_len - 1).to, TW_TCP_CLOSE);
	assert_true(conn_hist(c, c->hist_len - 1).flags & TW_HIST_DERIVED);
}

/* A pass that leaves TIME_WAIT out of its dump does not count those
 * connections missing; past TCP_TIMEWAIT_LEN they end in any pass, at
 * the time their timer says. */
static void test_time_wait_skipped_then_expired(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(1, TW_TCP_TIME_WAIT, 40000, 80);
	struct tw_conn *c;
	uint64_t tw_start;

	pass(f, &s, 1);
	c = conntable_get(f->t, 1);
	tw_start = c->last_change_ns;
	for (int i = 0; i < 5; i++) {
		f->now_ns += SEC;
		reconcile_begin(&f->r, f->now_ns);
		reconcile_skip_time_wait(&f->r);
		end_pass(f, NULL, 0, f->now_ns);
	}
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_int_equal(c->state, TW_TCP_TIME_WAIT);

	/* 63 s after it entered TIME_WAIT, a skipping pass ends it. */
	f->now_ns = tw_start + TW_TIME_WAIT_LEN_NS + 3 * SEC;
	reconcile_begin(&f->r, f->now_ns);
	reconcile_skip_time_wait(&f->r);
	end_pass(f, NULL, 0, f->now_ns);
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_int_equal(f->r.stats.time_wait_ended, 1);
	assert_int_equal(f->r.stats.corrections, 0);
	assert_int_equal(conn_hist(c, c->hist_len - 1).time_ns, tw_start + TW_TIME_WAIT_LEN_NS);
	assert_int_equal(conn_closed_ns(c), tw_start + TW_TIME_WAIT_LEN_NS);
}

/* An event applied after the pass began is newer than the dump. */
static void test_changed_after_pass_start_left_alone(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(1, TW_TCP_ESTABLISHED, 40000, 80);
	struct tw_conn *c;
	uint64_t start;
	uint16_t len;

	pass(f, &s, 1);
	c = conntable_get(f->t, 1);
	len = c->hist_len;

	f->now_ns += SEC;
	start = f->now_ns;
	reconcile_begin(&f->r, start);
	/* The close event arrives while the dump runs... */
	c->state = TW_TCP_FIN_WAIT1;
	c->last_change_ns = start + 10;
	/* ...and the dump still shows the older state. */
	reconcile_sock(&f->r, NS, &s, start + 20);
	end_pass(f, NULL, 0, start + 30);
	assert_int_equal(c->state, TW_TCP_FIN_WAIT1);
	assert_int_equal(c->hist_len, len);
	assert_int_equal(f->r.stats.corrections, 0);

	/* Not seen by two passes, but changed during each: not swept. */
	for (int i = 0; i < 2; i++) {
		f->now_ns += SEC;
		reconcile_begin(&f->r, f->now_ns);
		c->last_change_ns = f->now_ns + 1;
		end_pass(f, NULL, 0, f->now_ns + 2);
	}
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_int_equal(f->r.stats.vanished, 0);
}

static void test_spared_namespace_not_swept(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock a = dsock(1, TW_TCP_ESTABLISHED, 40000, 80);
	struct tw_ksock b = dsock(2, TW_TCP_ESTABLISHED, 40001, 80);
	const uint32_t spared[] = {NS_OTHER};

	f->now_ns += SEC;
	reconcile_begin(&f->r, f->now_ns);
	reconcile_sock(&f->r, NS, &a, f->now_ns);
	reconcile_sock(&f->r, NS_OTHER, &b, f->now_ns);
	end_pass(f, NULL, 0, f->now_ns);
	assert_int_equal(conntable_get(f->t, 2)->netns, NS_OTHER);

	/* NS_OTHER's dump fails three times in a row; NS's shows nothing. */
	for (int i = 0; i < 3; i++)
		pass_ns(f, NS, NULL, 0, spared, 1);
	assert_false(conntable_get(f->t, 2)->flags & TW_CONN_CLOSED);
	assert_int_equal(conntable_get(f->t, 2)->state, TW_TCP_ESTABLISHED);
	assert_true(conntable_get(f->t, 1)->flags & TW_CONN_CLOSED);
	assert_int_equal(f->r.stats.vanished, 1);
}

/* A namespace that exists but is not dumped (over max-netns, or its diag
 * socket could not be made) keeps its connections as they are, marked;
 * once it no longer exists they go with it. */
static void test_undumped_namespace_kept_then_gone(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock a = dsock(1, TW_TCP_ESTABLISHED, 40000, 80);
	const uint32_t only_ns[] = {NS}, both[] = {NS, NS_OTHER};
	struct tw_conn *c;

	f->now_ns += SEC;
	reconcile_begin(&f->r, f->now_ns);
	reconcile_sock(&f->r, NS_OTHER, &a, f->now_ns);
	end_pass(f, NULL, 0, f->now_ns);
	c = conntable_get(f->t, 1);
	assert_non_null(c);
	for (int i = 0; i < 4; i++) {
		f->now_ns += SEC;
		reconcile_begin(&f->r, f->now_ns);
		reconcile_end(&f->r,
			      &(struct tw_reconcile_scope){.dumped = only_ns,
							   .n_dumped = 1,
							   .existing = both,
							   .n_existing = 2,
							   .existing_complete = true},
			      f->now_ns);
	}
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_true(c->flags & TW_CONN_UNRECONCILED);
	assert_int_equal(c->state, TW_TCP_ESTABLISHED);
	assert_int_equal(f->r.stats.vanished, 0);
	assert_int_equal(f->r.stats.unreconciled, 1);
	/* Followed again: seen, no longer marked. */
	f->now_ns += SEC;
	reconcile_begin(&f->r, f->now_ns);
	reconcile_sock(&f->r, NS_OTHER, &a, f->now_ns);
	end_pass(f, NULL, 0, f->now_ns);
	assert_false(c->flags & TW_CONN_UNRECONCILED);
	assert_int_equal(f->r.stats.unreconciled, 0);
	/* Its namespace gone: two passes later it is gone too. */
	for (int i = 0; i < 2; i++) {
		f->now_ns += SEC;
		reconcile_begin(&f->r, f->now_ns);
		reconcile_end(&f->r,
			      &(struct tw_reconcile_scope){.dumped = only_ns,
							   .n_dumped = 1,
							   .existing = only_ns,
							   .n_existing = 1,
							   .existing_complete = true},
			      f->now_ns);
	}
	assert_true(c->flags & TW_CONN_CLOSED);
	assert_int_equal(c->end_reason, TW_END_VANISHED);
	assert_int_equal(f->r.stats.vanished, 1);
}

/* A connection whose namespace is unknown (its first events lost) is
 * judged only by a pass that dumped every namespace there is. */
static void test_unknown_namespace(void **state)
{
	struct fixture *f = *state;
	const uint32_t only_ns[] = {NS}, both[] = {NS, NS_OTHER};
	bool created;
	struct tw_conn *c = conntable_get_or_add(f->t, 77, &created);

	assert_non_null(c);
	c->state = TW_TCP_ESTABLISHED;
	c->last_change_ns = f->now_ns;
	for (int i = 0; i < 3; i++) {
		f->now_ns += SEC;
		reconcile_begin(&f->r, f->now_ns);
		reconcile_end(&f->r,
			      &(struct tw_reconcile_scope){.dumped = only_ns,
							   .n_dumped = 1,
							   .existing = both,
							   .n_existing = 2,
							   .existing_complete = true},
			      f->now_ns);
	}
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_true(c->flags & TW_CONN_UNRECONCILED);
	for (int i = 0; i < 2; i++)
		pass(f, NULL, 0);
	assert_true(c->flags & TW_CONN_CLOSED);
	(void)state;
}

static void test_request_socket_removed(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(9, TW_TCP_NEW_SYN_RECV, 8080, 50000);
	struct tw_conntable_stats ts;
	struct tw_conn *c;

	pass(f, &s, 1);
	c = conntable_get(f->t, 9);
	assert_non_null(c);
	assert_true(c->flags & TW_CONN_REQUEST);
	assert_int_equal(c->state, TW_TCP_SYN_RECV);

	pass(f, NULL, 0);
	assert_non_null(conntable_get(f->t, 9));
	pass(f, NULL, 0);
	/* Became a child with its own cookie, or dropped: not retained. */
	assert_null(conntable_get(f->t, 9));
	conntable_get_stats(f->t, &ts);
	assert_int_equal(ts.live, 0);
	assert_int_equal(ts.retained, 0);
	assert_int_equal(f->r.stats.vanished, 0);
	assert_int_equal(f->r.stats.corrections, 0);
}

static void test_invalid_sockets_ignored(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock socks[] = {
		dsock(0, TW_TCP_ESTABLISHED, 1, 2), /* no cookie */
		dsock(5, 0, 1, 2),                  /* no state */
		dsock(6, TW_TCP_MAX_STATES, 1, 2),  /* out of range */
	};
	struct tw_conntable_stats ts;

	pass(f, socks, 3);
	conntable_get_stats(f->t, &ts);
	assert_int_equal(ts.live, 0);
	assert_null(conntable_get(f->t, 5));
	assert_null(conntable_get(f->t, 6));
}

static void test_tcp_info_sampled(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(1, TW_TCP_ESTABLISHED, 40000, 80);
	struct tw_conn *c;

	s.has_info = true;
	s.info.rtt_us = 1234;
	s.info.snd_cwnd = 10;
	s.info.bytes_acked = 99999;
	pass(f, &s, 1);
	c = conntable_get(f->t, 1);
	assert_int_equal(c->info.rtt_us, 1234);
	assert_int_equal(c->info.snd_cwnd, 10);
	assert_int_equal(c->info.bytes_acked, 99999);
	assert_int_equal(conn_sample_ns(c), f->now_ns);

	s.info.rtt_us = 555;
	pass(f, &s, 1);
	assert_int_equal(c->info.rtt_us, 555);
	assert_int_equal(conn_sample_ns(c), f->now_ns);
}

/* Events carry the namespace and uid only at a socket's first transition:
 * a connection first seen by a later one (the earlier events lost) has
 * neither, and the reconcile fills them in, without a correction. */
static void test_namespace_and_uid_filled_in(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(1, TW_TCP_ESTABLISHED, 40000, 80);
	bool created;
	struct tw_conn *c = conntable_get_or_add(f->t, 1, &created);

	assert_true(created);
	c->state = TW_TCP_ESTABLISHED;
	c->local_port = 40000;
	c->last_change_ns = f->now_ns - 1;
	pass(f, &s, 1);
	assert_int_equal(c->netns, NS);
	assert_int_equal(c->uid, 1000);
	assert_int_equal(f->r.stats.corrections, 0);
	/* Known ones stay. */
	s.uid = 0;
	pass_ns(f, NS_OTHER, &s, 1, NULL, 0);
	assert_int_equal(c->netns, NS);
	assert_int_equal(c->uid, 1000);
}

/* The owner pass looks only at what the reconcile noted: connections a
 * dump gave an inode while they had no owner, or only their listener's;
 * each noted once. */
static void test_owner_wanted_noted(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock socks[] = {
		dsock(1, TW_TCP_ESTABLISHED, 40000, 80), /* no owner yet */
		dsock(2, TW_TCP_ESTABLISHED, 40001, 80), /* owner known */
		dsock(3, TW_TCP_ESTABLISHED, 40002, 80), /* the listener's owner */
		dsock(4, TW_TCP_TIME_WAIT, 40003, 80),   /* no inode: nothing to find */
	};
	bool created;
	struct tw_conn *c;

	socks[3].inode = 0;
	c = conntable_get_or_add(f->t, 2, &created);
	c->flags |= TW_CONN_HAS_TASK;
	c->state = TW_TCP_ESTABLISHED;
	c = conntable_get_or_add(f->t, 3, &created);
	c->flags |= TW_CONN_HAS_TASK | TW_CONN_OWNER_LISTENER;
	c->state = TW_TCP_ESTABLISHED;
	pass(f, socks, 4);
	assert_int_equal(f->r.n_owner_wanted, 2);
	assert_int_equal(f->r.owner_wanted[0], 1);
	assert_int_equal(f->r.owner_wanted[1], 3);
	assert_true(conntable_get(f->t, 1)->flags & TW_CONN_OWNER_WANTED);
	assert_false(conntable_get(f->t, 2)->flags & TW_CONN_OWNER_WANTED);
	assert_true(reconcile_wants_owner(conntable_get(f->t, 3)));
	assert_false(reconcile_wants_owner(conntable_get(f->t, 4)));
	/* Seen again: not noted twice. */
	pass(f, socks, 4);
	assert_int_equal(f->r.n_owner_wanted, 2);
}

/* The owner list gives its room back once mostly found: twice what it
 * holds is kept (256 at least), in order; a list still full keeps its. */
static void test_owner_wanted_trimmed(void **state)
{
	struct fixture *f = *state;
	enum { N = 900 }; /* the fixture's table holds 1000 */
	struct tw_ksock *socks = calloc(N, sizeof(*socks));

	assert_non_null(socks);
	for (int i = 0; i < N; i++)
		socks[i] = dsock((uint64_t)i + 1, TW_TCP_ESTABLISHED, (uint16_t)(20000 + i), 80);
	pass(f, socks, N);
	assert_int_equal(f->r.n_owner_wanted, N);
	assert_true(f->r.cap_owner_wanted >= N);
	reconcile_trim_owner_wanted(&f->r); /* full: kept */
	assert_true(f->r.cap_owner_wanted >= N);

	f->r.n_owner_wanted = 200; /* as the owner pass leaves it */
	reconcile_trim_owner_wanted(&f->r);
	assert_int_equal(f->r.cap_owner_wanted, 400);
	for (int i = 0; i < 200; i++)
		assert_int_equal(f->r.owner_wanted[i], (uint64_t)i + 1);
	f->r.n_owner_wanted = 3;
	reconcile_trim_owner_wanted(&f->r);
	assert_int_equal(f->r.cap_owner_wanted, 400); /* within twice 256 */
	f->r.n_owner_wanted = 0;
	reconcile_trim_owner_wanted(&f->r);
	assert_int_equal(f->r.cap_owner_wanted, 400);
	free(socks);
}

/* An orphaned socket's minisocket can wait in FIN_WAIT2 for the peer's
 * FIN: the events' derived TIME_WAIT is adjusted, not counted. */
static void test_derived_time_wait_adjusted(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(1, TW_TCP_FIN_WAIT2, 40000, 80);
	struct tw_hist h = {
		.kind = TW_HIST_STATE,
		.from = TW_TCP_FIN_WAIT2,
		.to = TW_TCP_TIME_WAIT,
		.flags = TW_HIST_DERIVED,
	};
	struct tw_conn *c;
	bool created;
	uint16_t len;

	pass(f, NULL, 0);
	c = conntable_get_or_add(f->t, 1, &created);
	c->netns = NS;
	c->state = TW_TCP_TIME_WAIT;
	c->flags |= TW_CONN_TW_DERIVED;
	h.time_ns = c->last_change_ns = f->now_ns;
	conntable_hist_append(f->t, c, &h);
	len = c->hist_len;

	pass(f, &s, 1);
	assert_int_equal(c->state, TW_TCP_FIN_WAIT2);
	assert_int_equal(c->hist_len, len);
	assert_int_equal(conn_hist(c, len - 1).to, TW_TCP_FIN_WAIT2);
	assert_int_equal(f->r.stats.corrections, 0);

	/* The peer's FIN comes: TIME_WAIT, derived, still no correction. */
	s.state = TW_TCP_TIME_WAIT;
	pass(f, &s, 1);
	assert_int_equal(c->state, TW_TCP_TIME_WAIT);
	assert_int_equal(c->hist_len, len + 1);
	assert_int_equal(conn_hist(c, len).from, TW_TCP_FIN_WAIT2);
	assert_int_equal(conn_hist(c, len).to, TW_TCP_TIME_WAIT);
	assert_true(conn_hist(c, len).flags & TW_HIST_DERIVED);
	assert_int_equal(f->r.stats.corrections, 0);
}

/* A socket retired too early (the dump skipped it twice) is revived. */
static void test_retired_seen_again_revived(void **state)
{
	struct fixture *f = *state;
	struct tw_ksock s = dsock(1, TW_TCP_ESTABLISHED, 40000, 80);
	struct tw_conntable_stats ts;
	struct tw_conn *c;

	pass(f, &s, 1);
	pass(f, NULL, 0);
	pass(f, NULL, 0);
	c = conntable_get(f->t, 1);
	assert_true(c->flags & TW_CONN_CLOSED);
	pass(f, &s, 1);
	assert_false(c->flags & TW_CONN_CLOSED);
	assert_int_equal(c->state, TW_TCP_ESTABLISHED);
	conntable_get_stats(f->t, &ts);
	assert_int_equal(ts.live, 1);
	assert_int_equal(ts.retained, 0);
}

/* The cookie of the i-th connection: spread over the table's buckets
 * (consecutive cookies sit in consecutive buckets: the table keeps the
 * kernel's per-CPU runs of 4096 together), each in a run of its own. */
static uint64_t ck(uint64_t i)
{
	return i << 12 | ((i * 2654435761u) & 0xfff);
}

/* The scope of the passes below: their one namespace, dumped whole. */
static const uint32_t one_ns[] = {NS};
static const struct tw_reconcile_scope one_scope = {
	.dumped = one_ns,
	.n_dumped = 1,
	.existing = one_ns,
	.n_existing = 1,
	.existing_complete = true,
};

/* The pass under way sees connections first, first + stride, ... up to n
 * (cookies ck(i)), ESTABLISHED. */
static void see(struct tw_reconcile *r, size_t first, size_t n, size_t stride, uint64_t now)
{
	for (size_t i = first; i <= n; i += stride) {
		struct tw_ksock k =
			dsock(ck(i), TW_TCP_ESTABLISHED, (uint16_t)(1024 + i % 60000), 80);

		reconcile_sock(r, NS, &k, now);
	}
}

/* A pass begins, ten seconds after the last, and sees the even ones. */
static void even_begin(struct tw_reconcile *r, size_t n, uint64_t *now)
{
	*now += 10 * SEC;
	reconcile_begin(r, *now);
	see(r, 2, n, 2, *now);
}

/* A table of n ESTABLISHED connections (cookies ck(1..n)) that one pass
 * saw, with room for max_live. */
static struct tw_conntable *big_table(struct tw_reconcile *r, size_t n, size_t max_live,
				      uint64_t *now)
{
	const struct tw_conntable_limits limits = {
		.max_live = max_live,
		.retain_count = max_live,
		.retain_age_ns = UINT64_MAX / 2,
		.history_max = 32,
	};
	struct tw_conntable *t = conntable_new(&limits);

	assert_non_null(t);
	reconcile_init(r, t);
	*now = 100 * SEC;
	reconcile_begin(r, *now);
	see(r, 1, n, 1, *now);
	reconcile_end(r, &one_scope, *now + SEC);
	return t;
}

/* A pass that sees the even cookies only, its sweep in slices of one
 * bucket walk each (budget 0) when sliced. With touch, after the first
 * slice the first odd connection still open changes (as an event between
 * two turns would change it), and *touch is its cookie. Returns how many
 * steps the sweep took. */
static size_t even_pass(struct tw_reconcile *r, size_t n, uint64_t *now, bool sliced,
			uint64_t *touch)
{
	size_t steps = 0;

	even_begin(r, n, now);
	if (!sliced) {
		reconcile_end(r, &one_scope, *now + SEC);
		return 1;
	}
	reconcile_sweep_begin(r, &one_scope, *now + SEC);
	do {
		if (steps == 1 && touch) {
			for (uint64_t c = 1; c <= n; c += 2) {
				struct tw_conn *x = conntable_get(r->table, ck(c));

				if (!(x->flags & TW_CONN_CLOSED)) {
					x->last_change_ns = *now + SEC / 2;
					*touch = c;
					break;
				}
			}
			assert_int_not_equal(*touch, 0);
		}
		steps++;
	} while (!reconcile_sweep_step(r, 0));
	return steps;
}

/* The sweep in slices closes exactly what the sweep in one go closes, the
 * same way, and leaves alone a connection an event changed between two of
 * its slices. */
static void test_sweep_in_slices_as_whole(void **state)
{
	enum { N = 3000 };
	struct tw_reconcile whole, sliced;
	struct tw_conntable *tw, *ts;
	uint64_t now_w, now_s, touched = 0;
	size_t steps = 0;

	(void)state;
	tw = big_table(&whole, N, 2 * N, &now_w);
	ts = big_table(&sliced, N, 2 * N, &now_s);
	assert_true(conntable_bucket_count(ts) > 2048); /* more than one slice */
	for (int p = 0; p < TW_RECONCILE_MISSES; p++) {
		even_pass(&whole, N, &now_w, false, NULL);
		/* The second pass closes: one of them changes meanwhile. */
		steps = even_pass(&sliced, N, &now_s, true, p ? &touched : NULL);
	}
	assert_true(steps >= conntable_bucket_count(ts) / 2048);
	assert_true(sliced.stats.sweep_turns > whole.stats.sweep_turns);
	assert_int_equal(whole.stats.vanished, N / 2);
	assert_int_equal(sliced.stats.vanished, N / 2 - 1);
	assert_int_equal(sliced.stats.runs, whole.stats.runs);
	for (uint64_t c = 1; c <= N; c++) {
		const struct tw_conn *a = conntable_get(tw, ck(c)), *b = conntable_get(ts, ck(c));

		assert_non_null(a);
		assert_non_null(b);
		if (c == touched) {
			assert_false(b->flags & TW_CONN_CLOSED); /* changed meanwhile */
			continue;
		}
		assert_int_equal(a->flags & TW_CONN_CLOSED, b->flags & TW_CONN_CLOSED);
		assert_int_equal(a->state, b->state);
		assert_int_equal(a->hist_len, b->hist_len);
		assert_int_equal(a->last_change_ns, b->last_change_ns);
	}
	assert_int_equal(sliced.stats.sweeps_cut, 0);
	reconcile_fini(&whole);
	reconcile_fini(&sliced);
	conntable_free(tw);
	conntable_free(ts);
}

/* A table that grows between two slices (its buckets rehashed) ends the
 * sweep there, counted; nothing is judged twice, and the next pass
 * finishes the job. */
static void test_sweep_cut_by_growth(void **state)
{
	enum { N = 3000 }; /* 4,096 buckets: two slices */
	struct tw_reconcile r;
	struct tw_conntable *t;
	uint64_t now;
	size_t buckets;
	bool created;

	(void)state;
	t = big_table(&r, N, 8 * N, &now);
	even_pass(&r, N, &now, false, NULL); /* one miss each for the odd ones */
	/* The second miss: begin, one slice, then the table grows. */
	even_begin(&r, N, &now);
	reconcile_sweep_begin(&r, &one_scope, now + SEC);
	buckets = conntable_bucket_count(t);
	assert_false(reconcile_sweep_step(&r, 0));
	for (uint64_t c = 1ull << 40; conntable_bucket_count(t) == buckets; c++)
		assert_non_null(conntable_get_or_add(t, c, &created));
	assert_true(reconcile_sweep_step(&r, 0));
	assert_int_equal(r.stats.sweeps_cut, 1);
	assert_true(r.stats.vanished > 0);
	assert_true(r.stats.vanished < N / 2);
	/* The next pass (without the new ones' sockets, which are younger
	 * than it) closes the rest: each odd one exactly once. */
	even_pass(&r, N, &now, false, NULL);
	assert_int_equal(r.stats.vanished, N / 2);
	for (uint64_t c = 1; c <= N; c += 2) {
		struct tw_conn *x = conntable_get(t, ck(c));

		assert_non_null(x);
		assert_true(x->flags & TW_CONN_CLOSED);
	}
	reconcile_fini(&r);
	conntable_free(t);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_initial_pass_no_corrections),
		T(test_later_pass_counts_added),
		T(test_inflight_event_not_a_correction),
		T(test_state_mismatch_fixed),
		T(test_listener_state_fix_updates_index),
		T(test_missing_twice_retired),
		T(test_generation_wraps),
		T(test_time_wait_end_not_correction),
		T(test_time_wait_skipped_then_expired),
		T(test_changed_after_pass_start_left_alone),
		T(test_spared_namespace_not_swept),
		T(test_undumped_namespace_kept_then_gone),
		T(test_unknown_namespace),
		T(test_request_socket_removed),
		T(test_invalid_sockets_ignored),
		T(test_tcp_info_sampled),
		T(test_namespace_and_uid_filled_in),
		T(test_owner_wanted_noted),
		T(test_owner_wanted_trimmed),
		T(test_derived_time_wait_adjusted),
		T(test_retired_seen_again_revived),
		cmocka_unit_test(test_sweep_in_slices_as_whole),
		cmocka_unit_test(test_sweep_cut_by_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
