#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "findings.h"
#include "lifecycle.h"
#include "walk.h"

enum {
	K_CLOSE_WAIT = TW_FINDING_CLOSE_WAIT,
	K_TIME_WAIT = TW_FINDING_TIME_WAIT,
	K_FIN_WAIT2 = TW_FINDING_FIN_WAIT2,
	K_CONNECT_FAILURES = TW_FINDING_CONNECT_FAILURES,
	K_PEER_RESETS = TW_FINDING_PEER_RESETS,
	K_MAX = TW_FINDING_KINDS,
};

/* What each kind is called and says. The summaries of the kinds grouped
 * by remote endpoint take (count, endpoint, threshold); the listeners'
 * are written by findings_listen.c. */
struct kind_text {
	const char *name;
	const char *summary;
	const char *explanation;
};

static const struct kind_text kinds[K_MAX] = {
	[K_CLOSE_WAIT] = {"close_wait_stuck", NULL,
			  "The peer closed its side (its FIN arrived) but the application never "
			  "called close() on the socket. Each such socket holds a file descriptor "
			  "and kernel memory until the process closes it: look for a missing "
			  "close() on an error or EOF path in the owning process."},
	[K_TIME_WAIT] = {"time_wait_pileup", "%u connections to %s in TIME_WAIT (threshold %u)",
			 "This side closed first, so each connection waits 60 s in TIME_WAIT. "
			 "Many short connections to one endpoint can exhaust ephemeral ports: "
			 "reuse connections (keep-alive, pooling) or let the peer close first."},
	[K_FIN_WAIT2] = {"fin_wait2_pileup", "%u connections to %s in FIN_WAIT2 (threshold %u)",
			 "This side closed and the peer acknowledged, but the peer has not closed "
			 "its own side: the remote application is slow to close or never does. "
			 "Orphaned sockets wait tcp_fin_timeout before they go."},
	[K_CONNECT_FAILURES] = {"connect_failures",
				"%u failed connection attempts to %s (threshold %u)",
				"Connections to this destination were refused (RST: nothing "
				"listens on that port) or timed out (SYNs never answered: host "
				"down or a firewall drops them). Check the service and the path "
				"to it."},
	[K_PEER_RESETS] = {"peer_resets", "%u connections with %s ended by its RST (threshold %u)",
			   "The peer keeps aborting connections with a reset: it may be "
			   "restarting, overloaded, enforcing idle timeouts, or rejecting what it "
			   "receives. Its logs say which."},
	[TW_FINDING_ACCEPT_QUEUE] = {"accept_queue_full", NULL,
				     "Connections completed their handshake and wait for the "
				     "application to accept() them. A full accept queue makes the "
				     "kernel drop final ACKs and SYNs: clients see slow or failed "
				     "connects while the server looks idle. Accept faster (more "
				     "workers, a shorter accept loop) or raise the backlog "
				     "(listen(), net.core.somaxconn)."},
	[TW_FINDING_LISTEN_OVERFLOWS] =
		{"listen_overflows", NULL,
		 "The listener dropped SYNs or final ACKs because a queue "
		 "was full (ListenOverflows/ListenDrops): clients retry after "
		 "a second or more. The accept queue or the SYN queue is too "
		 "small for the load, or the application accepts too slowly."},
	[TW_FINDING_SYN_COOKIES] = {"syn_cookies", NULL,
				    "The kernel answered SYNs with SYN cookies: the SYN queue was "
				    "full. Either a SYN flood is under way, or the backlog is too "
				    "small for the rate of new connections (listen() backlog, "
				    "net.ipv4.tcp_max_syn_backlog)."},
	[TW_FINDING_HALF_OPEN_EXPIRING] =
		{"half_open_expiring", NULL,
		 "Half-open connections (SYN received, SYN-ACK sent) "
		 "expired: their final ACK never came after every SYN-ACK "
		 "retransmission (tcp_synack_retries). Clients that never "
		 "complete mean a SYN flood, spoofed sources, or a path "
		 "that loses the SYN-ACKs or the ACKs."},
	[TW_FINDING_ACCEPT_SLOW] = {"accept_wait_slow", NULL,
				    "Connections wait long in the accept queue before the "
				    "application accepts them: the accept loop is busy or "
				    "blocked. Clients see the handshake complete, then no answer."},
	[TW_FINDING_LISTENER_DROPS] = {"listener_drops", NULL,
				       "The kernel dropped packets for this listener, for the "
				       "reason named. Each reason points at a cause: a full queue, "
				       "a checksum, a firewall rule (NETFILTER_DROP), memory."},
	[TW_FINDING_HANDSHAKE_SLOW] =
		{"handshake_slow", NULL,
		 "Connections to this endpoint take much longer to complete "
		 "their handshake than the prober's SYN takes to be answered "
		 "from the same endpoint: the network is fast, the time goes "
		 "in the server's accept path (a full SYN queue, SYN cookies, "
		 "a slow firewall on the connection path) or in this host's "
		 "stack."},
};

