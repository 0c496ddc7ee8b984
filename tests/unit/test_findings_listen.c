/* Unit tests for daemon/table/findings_listen.c: the findings about
 * listeners (accept_queue_full, listen_overflows, syn_cookies,
 * half_open_expiring, accept_wait_slow, listener_drops). Each is raised
 * when its condition holds and only then; "rising" ones compare the
 * listener's depth samples (one per reconcile pass) across the findings
 * window, as daemon/table/listeners.c's listener_growth() does; each
 * names the listener, its process and its numbers, in the record and in
 * its one sentence. */
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

#include "conntable.h"
#include "drops.h"
#include "findings.h"
#include "histo.h"
#include "listeners.h"
#include "nsstat.h"

#define NETNS  4026531840u
#define NETNS2 4026532000u
#define SEC    1000000000ull
#define NOW    (10000 * SEC)
#define BEFORE (NOW - 120 * SEC) /* a sample before the window */
#define INSIDE (NOW - 5 * SEC)   /* a sample within it */
#define MAXF   32

static const struct tw_conntable_limits limits = {
	.max_live = 10000,
	.retain_count = 1000,
	.retain_age_ns = 3600 * SEC,
	.history_max = 16,
};

static const struct tw_findings_config cfg = {
	.close_wait_threshold_ms = 60000,
	.time_wait_pileup = 3,
	.fin_wait2_pileup = 2,
	.connect_failures = 3,
	.peer_resets = 2,
	.accept_queue_pct = 80,
	.accept_wait_ms = 1000,
	.window_ms = 60000, /* 60 s: since = NOW - 60 s */
};

struct fixture {
	struct tw_conntable *t;
	struct tw_finding list[MAXF];
	size_t n;
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

	drops_free_names();
	conntable_free(f->t);
	free(f);
	return 0;
}

/* A listening socket on addr:port since created_ns, owned by comm (NULL:
 * owner unknown); returns its listener record. */
static struct tw_listener *listener(struct fixture *f, uint64_t cookie, const char *addr,
				    uint16_t port, uint64_t created_ns, const char *comm)
{
	bool created = false;
	struct tw_conn *c = conntable_get_or_add(f->t, cookie, &created);
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	struct tw_listener *l;

	assert_non_null(c);
	assert_true(created);
	c->netns = NETNS;
	c->family = (uint8_t)family;
	assert_int_equal(inet_pton(family, addr, c->local_addr), 1);
	c->local_port = port;
	c->state = TW_TCP_LISTEN;
	c->first_seen_ns = c->last_change_ns = created_ns;
	if (comm) {
		c->pid = 4242;
		snprintf(c->comm, sizeof(c->comm), "%s", comm);
		c->flags |= TW_CONN_HAS_TASK;
	}
	conntable_update_listener(f->t, c);
	l = conntable_listener(f->t, cookie);
	assert_non_null(l);
	assert_int_equal(l->created_ns, created_ns);
	return l;
}

/* A reconcile pass's sample of l's queues and counters as they are. */
static void sample(struct tw_listener *l, uint64_t time_ns)
{
	assert_int_equal(listener_sample(l, time_ns), 0);
}

static void collect(struct fixture *f)
{
	f->n = findings_listeners(f->t, &cfg, NOW, f->list, MAXF);
	for (size_t i = 0; i < f->n; i++) {
		assert_true(f->list[i].used);
		assert_true(findings_kind_listener(f->list[i].kind));
	}
}

static const struct tw_finding *find(const struct fixture *f, uint8_t kind, uint64_t cookie)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->list[i].kind == kind && f->list[i].listener_cookie == cookie)
			return &f->list[i];
	return NULL;
}

static size_t count_kind(const struct fixture *f, uint8_t kind)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += f->list[i].kind == kind;
	return n;
}

/* The finding's sentence contains want (and so names the listener). */
static void assert_summary_has(const struct tw_finding *fd, const char *want)
{
	char out[512];

	findings_listen_summary(fd, &cfg, out, sizeof(out));
	if (!strstr(out, want))
		fail_msg("summary \"%s\" lacks \"%s\"", out, want);
}

