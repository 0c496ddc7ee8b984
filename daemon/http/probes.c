/*
 * /api/v1/probes: the prober's targets and jobs (GET), a job started
 * (POST, JSON body) or ended early (DELETE), one's results (GET with id).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "allow.h"
#include "internal.h"
#include "json.h"
#include "probe.h"

static void json_result(struct tw_buf *b, const struct tw_probe_result *r)
{
	char from[TW_ADDR_STRLEN], when[TW_RFC3339_LEN];

	clock_format_rfc3339(r->sent_ns, when, sizeof(when));
	buf_printf(b, "{\"seq\":%u,\"state\":\"%s\"", r->seq, probe_state_name(r->state));
	if (r->rtt_ns >= 0)
		buf_printf(b, ",\"rtt_us\":%.3f", (double)r->rtt_ns / 1e3);
	else
		buf_puts(b, ",\"rtt_us\":null");
	buf_printf(b, ",\"ttl_sent\":%u,\"sport\":%u", r->ttl_sent, r->sport);
	if (r->state == TW_PROBE_OPEN || r->state == TW_PROBE_CLOSED) {
		buf_printf(b, ",\"ttl\":%u,\"window\":%u", r->ttl, r->window);
		if (r->mss)
			buf_printf(b, ",\"mss\":%u", r->mss);
		else
			buf_puts(b, ",\"mss\":null");
		if (r->wscale >= 0)
			buf_printf(b, ",\"wscale\":%d", r->wscale);
		else
			buf_puts(b, ",\"wscale\":null");
		json_string_field(b, "options", r->options);
		buf_printf(b, ",\"ecn\":{\"ece\":%s,\"cwr\":%s,\"ip\":%u}",
			   r->ecn & 0x40 ? "true" : "false", r->ecn & 0x80 ? "true" : "false",
			   r->ecn & 3);
	} else {
		buf_puts(b, ",\"ttl\":null,\"window\":null,\"mss\":null,\"wscale\":null,"
			    "\"options\":null,\"ecn\":null");
	}
	if (r->flags & TW_RESULT_ICMP)
		buf_printf(b, ",\"icmp\":{\"type\":%u,\"code\":%u}", r->icmp_type, r->icmp_code);
	else
		buf_puts(b, ",\"icmp\":null");
	if (r->from_family)
		json_string_field(b, "from",
				  tw_addr_format(r->from_family, r->from, from, sizeof(from)));
	else
		buf_puts(b, ",\"from\":null");
	if (r->state == TW_PROBE_ERROR)
		json_string_field(b, "error", strerror(r->errno_));
	buf_puts(b, ",\"flags\":[");
	{
		const char *names[] = {"no_tx_stamp", "no_rx_stamp", NULL, "bad_clock"};
		bool first = true;

		for (unsigned i = 0; i < 4; i++)
			if (names[i] && (r->flags & (1u << i))) {
				buf_printf(b, "%s\"%s\"", first ? "" : ",", names[i]);
				first = false;
			}
	}
	buf_printf(b, "],\"time_ns\":%llu,\"time\":\"%s\"}", (unsigned long long)r->sent_ns, when);
}

static void us_field(struct tw_buf *b, const char *key, uint64_t ns, bool valid)
{
	if (valid)
		buf_printf(b, ",\"%s\":%.3f", key, (double)ns / 1e3);
	else
		buf_printf(b, ",\"%s\":null", key);
}

static void json_summary(struct tw_buf *b, const struct tw_probe_summary *s)
{
	bool v = s->rtt_count > 0;

	buf_printf(b, ",\"summary\":{\"sent\":%llu,\"received\":%llu,\"lost\":%llu,\"errors\":%llu",
		   (unsigned long long)s->sent, (unsigned long long)s->received,
		   (unsigned long long)s->lost, (unsigned long long)s->errors);
	buf_puts(b, ",\"states\":{");
	for (unsigned i = TW_PROBE_OPEN; i < TW_PROBE_STATES; i++)
		buf_printf(b, "%s\"%s\":%llu", i == TW_PROBE_OPEN ? "" : ",", probe_state_name(i),
			   (unsigned long long)s->by_state[i]);
	buf_printf(b, "},\"rtt_count\":%llu", (unsigned long long)s->rtt_count);
	us_field(b, "min_us", s->min_ns, v);
	us_field(b, "avg_us", s->avg_ns, v);
	us_field(b, "max_us", s->max_ns, v);
	us_field(b, "mdev_us", s->mdev_ns, v);
	us_field(b, "p50_us", s->p50_ns, v);
	us_field(b, "p90_us", s->p90_ns, v);
	us_field(b, "p99_us", s->p99_ns, v);
	buf_puts(b, "}");
}

/* A trace's hops: the results grouped by the TTL they were sent with. */
static void json_hops(struct tw_buf *b, const struct tw_probe_target *t)
{
	uint32_t n = results_count(&t->results);

	buf_puts(b, ",\"hops\":[");
	for (unsigned ttl = 1, first = 1; ttl <= TW_PROBE_TRACE_HOPS_MAX; ttl++) {
		bool any = false;

		for (uint32_t i = 0; i < n; i++) {
			const struct tw_probe_result *r = results_at(&t->results, i);

			if (r->ttl_sent != ttl)
				continue;
			if (!any) {
				buf_printf(b, "%s{\"ttl\":%u,\"probes\":[", first ? "" : ",", ttl);
				first = 0;
			} else {
				buf_puts(b, ",");
			}
			any = true;
			json_result(b, r);
		}
		if (any)
			buf_puts(b, "]}");
	}
	buf_puts(b, "]");
}

