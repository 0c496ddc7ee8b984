/*
 * The API's endpoints, as a table: method, path (or prefix), handler.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h" /* web/: the dashboard's files (web_assets.c, generated) */
#include "clock.h"
#include "internal.h"
#include "json.h"
#include "query.h"

/* Endpoints without parameters refuse any. */
static unsigned no_query(struct tw_http *h, struct MHD_Connection *conn, struct query_error *qe)
{
	(void)h;
	return query_parse(conn, NULL, NULL, qe);
}

int http_parse_cookie(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, struct tw_buf *b)
{
	enum MHD_Result ret = http_reply_buf(conn, MHD_HTTP_OK, b);

	buf_free(b);
	return ret;
}

static enum MHD_Result handle_one(struct tw_http *h, struct MHD_Connection *conn, const char *id)
{
	struct query_error qe;
	struct tw_clock clk;
	struct tw_conn *c;
	struct tw_buf b;
	uint64_t cookie;

	if (no_query(h, conn, &qe))
		return http_reply_query_error(h, conn, &qe);
	if (http_parse_cookie(id, &cookie) < 0)
		return http_reply_error(h, conn, MHD_HTTP_BAD_REQUEST,
					"connection id must be a socket cookie (a decimal number)");
	c = conntable_get(h->hooks.table, cookie);
	if (!c)
		return http_reply_error(h, conn, MHD_HTTP_NOT_FOUND, "no such connection");
	clock_sample(&clk);
	buf_init(&b);
	json_conn_gap(&b, c, &clk, JSON_CONN_FULL, conntable_drops(h->hooks.table, c),
		      conntable_history_gap(h->hooks.table, c, clk.now_mono_ns));
	return reply_json(conn, &b);
}

static void findings_job_free(void *data)
{
	findings_pass_free(data); /* the walk is its pass's first member */
}

static enum MHD_Result handle_findings(struct tw_http *h, struct MHD_Connection *conn,
				       const char *rest)
{
	struct tw_findings_pass *p = http_job_take(h);
	struct query_error qe;
	struct tw_findings f;
	struct tw_buf b;

	(void)rest;
	if (!p) { /* first called: the pass over the table, in slices on a large one */
		if (no_query(h, conn, &qe))
			return http_reply_query_error(h, conn, &qe);
		p = findings_pass_new(h->hooks.table, h->hooks.findings, clock_mono_ns());
		if (!p)
			return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
						"out of memory");
		if (http_walk_shared(h, conn, "findings", findings_pass_walk(p),
				     findings_job_free) == 0)
			return MHD_YES;
	}
	if (findings_pass_end(p, &f) < 0)
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	if (h->hooks.prober) {
		struct tw_finding extra[16];
		size_t n = prober_handshakes(h->hooks.prober, h->hooks.table,
					     h->hooks.findings->handshake_ratio, extra, 16);

		if (findings_add(&f, extra, n) < 0) {
			findings_free(&f);
			return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
						"out of memory");
		}
	}
	buf_init(&b);
	json_findings(&b, &f, h->hooks.findings);
	findings_free(&f);
	return reply_json(conn, &b);
}

struct tw_stats *http_collect_stats(struct tw_http *h)
{
	struct tw_stats *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	stats_init(s);
	h->hooks.collect_stats(s, h->hooks.data);
	http_report(h, s);
	return s;
}

/*
 * Fifty clients asking for the stats at once are fifty requests in one
 * turn of the loop, and between them nothing changes but the count of
 * requests: the table, the counters and the rings are the loop's, and it
 * is busy serving them. So the answer is formatted once (about 200
 * figures) and shared by the requests of that turn, as long as no other
 * kind of request came between (one that could move a counter: a refusal,
 * a probe, an error) and within a millisecond. A client's next request comes in a
 * later turn, and sees a fresh answer.
 */
#define STATS_SHARE_NS (1 * NSEC_PER_MSEC)

void http_stats_unshare(struct tw_http *h)
{
	if (h->stats_resp)
		MHD_destroy_response(h->stats_resp);
	h->stats_resp = NULL;
}

static enum MHD_Result handle_stats(struct tw_http *h, struct MHD_Connection *conn,
				    const char *rest)
{
	uint64_t now = clock_mono_ns();
	unsigned status = MHD_HTTP_OK;
	struct query_error qe;
	struct tw_stats *s;
	struct tw_buf b;

	(void)rest;
	if (no_query(h, conn, &qe))
		return http_reply_query_error(h, conn, &qe);
	if (h->stats_resp && h->stats_turn == h->turn && h->stats_served + 1 == h->served &&
	    h->stats_errors == h->errors && now - h->stats_ns < STATS_SHARE_NS) {
		h->stats_served = h->served;
		h->stats_shared++;
		return MHD_queue_response(conn, MHD_HTTP_OK, h->stats_resp);
	}
	http_stats_unshare(h);
	s = http_collect_stats(h);
	if (!s)
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	buf_init(&b);
	json_stats(&b, s);
	free(s);
	h->stats_resp = http_response_buf(&status, &b);
	buf_free(&b);
	if (!h->stats_resp)
		return MHD_NO;
	if (status != MHD_HTTP_OK) { /* the out-of-memory body: not shared */
		enum MHD_Result ret = MHD_queue_response(conn, status, h->stats_resp);

		http_stats_unshare(h);
		return ret;
	}
	h->stats_turn = h->turn;
	h->stats_ns = now;
	h->stats_served = h->served;
	h->stats_errors = h->errors;
	return MHD_queue_response(conn, MHD_HTTP_OK, h->stats_resp);
}

