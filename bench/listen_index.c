/*
 * tw-listen-index: what closing N listeners costs the daemon's table.
 *
 * Adds N listening sockets to a connection table (conntable_update_listener,
 * as events do), then closes them all (conntable_retire), and times the
 * closes. Beside it, side by side in the same run, the index as it was
 * before: one hash by (netns, port) whose removal searched every bucket
 * for the node (re-implemented here as the peer). Prints
 *   listeners=N table_close_ns_per=... old_close_ns_per=... ratio=...
 * Usage: tw-listen-index [-n N] [-p] (-p: skip the peer, which is
 * quadratic: about 20 s at 100,000)
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conntable.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- the peer: the index as it was (conntable.c before the layout issue) --- */

struct old_node {
	uint64_t key;
	struct tw_conn *conn;
	struct old_node *next;
};

struct old_index {
	struct old_node **b;
	size_t cap, count;
};

static size_t old_bucket(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static void old_add(struct old_index *x, struct tw_conn *c)
{
	struct old_node *n = malloc(sizeof(*n));
	size_t k;

	if (!n)
		abort();
	if (x->count + 1 > x->cap) {
		size_t cap = x->cap * 2;
		struct old_node **b = calloc(cap, sizeof(*b));

		if (!b)
			abort();
		for (size_t i = 0; i < x->cap; i++) {
			for (struct old_node *m = x->b[i], *next; m; m = next) {
				next = m->next;
				k = old_bucket(m->key, cap);
				m->next = b[k];
				b[k] = m;
			}
		}
		free(x->b);
		x->b = b;
		x->cap = cap;
	}
	n->key = ((uint64_t)c->netns << 16) | c->local_port;
	n->conn = c;
	k = old_bucket(n->key, x->cap);
	n->next = x->b[k];
	x->b[k] = n;
	x->count++;
}

/* The old listen_unindex: every bucket, until the node is found. */
static void old_remove(struct old_index *x, struct tw_conn *c)
{
	for (size_t b = 0; b < x->cap; b++) {
		for (struct old_node **p = &x->b[b]; *p; p = &(*p)->next) {
			if ((*p)->conn == c) {
				struct old_node *n = *p;

				*p = n->next;
				free(n);
				x->count--;
				return;
			}
		}
	}
}

static void fill(struct tw_conn *c, size_t i)
{
	c->netns = 4026531840u + (uint32_t)(i / 20000);
	c->family = AF_INET;
	c->local_port = (uint16_t)(1024 + i % 20000);
	c->state = TW_TCP_LISTEN;
}

int main(int argc, char **argv)
{
	const struct tw_conntable_limits limits = {
		.max_live = 50000000,
		.retain_count = 0,
		.retain_age_ns = 0,
		.history_max = 16,
	};
	size_t n = 100000;
	int opt, peer = 1;
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conn **v;
	uint64_t t0, ours, old = 0;

	while ((opt = getopt(argc, argv, "n:p")) != -1) {
		if (opt == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (opt == 'p')
			peer = 0;
		else
			return fprintf(stderr, "usage: %s [-n N] [-p]\n", argv[0]), 2;
	}
	v = calloc(n, sizeof(*v));
	if (!t || !v || !n)
		return 1;
	for (size_t i = 0; i < n; i++) {
		bool created;

		v[i] = conntable_get_or_add(t, 4096 + i, &created);
		if (!v[i])
			return 1;
		fill(v[i], i);
		conntable_update_listener(t, v[i]);
	}
	/* Close in a scattered order, as listeners close on a real host. */
	t0 = now_ns();
	for (size_t k = 0; k < n; k++) {
		struct tw_conn *c = v[(k * 7919) % n];

		c->state = TW_TCP_CLOSE;
		conntable_retire(t, c, 1);
	}
	ours = now_ns() - t0;
	if (peer) {
		struct old_index x = {.b = calloc(64, sizeof(struct old_node *)), .cap = 64};
		struct tw_conn *recs = calloc(n, sizeof(*recs));

		if (!x.b || !recs)
			return 1;
		for (size_t i = 0; i < n; i++) {
			fill(&recs[i], i);
			old_add(&x, &recs[i]);
		}
		t0 = now_ns();
		for (size_t k = 0; k < n; k++)
			old_remove(&x, &recs[(k * 7919) % n]);
		old = now_ns() - t0;
		free(x.b);
		free(recs);
	}
	printf("listeners=%zu table_close_total_ms=%.3f table_close_ns_per=%.0f", n, ours / 1e6,
	       (double)ours / (double)n);
	if (peer)
		printf(" old_close_total_ms=%.1f old_close_ns_per=%.0f old_over_new=%.0f",
		       old / 1e6, (double)old / (double)n, (double)old / (double)(ours ? ours : 1));
	printf("\n");
	conntable_free(t);
	free(v);
	return 0;
}