/* The target's SYN-ACKs after a half-open probe: when each came, the waits
 * between them, and the lifetime the doubling schedule gives. */
static void json_half_open(struct tw_buf *b, const struct tw_probe_target *t)
{
	uint32_t n =
		t->ho_synacks < TW_HALFOPEN_SYNACKS_MAX ? t->ho_synacks : TW_HALFOPEN_SYNACKS_MAX;
	const uint64_t *v = t->ho_rx_ns;

	buf_printf(b, ",\"half_open\":{\"synacks\":%u,\"retransmits\":%u", t->ho_synacks,
		   t->ho_synacks ? t->ho_synacks - 1 : 0);
	buf_puts(b, ",\"synack_after_first_us\":[");
	for (uint32_t i = 0; i < n; i++)
		buf_printf(b, "%s%.3f", i ? "," : "", (double)(v[i] - v[0]) / 1e3);
	buf_puts(b, "],\"intervals_us\":[");
	for (uint32_t i = 1; i < n; i++)
		buf_printf(b, "%s%.3f", i > 1 ? "," : "", (double)(v[i] - v[i - 1]) / 1e3);
	buf_puts(b, "]");
	/* The request expires one doubled wait after its last SYN-ACK. */
	if (n >= 2 && t->done)
		buf_printf(b, ",\"lifetime_estimate_us\":%.3f",
			   (double)(v[n - 1] - v[0] + 2 * (v[n - 1] - v[n - 2])) / 1e3);
	else
		buf_puts(b, ",\"lifetime_estimate_us\":null");
	buf_puts(b, "}");
}

