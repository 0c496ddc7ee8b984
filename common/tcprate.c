#include <stdio.h>
#include <stdlib.h>

#include "tcprate.h"

static int by_cookie(const void *a, const void *b)
{
	const struct tw_rate_sample *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

void tcprate_sort(struct tw_rate_sample *v, size_t n)
{
	qsort(v, n, sizeof(*v), by_cookie);
}

static double per_s(uint64_t before, uint64_t after, uint64_t dt_ns)
{
	return after > before ? (double)(after - before) * 1e9 / (double)dt_ns : 0.0;
}

void tcprate_compute(const struct tw_rate_sample *prev, size_t n_prev,
		     const struct tw_rate_sample *cur, size_t n_cur, uint64_t dt_ns,
		     struct tw_rate *ret)
{
	size_t j = 0;

	for (size_t i = 0; i < n_cur; i++) {
		static const struct tw_rate_sample none;
		const struct tw_rate_sample *p = &none;

		/* A merge: both sorted by cookie. */
		while (j < n_prev && prev[j].cookie < cur[i].cookie)
			j++;
		if (j < n_prev && prev[j].cookie == cur[i].cookie)
			p = &prev[j];
		ret[i] = (struct tw_rate){.cookie = cur[i].cookie, .index = i};
		if (!dt_ns)
			continue;
		ret[i].sent_per_s = per_s(p->bytes_acked, cur[i].bytes_acked, dt_ns);
		ret[i].received_per_s = per_s(p->bytes_received, cur[i].bytes_received, dt_ns);
	}
}

int tcprate_cmp(const void *a, const void *b)
{
	const struct tw_rate *x = a, *y = b;
	double tx = x->sent_per_s + x->received_per_s, ty = y->sent_per_s + y->received_per_s;

	if (tx != ty)
		return tx > ty ? -1 : 1;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

char *tcprate_format(double v, char out[16])
{
	static const char *const units[] = {"B/s", "KB/s", "MB/s", "GB/s", "TB/s"};
	int u = 0;

	if (v < 0)
		v = 0;
	while (v >= 999.95 && u < 4) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(out, 16, "%.0f%s", v, units[0]);
	else
		snprintf(out, 16,
			 v < 9.995   ? "%.2f%s"
			 : v < 99.95 ? "%.1f%s"
				     : "%.0f%s",
			 v, units[u]);
	return out;
}