/* The finding is about l: its cookie, endpoint, namespace, process. */
static void assert_names(const struct tw_finding *fd, uint64_t cookie, const char *addr,
			 uint16_t port)
{
	uint8_t a[16] = {0};
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

	assert_non_null(fd);
	assert_int_equal(fd->listener_cookie, cookie);
	assert_int_equal(fd->family, family);
	assert_int_equal(fd->port, port);
	assert_int_equal(fd->netns, NETNS);
	assert_int_equal(inet_pton(family, addr, a), 1);
	assert_memory_equal(fd->addr, a, family == AF_INET ? 4 : 16);
}

/* A listener with samples on both sides of the window, queues far from
 * full, fast accepts, nothing growing: no finding at all. */
static void test_healthy_listener(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");

	l->accept_queue = 10;
	l->accept_queue_limit = 128;
	l->overflows = 2; /* old ones: counted before the window */
	l->listen_drops = 40;
	l->drops.total = 3;
	l->half_open[TW_HALFOPEN_EXPIRED] = 1;
	l->children = 500;
	sample(l, BEFORE);
	sample(l, INSIDE);
	for (int i = 0; i < 100; i++)
		assert_int_equal(histo_add_lazy(&l->accept_wait, 10000), 0); /* 10 ms */
	collect(f);
	assert_int_equal(f->n, 0);
}

/* accept_queue_full: at the threshold share of the limit or more. */
static void test_accept_queue_full(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *full = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");
	struct tw_listener *at = listener(f, 2, "10.0.0.1", 8081, NOW - 3600 * SEC, "server");
	struct tw_listener *below = listener(f, 3, "10.0.0.1", 8082, NOW - 3600 * SEC, "server");
	struct tw_listener *nolimit = listener(f, 4, "10.0.0.1", 8083, NOW - 3600 * SEC, NULL);
	const struct tw_finding *fd;

	full->accept_queue = 110;
	full->accept_queue_limit = 128;
	at->accept_queue = 80; /* exactly 80 % */
	at->accept_queue_limit = 100;
	below->accept_queue = 79;
	below->accept_queue_limit = 100;
	nolimit->accept_queue = 5; /* never sampled: no limit known */
	collect(f);
	assert_int_equal(count_kind(f, TW_FINDING_ACCEPT_QUEUE), 2);
	fd = find(f, TW_FINDING_ACCEPT_QUEUE, 1);
	assert_names(fd, 1, "10.0.0.1", 8080);
	assert_int_equal(fd->value, 110);
	assert_int_equal(fd->limit, 128);
	assert_int_equal(fd->count, 110);
	assert_int_equal(fd->n_procs, 1);
	assert_int_equal(fd->procs[0].pid, 4242);
	assert_string_equal(fd->procs[0].comm, "server");
	assert_summary_has(fd, "server (pid 4242) on 10.0.0.1:8080: accept queue 110 of 128 "
			       "(threshold 80%)");
	assert_non_null(find(f, TW_FINDING_ACCEPT_QUEUE, 2));
	assert_null(find(f, TW_FINDING_ACCEPT_QUEUE, 3));
	assert_null(find(f, TW_FINDING_ACCEPT_QUEUE, 4));
	assert_int_equal(f->n, 2);
}

/* listen_overflows: final ACKs overflowed (overflows) or the socket's
 * own drops (listen_drops) grew within the window. */
static void test_listen_overflows(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *ovf = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");
	struct tw_listener *ld = listener(f, 2, "10.0.0.1", 8081, NOW - 3600 * SEC, "server");
	const struct tw_finding *fd;

	sample(ovf, BEFORE);
	sample(ld, BEFORE);
	ovf->overflows = 3;
	ld->listen_drops = 4;
	sample(ovf, INSIDE);
	sample(ld, INSIDE);
	collect(f);
	fd = find(f, TW_FINDING_LISTEN_OVERFLOWS, 1);
	assert_names(fd, 1, "10.0.0.1", 8080);
	assert_int_equal(fd->delta, 3);
	assert_int_equal(fd->count, 3);
	assert_int_equal(fd->value, 3);
	assert_int_equal(fd->limit, 0);
	assert_summary_has(fd, "server (pid 4242) on 10.0.0.1:8080 dropped 3 SYNs or ACKs for "
			       "full queues in the last 60 s");
	fd = find(f, TW_FINDING_LISTEN_OVERFLOWS, 2);
	assert_names(fd, 2, "10.0.0.1", 8081);
	assert_int_equal(fd->delta, 4);
	assert_int_equal(fd->limit, 4);
	assert_summary_has(fd, "on 10.0.0.1:8081 dropped 4 SYNs");
	assert_int_equal(f->n, 2);
}

