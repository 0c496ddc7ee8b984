/*
 * libFuzzer target: what the daemon decides about a request before a
 * handler runs, without a running libmicrohttpd. The input is lines:
 *
 *   METHOD \n URL[?QUERY] \n HOST \n AUTHORIZATION \n TOKEN \n ALLOWED-HOSTS
 *
 * (a missing line is an absent header). Covered, as server.c calls them:
 * - routes.c: routes_find (method and path to a handler, or 404/405),
 *   routes_allowed (the Allow header), http_parse_cookie on the rest of a
 *   prefix route;
 * - access.c: access_host_ok (Host against loopback, the listen host and
 *   the allowed list), access_addr_is_loopback, access_bearer_ok,
 *   access_path_public;
 * - query.c: query_apply for each KEY=VALUE of QUERY (split at '&',
 *   percent-decoded by MHD_http_unescape as libmicrohttpd does), with a
 *   filter and a view, a filter alone, and neither; the filter is then
 *   matched and the view's sort= order (listsort.c) applied to a few
 *   connections. text_parse_columns (text.c) is reached through columns=.
 *
 * Oracles: a route's rest lies inside the URL and its method is in the
 * Allow header, a 405 has a method that is not; a parsed cookie prints
 * back as its digits; access_bearer_ok is compared with a plain reference;
 * a host accepted with no listen host and no list stays accepted with
 * them; refused parameters carry a message; the sorted rows are in order.
 *
 * routes.c's handlers are not run: what they call in other files (the
 * handlers of list.c, probes.c..., the replies of server.c, the encoders
 * of json.c) are stubs below that abort, and the web assets a table of
 * two.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "assets.h"
#include "internal.h"
#include "json.h"
#include "listsort.h"
#include "query.h"
#include "text.h"

/* --- what routes.c links against but the routing does not run --- */
static const unsigned char index_html[] = "<!doctype html>";
const struct web_asset web_assets[] = {
	{"/index.html", "text/html", "\"1\"", index_html, sizeof(index_html) - 1},
	{"/assets/app.js", "text/javascript", "\"2\"", index_html, sizeof(index_html) - 1},
};
const size_t web_assets_count = sizeof(web_assets) / sizeof(web_assets[0]);

#define STUB_HANDLER(name)                                                                         \
	enum MHD_Result name(struct tw_http *h, struct MHD_Connection *conn, const char *rest)     \
	{                                                                                          \
		(void)h, (void)conn, (void)rest;                                                   \
		abort();                                                                           \
	}
STUB_HANDLER(list_handle)
STUB_HANDLER(summary_handle)
STUB_HANDLER(listeners_handle)
STUB_HANDLER(listener_handle)
STUB_HANDLER(probes_handle)
STUB_HANDLER(probe_handle)
STUB_HANDLER(metrics_handle)
STUB_HANDLER(sse_handle)

void *http_job_take(struct tw_http *h)
{
	(void)h;
	abort();
}

int http_walk(struct tw_http *h, struct MHD_Connection *conn, struct tw_walk *w,
	      void (*free_fn)(void *data))
{
	(void)h, (void)conn, (void)w, (void)free_fn;
	abort();
}

int http_walk_shared(struct tw_http *h, struct MHD_Connection *conn, const char *key,
		     struct tw_walk *w, void (*free_fn)(void *data))
{
	(void)h, (void)conn, (void)key, (void)w, (void)free_fn;
	abort();
}

enum MHD_Result http_reply_buf(struct MHD_Connection *conn, unsigned status, struct tw_buf *b)
{
	(void)conn, (void)status, (void)b;
	abort();
}

struct MHD_Response *http_response_buf(unsigned *status, struct tw_buf *b)
{
	(void)status, (void)b;
	abort();
}

enum MHD_Result http_reply_error(struct tw_http *h, struct MHD_Connection *conn, unsigned status,
				 const char *message)
{
	(void)h, (void)conn, (void)status, (void)message;
	abort();
}

