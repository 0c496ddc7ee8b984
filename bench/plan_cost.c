/*
 * tw-plan-cost: what a listing's planning costs, in the table alone (no
 * HTTP, no JSON): a table of N connections (-n, default 100000; random
 * ports and cookies, one in -s of them SYN_SENT, the rest ESTABLISHED),
 * and for each query the cost of finding its rows, as the listing does
 * (the planner's cookies, then each record looked up and the filter
 * applied again, as the stream writes it):
 *
 *   planner   filter_plan_cookies: the filter applied while the cookies
 *             are gathered, only matches sorted (this build)
 *   peer      every cookie gathered and sorted, then each one looked up
 *             and filtered (the planner before: conntable_sorted_cookies)
 *
 * Prints, per query, one line:
 *   result query=Q rows=R planner_ns=P peer_ns=S ratio=P/S
 * the medians of -r runs (default 21); -q NAME runs that query alone.
 * Under `valgrind --tool=callgrind` the instruction counts of planner()
 * and peer() compare the two whatever else the machine does
 * (bench/run-plan-cost.sh).
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conntable.h"
#include "filter.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The rows a listing writes from cookies v[0..n): looked up, filtered. */
static size_t rows_of(struct tw_conntable *t, const struct tw_filter *f, const uint64_t *v,
		      size_t n)
{
	size_t rows = 0;

	for (size_t i = 0; i < n; i++) {
		struct tw_conn *c = conntable_get(t, v[i]);

		rows += c && filter_match(f, c);
	}
	return rows;
}

__attribute__((noinline)) static size_t planner(struct tw_conntable *t, const struct tw_filter *f)
{
	size_t n, rows;
	uint64_t *v = filter_plan_cookies(t, f, &n);

	if (!v)
		exit(1);
	rows = rows_of(t, f, v, n);
	free(v);
	return rows;
}

__attribute__((noinline)) static size_t peer(struct tw_conntable *t, const struct tw_filter *f)
{
	size_t n, rows;
	uint64_t *v = conntable_sorted_cookies(t, &n);

	if (!v)
		exit(1);
	rows = rows_of(t, f, v, n);
	free(v);
	return rows;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median_ns(size_t (*fn)(struct tw_conntable *, const struct tw_filter *),
			  struct tw_conntable *t, const struct tw_filter *f, int runs,
			  size_t *ret_rows)
{
	uint64_t v[101];

	for (int i = 0; i < runs; i++) {
		uint64_t t0 = now_ns();

		*ret_rows = fn(t, f);
		v[i] = now_ns() - t0;
	}
	qsort(v, (size_t)runs, sizeof(v[0]), cmp_u64);
	return v[runs / 2];
}

int main(int argc, char **argv)
{
	struct {
		const char *name, *key, *value;
	} queries[] = {
		{"state_syn_sent", "state", "syn-sent"},
		{"state_established", "state", "established"},
		{"filter_dport_range", "filter", "dport > :60000"},
		{"all", "state", "all"}, /* tcpwatch list -a */
		{"default", NULL, NULL}, /* tcpwatch list */
	};
	long n = 100000, syn_every = 1000, runs = 21;
	const char *only = NULL;
	struct tw_conntable_limits limits = {.history_max = 8};
	struct tw_conntable *t;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:r:q:")) != -1) {
		char *end;
		long v;

		if (opt == 'q') {
			only = optarg;
			continue;
		}
		v = strtol(optarg, &end, 10);
		if (*end || v < 1 || (opt == 'r' && v > 101)) {
			fprintf(stderr,
				"usage: %s [-n CONNECTIONS] [-s SYN_EVERY] [-r RUNS<=101] "
				"[-q QUERY]\n",
				argv[0]);
			return 2;
		}
		if (opt == 'n')
			n = v;
		else if (opt == 's')
			syn_every = v;
		else if (opt == 'r')
			runs = v;
		else
			return 2;
	}
	limits.max_live = (uint32_t)n + 16;
	t = conntable_new(&limits);
	if (!t)
		return 1;
	for (long i = 0; i < n; i++) {
		bool created;
		struct tw_conn *c =
			conntable_get_or_add(t, 1000 + next_rand() % (1ull << 40), &created);

		if (!c)
			return 1;
		c->family = AF_INET;
		c->local_addr[10] = c->local_addr[11] = 0xff;
		c->local_addr[12] = 127;
		c->local_addr[15] = 1;
		c->remote_addr[10] = c->remote_addr[11] = 0xff;
		c->remote_addr[12] = 127;
		c->remote_addr[15] = 2;
		conntable_set_ports(t, c, (uint16_t)(32768 + next_rand() % 28000),
				    (uint16_t)(1 + next_rand() % 64));
		c->state = i % syn_every == 0 ? TW_TCP_SYN_SENT : TW_TCP_ESTABLISHED;
	}
	printf("table connections=%zu\n", (size_t)n);
	for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
		struct tw_filter f;
		char err[256];
		size_t rows_a, rows_b;
		uint64_t a, b;

		if (only && strcmp(only, queries[q].name))
			continue;
		filter_init(&f);
		if (queries[q].key &&
		    filter_set(&f, queries[q].key, queries[q].value, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", queries[q].name, err);
			return 1;
		}
		a = median_ns(planner, t, &f, (int)runs, &rows_a);
		b = median_ns(peer, t, &f, (int)runs, &rows_b);
		if (rows_a != rows_b) {
			fprintf(stderr, "%s: the planner found %zu rows, the peer %zu\n",
				queries[q].name, rows_a, rows_b);
			return 1;
		}
		printf("result query=%s rows=%zu planner_ns=%llu peer_ns=%llu ratio=%.3f\n",
		       queries[q].name, rows_a, (unsigned long long)a, (unsigned long long)b,
		       (double)a / (double)b);
	}
	conntable_free(t);
	return 0;
}
