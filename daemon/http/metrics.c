/*
 * GET /metrics: Prometheus's text format, or OpenMetrics when the scraper
 * asks for it. Prefix tcpwatch_, base units (seconds, bytes), _total for
 * counters, no per-connection labels; listeners are labels only for the
 * largest metrics-listeners of them (the rest fold into "other"), probe
 * targets only when configured, namespaces within max-netns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "conntable.h"
#include "internal.h"
#include "lifecycle.h"
#include "nsstat.h"
#include "probe.h"
#include "tcpstate.h"

#define LISTENERS_LABELLED 20

/* Histogram bounds in us, as seconds in the le labels. */
static const uint64_t bounds_us[] = {
	10,      25,      50,       100,      250,      500,       1000,   2500,
	5000,    10000,   25000,    50000,    100000,   250000,    500000, 1000000,
	2500000, 5000000, 10000000, 30000000, 60000000, 120000000,
};
#define N_BOUNDS (sizeof(bounds_us) / sizeof(bounds_us[0]))

struct mw {
	struct tw_buf *b;
	bool om; /* OpenMetrics */
};

/* # HELP and # TYPE of a family. name is without _total (the sample adds
 * it for counters). */
static void family(struct mw *w, const char *name, const char *type, const char *help)
{
	bool counter = !strcmp(type, "counter");
	const char *t = !strcmp(type, "untyped") && w->om ? "unknown" : type;

	buf_printf(w->b, "# HELP tcpwatch_%s%s %s\n# TYPE tcpwatch_%s%s %s\n", name,
		   counter && !w->om ? "_total" : "", help, name, counter && !w->om ? "_total" : "",
		   t);
}

static void label_value(struct tw_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			buf_puts(b, "\\n");
		else
			buf_put(b, v, 1);
	}
}

/* tcpwatch_NAME{labels} value; labels is "k1", "v1", ..., NULL. */
static void sample(struct mw *w, const char *name, const char *suffix, const char *const *labels,
		   double v)
{
	buf_printf(w->b, "tcpwatch_%s%s", name, suffix);
	if (labels && labels[0]) {
		buf_puts(w->b, "{");
		for (int i = 0; labels[i]; i += 2) {
			buf_printf(w->b, "%s%s=\"", i ? "," : "", labels[i]);
			label_value(w->b, labels[i + 1]);
			buf_puts(w->b, "\"");
		}
		buf_puts(w->b, "}");
	}
	if (v == (double)(uint64_t)v && v < 1e15)
		buf_printf(w->b, " %llu\n", (unsigned long long)v);
	else
		buf_printf(w->b, " %.9g\n", v);
}

/* A histogram of us values as _seconds buckets (a tw_histo bucket counts
 * below a bound once all of it is: its 1/16-octave width is the error). */
static void histogram(struct mw *w, const char *name, const char *const *labels,
		      const struct tw_histo *h)
{
	const char *l[12];
	char le[32];
	size_t n = 0, b = 0;
	uint64_t cum = 0;

	while (labels && labels[n] && n < 8)
		l[n] = labels[n], l[n + 1] = labels[n + 1], n += 2;
	l[n] = "le", l[n + 1] = le, l[n + 2] = NULL;
	for (size_t i = 0; i < N_BOUNDS; i++) {
		while (h && b < TW_HISTO_BUCKETS &&
		       histo_bucket_low((unsigned)b + 1) <= bounds_us[i] + 1)
			cum += h->buckets[b++];
		snprintf(le, sizeof(le), "%g", (double)bounds_us[i] / 1e6);
		sample(w, name, "_bucket", l, (double)cum);
	}
	snprintf(le, sizeof(le), "+Inf");
	sample(w, name, "_bucket", l, h ? (double)h->count : 0);
	l[n] = NULL;
	sample(w, name, "_sum", l, h ? (double)h->sum_us / 1e6 : 0);
	sample(w, name, "_count", l, h ? (double)h->count : 0);
}

