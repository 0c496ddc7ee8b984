#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"

static const char *const state_names[TW_PROBE_STATES] = {
	[TW_PROBE_PENDING] = "pending",   [TW_PROBE_OPEN] = "open", [TW_PROBE_CLOSED] = "closed",
	[TW_PROBE_FILTERED] = "filtered", [TW_PROBE_HOP] = "hop",   [TW_PROBE_ERROR] = "error",
};

const char *probe_state_name(unsigned state)
{
	return state < TW_PROBE_STATES ? state_names[state] : "?";
}

int results_init(struct tw_results *r, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	r->ring = calloc(cap ? cap : 1, sizeof(*r->ring));
	if (!r->ring)
		return -ENOMEM;
	r->cap = cap ? cap : 1;
	return 0;
}

void results_free(struct tw_results *r)
{
	free(r->ring);
	free(r->histo);
	memset(r, 0, sizeof(*r));
}

void results_add(struct tw_results *r, const struct tw_probe_result *res)
{
	r->ring[r->added % r->cap] = *res;
	r->added++;
	r->sent++;
	if (res->state < TW_PROBE_STATES)
		r->by_state[res->state]++;
	if (res->state == TW_PROBE_ERROR)
		r->errors++;
	else if (res->state == TW_PROBE_OPEN || res->state == TW_PROBE_CLOSED ||
		 res->state == TW_PROBE_HOP || (res->flags & TW_RESULT_ICMP))
		r->received++;
	else
		r->lost++;
	if (res->rtt_ns >= 0 && res->state != TW_PROBE_HOP)
		histo_add_lazy(&r->histo, (uint64_t)res->rtt_ns / 1000);
}

uint32_t results_count(const struct tw_results *r)
{
	return r->added < r->cap ? (uint32_t)r->added : r->cap;
}

const struct tw_probe_result *results_at(const struct tw_results *r, uint32_t i)
{
	uint64_t first = r->added - results_count(r);

	return &r->ring[(first + i) % r->cap];
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of sorted v. */
static uint64_t rank(const uint64_t *v, size_t n, unsigned pct)
{
	size_t k = (n * pct + 99) / 100;

	return v[k ? k - 1 : 0];
}

static void rtt_figures(uint64_t *v, size_t n, struct tw_probe_summary *s)
{
	double sum = 0, sq = 0, mean;

	s->rtt_count = n;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	mean = sum / (double)n;
	/* Two passes: the squares of RTTs near a second in ns (1e18) leave
	 * a double no digits for their difference. */
	for (size_t i = 0; i < n; i++)
		sq += ((double)v[i] - mean) * ((double)v[i] - mean);
	s->min_ns = v[0];
	s->max_ns = v[n - 1];
	s->avg_ns = (uint64_t)(mean + 0.5);
	/* ping's mdev: the standard deviation */
	s->mdev_ns = (uint64_t)(sqrt(sq / (double)n) + 0.5);
	s->p50_ns = rank(v, n, 50);
	s->p90_ns = rank(v, n, 90);
	s->p99_ns = rank(v, n, 99);
}

void summary_of(const struct tw_probe_result *res, size_t n, struct tw_probe_summary *s)
{
	uint64_t *v = malloc((n ? n : 1) * sizeof(*v));
	size_t k = 0;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		const struct tw_probe_result *x = &res[i];

		if (x->state == TW_PROBE_PENDING)
			continue;
		s->sent++;
		if (x->state < TW_PROBE_STATES)
			s->by_state[x->state]++;
		if (x->state == TW_PROBE_ERROR)
			s->errors++;
		else if (x->state == TW_PROBE_FILTERED && !(x->flags & TW_RESULT_ICMP))
			s->lost++;
		else
			s->received++;
		if (v && x->rtt_ns >= 0 && x->state != TW_PROBE_HOP)
			v[k++] = (uint64_t)x->rtt_ns;
	}
	if (v)
		rtt_figures(v, k, s);
	free(v);
}

void results_summary(const struct tw_results *r, struct tw_probe_summary *s)
{
	uint32_t n = results_count(r);
	uint64_t *v = malloc((n ? n : 1) * sizeof(*v));
	size_t k = 0;

	memset(s, 0, sizeof(*s));
	s->sent = r->sent;
	s->received = r->received;
	s->lost = r->lost;
	s->errors = r->errors;
	memcpy(s->by_state, r->by_state, sizeof(s->by_state));
	if (!v)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const struct tw_probe_result *x = results_at(r, i);

		if (x->rtt_ns >= 0 && x->state != TW_PROBE_HOP)
			v[k++] = (uint64_t)x->rtt_ns;
	}
	rtt_figures(v, k, s);
	free(v);
}