static void json_target(struct tw_buf *b, const struct tw_probe_target *t,
			const struct tw_clock *clk, bool detail, uint32_t after)
{
	char ep[TW_ENDPOINT_STRLEN], addr[TW_ADDR_STRLEN];
	struct tw_probe_summary s;
	uint32_t n = results_count(&t->results);

	buf_printf(b, "{\"id\":%u", t->id);
	json_string_field(b, "target",
			  tw_endpoint_format(t->family, t->addr, t->port, ep, sizeof(ep)));
	json_string_field(b, "addr", tw_addr_format(t->family, t->addr, addr, sizeof(addr)));
	buf_printf(b, ",\"port\":%u,\"family\":%u,\"netns\":%u", t->port,
		   t->family == AF_INET6 ? 6 : 4, t->netns);
	json_string_field(b, "mode", probe_mode_name(t->mode));
	buf_printf(b, ",\"configured\":%s,\"done\":%s", t->configured ? "true" : "false",
		   t->done ? "true" : "false");
	if (t->configured)
		buf_puts(b, ",\"count\":null");
	else
		buf_printf(b, ",\"count\":%u", t->count);
	buf_printf(b, ",\"interval_s\":%.6f,\"timeout_s\":%.6f,\"in_flight\":%u",
		   (double)t->interval_ns / 1e9, (double)t->timeout_ns / 1e9, t->in_flight);
	json_time_fields(b, "created", clk, t->created_ns);
	if (t->done)
		json_time_fields(b, "ended", clk, t->ended_ns);
	results_summary(&t->results, &s);
	json_summary(b, &s);
	if (t->mode == TW_PROBE_MODE_HALF_OPEN)
		json_half_open(b, t);
	json_histo(b, "rtt_histogram", t->results.histo);
	if (!detail) {
		if (t->hs_count)
			buf_printf(b, ",\"handshakes\":{\"count\":%u,\"p50_us\":%u,\"max_us\":%u}",
				   t->hs_count, t->hs_p50_us, t->hs_max_us);
		else
			buf_puts(b, ",\"handshakes\":null");
		if (n) {
			buf_puts(b, ",\"last\":");
			json_result(b, results_at(&t->results, n - 1));
		} else {
			buf_puts(b, ",\"last\":null");
		}
		buf_puts(b, "}");
		return;
	}
	buf_printf(b, ",\"results_kept\":%u,\"results_total\":%llu,\"probes\":[", n,
		   (unsigned long long)t->results.added);
	for (uint32_t i = 0, first = 1; i < n; i++) {
		const struct tw_probe_result *r = results_at(&t->results, i);

		if (r->seq < after)
			continue;
		if (!first)
			buf_puts(b, ",");
		first = 0;
		json_result(b, r);
	}
	buf_puts(b, "]");
	if (t->mode == TW_PROBE_MODE_TRACE)
		json_hops(b, t);
	buf_puts(b, "}");
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, struct tw_buf *b)
{
	enum MHD_Result ret = http_reply_buf(conn, status, b);

	buf_free(b);
	return ret;
}

static enum MHD_Result list_probes(struct tw_http *h, struct MHD_Connection *conn)
{
	struct tw_clock clk;
	struct tw_buf b;
	bool first = true;

	prober_handshakes(h->hooks.prober, h->hooks.table, h->hooks.findings->handshake_ratio, NULL,
			  0);
	clock_sample(&clk);
	buf_init(&b);
	buf_puts(&b, "{\"probes\":[");
	for (struct tw_probe_target *t = prober_first(h->hooks.prober); t; t = t->next) {
		buf_puts(&b, first ? "\n" : ",\n");
		first = false;
		json_target(&b, t, &clk, false, 0);
	}
	buf_puts(&b, "\n]}");
	return reply(conn, MHD_HTTP_OK, &b);
}

/* POST and DELETE change what the daemon sends: over TCP only with the
 * token or the probe token (the Unix socket's permissions guard it
 * otherwise). */
static const char *authorize(struct tw_http *h, struct MHD_Connection *conn)
{
	const char *a;

	if (h->req.via_unix || h->req.token_ok)
		return NULL;
	if (!prober_token_set(h->hooks.prober))
		return "on-demand probes over TCP need the token or a probe-token in the "
		       "configuration; or use the Unix socket";
	a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!a || strncmp(a, "Bearer ", 7) || !prober_token_ok(h->hooks.prober, a + 7)) {
		h->probe_token_refused++;
		return "a missing or wrong probe token (Authorization: Bearer TOKEN)";
	}
	return NULL;
}

static int parse_seconds(const cJSON *v, uint64_t *ret)
{
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 86400)
		return -EINVAL;
	*ret = (uint64_t)llround(v->valuedouble * 1e9);
	return 0;
}

