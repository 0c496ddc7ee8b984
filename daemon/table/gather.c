#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conntable_int.h"
#include "gather.h"

/* Slots walked between two looks at the clock (at most a tenth of a
 * millisecond of records, a few microseconds of tags). */
#define GATHER_SLICE 2048
/* A step stops once it kept this many: its run is sorted at the step's
 * end, and a sort of 8,192 cookies takes about half a millisecond. */
#define GATHER_RUN_MAX 8192

void gather_init(struct tw_gather *g, struct tw_conntable *t,
		 bool (*keep)(const struct tw_conn *c, const void *ctx), const void *ctx,
		 uint32_t states)
{
	*g = (struct tw_gather){
		.table = t,
		.keep = keep,
		.ctx = ctx,
		.states = states,
	};
}

void gather_free(struct tw_gather *g)
{
	free(g->v);
	free(g->runs);
	free(g->heap);
	*g = (struct tw_gather){0};
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * size);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

static void keep_one(struct tw_conn *c, void *data)
{
	struct tw_gather *g = data;

	if (g->oom || (g->keep && !g->keep(c, g->ctx)))
		return;
	if (!grow((void **)&g->v, &g->cap, g->n + 1, sizeof(*g->v))) {
		g->oom = true;
		return;
	}
	g->v[g->n++] = c->cookie;
}

bool gather_step(struct tw_gather *g, uint64_t budget_ns)
{
	uint64_t t0 = clock_mono_ns();
	size_t start = g->n;
	bool end = false;

	if (g->done)
		return true;
	while (!end && !g->oom) {
		end = conntable_scan_states(g->table, &g->cursor, g->states, keep_one, g,
					    GATHER_SLICE);
		if (g->n - start >= GATHER_RUN_MAX || clock_mono_ns() - t0 >= budget_ns)
			break;
	}
	if (!g->oom && g->n > start) {
		if (grow((void **)&g->runs, &g->runs_cap, g->nruns + 1, sizeof(*g->runs))) {
			qsort(g->v + start, g->n - start, sizeof(*g->v), conntable_cmp_u64);
			g->runs[g->nruns++] = (struct tw_gather_run){.pos = start, .end = g->n};
		} else {
			g->oom = true;
		}
	}
	if (g->oom || end)
		g->done = true;
	return g->done;
}

size_t gather_count(const struct tw_gather *g)
{
	return g->n;
}

static uint64_t head(const struct tw_gather *g, size_t run)
{
	return g->v[g->runs[run].pos];
}

static void sift_down(struct tw_gather *g, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i, t;

		if (l < g->nheap && head(g, g->heap[l]) < head(g, g->heap[m]))
			m = l;
		if (r < g->nheap && head(g, g->heap[r]) < head(g, g->heap[m]))
			m = r;
		if (m == i)
			return;
		t = g->heap[i];
		g->heap[i] = g->heap[m];
		g->heap[m] = t;
		i = m;
	}
}

size_t gather_after(const uint64_t *v, size_t lo, size_t hi, uint64_t after)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int gather_seek(struct tw_gather *g, uint64_t after)
{
	if (g->reading)
		return -EINVAL;
	g->reading = true;
	free(g->heap);
	g->heap = malloc((g->nruns ? g->nruns : 1) * sizeof(*g->heap));
	if (!g->heap)
		return -ENOMEM;
	g->nheap = 0;
	for (size_t i = 0; i < g->nruns; i++) {
		struct tw_gather_run *r = &g->runs[i];

		if (after)
			r->pos = gather_after(g->v, r->pos, r->end, after);
		if (r->pos < r->end)
			g->heap[g->nheap++] = i;
	}
	for (size_t i = g->nheap / 2; i-- > 0;)
		sift_down(g, i);
	return 0;
}

bool gather_next(struct tw_gather *g, uint64_t *ret)
{
	struct tw_gather_run *r;

	if (!g->nheap)
		return false;
	r = &g->runs[g->heap[0]];
	*ret = g->v[r->pos++];
	if (r->pos == r->end)
		g->heap[0] = g->heap[--g->nheap];
	sift_down(g, 0);
	return true;
}

uint64_t *gather_flatten(struct tw_gather *g, size_t *ret_n)
{
	uint64_t *out = malloc((g->n ? g->n : 1) * sizeof(*out));
	size_t n = 0;
	uint64_t ck;

	if (!out)
		return NULL;
	if (gather_seek(g, 0) < 0) {
		free(out);
		return NULL;
	}
	while (n < g->n && gather_next(g, &ck))
		out[n++] = ck;
	*ret_n = n;
	return out;
}