struct pass {
	struct tw_walk w; /* first: http_walk */
	uint64_t by_state[TW_TCP_MAX_STATES];
	uint64_t live_by_role[TW_TOTAL_ROLES];
	uint64_t closed[TW_TOTAL_ROLES][TW_TOTAL_ENDS]; /* retained ones, then the totals */
	uint64_t retained;
	struct tw_histo *handshakes; /* of every connection seen */
	struct tw_totals *totals;    /* the table's, of those gone */
};

static void visit(struct tw_conn *c, void *data)
{
	struct pass *p = data;

	if (c->flags & TW_CONN_CLOSED) {
		p->retained++;
		p->closed[c->role < TW_TOTAL_ROLES ? c->role : 0]
			 [c->end_reason < TW_TOTAL_ENDS ? c->end_reason : 0]++;
	} else {
		p->by_state[c->state < TW_TCP_MAX_STATES ? c->state : 0]++;
		p->live_by_role[c->role < TW_TOTAL_ROLES ? c->role : 0]++;
	}
	if (c->handshake_us && c->role != TW_ROLE_LISTENER)
		histo_add(p->handshakes, c->handshake_us);
}

static void pass_reset(void *data)
{
	struct pass *p = data;
	struct tw_histo *hs = p->handshakes;
	struct tw_totals *tot = p->totals;
	struct tw_walk w = p->w;

	memset(p, 0, sizeof(*p));
	p->w = w;
	p->handshakes = hs;
	p->totals = tot;
	memset(hs, 0, sizeof(*hs));
	if (p->totals->h[TW_TOTAL_HANDSHAKE])
		*hs = *p->totals->h[TW_TOTAL_HANDSHAKE];
}

static void pass_free(void *data)
{
	struct pass *p = data;

	free(p->handshakes);
	free(p);
}

/* A pass for the connection families, to walk: NULL out of memory. */
static struct pass *pass_new(struct tw_conntable *t)
{
	struct pass *p = calloc(1, sizeof(*p));

	if (p)
		p->handshakes = calloc(1, sizeof(struct tw_histo));
	if (!p || !p->handshakes) { /* without the pass every figure would read 0 */
		free(p);
		return NULL;
	}
	p->totals = conntable_totals(t);
	walk_init(&p->w, t, visit, pass_reset, p);
	pass_reset(p);
	return p;
}

/* The connection families from the walked pass p. */
static void connections(struct mw *w, struct pass *pp)
{
	struct tw_totals *tot = pp->totals;
	struct pass p = *pp;
	static const char *const roles[TW_TOTAL_ROLES] = {"unknown", "active", "passive",
							  "listener"};

	for (int r = 0; r < TW_TOTAL_ROLES; r++)
		for (int e = 0; e < TW_TOTAL_ENDS; e++)
			p.closed[r][e] += tot->closed[r][e];
	family(w, "connections", "gauge",
	       "Connections by TCP state now (request sockets as SYN_RECV).");
	for (int s = 1; s < TW_TCP_MAX_STATES; s++) {
		const char *l[] = {"state", tcpstate_name(s), NULL};

		if (s == TW_TCP_CLOSE || s == TW_TCP_NEW_SYN_RECV || s == TW_TCP_BOUND_INACTIVE)
			continue;
		sample(w, "connections", "", l,
		       (double)(p.by_state[s] +
				(s == TW_TCP_SYN_RECV ? p.by_state[TW_TCP_NEW_SYN_RECV] : 0)));
	}
	family(w, "connections_retained", "gauge", "Closed connections kept with their history.");
	sample(w, "connections_retained", "", NULL, (double)p.retained);
	family(w, "connections_opened", "counter",
	       "Connections seen since start, by role (closed ones and live ones).");
	for (int r = 0; r < TW_TOTAL_ROLES; r++) {
		const char *l[] = {"role", roles[r], NULL};
		uint64_t closed = 0;

		for (int e = 0; e < TW_TOTAL_ENDS; e++)
			closed += p.closed[r][e];
		sample(w, "connections_opened", "_total", l, (double)(closed + p.live_by_role[r]));
	}
	family(w, "connections_closed", "counter",
	       "Connections closed since start, by role and end reason.");
	for (int r = 0; r < TW_TOTAL_ROLES; r++)
		for (int e = 1; e < TW_END_MAX; e++) {
			const char *l[] = {"role", roles[r], "end_reason",
					   lifecycle_end_name((uint8_t)e), NULL};

			sample(w, "connections_closed", "_total", l, (double)p.closed[r][e]);
		}
	family(w, "handshake_seconds", "histogram",
	       "Handshake times: SYN_SENT or the SYN-ACK to ESTABLISHED.");
	histogram(w, "handshake_seconds", NULL, p.handshakes);
	family(w, "accept_wait_seconds", "histogram",
	       "Time from ESTABLISHED to the application's accept(), every listener.");
	histogram(w, "accept_wait_seconds", NULL, tot->h[TW_TOTAL_ACCEPT_WAIT]);
	family(w, "half_open_lifetime_seconds", "histogram",
	       "Half-open (SYN queue) lifetimes: the first SYN-ACK to the end, every listener.");
	histogram(w, "half_open_lifetime_seconds", NULL, tot->h[TW_TOTAL_HALF_OPEN]);
}