/* parse_request's answer when the body could not be parsed for want of
 * memory (cJSON says only NULL; malloc's errno tells it from a bad body). */
static const char parse_out_of_memory[] = "out of memory";

/* The request body as a probe request; NULL, or the error
 * (parse_out_of_memory: not the client's). */
static const char *parse_request(const char *body, size_t len, struct tw_probe_request *req)
{
	cJSON *j, *v;
	const char *bad = NULL;
	int family = 0;

	errno = 0;
	j = cJSON_ParseWithLength(body, len);
	if (!j && errno == ENOMEM)
		return parse_out_of_memory;
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return "the body must be a JSON object";
	}
	for (cJSON *f = j->child; f && !bad; f = f->next)
		if (strcmp(f->string, "target") && strcmp(f->string, "count") &&
		    strcmp(f->string, "interval") && strcmp(f->string, "timeout") &&
		    strcmp(f->string, "netns") && strcmp(f->string, "mode"))
			bad = "unknown field (target, count, interval, timeout, netns, mode)";
	v = cJSON_GetObjectItemCaseSensitive(j, "target");
	if (!bad && (!cJSON_IsString(v) ||
		     probe_parse_endpoint(v->valuestring, &family, req->addr, &req->port) < 0))
		bad = "target must be \"ADDR:PORT\" or \"[ADDR6]:PORT\"";
	req->family = family;
	v = cJSON_GetObjectItemCaseSensitive(j, "count");
	if (!bad && v) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e7 ||
		    v->valuedouble != floor(v->valuedouble))
			bad = "count must be a whole number, at least 1";
		else
			req->count = (uint32_t)v->valuedouble;
	}
	if (!bad &&
	    parse_seconds(cJSON_GetObjectItemCaseSensitive(j, "interval"), &req->interval_ns) < 0)
		bad = "interval must be seconds (a number)";
	if (!bad &&
	    parse_seconds(cJSON_GetObjectItemCaseSensitive(j, "timeout"), &req->timeout_ns) < 0)
		bad = "timeout must be seconds (a number)";
	v = cJSON_GetObjectItemCaseSensitive(j, "netns");
	if (!bad && v) {
		if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof(req->netns))
			snprintf(req->netns, sizeof(req->netns), "%s", v->valuestring);
		else if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= UINT32_MAX)
			snprintf(req->netns, sizeof(req->netns), "%u", (uint32_t)v->valuedouble);
		else
			bad = "netns must be a path or a namespace inode";
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "mode");
	if (!bad && v) {
		if (!cJSON_IsString(v))
			bad = "mode must be syn, trace or half-open";
		else if (!strcmp(v->valuestring, "syn"))
			req->mode = TW_PROBE_MODE_SYN;
		else if (!strcmp(v->valuestring, "trace"))
			req->mode = TW_PROBE_MODE_TRACE;
		else if (!strcmp(v->valuestring, "half-open"))
			req->mode = TW_PROBE_MODE_HALF_OPEN;
		else
			bad = "mode must be syn, trace or half-open";
	}
	cJSON_Delete(j);
	return bad;
}

static unsigned refusal_status(enum tw_probe_refusal r)
{
	switch (r) {
	case TW_REFUSE_NOT_ALLOWED:
		return MHD_HTTP_FORBIDDEN;
	case TW_REFUSE_NO_NETNS:
		return MHD_HTTP_NOT_FOUND;
	case TW_REFUSE_LIMIT:
		return MHD_HTTP_TOO_MANY_REQUESTS;
	case TW_REFUSE_UNAVAILABLE:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	case TW_REFUSE_UNSUPPORTED:
		return MHD_HTTP_NOT_IMPLEMENTED;
	default:
		return MHD_HTTP_BAD_REQUEST;
	}
}