/* Overflows that happened before the window, however many, are no
 * finding now: the baseline is the last sample before the window. */
static void test_listen_overflows_old(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");

	sample(l, NOW - 300 * SEC);
	l->overflows = 30;
	l->listen_drops = 30;
	sample(l, NOW - 200 * SEC);
	sample(l, BEFORE);
	sample(l, NOW - 30 * SEC);
	sample(l, INSIDE);
	collect(f);
	assert_null(find(f, TW_FINDING_LISTEN_OVERFLOWS, 1));
	assert_int_equal(f->n, 0);
	/* Growth between the last sample before the window and the first
	 * inside it counts. */
	l->overflows = 31;
	sample(l, NOW - 1 * SEC);
	collect(f);
	assert_int_equal(find(f, TW_FINDING_LISTEN_OVERFLOWS, 1)->delta, 1);
}

/*
 * listen_drops is the socket's sk_drops, which the kernel increments
 * (tcp_listendrop) for every drop at a listener, the final ACKs that
 * overflow a full accept queue included (tcp_v4_syn_recv_sock's
 * exit_overflow falls through to it). The two must not be added: 5
 * overflowed ACKs are 5 drops, not 10. (Was a bug: the sum.)
 */
static void test_listen_overflows_not_double_counted(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");
	const struct tw_finding *fd;

	sample(l, BEFORE);
	/* 5 final ACKs overflowed: each is a TCP_LISTEN_OVERFLOW drop (our
	 * overflows) and a tcp_listendrop (the socket's sk_drops). */
	l->overflows = 5;
	l->listen_drops = 5;
	sample(l, INSIDE);
	collect(f);
	fd = find(f, TW_FINDING_LISTEN_OVERFLOWS, 1);
	assert_non_null(fd);
	assert_int_equal(fd->value, 5);
	assert_int_equal(fd->limit, 5);
	assert_int_equal(fd->delta, 5);
}

/* syn_cookies: the namespace sent SYN cookies within the window and the
 * listener was busy (children or drops grew, or requests are queued). */
static void test_syn_cookies(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *busy = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");
	struct tw_listener *idle = listener(f, 2, "10.0.0.1", 8081, NOW - 3600 * SEC, "server");
	struct tw_listener *queued = listener(f, 3, "10.0.0.1", 8082, NOW - 3600 * SEC, NULL);
	struct tw_nsstat *ns = nsstat_entry(conntable_nsstat(f->t), NETNS);
	uint64_t v[TW_NS_KEYS] = {0};
	const struct tw_finding *fd;

	assert_non_null(ns);
	sample(busy, BEFORE);
	sample(idle, BEFORE);
	sample(queued, BEFORE);
	busy->children = 2;
	queued->syn_queue = 12;
	sample(busy, INSIDE);
	sample(idle, INSIDE);
	sample(queued, INSIDE);
	v[TW_NS_SYNCOOKIES_SENT] = 100;
	nsstat_update(ns, v, BEFORE);
	v[TW_NS_SYNCOOKIES_SENT] = 130;
	nsstat_update(ns, v, INSIDE);
	collect(f);
	fd = find(f, TW_FINDING_SYN_COOKIES, 1);
	assert_names(fd, 1, "10.0.0.1", 8080);
	assert_int_equal(fd->value, 130);
	assert_int_equal(fd->delta, 30);
	assert_int_equal(fd->count, 30);
	assert_summary_has(fd, "server (pid 4242) on 10.0.0.1:8080: its namespace sent 30 SYN "
			       "cookies in the last 60 s (130 in all)");
	assert_null(find(f, TW_FINDING_SYN_COOKIES, 2));
	fd = find(f, TW_FINDING_SYN_COOKIES, 3);
	assert_non_null(fd);
	assert_summary_has(fd, "the listener on 10.0.0.1:8082: its namespace sent 30");
	assert_int_equal(f->n, 2);
}