/* Groups at most (half of them used): the bound of one findings request's
 * memory, whatever the table holds. */
#define GROUPS_MAX ((size_t)1 << 22)

struct gather {
	struct tw_walk w; /* first: the pass walks the table (http_walk) */
	struct tw_conntable *t;
	const struct tw_findings_config *cfg;
	uint64_t now_ns;
	struct tw_finding *groups;
	size_t cap; /* power of two */
	size_t used;
	bool full;
};

static uint64_t group_hash(const struct tw_finding *k)
{
	uint64_t h = 1469598103934665603ull;
	const uint8_t *fields[] = {&k->kind, &k->family};

	for (size_t i = 0; i < 2; i++)
		h = (h ^ *fields[i]) * 1099511628211ull;
	h = (h ^ k->port) * 1099511628211ull;
	h = (h ^ k->netns) * 1099511628211ull;
	h = (h ^ k->pid) * 1099511628211ull;
	for (size_t i = 0; i < 16; i++)
		h = (h ^ k->addr[i]) * 1099511628211ull;
	return h;
}

static bool same_key(const struct tw_finding *a, const struct tw_finding *b)
{
	return a->kind == b->kind && a->family == b->family && a->port == b->port &&
	       a->netns == b->netns && a->pid == b->pid && !memcmp(a->addr, b->addr, 16);
}

/* Twice the slots, the groups rehashed into them; false if out of memory
 * or at the bound. */
static bool grow(struct gather *g)
{
	size_t cap = g->cap * 2;
	struct tw_finding *v;

	if (cap > GROUPS_MAX)
		return false;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return false;
	for (size_t i = 0; i < g->cap; i++) {
		size_t j;

		if (!g->groups[i].used)
			continue;
		for (j = group_hash(&g->groups[i]) & (cap - 1); v[j].used; j = (j + 1) & (cap - 1))
			;
		v[j] = g->groups[i];
	}
	free(g->groups);
	g->groups = v;
	g->cap = cap;
	return true;
}

static struct tw_finding *find_group(struct gather *g, const struct tw_finding *key)
{
	size_t i = group_hash(key) & (g->cap - 1);

	for (;; i = (i + 1) & (g->cap - 1)) {
		struct tw_finding *s = &g->groups[i];

		if (!s->used) {
			/* Keep half the slots free: grown as groups come, so the
			 * memory follows the candidates, not the table's size. */
			if ((g->used + 1) * 2 > g->cap) {
				if (!grow(g)) {
					g->full = true;
					return NULL;
				}
				return find_group(g, key);
			}
			*s = *key;
			s->used = true;
			g->used++;
			return s;
		}
		if (same_key(s, key))
			return s;
	}
}

static void add(struct gather *g, uint8_t kind, const struct tw_conn *c, bool by_pid,
		uint64_t in_state_ns)
{
	struct tw_finding key = {.kind = kind, .family = c->family, .netns = c->netns};
	struct tw_finding *grp;

	if (by_pid) {
		key.pid = c->flags & TW_CONN_HAS_TASK ? c->pid : 0;
		key.family = 0; /* a process's IPv4 and IPv6 sockets together */
	} else {
		key.port = c->remote_port;
		memcpy(key.addr, c->remote_addr, 16);
	}
	grp = find_group(g, &key);
	if (!grp)
		return;
	grp->count++;
	if (in_state_ns > grp->oldest_ns)
		grp->oldest_ns = in_state_ns;
	if (grp->n_cookies < TW_FINDING_MAX_COOKIES)
		grp->cookies[grp->n_cookies++] = c->cookie;
	if (c->flags & TW_CONN_HAS_TASK && grp->n_procs < TW_FINDING_MAX_PROCS) {
		for (uint32_t i = 0; i < grp->n_procs; i++)
			if (grp->procs[i].pid == c->pid)
				return;
		grp->procs[grp->n_procs].pid = c->pid;
		memcpy(grp->procs[grp->n_procs].comm, c->comm, sizeof(c->comm));
		grp->n_procs++;
	}
}

