#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "json.h"
#include "lifecycle.h"
#include "tcpstate.h"

void buf_init(struct tw_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void buf_free(struct tw_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void buf_reset(struct tw_buf *b)
{
	b->len = 0;
	b->oom = false;
}

static bool reserve(struct tw_buf *b, size_t n)
{
	size_t cap;
	char *d;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n + 1)
		cap *= 2;
	d = realloc(b->data, cap);
	if (!d) {
		b->oom = true;
		return false;
	}
	b->data = d;
	b->cap = cap;
	return true;
}

void buf_put(struct tw_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_puts(struct tw_buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void buf_printf(struct tw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!reserve(b, 128))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		if (!reserve(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at p, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	uint32_t cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

void json_string(struct tw_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (!s) {
		buf_put(b, "null", 4);
		return;
	}
	if (!reserve(b, strlen(s) * 6 + 2))
		return;
	b->data[b->len++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char *o = b->data + b->len;

		if (*p == '"' || *p == '\\') {
			o[0] = '\\';
			o[1] = (char)*p;
			b->len += 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[*p >> 4];
			o[5] = hex[*p & 15];
			b->len += 6;
		} else if (*p >= 0x80) {
			/* Process names are bytes, JSON is UTF-8: copy valid
			 * sequences, replace anything else with U+FFFD. */
			size_t n = utf8_len(p);

			if (n) {
				memcpy(o, p, n);
				b->len += n;
				p += n - 1;
			} else {
				memcpy(o, "\\ufffd", 6);
				b->len += 6;
			}
		} else {
			o[0] = (char)*p;
			b->len++;
		}
	}
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}

uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void clock_sample(struct tw_clock *clk)
{
	struct timespec rt;
	uint64_t wall;

	clock_gettime(CLOCK_REALTIME, &rt);
	clk->now_mono_ns = clock_mono_ns();
	wall = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	clk->mono_to_wall_ns = (int64_t)(wall - clk->now_mono_ns);
}

void format_rfc3339(uint64_t wall_ns, char *out, size_t len)
{
	time_t sec = (time_t)(wall_ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(wall_ns % 1000000000ull / 1000));
}

static uint64_t to_wall(const struct tw_clock *clk, uint64_t mono_ns)
{
	return (uint64_t)((int64_t)mono_ns + clk->mono_to_wall_ns);
}

static void time_fields(struct tw_buf *b, const char *name, const struct tw_clock *clk,
			uint64_t mono_ns)
{
	char text[40];
	uint64_t wall = to_wall(clk, mono_ns);

	format_rfc3339(wall, text, sizeof(text));
	buf_printf(b, ",\"%s_ns\":%llu,\"%s\":\"%s\"", name, (unsigned long long)wall, name, text);
}

static const char *hist_kind_name(uint8_t kind)
{
	switch (kind) {
	case TW_HIST_STATE:
		return "state";
	case TW_HIST_RETRANSMIT:
		return "retransmit";
	case TW_HIST_RESET_SENT:
		return "reset_sent";
	case TW_HIST_RESET_RECEIVED:
		return "reset_received";
	case TW_HIST_SYNACK_RETRANSMIT:
		return "synack_retransmit";
	}
	return "unknown";
}

static void json_history(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk)
{
	buf_puts(b, ",\"history\":[");
	for (uint16_t i = 0; i < c->hist_len; i++) {
		const struct tw_hist *h = &c->hist[i];
		char text[40];
		uint64_t wall = to_wall(clk, h->time_ns);

		format_rfc3339(wall, text, sizeof(text));
		buf_printf(b, "%s{\"kind\":\"%s\"", i ? "," : "", hist_kind_name(h->kind));
		if (h->kind == TW_HIST_STATE)
			buf_printf(b, ",\"from\":\"%s\",\"to\":\"%s\"", tcpstate_name(h->from),
				   tcpstate_name(h->to));
		else
			buf_printf(b, ",\"state\":\"%s\"", tcpstate_name(h->from));
		buf_printf(b, ",\"time_ns\":%llu,\"time\":\"%s\",\"since_first_ns\":%lld,\"derived\":%s",
			   (unsigned long long)wall, text,
			   (long long)(h->time_ns - c->first_seen_ns),
			   h->flags & TW_HIST_DERIVED ? "true" : "false");
		if (h->kind == TW_HIST_RESET_SENT || h->kind == TW_HIST_RETRANSMIT)
			buf_printf(b, ",\"value\":%u", h->value);
		buf_puts(b, "}");
		/* The first entries are kept, then the latest: mark the gap. */
		if (c->hist_dropped && i == TW_HIST_KEEP_FIRST - 1)
			buf_printf(b, ",{\"kind\":\"dropped\",\"count\":%u}", c->hist_dropped);
	}
	buf_puts(b, "]");
}

static const char *timer_name(uint8_t timer)
{
	switch (timer) {
	case 0:
		return "none";
	case 1:
		return "retransmit";
	case 2:
		return "keepalive";
	case 3:
		return "time_wait";
	case 4:
		return "zero_window_probe";
	}
	return "unknown";
}

static void json_tcpinfo(struct tw_buf *b, const struct tw_tcpinfo *ti, const struct tw_clock *clk)
{
	if (ti->sample_ns)
		buf_printf(b, ",\"timer\":{\"kind\":\"%s\",\"expires_ms\":%u,\"retransmits\":%u}",
			   timer_name(ti->timer), ti->timer_expires_ms, ti->timer_retrans);
	else
		buf_puts(b, ",\"timer\":null");
	if (!ti->has_info) {
		buf_puts(b, ",\"tcp_info\":null");
		return;
	}
	buf_printf(b,
		   ",\"tcp_info\":{\"rtt_us\":%u,\"rttvar_us\":%u,\"snd_cwnd\":%u,"
		   "\"total_retrans\":%u,\"lost\":%u,\"bytes_acked\":%llu,\"bytes_received\":%llu,"
		   "\"delivery_rate_bps\":%llu,\"last_data_sent_ms\":%u,\"last_data_recv_ms\":%u",
		   ti->rtt_us, ti->rttvar_us, ti->snd_cwnd, ti->total_retrans, ti->lost,
		   (unsigned long long)ti->bytes_acked, (unsigned long long)ti->bytes_received,
		   (unsigned long long)ti->delivery_rate_bps, ti->last_data_sent_ms,
		   ti->last_data_recv_ms);
	time_fields(b, "sampled", clk, ti->sample_ns);
	buf_puts(b, "}");
}

void json_string_field(struct tw_buf *b, const char *key, const char *value)
{
	buf_printf(b, ",\"%s\":", key);
	json_string(b, value);
}

static void json_lifecycle(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk)
{
	const struct tw_tcpinfo *ti = &c->info;

	json_string_field(b, "role", lifecycle_role_name(c->role));
	if (c->listener_cookie)
		buf_printf(b, ",\"listener_cookie\":%llu", (unsigned long long)c->listener_cookie);
	else
		buf_puts(b, ",\"listener_cookie\":null");
	if (c->handshake_us)
		buf_printf(b, ",\"handshake_us\":%u,\"handshake_source\":\"%s\"", c->handshake_us,
			   c->flags & TW_CONN_HANDSHAKE_SRTT ? "synack_rtt" : "events");
	else
		buf_puts(b, ",\"handshake_us\":null,\"handshake_source\":null");
	json_string_field(b, "closed_first", lifecycle_closer_name(c->closed_first));
	json_string_field(b, "end_reason", lifecycle_end_name(c->end_reason));
	/* Idle: the kernel's time since data last moved either way, aged
	 * by the time since that sample. */
	if (ti->has_info && !(c->flags & TW_CONN_CLOSED) && clk->now_mono_ns >= ti->sample_ns) {
		uint64_t idle = ti->last_data_sent_ms < ti->last_data_recv_ms ? ti->last_data_sent_ms
									      : ti->last_data_recv_ms;

		idle += (clk->now_mono_ns - ti->sample_ns) / 1000000ull;
		buf_printf(b, ",\"idle_ms\":%llu", (unsigned long long)idle);
	} else {
		buf_puts(b, ",\"idle_ms\":null");
	}
}

static void json_state_times(struct tw_buf *b, const struct tw_conn *c, uint64_t end_ns)
{
	uint64_t us[TW_TCP_MAX_STATES];
	bool first = true;

	lifecycle_state_times(c, end_ns, us);
	buf_puts(b, ",\"state_times_us\":{");
	for (int s = 1; s < TW_TCP_MAX_STATES; s++) {
		if (!us[s])
			continue;
		buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", tcpstate_name(s),
			   (unsigned long long)us[s]);
		first = false;
	}
	buf_puts(b, "}");
}

void json_conn(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
	       enum json_conn_view view)
{
	char laddr[TW_ADDR_STRLEN], raddr[TW_ADDR_STRLEN];
	uint64_t end_ns = c->flags & TW_CONN_CLOSED ? c->closed_ns : clk->now_mono_ns;

	tw_addr_format(c->family, c->local_addr, laddr, sizeof(laddr));
	tw_addr_format(c->family, c->remote_addr, raddr, sizeof(raddr));
	buf_printf(b,
		   "{\"cookie\":%llu,\"netns\":%u,\"family\":\"%s\",\"state\":\"%s\","
		   "\"local_addr\":\"%s\",\"local_port\":%u,\"remote_addr\":\"%s\",\"remote_port\":%u,",
		   (unsigned long long)c->cookie, c->netns, c->family == AF_INET6 ? "inet6" : "inet",
		   tcpstate_name(c->state), laddr, c->local_port, raddr, c->remote_port);
	if (c->flags & TW_CONN_HAS_TASK) {
		buf_printf(b, "\"pid\":%u,\"comm\":", c->pid);
		json_string(b, c->comm);
	} else {
		buf_puts(b, "\"pid\":null,\"comm\":null");
	}
	buf_printf(b,
		   ",\"uid\":%u,\"inode\":%u,\"closed\":%s,\"source\":\"%s\",\"age_ms\":%llu,"
		   "\"retransmits\":%u,\"syn_retransmits\":%u,\"resets_sent\":%u,"
		   "\"resets_received\":%u,\"history_len\":%u",
		   c->uid, c->inode, c->flags & TW_CONN_CLOSED ? "true" : "false",
		   c->flags & TW_CONN_FROM_SNAPSHOT ? "snapshot" : "event",
		   (unsigned long long)((end_ns - c->first_seen_ns) / 1000000ull), c->retransmits,
		   c->syn_retransmits, c->resets_sent, c->resets_received, c->hist_len);
	json_lifecycle(b, c, clk);
	if (view == JSON_CONN_FULL) {
		buf_printf(b, ",\"history_dropped\":%u,\"request_socket\":%s", c->hist_dropped,
			   c->flags & TW_CONN_REQUEST ? "true" : "false");
		time_fields(b, "first_seen", clk, c->first_seen_ns);
		time_fields(b, "last_change", clk, c->last_change_ns);
		if (c->flags & TW_CONN_CLOSED)
			time_fields(b, "closed_at", clk, c->closed_ns);
		json_tcpinfo(b, &c->info, clk);
		json_state_times(b, c, end_ns);
		json_history(b, c, clk);
	}
	buf_puts(b, "}");
}

void json_event(struct tw_buf *b, const struct tw_conn *c, const struct tw_hist *h,
		const struct tw_clock *clk)
{
	char laddr[TW_ADDR_STRLEN], raddr[TW_ADDR_STRLEN], text[40];
	uint64_t wall = to_wall(clk, h->time_ns), prev = c->first_seen_ns;

	/* Time in the state just left: since the state entry before h. */
	for (const struct tw_hist *p = h; p > c->hist; p--) {
		if (p[-1].kind == TW_HIST_STATE) {
			prev = p[-1].time_ns;
			break;
		}
	}
	tw_addr_format(c->family, c->local_addr, laddr, sizeof(laddr));
	tw_addr_format(c->family, c->remote_addr, raddr, sizeof(raddr));
	format_rfc3339(wall, text, sizeof(text));
	buf_printf(b, "{\"kind\":\"%s\"", hist_kind_name(h->kind));
	if (h->kind == TW_HIST_STATE)
		buf_printf(b, ",\"from\":\"%s\",\"to\":\"%s\"", tcpstate_name(h->from),
			   tcpstate_name(h->to));
	else
		buf_printf(b, ",\"state\":\"%s\"", tcpstate_name(h->from));
	buf_printf(b,
		   ",\"time_ns\":%llu,\"time\":\"%s\",\"derived\":%s,\"in_state_us\":%llu,"
		   "\"cookie\":%llu,\"netns\":%u,\"family\":\"%s\",\"local_addr\":\"%s\","
		   "\"local_port\":%u,\"remote_addr\":\"%s\",\"remote_port\":%u",
		   (unsigned long long)wall, text, h->flags & TW_HIST_DERIVED ? "true" : "false",
		   (unsigned long long)(h->time_ns > prev ? (h->time_ns - prev) / 1000 : 0),
		   (unsigned long long)c->cookie, c->netns, c->family == AF_INET6 ? "inet6" : "inet",
		   laddr, c->local_port, raddr, c->remote_port);
	if (c->flags & TW_CONN_HAS_TASK) {
		buf_printf(b, ",\"pid\":%u,\"comm\":", c->pid);
		json_string(b, c->comm);
	} else {
		buf_puts(b, ",\"pid\":null,\"comm\":null");
	}
	json_string_field(b, "role", lifecycle_role_name(c->role));
	json_string_field(b, "end_reason", lifecycle_end_name(c->end_reason));
	buf_puts(b, "}");
}

void json_error(struct tw_buf *b, int status, const char *message)
{
	buf_puts(b, "{\"error\":");
	json_string(b, message);
	buf_printf(b, ",\"status\":%d}", status);
}