/* Cookies sent before the window, or in another namespace, are no
 * finding for a busy listener. */
static void test_syn_cookies_not_now_or_elsewhere(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");
	struct tw_nsstat *ns = nsstat_entry(conntable_nsstat(f->t), NETNS);
	struct tw_nsstat *other = nsstat_entry(conntable_nsstat(f->t), NETNS2);
	uint64_t v[TW_NS_KEYS] = {0};

	assert_non_null(ns);
	assert_non_null(other);
	sample(l, BEFORE);
	l->children = 50;
	l->syn_queue = 3;
	sample(l, INSIDE);
	/* Ours grew 100 s ago, then not. */
	v[TW_NS_SYNCOOKIES_SENT] = 10;
	nsstat_update(ns, v, NOW - 200 * SEC);
	v[TW_NS_SYNCOOKIES_SENT] = 90;
	nsstat_update(ns, v, NOW - 100 * SEC);
	nsstat_update(ns, v, INSIDE);
	/* Another namespace's grew now. */
	v[TW_NS_SYNCOOKIES_SENT] = 0;
	nsstat_update(other, v, BEFORE);
	v[TW_NS_SYNCOOKIES_SENT] = 1000;
	nsstat_update(other, v, INSIDE);
	collect(f);
	assert_null(find(f, TW_FINDING_SYN_COOKIES, 1));
	assert_int_equal(f->n, 0);
}

/* half_open_expiring: half-opens expired within the window. */
static void test_half_open_expiring(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *now = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");
	struct tw_listener *old = listener(f, 2, "10.0.0.1", 8081, NOW - 3600 * SEC, "server");
	const struct tw_finding *fd;

	sample(now, BEFORE);
	old->half_open[TW_HALFOPEN_EXPIRED] = 9;
	sample(old, BEFORE);
	now->half_open[TW_HALFOPEN_EXPIRED] = 4;
	now->half_open[TW_HALFOPEN_RESET] = 7;      /* resets are not expiries */
	old->half_open[TW_HALFOPEN_COMPLETED] = 70; /* nor completions */
	sample(now, INSIDE);
	sample(old, INSIDE);
	collect(f);
	fd = find(f, TW_FINDING_HALF_OPEN_EXPIRING, 1);
	assert_names(fd, 1, "10.0.0.1", 8080);
	assert_int_equal(fd->delta, 4);
	assert_int_equal(fd->value, 4);
	assert_summary_has(fd, "server (pid 4242) on 10.0.0.1:8080: 4 half-open connections "
			       "expired in the last 60 s");
	assert_null(find(f, TW_FINDING_HALF_OPEN_EXPIRING, 2));
	assert_int_equal(f->n, 1);
}