static void visit(struct tw_conn *c, void *data)
{
	struct gather *g = data;
	uint64_t in_state = g->now_ns > c->last_change_ns ? g->now_ns - c->last_change_ns : 0;
	bool closed = c->flags & TW_CONN_CLOSED;

	if (!closed && c->state == TW_TCP_CLOSE_WAIT &&
	    in_state >= (uint64_t)g->cfg->close_wait_threshold_ms * NSEC_PER_MSEC)
		add(g, K_CLOSE_WAIT, c, true, in_state);
	if (!closed && c->state == TW_TCP_TIME_WAIT)
		add(g, K_TIME_WAIT, c, false, in_state);
	if (!closed && c->state == TW_TCP_FIN_WAIT2)
		add(g, K_FIN_WAIT2, c, false, in_state);
	if (c->end_reason == TW_END_REFUSED || c->end_reason == TW_END_CONNECT_TIMEOUT)
		add(g, K_CONNECT_FAILURES, c, false, 0);
	if (c->end_reason == TW_END_RESET_RECEIVED || (!closed && c->resets_received))
		add(g, K_PEER_RESETS, c, false, 0);
}

static uint32_t threshold(const struct tw_findings_config *cfg, uint8_t kind)
{
	switch (kind) {
	case K_CLOSE_WAIT:
		return 1;
	case K_TIME_WAIT:
		return cfg->time_wait_pileup;
	case K_FIN_WAIT2:
		return cfg->fin_wait2_pileup;
	case K_CONNECT_FAILURES:
		return cfg->connect_failures;
	case K_PEER_RESETS:
		return cfg->peer_resets;
	}
	return UINT32_MAX;
}

static int by_count_desc(const void *a, const void *b)
{
	const struct tw_finding *x = *(const struct tw_finding *const *)a,
				*y = *(const struct tw_finding *const *)b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->count > y->count ? -1 : x->count < y->count;
}

const char *findings_kind_text(uint8_t kind)
{
	return kind < K_MAX ? kinds[kind].summary : NULL;
}

const char *findings_kind_name(uint8_t kind)
{
	return kind < K_MAX ? kinds[kind].name : "unknown";
}

const char *findings_explanation(uint8_t kind)
{
	return kind < K_MAX ? kinds[kind].explanation : "";
}

void findings_summary(const struct tw_finding *grp, const struct tw_findings_config *cfg, char *out,
		      size_t len)
{
	unsigned long long oldest_s = grp->oldest_ns / NSEC_PER_SEC;
	const char *plural = grp->count == 1 ? "" : "s";
	char endpoint[TW_ENDPOINT_STRLEN];

	if (findings_kind_listener(grp->kind)) {
		findings_listen_summary(grp, cfg, out, len);
	} else if (grp->kind == TW_FINDING_HANDSHAKE_SLOW) {
		tw_endpoint_format(grp->family, grp->addr, grp->port, endpoint, sizeof(endpoint));
		snprintf(out, len,
			 "handshakes with %s take %.3f ms (median of %u), %llux the prober's "
			 "SYN-ACK RTT of %.3f ms (threshold %ux)",
			 endpoint, (double)grp->value / 1000, grp->count,
			 (unsigned long long)(grp->limit ? grp->value / grp->limit : 0),
			 (double)grp->limit / 1000, cfg->handshake_ratio);
	} else if (grp->kind != K_CLOSE_WAIT) {
		tw_endpoint_format(grp->family, grp->addr, grp->port, endpoint, sizeof(endpoint));
		snprintf(out, len, kinds[grp->kind].summary, grp->count, endpoint,
			 threshold(cfg, grp->kind));
	} else if (grp->n_procs) {
		snprintf(out, len,
			 "%s (pid %u) has %u connection%s stuck in CLOSE_WAIT for up to %llu s",
			 grp->procs[0].comm, grp->procs[0].pid, grp->count, plural, oldest_s);
	} else {
		snprintf(out, len,
			 "%u connection%s of an unknown process stuck in CLOSE_WAIT for up to %llu "
			 "s",
			 grp->count, plural, oldest_s);
	}
}