struct lsel {
	const struct tw_listener *v[LISTENERS_LABELLED];
	size_t n;
	/* the rest, folded */
	uint64_t accept_queue, limit, syn_queue, overflows, drops;
	size_t folded;
};

static uint64_t drops_of(const struct tw_listener *l)
{
	return l->drops.total;
}

static void fold(struct lsel *s, const struct tw_listener *l)
{
	s->accept_queue += l->accept_queue;
	s->limit += l->accept_queue_limit;
	s->syn_queue += l->syn_queue;
	s->overflows += l->overflows > l->listen_drops ? l->overflows : l->listen_drops;
	s->drops += drops_of(l);
	s->folded++;
}

/* The largest by connections through them keep their label. */
static void pick(struct tw_listener *l, void *data)
{
	struct lsel *s = data;
	size_t min = 0;

	if (!l->conn || l->conn->flags & TW_CONN_CLOSED)
		return;
	if (s->n < LISTENERS_LABELLED) {
		s->v[s->n++] = l;
		return;
	}
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i]->children < s->v[min]->children)
			min = i;
	if (l->children > s->v[min]->children) {
		fold(s, s->v[min]);
		s->v[min] = l;
	} else {
		fold(s, l);
	}
}

static void listeners(struct mw *w, struct tw_conntable *t)
{
	struct lsel s = {0};
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{"listener_accept_queue", "gauge", "Children waiting for accept() (ss Recv-Q)."},
		{"listener_accept_queue_limit", "gauge",
		 "The accept queue's limit (backlog, ss Send-Q)."},
		{"listener_syn_queue", "gauge", "Half-open connections (request sockets) now."},
		{"listener_overflows", "counter", "SYNs and ACKs dropped for full queues."},
		{"listener_drops", "counter",
		 "Packets the kernel dropped at the listener, any reason."},
	};

	conntable_foreach_listener(t, pick, &s);
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		bool counter = !strcmp(fams[f].type, "counter");

		family(w, fams[f].name, fams[f].type, fams[f].help);
		for (size_t i = 0; i <= s.n; i++) {
			const struct tw_listener *l = i < s.n ? s.v[i] : NULL;
			char ep[TW_ENDPOINT_STRLEN], ns[16];
			const char *lab[] = {"listener", ep, "netns", ns, NULL};
			uint64_t v[5];

			if (!l && !s.folded)
				continue;
			if (l) {
				tw_endpoint_format(l->conn->family, l->conn->local_addr,
						   l->conn->local_port, ep, sizeof(ep));
				snprintf(ns, sizeof(ns), "%u", l->conn->netns);
				v[0] = l->accept_queue, v[1] = l->accept_queue_limit;
				v[2] = l->syn_queue;
				v[3] = l->overflows > l->listen_drops ? l->overflows
								      : l->listen_drops;
				v[4] = drops_of(l);
			} else {
				snprintf(ep, sizeof(ep), "other");
				snprintf(ns, sizeof(ns), "other");
				v[0] = s.accept_queue, v[1] = s.limit, v[2] = s.syn_queue;
				v[3] = s.overflows, v[4] = s.drops;
			}
			sample(w, fams[f].name, counter ? "_total" : "", lab, (double)v[f]);
		}
	}
}