static enum MHD_Result post_probe(struct tw_http *h, struct MHD_Connection *conn)
{
	struct tw_probe_request req = {
		.count = 1, .interval_ns = 1000000000ull, .timeout_ns = 2000000000ull};
	const char *bad = authorize(h, conn);
	enum tw_probe_refusal why;
	struct tw_clock clk;
	struct tw_buf b;
	char err[512];
	uint32_t id;

	if (bad)
		return http_reply_error(h, conn, MHD_HTTP_FORBIDDEN, bad);
	if (h->req.too_big)
		return http_reply_error(h, conn, MHD_HTTP_CONTENT_TOO_LARGE,
					"the body is over 4096 bytes");
	bad = parse_request(h->req.body, h->req.len, &req);
	if (bad == parse_out_of_memory)
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, bad);
	if (bad)
		return http_reply_error(h, conn, MHD_HTTP_BAD_REQUEST, bad);
	if (req.mode == TW_PROBE_MODE_TRACE && req.timeout_ns == 2000000000ull)
		req.timeout_ns = 1000000000ull;
	why = prober_submit(h->hooks.prober, &req, &id, err, sizeof(err));
	if (why != TW_REFUSE_NONE)
		return http_reply_error(h, conn, refusal_status(why), err);
	clock_sample(&clk);
	buf_init(&b);
	json_target(&b, prober_find(h->hooks.prober, id), &clk, false, 0);
	return reply(conn, MHD_HTTP_CREATED, &b);
}

static enum MHD_Result get_after(struct MHD_Connection *conn, uint32_t *after, const char **bad)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
	int n = MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);
	uint64_t x = 0;

	*after = 0;
	if (n > (v ? 1 : 0)) {
		*bad = "the only parameter is after=SEQ";
		return MHD_NO;
	}
	if (v && (http_parse_cookie(v, &x) < 0 || x > UINT32_MAX)) {
		*bad = "after must be a probe's seq (a whole number)";
		return MHD_NO;
	}
	*after = (uint32_t)x;
	return MHD_YES;
}

enum MHD_Result probes_handle(struct tw_http *h, struct MHD_Connection *conn, const char *rest)
{
	const char *method = h->req.method;

	(void)rest;
	if (!h->hooks.prober)
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no prober");
	if (!strcmp(method, "POST"))
		return post_probe(h, conn);
	if (MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
		return http_reply_error(h, conn, MHD_HTTP_BAD_REQUEST,
					"this endpoint takes no parameters");
	return list_probes(h, conn);
}

enum MHD_Result probe_handle(struct tw_http *h, struct MHD_Connection *conn, const char *id)
{
	struct tw_probe_target *t;
	const char *bad = NULL;
	struct tw_clock clk;
	struct tw_buf b;
	uint64_t x;
	uint32_t after = 0;

	if (!h->hooks.prober)
		return http_reply_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no prober");
	if (http_parse_cookie(id, &x) < 0 || x > UINT32_MAX)
		return http_reply_error(h, conn, MHD_HTTP_BAD_REQUEST,
					"a probe id is a whole number");
	t = prober_find(h->hooks.prober, (uint32_t)x);
	if (!strcmp(h->req.method, "DELETE")) {
		bad = authorize(h, conn);
		if (bad)
			return http_reply_error(h, conn, MHD_HTTP_FORBIDDEN, bad);
		if (!t)
			return http_reply_error(h, conn, MHD_HTTP_NOT_FOUND, "no such probe");
		if (prober_cancel(h->hooks.prober, t->id) < 0)
			return http_reply_error(h, conn, MHD_HTTP_CONFLICT,
						"a configured target ends only with the config");
	} else if (get_after(conn, &after, &bad) == MHD_NO) {
		return http_reply_error(h, conn, MHD_HTTP_BAD_REQUEST, bad);
	}
	if (!t)
		return http_reply_error(h, conn, MHD_HTTP_NOT_FOUND, "no such probe");
	clock_sample(&clk);
	buf_init(&b);
	json_target(&b, t, &clk, true, strcmp(h->req.method, "DELETE") ? after : UINT32_MAX);
	return reply(conn, MHD_HTTP_OK, &b);
}
