/*
 * Real connections beside the probes: the handshakes of connections this
 * host opened to a probed endpoint, and a finding when they take much
 * longer than the prober's SYN-ACK from the same endpoint (then the time
 * goes in the server's accept path or the local stack, not the network).
 */
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "prober_int.h"

#define SAMPLES_MAX 256 /* handshakes kept per target for the median */
#define MIN_SAMPLES 3   /* of each side before a finding */
#define MIN_GAP_US  1000

struct hs_slot {
	struct tw_probe_target *t;
	uint32_t samples[SAMPLES_MAX];
	uint32_t n; /* samples kept */
	uint32_t count;
	uint32_t max_us;
	uint64_t cookies[TW_FINDING_MAX_COOKIES];
	uint32_t n_cookies;
};

struct hs_pass {
	struct hs_slot *v;
	size_t mask; /* table size - 1 (a power of two) */
};

static size_t hash(int family, const uint8_t addr[16], uint16_t port, uint32_t netns)
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 1099511628211ull;
	h = (h ^ port ^ ((uint64_t)netns << 16) ^ ((uint64_t)family << 48)) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

static bool same(const struct tw_probe_target *t, int family, const uint8_t addr[16], uint16_t port,
		 uint32_t netns)
{
	return t->family == family && t->port == port && t->netns == netns &&
	       !memcmp(t->addr, addr, 16);
}

static struct hs_slot *find(struct hs_pass *h, int family, const uint8_t addr[16], uint16_t port,
			    uint32_t netns)
{
	for (size_t i = hash(family, addr, port, netns) & h->mask;; i = (i + 1) & h->mask) {
		struct hs_slot *s = &h->v[i];

		if (!s->t)
			return s;
		if (same(s->t, family, addr, port, netns))
			return s;
	}
}

static void visit(struct tw_conn *c, void *data)
{
	struct hs_pass *h = data;
	struct hs_slot *s;

	if (c->role != TW_ROLE_ACTIVE || !c->handshake_us)
		return;
	s = find(h, c->family, c->remote_addr, c->remote_port, c->netns);
	if (!s->t)
		return;
	s->count++;
	if (c->handshake_us > s->max_us)
		s->max_us = c->handshake_us;
	if (s->n < SAMPLES_MAX)
		s->samples[s->n++] = c->handshake_us;
	if (s->n_cookies < TW_FINDING_MAX_COOKIES)
		s->cookies[s->n_cookies++] = c->cookie;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

size_t prober_handshakes(struct tw_prober *p, struct tw_conntable *t, uint32_t ratio,
			 struct tw_finding *out, size_t max)
{
	struct hs_pass h = {0};
	size_t n_targets = 0, size = 16, found = 0;

	for (struct tw_probe_target *x = p->targets; x; x = x->next) {
		x->hs_count = x->hs_p50_us = x->hs_max_us = 0;
		n_targets++;
	}
	if (!n_targets)
		return 0;
	while (size < 2 * n_targets)
		size *= 2;
	h.v = calloc(size, sizeof(*h.v));
	if (!h.v)
		return 0;
	h.mask = size - 1;
	for (struct tw_probe_target *x = p->targets; x; x = x->next) {
		struct hs_slot *s = find(&h, x->family, x->addr, x->port, x->netns);

		if (!s->t)
			s->t = x; /* a second job to the same endpoint shares the first's */
	}
	conntable_foreach(t, visit, &h);
	for (size_t i = 0; i < size; i++) {
		struct hs_slot *s = &h.v[i];
		struct tw_probe_summary sum;
		struct tw_finding *f;

		if (!s->t || !s->count)
			continue;
		qsort(s->samples, s->n, sizeof(*s->samples), cmp_u32);
		for (struct tw_probe_target *x = p->targets; x; x = x->next)
			if (same(x, s->t->family, s->t->addr, s->t->port, s->t->netns)) {
				x->hs_count = s->count;
				x->hs_p50_us = s->samples[(s->n - 1) / 2];
				x->hs_max_us = s->max_us;
			}
		results_summary(&s->t->results, &sum);
		if (found == max || s->count < MIN_SAMPLES || sum.rtt_count < MIN_SAMPLES)
			continue;
		if ((uint64_t)s->t->hs_p50_us * 1000 <= (uint64_t)ratio * sum.p50_ns ||
		    s->t->hs_p50_us * 1000ull < sum.p50_ns + MIN_GAP_US * 1000ull)
			continue;
		f = &out[found++];
		memset(f, 0, sizeof(*f));
		f->used = true;
		f->kind = TW_FINDING_HANDSHAKE_SLOW;
		f->family = s->t->family;
		memcpy(f->addr, s->t->addr, 16);
		f->port = s->t->port;
		f->netns = s->t->netns;
		f->count = s->count;
		f->value = s->t->hs_p50_us;
		f->limit = sum.p50_ns / 1000;
		f->listener_cookie = s->t->id; /* the probe target */
		memcpy(f->cookies, s->cookies, sizeof(f->cookies));
		f->n_cookies = s->n_cookies;
	}
	free(h.v);
	return found;
}