static enum MHD_Result handle_healthz(struct tw_http *h, struct MHD_Connection *conn,
				      const char *rest)
{
	struct query_error qe;
	struct tw_buf b;

	(void)rest;
	if (no_query(h, conn, &qe))
		return http_reply_query_error(h, conn, &qe);
	buf_init(&b);
	buf_puts(&b, "{\"status\":\"ok\"}");
	return reply_json(conn, &b);
}

/* The dashboard's pages load scripts and styles from files only: no inline
 * code, nothing from elsewhere, API calls to this origin alone. */
#define WEB_CSP                                                                                    \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "            \
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct web_asset *asset_find(const char *path)
{
	for (size_t i = 0; i < web_assets_count; i++)
		if (!strcmp(web_assets[i].path, path))
			return &web_assets[i];
	return NULL;
}

/* One embedded file, revalidated by its ETag (the browser asks each load;
 * an unchanged file is a 304 without a body). */
static enum MHD_Result reply_asset(struct tw_http *h, struct MHD_Connection *conn,
				   const struct web_asset *a)
{
	const char *inm =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	bool same = inm && !strcmp(inm, a->etag);
	struct MHD_Response *r;
	struct query_error qe;
	enum MHD_Result ret;

	if (no_query(h, conn, &qe))
		return http_reply_query_error(h, conn, &qe);
	r = MHD_create_response_from_buffer(same ? 0 : a->len_bytes, (void *)a->data,
					    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy", WEB_CSP);
	ret = MHD_queue_response(conn, same ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle_index(struct tw_http *h, struct MHD_Connection *conn,
				    const char *rest)
{
	const struct web_asset *a = asset_find("/index.html");

	(void)rest;
	if (!a)
		return http_reply_error(h, conn, MHD_HTTP_NOT_FOUND, "no dashboard in this build");
	return reply_asset(h, conn, a);
}

/* GET /assets/NAME: rest is NAME. */
static enum MHD_Result handle_asset(struct tw_http *h, struct MHD_Connection *conn,
				    const char *rest)
{
	char path[128];
	const struct web_asset *a = NULL;

	if (snprintf(path, sizeof(path), "/assets/%s", rest) < (int)sizeof(path))
		a = asset_find(path);
	if (!a)
		return http_reply_error(h, conn, MHD_HTTP_NOT_FOUND, "no such asset");
	return reply_asset(h, conn, a);
}

struct route {
	const char *method; /* GET routes also answer HEAD */
	const char *path;
	bool prefix; /* path is a prefix; the rest goes to the handler */
	http_handler handler;
};

static const struct route routes[] = {
	{"GET", "/api/v1/connections", false, list_handle},
	{"GET", "/api/v1/connections/", true, handle_one},
	{"GET", "/api/v1/events", false, sse_handle},
	{"GET", "/api/v1/listeners", false, listeners_handle},
	{"GET", "/api/v1/listeners/", true, listener_handle},
	{"GET", "/api/v1/probes", false, probes_handle},
	{"POST", "/api/v1/probes", false, probes_handle},
	{"GET", "/api/v1/probes/", true, probe_handle},
	{"DELETE", "/api/v1/probes/", true, probe_handle},
	{"GET", "/api/v1/findings", false, handle_findings},
	{"GET", "/api/v1/summary", false, summary_handle},
	{"GET", "/api/v1/stats", false, handle_stats},
	{"GET", "/healthz", false, handle_healthz},
	{"GET", "/metrics", false, metrics_handle},
	{"GET", "/", false, handle_index},
	{"GET", "/index.html", false, handle_index},
	{"GET", "/assets/", true, handle_asset},
};

static bool path_matches(const struct route *r, const char *url)
{
	size_t n = strlen(r->path);

	return r->prefix ? !strncmp(url, r->path, n) : !strcmp(url, r->path);
}

const char *routes_allowed(const char *url)
{
	bool get = false, post = false, del = false;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!path_matches(&routes[i], url))
			continue;
		get |= !strcmp(routes[i].method, "GET");
		post |= !strcmp(routes[i].method, "POST");
		del |= !strcmp(routes[i].method, "DELETE");
	}
	if (post)
		return get ? "GET, HEAD, POST" : "POST";
	if (del)
		return get ? "GET, HEAD, DELETE" : "DELETE";
	return "GET, HEAD";
}

static bool method_ok(const char *want, const char *method)
{
	return !strcmp(want, method) || (!strcmp(want, "GET") && !strcmp(method, "HEAD"));
}

http_handler routes_find(const char *method, const char *url, const char **ret_rest,
			 unsigned *ret_status)
{
	bool path_known = false;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];

		if (!path_matches(r, url))
			continue;
		path_known = true;
		if (!method_ok(r->method, method))
			continue;
		*ret_rest = r->prefix ? url + strlen(r->path) : "";
		return r->handler;
	}
	*ret_status = path_known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
	return NULL;
}
