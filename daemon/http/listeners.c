/*
 * GET /api/v1/listeners and /api/v1/listeners/{cookie}: each listening
 * socket with its two queues, what passed through them, its drops and its
 * namespace's counters.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "internal.h"
#include "json.h"
#include "query.h"
#include "tcpstate.h"

static const char *const end_names[TW_HALFOPEN_ENDS] = {
	[TW_HALFOPEN_OPEN] = "open",
	[TW_HALFOPEN_COMPLETED] = "completed",
	[TW_HALFOPEN_EXPIRED] = "expired",
	[TW_HALFOPEN_RESET] = "reset",
};

static void json_nsstat(struct tw_buf *b, const struct tw_nsstat *ns)
{
	if (!ns || !ns->valid) {
		buf_puts(b, ",\"netstat\":null");
		return;
	}
	buf_puts(b, ",\"netstat\":{");
	for (int k = 0; k < TW_NS_KEYS; k++)
		buf_printf(b, "%s\"%s_%s\":{\"total\":%llu,\"rate\":%.3f}", k ? "," : "",
			   tw_nsstat_group[k], tw_nsstat_name[k], (unsigned long long)ns->v[k],
			   nsstat_rate(ns, k));
	buf_puts(b, "}");
}

static void json_halfopen(struct tw_buf *b, const struct tw_halfopen *h, const struct tw_clock *clk,
			  bool first)
{
	char addr[TW_ADDR_STRLEN];
	unsigned n = h->retransmits < TW_HALFOPEN_SYNACKS ? h->retransmits : TW_HALFOPEN_SYNACKS;

	tw_addr_format(h->family, h->remote_addr, addr, sizeof(addr));
	buf_printf(b,
		   "%s{\"cookie\":%llu,\"state\":\"%s\",\"remote_addr\":\"%s\",\"remote_port\":%u,"
		   "\"synack_retransmits\":%u,\"first_synack_derived\":%s,\"end_derived\":%s",
		   first ? "" : ",", (unsigned long long)h->cookie,
		   h->end < TW_HALFOPEN_ENDS ? end_names[h->end] : "unknown", addr, h->remote_port,
		   h->retransmits, h->flags & TW_HALFOPEN_FIRST_DERIVED ? "true" : "false",
		   h->flags & TW_HALFOPEN_END_DERIVED ? "true" : "false");
	json_time_fields(b, "first_synack", clk, h->first_synack_ns);
	buf_puts(b, ",\"retransmit_ns\":[");
	for (unsigned i = 0; i < n; i++)
		buf_printf(b, "%s%llu", i ? "," : "",
			   (unsigned long long)clock_to_wall(clk, h->retransmit_ns[i]));
	buf_puts(b, "],\"retransmit_after_first_us\":[");
	for (unsigned i = 0; i < n; i++)
		buf_printf(
			b, "%s%llu", i ? "," : "",
			(unsigned long long)(h->retransmit_ns[i] > h->first_synack_ns
						     ? (h->retransmit_ns[i] - h->first_synack_ns) /
							       NSEC_PER_USEC
						     : 0));
	buf_puts(b, "]");
	if (h->end != TW_HALFOPEN_OPEN) {
		json_time_fields(b, "end", clk, h->end_ns);
		buf_printf(b, ",\"lifetime_us\":%llu",
			   (unsigned long long)(h->end_ns > h->first_synack_ns
							? (h->end_ns - h->first_synack_ns) /
								  NSEC_PER_USEC
							: 0));
	} else {
		buf_puts(b, ",\"end_ns\":null,\"lifetime_us\":null");
	}
	if (h->child_cookie)
		buf_printf(b, ",\"child_cookie\":%llu", (unsigned long long)h->child_cookie);
	else
		buf_puts(b, ",\"child_cookie\":null");
	buf_puts(b, "}");
}

struct open_ctx {
	struct tw_buf *b;
	const struct tw_clock *clk;
	uint64_t listener;
	unsigned n;
};

/* A request still in the SYN queue, as a half-open of state "open". */
static void open_one(struct tw_conn *req, void *data)
{
	struct open_ctx *o = data;
	struct tw_halfopen h = {0};

	if (req->listener_cookie != o->listener || o->n >= TW_LISTENER_RECENT * 4)
		return;
	h.cookie = req->cookie;
	h.first_synack_ns = req->first_seen_ns;
	h.family = req->family;
	h.remote_port = req->remote_port;
	memcpy(h.remote_addr, req->remote_addr, 16);
	h.retransmits = req->syn_retransmits;
	h.end = TW_HALFOPEN_OPEN;
	if (req->flags & TW_CONN_FROM_SNAPSHOT)
		h.flags |= TW_HALFOPEN_FIRST_DERIVED;
	for (uint16_t i = 0, k = 0; i < req->hist_len && k < TW_HALFOPEN_SYNACKS; i++)
		if (conn_hist(req, i).kind == TW_HIST_SYNACK_RETRANSMIT)
			h.retransmit_ns[k++] = conn_hist(req, i).time_ns;
	json_halfopen(o->b, &h, o->clk, o->n++ == 0);
}