/* accept_wait_slow: the accept wait's p99 over the threshold (1 s). */
static void test_accept_slow(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *slow = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");
	struct tw_listener *fast = listener(f, 2, "10.0.0.1", 8081, NOW - 3600 * SEC, "server");
	struct tw_listener *tail = listener(f, 3, "10.0.0.1", 8082, NOW - 3600 * SEC, "server");
	struct tw_listener *one = listener(f, 4, "10.0.0.1", 8083, NOW - 3600 * SEC, "server");
	struct tw_listener *at = listener(f, 5, "10.0.0.1", 8084, NOW - 3600 * SEC, "server");
	const struct tw_finding *fd;

	listener(f, 6, "10.0.0.1", 8085, NOW - 3600 * SEC, "server"); /* never accepted */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(histo_add_lazy(&slow->accept_wait, 2000000), 0); /* 2 s */
		assert_int_equal(histo_add_lazy(&fast->accept_wait, 500000), 0);  /* 0.5 s */
		assert_int_equal(histo_add_lazy(&at->accept_wait, 1000000), 0);   /* 1 s */
	}
	/* p99 of 100: the 99th. Two slow ones make it slow, one does not. */
	for (int i = 0; i < 98; i++) {
		assert_int_equal(histo_add_lazy(&tail->accept_wait, 1000), 0);
		assert_int_equal(histo_add_lazy(&one->accept_wait, 1000), 0);
	}
	assert_int_equal(histo_add_lazy(&tail->accept_wait, 5000000), 0);
	assert_int_equal(histo_add_lazy(&tail->accept_wait, 5000000), 0);
	assert_int_equal(histo_add_lazy(&one->accept_wait, 1000), 0);
	assert_int_equal(histo_add_lazy(&one->accept_wait, 5000000), 0);
	collect(f);
	fd = find(f, TW_FINDING_ACCEPT_SLOW, 1);
	assert_names(fd, 1, "10.0.0.1", 8080);
	assert_int_equal(fd->value, 2000000);
	assert_int_equal(fd->limit, 1000000);
	assert_int_equal(fd->count, 2000);
	assert_summary_has(fd, "server (pid 4242) on 10.0.0.1:8080: accept wait p99 2000.0 ms "
			       "(threshold 1000 ms)");
	fd = find(f, TW_FINDING_ACCEPT_SLOW, 3);
	assert_non_null(fd);
	assert_true(fd->value >= 4840000 && fd->value <= 5000000); /* within 3.2 % */
	assert_null(find(f, TW_FINDING_ACCEPT_SLOW, 2));
	assert_null(find(f, TW_FINDING_ACCEPT_SLOW, 4));
	assert_null(find(f, TW_FINDING_ACCEPT_SLOW, 5)); /* at, not over */
	assert_null(find(f, TW_FINDING_ACCEPT_SLOW, 6));
	assert_int_equal(f->n, 2);
}

/* listener_drops: packets dropped at the listener within the window,
 * with the most frequent reason by name. */
static void test_listener_drops(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");
	struct tw_listener *anon = listener(f, 2, "10.0.0.1", 8081, NOW - 3600 * SEC, "server");
	struct tw_listener *old = listener(f, 3, "10.0.0.1", 8082, NOW - 3600 * SEC, "server");
	const struct tw_finding *fd;

	drops_set_name(3, "NO_SOCKET");
	drops_set_name(77, "TCP_LISTEN_OVERFLOW");
	drop_counts_add(&old->drops, 3);
	sample(l, BEFORE);
	sample(anon, BEFORE);
	sample(old, BEFORE);
	drop_counts_add(&l->drops, 3);
	drop_counts_add(&l->drops, 3);
	for (int i = 0; i < 5; i++)
		drop_counts_add(&l->drops, 77);
	drop_counts_add(&l->drops, 5);
	drop_counts_add(&anon->drops, 200); /* a reason without a name */
	sample(l, INSIDE);
	sample(anon, INSIDE);
	sample(old, INSIDE);
	collect(f);
	fd = find(f, TW_FINDING_LISTENER_DROPS, 1);
	assert_names(fd, 1, "10.0.0.1", 8080);
	assert_int_equal(fd->delta, 8);
	assert_int_equal(fd->value, 8);
	assert_string_equal(fd->detail, "TCP_LISTEN_OVERFLOW");
	assert_summary_has(fd, "server (pid 4242) on 10.0.0.1:8080: 8 packets dropped in the "
			       "last 60 s (mostly TCP_LISTEN_OVERFLOW)");
	fd = find(f, TW_FINDING_LISTENER_DROPS, 2);
	assert_non_null(fd);
	assert_string_equal(fd->detail, "REASON_200");
	assert_null(find(f, TW_FINDING_LISTENER_DROPS, 3));
	assert_int_equal(f->n, 2);
}

/* The sentence names an unowned listener by its endpoint; an IPv6 one in
 * brackets. */
static void test_summary_unowned_and_ipv6(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "fd00::1", 443, NOW - 3600 * SEC, NULL);
	const struct tw_finding *fd;

	l->accept_queue = 128;
	l->accept_queue_limit = 128;
	collect(f);
	fd = find(f, TW_FINDING_ACCEPT_QUEUE, 1);
	assert_names(fd, 1, "fd00::1", 443);
	assert_int_equal(fd->n_procs, 0);
	assert_summary_has(fd, "the listener on [fd00::1]:443: accept queue 128 of 128");
}