static void netstat(struct mw *w, struct tw_conntable *t)
{
	const struct tw_nsstat_set *set = conntable_nsstat(t);

	for (int k = 0; k < TW_NS_KEYS; k++) {
		char name[96], help[160];

		snprintf(name, sizeof(name), "netstat_%s_%s", tw_nsstat_group[k],
			 tw_nsstat_name[k]);
		snprintf(help, sizeof(help), "%s %s of the namespace (/proc/net/netstat, snmp).",
			 tw_nsstat_group[k], tw_nsstat_name[k]);
		family(w, name, "untyped", help);
		for (size_t i = 0; i < set->n; i++) {
			char ns[16];
			const char *lab[] = {"netns", ns, NULL};

			if (!set->v[i].valid)
				continue;
			snprintf(ns, sizeof(ns), "%u", set->v[i].netns);
			sample(w, name, "", lab, (double)set->v[i].v[k]);
		}
	}
}

static void probes(struct mw *w, struct tw_prober *pr)
{
	static const char *const fams[][3] = {
		{"probe_up", "gauge", "1 if the configured target's last probe got a SYN-ACK."},
		{"probe_sent", "counter", "Probes sent to the configured target."},
		{"probe_lost", "counter", "Probes unanswered within their timeout."},
	};

	for (size_t f = 0; f < 3; f++) {
		family(w, fams[f][0], fams[f][1], fams[f][2]);
		for (struct tw_probe_target *t = prober_first(pr); t; t = t->next) {
			char ep[TW_ENDPOINT_STRLEN];
			const char *lab[] = {"target", ep, NULL};
			uint32_t n = results_count(&t->results);
			double v;

			if (!t->configured)
				continue;
			tw_endpoint_format(t->family, t->addr, t->port, ep, sizeof(ep));
			v = f == 0   ? n && results_at(&t->results, n - 1)->state == TW_PROBE_OPEN
			    : f == 1 ? (double)t->results.sent
				     : (double)t->results.lost;
			sample(w, fams[f][0], f ? "_total" : "", lab, v);
		}
	}
	family(w, "probe_rtt_seconds", "histogram",
	       "SYN to SYN-ACK or RST, the kernel's timestamps, per configured target.");
	for (struct tw_probe_target *t = prober_first(pr); t; t = t->next) {
		char ep[TW_ENDPOINT_STRLEN];
		const char *lab[] = {"target", ep, NULL};

		if (!t->configured)
			continue;
		tw_endpoint_format(t->family, t->addr, t->port, ep, sizeof(ep));
		histogram(w, "probe_rtt_seconds", lab, t->results.histo);
	}
}

