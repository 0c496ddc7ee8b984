/*
 * Findings about listeners: a full accept queue, overflows, SYN cookies,
 * half-opens expiring, slow accepts, drops. "Rising" means grown within
 * the findings window, from the listener's depth samples (one per
 * reconcile pass) or its namespace's counters.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "findings.h"
#include "nsstat.h"

struct ctx {
	struct tw_conntable *t;
	const struct tw_findings_config *cfg;
	uint64_t now_ns, since_ns;
	struct tw_finding *list;
	size_t n, max;
};

#define GROWTH(l, f, since) listener_growth(l, offsetof(struct tw_depth_sample, f), since)

static struct tw_finding *emit(struct ctx *x, const struct tw_listener *l, uint8_t kind)
{
	const struct tw_conn *c = l->conn;
	struct tw_finding *f;

	if (x->n == x->max)
		return NULL;
	f = &x->list[x->n++];
	memset(f, 0, sizeof(*f));
	f->used = true;
	f->kind = kind;
	f->family = c->family;
	f->port = c->local_port;
	f->netns = c->netns;
	memcpy(f->addr, c->local_addr, 16);
	f->listener_cookie = l->cookie;
	if (c->flags & TW_CONN_HAS_TASK) {
		f->procs[0].pid = c->pid;
		memcpy(f->procs[0].comm, c->comm, sizeof(f->procs[0].comm));
		f->n_procs = 1;
	}
	return f;
}

static void one(struct tw_listener *l, void *data)
{
	struct ctx *x = data;
	const struct tw_nsstat *ns;
	struct tw_finding *f;
	uint64_t g, p99;

	if (!l->conn || l->conn->flags & TW_CONN_CLOSED)
		return;
	if (l->accept_queue_limit &&
	    (uint64_t)l->accept_queue * 100 >=
		    (uint64_t)x->cfg->accept_queue_pct * l->accept_queue_limit &&
	    (f = emit(x, l, TW_FINDING_ACCEPT_QUEUE))) {
		f->value = f->count = l->accept_queue;
		f->limit = l->accept_queue_limit;
	}
	/* The kernel's listen_drops (sampled) counts the overflowed ACKs
	 * (events, live) among the SYNs it refused: the larger is nearer. */
	g = GROWTH(l, overflows, x->since_ns);
	if (GROWTH(l, listen_drops, x->since_ns) > g)
		g = GROWTH(l, listen_drops, x->since_ns);
	if (g && (f = emit(x, l, TW_FINDING_LISTEN_OVERFLOWS))) {
		f->delta = f->count = (uint32_t)g;
		f->value = l->overflows;
		f->limit = l->listen_drops;
	}
	ns = nsstat_find(conntable_nsstat(x->t), l->conn->netns);
	if (ns && ns->grew_ns[TW_NS_SYNCOOKIES_SENT] >= x->since_ns &&
	    ns->grew_ns[TW_NS_SYNCOOKIES_SENT] &&
	    (GROWTH(l, children, x->since_ns) || GROWTH(l, listen_drops, x->since_ns) ||
	     l->syn_queue) &&
	    (f = emit(x, l, TW_FINDING_SYN_COOKIES))) {
		f->value = ns->v[TW_NS_SYNCOOKIES_SENT];
		f->delta = f->count = (uint32_t)ns->grew_by[TW_NS_SYNCOOKIES_SENT];
	}
	g = GROWTH(l, expired, x->since_ns);
	if (g && (f = emit(x, l, TW_FINDING_HALF_OPEN_EXPIRING))) {
		f->delta = f->count = (uint32_t)g;
		f->value = l->half_open[TW_HALFOPEN_EXPIRED];
	}
	p99 = histo_quantile(l->accept_wait, 0.99);
	if (l->accept_wait && p99 > (uint64_t)x->cfg->accept_wait_ms * 1000 &&
	    (f = emit(x, l, TW_FINDING_ACCEPT_SLOW))) {
		f->value = p99;
		f->limit = (uint64_t)x->cfg->accept_wait_ms * 1000;
		f->count = (uint32_t)(p99 / 1000);
	}
	g = GROWTH(l, drops, x->since_ns);
	if (g && (f = emit(x, l, TW_FINDING_LISTENER_DROPS))) {
		unsigned top = 0;
		char buf[32];

		for (unsigned i = 1; i < TW_DROP_SLOTS; i++)
			if (l->drops.count[i] > l->drops.count[top])
				top = i;
		f->delta = f->count = (uint32_t)g;
		f->value = l->drops.total;
		if (l->drops.count[top])
			snprintf(f->detail, sizeof(f->detail), "%s",
				 drops_name(l->drops.reason[top], buf, sizeof(buf)));
	}
}

size_t findings_listeners(struct tw_conntable *t, const struct tw_findings_config *cfg,
			  uint64_t now_ns, struct tw_finding *list, size_t max)
{
	uint64_t window = (uint64_t)cfg->window_ms * NSEC_PER_MSEC;
	struct ctx x = {
		.t = t,
		.cfg = cfg,
		.now_ns = now_ns,
		.since_ns = now_ns > window ? now_ns - window : 0,
		.list = list,
		.max = max,
	};

	conntable_foreach_listener(t, one, &x);
	return x.n;
}

void findings_listen_summary(const struct tw_finding *f, const struct tw_findings_config *cfg,
			     char *out, size_t len)
{
	char ep[TW_ENDPOINT_STRLEN], who[TW_ENDPOINT_STRLEN + 48];
	unsigned window_s = cfg->window_ms / 1000;

	tw_endpoint_format(f->family, f->addr, f->port, ep, sizeof(ep));
	if (f->n_procs)
		snprintf(who, sizeof(who), "%s (pid %u) on %s", f->procs[0].comm, f->procs[0].pid,
			 ep);
	else
		snprintf(who, sizeof(who), "the listener on %s", ep);
	switch (f->kind) {
	case TW_FINDING_ACCEPT_QUEUE:
		snprintf(out, len, "%s: accept queue %llu of %llu (threshold %u%%)", who,
			 (unsigned long long)f->value, (unsigned long long)f->limit,
			 cfg->accept_queue_pct);
		break;
	case TW_FINDING_LISTEN_OVERFLOWS:
		snprintf(
			out, len,
			"%s dropped %llu SYNs or ACKs for full queues in the last %u s (%llu final "
			"ACKs overflowed, %llu listen drops in all)",
			who, (unsigned long long)f->delta, window_s, (unsigned long long)f->value,
			(unsigned long long)f->limit);
		break;
	case TW_FINDING_SYN_COOKIES:
		snprintf(out, len,
			 "%s: its namespace sent %llu SYN cookies in the last %u s (%llu in all): "
			 "the SYN queue was full",
			 who, (unsigned long long)f->delta, window_s, (unsigned long long)f->value);
		break;
	case TW_FINDING_HALF_OPEN_EXPIRING:
		snprintf(out, len, "%s: %llu half-open connections expired in the last %u s", who,
			 (unsigned long long)f->delta, window_s);
		break;
	case TW_FINDING_ACCEPT_SLOW:
		snprintf(out, len, "%s: accept wait p99 %.1f ms (threshold %u ms)", who,
			 (double)f->value / 1000, cfg->accept_wait_ms);
		break;
	case TW_FINDING_LISTENER_DROPS:
		snprintf(out, len, "%s: %llu packets dropped in the last %u s%s%s%s", who,
			 (unsigned long long)f->delta, window_s, f->detail[0] ? " (mostly " : "",
			 f->detail, f->detail[0] ? ")" : "");
		break;
	default:
		snprintf(out, len, "%s", who);
	}
}