static void json_detail(struct tw_buf *b, struct tw_conntable *t, const struct tw_listener *l,
			const struct tw_clock *clk)
{
	struct open_ctx o = {.b = b, .clk = clk, .listener = l->cookie};
	const struct tw_depth_sample *d;
	unsigned k, first = 1;

	buf_puts(b, ",\"depth_history\":[");
	for (k = l->depth_n; k-- > 0;) {
		d = listener_depth(l, k);
		buf_printf(b,
			   "%s{\"time_ns\":%llu,\"accept_queue\":%u,\"syn_queue\":%u,"
			   "\"overflows\":%llu,\"synack_retransmits\":%llu}",
			   first ? "" : ",", (unsigned long long)clock_to_wall(clk, d->time_ns),
			   d->accept_queue, d->syn_queue, (unsigned long long)d->overflows,
			   (unsigned long long)d->synack_retransmits);
		first = 0;
	}
	buf_puts(b, "],\"half_opens\":[");
	conntable_foreach_request(t, open_one, &o);
	for (k = 0; listener_recent(l, k); k++)
		json_halfopen(b, listener_recent(l, k), clk, o.n++ == 0);
	buf_puts(b, "]");
}

void json_listener(struct tw_buf *b, struct tw_conntable *t, const struct tw_listener *l,
		   const struct tw_nsstat *ns, const struct tw_clock *clk, bool detail)
{
	const struct tw_conn *c = l->conn;
	char addr[TW_ADDR_STRLEN];
	bool closed = c->flags & TW_CONN_CLOSED;
	uint64_t end_ns = closed ? conn_closed_ns(c) : clk->now_mono_ns;

	tw_addr_format(c->family, c->local_addr, addr, sizeof(addr));
	buf_printf(b,
		   "{\"cookie\":%llu,\"netns\":%u,\"family\":\"%s\",\"state\":\"%s\","
		   "\"closed\":%s,\"local_addr\":\"%s\",\"local_port\":%u,",
		   (unsigned long long)l->cookie, c->netns,
		   c->family == AF_INET6 ? "inet6" : "inet", tcpstate_name(c->state),
		   closed ? "true" : "false", addr, c->local_port);
	if (c->flags & TW_CONN_HAS_TASK) {
		buf_printf(b, "\"pid\":%u,\"comm\":", c->pid);
		json_string(b, c->comm);
	} else {
		buf_puts(b, "\"pid\":null,\"comm\":null");
	}
	buf_printf(b,
		   ",\"uid\":%u,\"age_ms\":%llu,\"accept_queue\":%u,\"accept_queue_limit\":%u,"
		   "\"accept_queue_max_seen\":%u,\"syn_queue\":%u,\"syn_queue_max_seen\":%u,"
		   "\"sampled_ms_ago\":",
		   c->uid,
		   (unsigned long long)(end_ns > c->first_seen_ns
						? (end_ns - c->first_seen_ns) / NSEC_PER_MSEC
						: 0),
		   l->accept_queue, l->accept_queue_limit, l->accept_queue_max_seen, l->syn_queue,
		   l->syn_queue_max_seen);
	if (l->sampled_ns && clk->now_mono_ns >= l->sampled_ns)
		buf_printf(
			b, "%llu",
			(unsigned long long)((clk->now_mono_ns - l->sampled_ns) / NSEC_PER_MSEC));
	else
		buf_puts(b, "null");
	buf_printf(
		b,
		",\"children\":%llu,\"accepted\":%llu,\"synack_retransmits\":%llu,"
		"\"half_open_completed\":%llu,\"half_open_expired\":%llu,\"half_open_reset\":%llu,"
		"\"overflows\":%llu,\"listen_drops\":%llu,\"drops_total\":%llu",
		(unsigned long long)l->children, (unsigned long long)l->accepted,
		(unsigned long long)l->synack_retransmits,
		(unsigned long long)l->half_open[TW_HALFOPEN_COMPLETED],
		(unsigned long long)l->half_open[TW_HALFOPEN_EXPIRED],
		(unsigned long long)l->half_open[TW_HALFOPEN_RESET],
		(unsigned long long)l->overflows, (unsigned long long)l->listen_drops,
		(unsigned long long)l->drops.total);
	json_histo(b, "accept_wait_us", l->accept_wait);
	json_histo(b, "half_open_lifetime_us", l->half_open_lifetime);
	json_drop_counts(b, "drops", &l->drops);
	json_nsstat(b, ns);
	if (detail)
		json_detail(b, t, l, clk);
	buf_puts(b, "}");
}