/* Every figure of /api/v1/stats: the daemon's own. */
static void daemon_figures(struct mw *w, const struct tw_stats *s)
{
	family(w, "drops", "counter", "TCP packets the kernel dropped, by its reason (host-wide).");
	for (size_t i = 0; i < s->n; i++) {
		const struct tw_stat *st = &s->v[i];

		if (!strncmp(st->name, "drop_", 5) && st->type == TW_STAT_COUNTER &&
		    strcmp(st->name, "drop_lookups") && strncmp(st->name, "drop_lookups_", 13) &&
		    strcmp(st->name, "drop_entries_elided") &&
		    strcmp(st->name, "drop_reason_names")) {
			const char *lab[] = {"reason", st->name + 5, NULL};

			sample(w, "drops", "_total", lab, (double)st->u);
		}
	}
	/* events_lost_cpuN: ring overflows by CPU, one family with a label. */
	for (size_t i = 0, first = 1; i < s->n; i++) {
		const struct tw_stat *st = &s->v[i];

		if (!strncmp(st->name, "events_lost_cpu", 15) && st->type == TW_STAT_COUNTER) {
			const char *lab[] = {"cpu", st->name + 15, NULL};

			if (first)
				family(w, "daemon_events_lost_by_cpu", "counter",
				       "Events lost because this CPU's ring buffers were full.");
			first = 0;
			sample(w, "daemon_events_lost_by_cpu", "_total", lab, (double)st->u);
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct tw_stat *st = &s->v[i];
		char name[96];
		size_t len = strlen(st->name);
		bool ms = len > 3 && !strcmp(st->name + len - 3, "_ms");
		bool secs = len > 2 && !strcmp(st->name + len - 2, "_s");

		if (!strncmp(st->name, "drop_", 5) && strcmp(st->name, "drop_reason_names") &&
		    strncmp(st->name, "drop_lookups", 12) &&
		    strcmp(st->name, "drop_entries_elided"))
			continue;
		if (!strncmp(st->name, "events_lost_cpu", 15))
			continue;
		if (st->type == TW_STAT_TEXT) {
			const char *lab[] = {"version", st->s, NULL};

			if (strcmp(st->name, "version"))
				continue;
			family(w, "build_info", "gauge", "tcpwatchd's version.");
			sample(w, "build_info", "", lab, 1);
			continue;
		}
		snprintf(name, sizeof(name), "daemon_%.*s%s",
			 (int)(ms     ? len - 3
			       : secs ? len - 2
				      : len),
			 st->name, ms || secs ? "_seconds" : "");
		family(w, name, st->type == TW_STAT_COUNTER ? "counter" : "gauge",
		       "tcpwatchd's own figure (see /api/v1/stats).");
		sample(w, name, st->type == TW_STAT_COUNTER ? "_total" : "", NULL,
		       st->type == TW_STAT_REAL ? st->d / (ms ? 1e3 : 1)
						: (double)st->u / (ms ? 1e3 : 1));
	}
}

enum MHD_Result metrics_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest)
{
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
	struct tw_buf b;
	struct mw w = {.b = &b, .om = accept && strstr(accept, "application/openmetrics-text")};
	struct tw_stats *s;
	struct pass *p = http_job_take(h);

	(void)rest;
	if (!p) { /* first called: the pass over the table, in slices on a large one */
		if (MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
			return http_reply_error(h, conn, MHD_HTTP_BAD_REQUEST,
						"this endpoint takes no parameters");
		p = pass_new(h->hooks.table);
		if (!p)
			return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
						"out of memory");
		/* Every scraper's request before the pass began gets its answer
		 * (the format is the Accept header's). */
		if (http_walk_shared(h, conn, w.om ? "metrics-openmetrics" : "metrics", &p->w,
				     pass_free) == 0)
			return MHD_YES;
	}
	s = http_collect_stats(h);
	if (!s) {
		pass_free(p);
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	buf_init(&b);
	connections(&w, p);
	pass_free(p);
	listeners(&w, h->hooks.table);
	netstat(&w, h->hooks.table);
	if (h->hooks.prober)
		probes(&w, h->hooks.prober);
	daemon_figures(&w, s);
	free(s);
	if (w.om)
		buf_puts(&b, "# EOF\n");
	return http_reply_typed(h, conn, &b,
				w.om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				     : "text/plain; version=0.0.4; charset=utf-8");
}