void findings_free(struct tw_findings *f)
{
	free(f->list);
	free(f->groups);
	free(f->listener_findings);
	free(f->extra);
	memset(f, 0, sizeof(*f));
}

int findings_add(struct tw_findings *f, const struct tw_finding *v, size_t n)
{
	struct tw_finding **list, *copy;

	if (f->n + n > TW_FINDINGS_MAX) {
		n = TW_FINDINGS_MAX - f->n;
		f->truncated = true;
	}
	if (!n || f->extra)
		return 0;
	copy = malloc(n * sizeof(*copy));
	list = realloc(f->list, (f->n + n) * sizeof(*list) + 1);
	if (!copy || !list) {
		free(copy);
		if (list)
			f->list = list;
		return -ENOMEM;
	}
	memcpy(copy, v, n * sizeof(*copy));
	for (size_t i = 0; i < n; i++)
		list[f->n + i] = &copy[i];
	f->list = list;
	f->n += n;
	f->extra = copy;
	return 0;
}

static void gather_reset(void *data)
{
	struct gather *g = data;

	memset(g->groups, 0, g->cap * sizeof(*g->groups));
	g->used = 0;
	g->full = false;
}

struct tw_findings_pass *findings_pass_new(struct tw_conntable *t,
					   const struct tw_findings_config *cfg, uint64_t now_ns)
{
	struct gather *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	*g = (struct gather){.t = t, .cfg = cfg, .now_ns = now_ns, .cap = 256};
	g->groups = calloc(g->cap, sizeof(*g->groups));
	if (!g->groups) {
		free(g);
		return NULL;
	}
	walk_init(&g->w, t, visit, gather_reset, g);
	return (struct tw_findings_pass *)g;
}

struct tw_walk *findings_pass_walk(struct tw_findings_pass *p)
{
	return &((struct gather *)p)->w;
}

void findings_pass_free(struct tw_findings_pass *p)
{
	struct gather *g = (struct gather *)p;

	if (g)
		free(g->groups);
	free(g);
}

int findings_pass_end(struct tw_findings_pass *p, struct tw_findings *ret)
{
	struct gather *g = (struct gather *)p;
	struct tw_conntable_stats st;
	struct tw_finding **list = NULL, *lf;
	size_t n = 0, nl, max_l;

	memset(ret, 0, sizeof(*ret));
	conntable_get_stats(g->t, &st);
	/* At most a few findings per listener, and TW_FINDINGS_MAX in all. */
	max_l = st.listeners * 6 + 6 < TW_FINDINGS_MAX ? st.listeners * 6 + 6 : TW_FINDINGS_MAX;
	lf = calloc(max_l, sizeof(*lf));
	if (lf) {
		nl = findings_listeners(g->t, g->cfg, g->now_ns, lf, max_l);
		list = malloc((g->used + nl) * sizeof(*list) + 1);
	}
	if (!lf || !list) {
		free(lf);
		findings_pass_free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nl; i++)
		list[n++] = &lf[i];
	for (size_t i = 0; i < g->cap; i++)
		if (g->groups[i].used && g->groups[i].count >= threshold(g->cfg, g->groups[i].kind))
			list[n++] = &g->groups[i];
	qsort(list, n, sizeof(*list), by_count_desc);
	ret->list = list;
	ret->n = n < TW_FINDINGS_MAX ? n : TW_FINDINGS_MAX;
	ret->truncated = n > TW_FINDINGS_MAX || g->full;
	ret->groups = g->groups;
	ret->listener_findings = lf;
	free(g); /* its groups are ret's now */
	return 0;
}

int findings_collect(struct tw_conntable *t, const struct tw_findings_config *cfg, uint64_t now_ns,
		     struct tw_findings *ret)
{
	struct tw_findings_pass *p = findings_pass_new(t, cfg, now_ns);

	memset(ret, 0, sizeof(*ret));
	if (!p)
		return -ENOMEM;
	walk_all(findings_pass_walk(p));
	return findings_pass_end(p, ret);
}