enum MHD_Result http_reply_query_error(struct tw_http *h, struct MHD_Connection *conn,
				       const struct query_error *qe)
{
	(void)h, (void)conn, (void)qe;
	abort();
}

void http_report(const struct tw_http *h, struct tw_stats *s)
{
	(void)h, (void)s;
	abort();
}

size_t prober_handshakes(struct tw_prober *p, struct tw_conntable *t, uint32_t ratio,
			 struct tw_finding *out, size_t max)
{
	(void)p, (void)t, (void)ratio, (void)out, (void)max;
	abort();
}

void json_conn(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
	       enum json_conn_view view, const struct tw_drop_counts *drops)
{
	(void)b, (void)c, (void)clk, (void)view, (void)drops;
	abort();
}

void json_conn_gap(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
		   enum json_conn_view view, const struct tw_drop_counts *drops, bool history_gap)
{
	(void)b, (void)c, (void)clk, (void)view, (void)drops, (void)history_gap;
	abort();
}

void json_findings(struct tw_buf *b, const struct tw_findings *f,
		   const struct tw_findings_config *cfg)
{
	(void)b, (void)f, (void)cfg;
	abort();
}

void json_stats(struct tw_buf *b, const struct tw_stats *s)
{
	(void)b, (void)s;
	abort();
}

/* --- the target --- */