struct list_ctx {
	struct tw_conntable *t;
	const struct tw_filter *filter;
	const struct tw_clock *clk;
	struct tw_buf *b;
	size_t n;
	/* sorted by cookie: collected first */
	const struct tw_listener **v;
	size_t cap;
	bool oom;
};

static void collect(struct tw_listener *l, void *data)
{
	struct list_ctx *x = data;

	if (!l->conn || !filter_match(x->filter, l->conn))
		return;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		const struct tw_listener **v = realloc(x->v, cap * sizeof(*v));

		if (!v) {
			x->oom = true;
			return;
		}
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = l;
}

static int by_cookie(const void *a, const void *b)
{
	uint64_t x = (*(const struct tw_listener *const *)a)->cookie,
		 y = (*(const struct tw_listener *const *)b)->cookie;

	return x < y ? -1 : x > y;
}

enum MHD_Result listeners_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest)
{
	struct tw_conntable *t = h->hooks.table;
	struct tw_filter filter;
	struct query_error qe;
	struct list_ctx x = {0};
	struct tw_clock clk;
	struct tw_buf b;
	enum MHD_Result ret;

	(void)rest;
	filter_init(&filter);
	filter.states = TW_STATE_BIT(TW_TCP_LISTEN); /* ?state=listening,closed adds closed ones */
	if (query_parse(conn, &filter, NULL, &qe))
		return http_reply_query_error(h, conn, &qe);
	clock_sample(&clk);
	x.t = t;
	x.filter = &filter;
	conntable_foreach_listener(t, collect, &x);
	if (x.oom) {
		free(x.v);
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	if (x.n)
		qsort(x.v, x.n, sizeof(*x.v), by_cookie);
	buf_init(&b);
	buf_puts(&b, "[");
	for (size_t i = 0; i < x.n && i < filter.limit; i++) {
		buf_puts(&b, i ? ",\n" : "\n");
		json_listener(&b, t, x.v[i], nsstat_find(conntable_nsstat(t), x.v[i]->conn->netns),
			      &clk, false);
	}
	buf_puts(&b, "\n]");
	free(x.v);
	ret = http_reply_buf(conn, MHD_HTTP_OK, &b);
	buf_free(&b);
	return ret;
}

enum MHD_Result listener_handle(struct tw_http *h, struct MHD_Connection *conn, const char *id)
{
	struct tw_conntable *t = h->hooks.table;
	const struct tw_listener *l;
	struct query_error qe;
	struct tw_clock clk;
	struct tw_buf b;
	enum MHD_Result ret;
	uint64_t cookie;

	if (query_parse(conn, NULL, NULL, &qe))
		return http_reply_query_error(h, conn, &qe);
	if (http_parse_cookie(id, &cookie) < 0)
		return http_reply_error(h, conn, MHD_HTTP_BAD_REQUEST,
					"listener id must be a socket cookie (a decimal number)");
	l = conntable_listener(t, cookie);
	if (!l || !l->conn)
		return http_reply_error(h, conn, MHD_HTTP_NOT_FOUND, "no such listener");
	clock_sample(&clk);
	buf_init(&b);
	json_listener(&b, t, l, nsstat_find(conntable_nsstat(t), l->conn->netns), &clk, true);
	ret = http_reply_buf(conn, MHD_HTTP_OK, &b);
	buf_free(&b);
	return ret;
}