/* A listener that closed (retained) has no findings, whatever its
 * numbers. */
static void test_closed_listener(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");

	l->accept_queue = 128;
	l->accept_queue_limit = 128;
	sample(l, BEFORE);
	l->overflows = 10;
	sample(l, INSIDE);
	collect(f);
	assert_int_equal(f->n, 2);
	l->conn->state = TW_TCP_CLOSE;
	conntable_retire(f->t, l->conn, NOW - SEC);
	assert_non_null(conntable_listener(f->t, 1));
	collect(f);
	assert_int_equal(f->n, 0);
}

/* At most max findings are written. */
static void test_bounded(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");
	struct tw_finding two[2];

	l->accept_queue = 128;
	l->accept_queue_limit = 128;
	sample(l, BEFORE);
	l->overflows = 10;
	l->half_open[TW_HALFOPEN_EXPIRED] = 3;
	sample(l, INSIDE);
	collect(f);
	assert_int_equal(f->n, 3);
	assert_int_equal(findings_listeners(f->t, &cfg, NOW, two, 2), 2);
	assert_int_equal(findings_listeners(f->t, &cfg, NOW, two, 0), 0);
}

/* A listener made within the window (its events seen from its start)
 * began at 0: what its own counters show grew within the window. */
static void test_new_listener_counts_from_zero(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 20 * SEC, "server");

	l->half_open[TW_HALFOPEN_EXPIRED] = 2;
	sample(l, NOW - 15 * SEC);
	l->half_open[TW_HALFOPEN_EXPIRED] = 6;
	sample(l, INSIDE);
	collect(f);
	assert_int_equal(find(f, TW_FINDING_HALF_OPEN_EXPIRING, 1)->delta, 6);
}

/*
 * A single sample of a listener made before the window is no growth: 2
 * drops and 5 expired half-opens from an hour ago are not "in the last
 * 60 s" the first time the listener's namespace is sampled (e.g. one a
 * reconcile had not dumped until now). (Was a bug: the whole value.)
 */
static void test_single_sample_is_no_growth(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 3600 * SEC, "server");

	drop_counts_add(&l->drops, 3); /* long before the window */
	drop_counts_add(&l->drops, 3);
	l->half_open[TW_HALFOPEN_EXPIRED] = 5;
	sample(l, INSIDE);
	assert_int_equal(
		listener_growth(l, offsetof(struct tw_depth_sample, drops), NOW - 60 * SEC), 0);
	collect(f);
	assert_null(find(f, TW_FINDING_LISTENER_DROPS, 1));
	assert_null(find(f, TW_FINDING_HALF_OPEN_EXPIRING, 1));
}

/*
 * "A record made within the window started from nothing" holds for
 * tcpwatchd's own counters, not for listen_drops, the kernel's sk_drops
 * since the socket was created: a listener the first dump after start
 * finds with a sk_drops of 1000 from last week has not "dropped 1000 in the
 * last 60 s" when its two samples show no growth. (Was a bug.)
 */
static void test_dumped_listener_old_listen_drops(void **state)
{
	struct fixture *f = *state;
	struct tw_listener *l = listener(f, 1, "10.0.0.1", 8080, NOW - 10 * SEC, "server");

	l->conn->flags |= TW_CONN_FROM_SNAPSHOT;
	l->listen_drops = 1000; /* sk_drops, as the first dump read it */
	sample(l, NOW - 10 * SEC);
	sample(l, INSIDE); /* unchanged */
	collect(f);
	assert_null(find(f, TW_FINDING_LISTEN_OVERFLOWS, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_healthy_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_overflows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_overflows_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_overflows_not_double_counted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syn_cookies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syn_cookies_not_now_or_elsewhere, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_half_open_expiring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_slow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listener_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_unowned_and_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_listener_counts_from_zero, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_single_sample_is_no_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dumped_listener_old_listen_drops, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