/* The next line of the input, NUL-terminated in place; NULL past the end. */
static char *next_line(char **cur, char *end)
{
	char *s = *cur, *nl;

	if (!s || s > end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (nl) {
		*nl = '\0';
		*cur = nl + 1;
	} else {
		*cur = NULL;
	}
	return s;
}

/* Whether method is one of allow's comma-separated methods. */
static bool allowed_has(const char *allow, const char *method)
{
	size_t n = strlen(method);

	for (const char *p = allow; *p;) {
		size_t k = strcspn(p, ",");

		if (k == n && !strncmp(p, method, n))
			return true;
		p += k;
		p += strspn(p, ", ");
	}
	return false;
}

static void check_routes(const char *method, const char *url)
{
	const char *rest = NULL, *allow = routes_allowed(url);
	unsigned status = 0;
	http_handler hd = routes_find(method, url, &rest, &status);
	uint64_t cookie;

	if (strcmp(allow, "GET, HEAD") && strcmp(allow, "GET, HEAD, POST") &&
	    strcmp(allow, "POST") && strcmp(allow, "GET, HEAD, DELETE") && strcmp(allow, "DELETE"))
		abort();
	if (!hd) {
		if (status != MHD_HTTP_NOT_FOUND && status != MHD_HTTP_METHOD_NOT_ALLOWED)
			abort();
		if (status == MHD_HTTP_METHOD_NOT_ALLOWED && allowed_has(allow, method))
			abort();
		return;
	}
	if (!allowed_has(allow, method))
		abort();
	if (!rest || (*rest && (rest < url || rest > url + strlen(url))))
		abort();
	if (http_parse_cookie(rest, &cookie) == 0) {
		char back[24];
		const char *digits = rest;

		while (digits[0] == '0' && digits[1])
			digits++;
		snprintf(back, sizeof(back), "%" PRIu64, cookie);
		if (strcmp(back, digits))
			abort();
	}
}

static void check_access(const char *url, const char *host, const char *auth, const char *token,
			 const char *allowed)
{
	bool want, plain;

	want = token && *token && auth && !strncasecmp(auth, "Bearer ", 7) &&
	       !strcmp(auth + 7, token);
	if (access_bearer_ok(auth, token) != want)
		abort();
	if (token && *token) {
		char *b = malloc(strlen(token) + 8);

		if (b) {
			sprintf(b, "Bearer %s", token);
			if (!access_bearer_ok(b, token))
				abort();
			free(b);
		}
	}
	plain = access_host_ok(host, NULL, NULL);
	if (plain && (!access_host_ok(host, token, allowed) ||
		      !access_host_ok(host, "192.0.2.7", "example.com, [2001:db8::1]:9466")))
		abort();
	access_host_ok(host, allowed, token);
	if (host)
		access_addr_is_loopback(host);
	if (allowed)
		access_addr_is_loopback(allowed);
	access_path_public(url);
}

static void conn_at(struct tw_conn *c, int i)
{
	memset(c, 0, sizeof(*c));
	c->cookie = 1000 - (uint64_t)i * 7;
	c->family = i & 1 ? AF_INET6 : AF_INET;
	c->state = (uint8_t)(1 + i % 11);
	c->local_addr[0] = c->family == AF_INET ? 127 : 0;
	c->local_addr[15] = (uint8_t)i;
	c->remote_addr[0] = (uint8_t)(10 + i);
	c->local_port = (uint16_t)(443 + i * 1000);
	c->remote_port = (uint16_t)(40000 + i);
	c->first_seen_ns = 1000000ull * (uint64_t)(i % 3);
	c->flags = i % 4 == 3 ? TW_CONN_CLOSED : 0;
	conn_set_closed_ns(c, 5000000);
	c->info.has_info = i % 3 != 0;
	c->info.rtt_us = (uint32_t)(i * 31 % 17);
	c->info.bytes_acked = (uint64_t)i << 20;
}

static void check_query(char *query)
{
	struct tw_filter *f = malloc(sizeof(*f)), *g = malloc(sizeof(*g));
	struct list_view view = {0}, view2 = {0};
	struct listsort_entry e[8];
	struct query_error qe;
	struct tw_clock clk = {.now_mono_ns = 9000000};
	struct tw_conn c;
	char *save = NULL, *pair;

	if (!f || !g)
		goto out;
	filter_init(f);
	filter_init(g);
	for (pair = strtok_r(query, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *value = strchr(pair, '=');
		unsigned status;

		if (value) {
			*value++ = '\0';
			MHD_http_unescape(value);
		}
		MHD_http_unescape(pair);
		memset(&qe, 0, sizeof(qe));
		status = query_apply(f, &view, pair, value, &qe);
		if (status != qe.status || (status && (!qe.message[0] || status != 400)))
			abort();
		memset(&qe, 0, sizeof(qe));
		query_apply(g, NULL, pair, value, &qe);
		memset(&qe, 0, sizeof(qe));
		if (!query_apply(NULL, NULL, pair, value, &qe) || !qe.message[0])
			abort(); /* no parameter is allowed without a filter */
		memset(&qe, 0, sizeof(qe));
		query_apply(NULL, &view2, pair, value, &qe);
	}
	for (int i = 0; i < 8; i++) {
		conn_at(&c, i);
		filter_match(f, &c);
		filter_match(g, &c);
		listsort_entry_of(&view.sort, &c, &clk, &e[i]);
	}
	if (view.sort.key >= LISTSORT_KEYS)
		abort();
	qsort(e, 8, sizeof(e[0]), listsort_cmp);
	for (int i = 0; i + 1 < 8; i++)
		if (listsort_cmp(&e[i], &e[i + 1]) > 0 || listsort_cmp(&e[i + 1], &e[i]) < 0)
			abort();
out:
	free(f);
	free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *cur, *end;
	char *method, *url, *host, *auth, *token, *allowed, *q;
	struct listsort ls;
	unsigned cols;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	cur = buf;
	end = buf + size;
	method = next_line(&cur, end);
	url = next_line(&cur, end);
	host = next_line(&cur, end);
	auth = next_line(&cur, end);
	token = next_line(&cur, end);
	allowed = next_line(&cur, end);
	if (!url)
		url = "/";
	q = strchr(url, '?');
	if (q)
		*q++ = '\0';
	check_routes(method ? method : "GET", url);
	check_access(url, host, auth, token, allowed);
	/* The query's values on their own: sort= and columns= parsers. */
	listsort_parse(url, &ls);
	text_parse_columns(url, &cols);
	if (q)
		check_query(q);
	free(buf);
	return 0;
}
