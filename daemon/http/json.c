#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "json.h"
#include "lifecycle.h"
#include "tcpstate.h"

/*
 * No printf on the paths that format a connection: 50 clients asking by
 * port are 14,000 rows a second, and vfprintf was a fifth of the
 * daemon's time (as it was the event stream's, json_event). A key is a
 * literal with its punctuation; a value is put as it is.
 */
#define PUT_U(b, lit, v)    (BUF_LIT(b, lit), buf_put_u64((b), (v)))
#define PUT_S(b, lit, str)  (BUF_LIT(b, lit), buf_puts((b), (str)))
#define PUT_BOOL(b, lit, v) PUT_S(b, lit, (v) ? "true" : "false")

static void put_i64(struct tw_buf *b, int64_t v)
{
	if (v < 0) {
		BUF_LIT(b, "-");
		buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		buf_put_u64(b, (uint64_t)v);
	}
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
	if (!buf_reserve(b, strlen(s) * 6 + 2))
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

void json_time_fields(struct tw_buf *b, const char *name, const struct tw_clock *clk,
		      uint64_t mono_ns)
{
	char text[TW_RFC3339_LEN];
	uint64_t wall = clock_to_wall(clk, mono_ns);

	clock_format_rfc3339(wall, text, sizeof(text));
	BUF_LIT(b, ",\"");
	buf_puts(b, name);
	PUT_U(b, "_ns\":", wall);
	BUF_LIT(b, ",\"");
	buf_puts(b, name);
	PUT_S(b, "\":\"", text);
	BUF_LIT(b, "\"");
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
	case TW_HIST_DROP:
		return "drop";
	case TW_HIST_SYNACK:
		return "synack";
	case TW_HIST_ACCEPT:
		return "accept";
	}
	return "unknown";
}

void json_drop_counts(struct tw_buf *b, const char *key, const struct tw_drop_counts *d)
{
	char name[32];

	buf_printf(b, ",\"%s\":{", key);
	for (unsigned i = 0; d && i < TW_DROP_SLOTS && d->count[i]; i++)
		buf_printf(b, "%s\"%s\":%u", i ? "," : "",
			   drops_name(d->reason[i], name, sizeof(name)), d->count[i]);
	if (d && d->other)
		buf_printf(b, "%s\"other\":%u", d->count[0] ? "," : "", d->other);
	buf_puts(b, "}");
}

void json_histo(struct tw_buf *b, const char *key, const struct tw_histo *h)
{
	if (!h || !h->count) {
		buf_printf(b,
			   ",\"%s\":{\"count\":0,\"p50\":null,\"p90\":null,\"p99\":null,"
			   "\"max\":null,\"min\":null,\"avg\":null}",
			   key);
		return;
	}
	buf_printf(b,
		   ",\"%s\":{\"count\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu,"
		   "\"min\":%llu,\"avg\":%llu}",
		   key, (unsigned long long)h->count, (unsigned long long)histo_quantile(h, 0.5),
		   (unsigned long long)histo_quantile(h, 0.9),
		   (unsigned long long)histo_quantile(h, 0.99), (unsigned long long)h->max_us,
		   (unsigned long long)h->min_us, (unsigned long long)(h->sum_us / h->count));
}

static void json_history(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk)
{
	buf_puts(b, ",\"history\":[");
	for (uint16_t i = 0; i < c->hist_len; i++) {
		struct tw_hist e = conn_hist(c, i), *h = &e;
		char text[TW_RFC3339_LEN];
		uint64_t wall = clock_to_wall(clk, h->time_ns);

		clock_format_rfc3339(wall, text, sizeof(text));
		if (i)
			BUF_LIT(b, ",");
		PUT_S(b, "{\"kind\":\"", hist_kind_name(h->kind));
		if (h->kind == TW_HIST_STATE) {
			PUT_S(b, "\",\"from\":\"", tcpstate_name(h->from));
			PUT_S(b, "\",\"to\":\"", tcpstate_name(h->to));
		} else {
			PUT_S(b, "\",\"state\":\"", tcpstate_name(h->from));
		}
		PUT_U(b, "\",\"time_ns\":", wall);
		PUT_S(b, ",\"time\":\"", text);
		BUF_LIT(b, "\",\"since_first_ns\":");
		put_i64(b, (int64_t)(h->time_ns - c->first_seen_ns));
		PUT_BOOL(b, ",\"derived\":", h->flags & TW_HIST_DERIVED);
		if (h->kind == TW_HIST_RESET_SENT || h->kind == TW_HIST_RETRANSMIT)
			PUT_U(b, ",\"value\":", h->value);
		if (h->kind == TW_HIST_DROP) {
			char name[32];

			PUT_S(b, ",\"reason\":\"", drops_name(h->value, name, sizeof(name)));
			BUF_LIT(b, "\"");
		}
		if (h->kind == TW_HIST_SYNACK_RETRANSMIT)
			PUT_U(b, ",\"number\":", h->value);
		if (h->kind == TW_HIST_ACCEPT)
			PUT_U(b, ",\"wait_ms\":", h->value);
		BUF_LIT(b, "}");
		/* The first entries are kept, then the latest: mark the gap. */
		if (conn_hist_dropped(c) && i == TW_HIST_KEEP_FIRST - 1) {
			PUT_U(b, ",{\"kind\":\"dropped\",\"count\":", conn_hist_dropped(c));
			BUF_LIT(b, "}");
		}
	}
	buf_puts(b, "]");
}

static const char *timer_name(uint8_t timer)
{
	static const char *const names[TW_TIMER_KINDS] = {
		[TW_TIMER_NONE] = "none",
		[TW_TIMER_RETRANSMIT] = "retransmit",
		[TW_TIMER_KEEPALIVE] = "keepalive",
		[TW_TIMER_TIME_WAIT] = "time_wait",
		[TW_TIMER_ZERO_WINDOW_PROBE] = "zero_window_probe",
	};

	return timer < TW_TIMER_KINDS ? names[timer] : "unknown";
}

static void json_tcpinfo(struct tw_buf *b, const struct tw_tcpinfo *ti, uint64_t sample_ns,
			 const struct tw_clock *clk)
{
	if (sample_ns) {
		PUT_S(b, ",\"timer\":{\"kind\":\"", timer_name(ti->timer));
		PUT_U(b, "\",\"expires_ms\":", ti->timer_expires_ms);
		PUT_U(b, ",\"retransmits\":", ti->timer_retrans);
		BUF_LIT(b, "}");
	} else {
		BUF_LIT(b, ",\"timer\":null");
	}
	if (ti->has_mem) {
		PUT_U(b, ",\"skmem\":{\"rmem_alloc_bytes\":", ti->mem.rmem_alloc_bytes);
		PUT_U(b, ",\"rcvbuf_bytes\":", ti->mem.rcvbuf_bytes);
		PUT_U(b, ",\"wmem_alloc_bytes\":", ti->mem.wmem_alloc_bytes);
		PUT_U(b, ",\"sndbuf_bytes\":", ti->mem.sndbuf_bytes);
		PUT_U(b, ",\"fwd_alloc_bytes\":", ti->mem.fwd_alloc_bytes);
		PUT_U(b, ",\"wmem_queued_bytes\":", ti->mem.wmem_queued_bytes);
		PUT_U(b, ",\"optmem_bytes\":", ti->mem.optmem_bytes);
		PUT_U(b, ",\"backlog_bytes\":", ti->mem.backlog_bytes);
		PUT_U(b, ",\"drops\":", ti->mem.drops);
		BUF_LIT(b, "}");
	} else {
		BUF_LIT(b, ",\"skmem\":null");
	}
	if (!ti->has_info) {
		BUF_LIT(b, ",\"tcp_info\":null");
		return;
	}
	PUT_U(b, ",\"tcp_info\":{\"rtt_us\":", ti->rtt_us);
	PUT_U(b, ",\"rttvar_us\":", ti->rttvar_us);
	PUT_U(b, ",\"snd_cwnd\":", ti->snd_cwnd);
	PUT_U(b, ",\"total_retrans\":", ti->total_retrans);
	PUT_U(b, ",\"lost\":", ti->lost);
	PUT_U(b, ",\"bytes_acked\":", ti->bytes_acked);
	PUT_U(b, ",\"bytes_received\":", ti->bytes_received);
	PUT_U(b, ",\"delivery_rate_bps\":", ti->delivery_rate_bps);
	PUT_U(b, ",\"last_data_sent_ms\":", ti->last_data_sent_ms);
	PUT_U(b, ",\"last_data_recv_ms\":", ti->last_data_recv_ms);
	json_time_fields(b, "sampled", clk, sample_ns);
	buf_puts(b, "}");
}

void json_string_field(struct tw_buf *b, const char *key, const char *value)
{
	BUF_LIT(b, ",\"");
	buf_puts(b, key);
	BUF_LIT(b, "\":");
	json_string(b, value);
}

static void json_lifecycle(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk)
{
	const struct tw_tcpinfo *ti = &c->info;

	json_string_field(b, "role", lifecycle_role_name(c->role));
	if (c->listener_cookie)
		PUT_U(b, ",\"listener_cookie\":", c->listener_cookie);
	else
		BUF_LIT(b, ",\"listener_cookie\":null");
	if (c->handshake_us) {
		PUT_U(b, ",\"handshake_us\":", c->handshake_us);
		PUT_S(b, ",\"handshake_source\":\"",
		      c->flags & TW_CONN_HANDSHAKE_SRTT    ? "synack_rtt"
		      : c->flags & TW_CONN_HALF_OPEN_TIMED ? "request"
							   : "events");
		BUF_LIT(b, "\"");
	} else {
		BUF_LIT(b, ",\"handshake_us\":null,\"handshake_source\":null");
	}
	if (c->flags & TW_CONN_ACCEPTED)
		PUT_U(b, ",\"accept_wait_us\":", c->accept_wait_us);
	else
		BUF_LIT(b, ",\"accept_wait_us\":null");
	json_string_field(b, "closed_first", lifecycle_closer_name(c->closed_first));
	json_string_field(b, "end_reason", lifecycle_end_name(c->end_reason));
	/* Idle: the kernel's time since data last moved either way, aged
	 * by the time since that sample. */
	if (ti->has_info && !(c->flags & TW_CONN_CLOSED) && clk->now_mono_ns >= conn_sample_ns(c)) {
		uint64_t idle = ti->last_data_sent_ms < ti->last_data_recv_ms
					? ti->last_data_sent_ms
					: ti->last_data_recv_ms;

		idle += (clk->now_mono_ns - conn_sample_ns(c)) / NSEC_PER_MSEC;
		PUT_U(b, ",\"idle_ms\":", idle);
	} else {
		BUF_LIT(b, ",\"idle_ms\":null");
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
		if (!first)
			BUF_LIT(b, ",");
		PUT_S(b, "\"", tcpstate_name(s));
		PUT_U(b, "\":", us[s]);
		first = false;
	}
	buf_puts(b, "}");
}

void json_conn(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
	       enum json_conn_view view, const struct tw_drop_counts *drops)
{
	json_conn_gap(b, c, clk, view, drops, false);
}

void json_conn_gap(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
		   enum json_conn_view view, const struct tw_drop_counts *drops, bool history_gap)
{
	char laddr[TW_ADDR_STRLEN], raddr[TW_ADDR_STRLEN];
	uint64_t end_ns = c->flags & TW_CONN_CLOSED ? conn_closed_ns(c) : clk->now_mono_ns;

	tw_addr_format(c->family, c->local_addr, laddr, sizeof(laddr));
	tw_addr_format(c->family, c->remote_addr, raddr, sizeof(raddr));
	PUT_U(b, "{\"cookie\":", c->cookie);
	PUT_U(b, ",\"netns\":", c->netns);
	PUT_S(b, ",\"family\":\"", c->family == AF_INET6 ? "inet6" : "inet");
	PUT_S(b, "\",\"state\":\"", tcpstate_name(c->state));
	PUT_S(b, "\",\"local_addr\":\"", laddr);
	PUT_U(b, "\",\"local_port\":", c->local_port);
	PUT_S(b, ",\"remote_addr\":\"", raddr);
	PUT_U(b, "\",\"remote_port\":", c->remote_port);
	if (c->flags & TW_CONN_HAS_TASK) {
		PUT_U(b, ",\"pid\":", c->pid);
		BUF_LIT(b, ",\"comm\":");
		json_string(b, c->comm);
	} else {
		BUF_LIT(b, ",\"pid\":null,\"comm\":null");
	}
	PUT_U(b, ",\"uid\":", c->uid);
	PUT_U(b, ",\"inode\":", c->inode);
	PUT_BOOL(b, ",\"closed\":", c->flags & TW_CONN_CLOSED);
	PUT_S(b, ",\"source\":\"", c->flags & TW_CONN_FROM_SNAPSHOT ? "snapshot" : "event");
	PUT_U(b, "\",\"age_ms\":", (end_ns - c->first_seen_ns) / NSEC_PER_MSEC);
	PUT_U(b, ",\"retransmits\":", c->retransmits);
	PUT_U(b, ",\"syn_retransmits\":", c->syn_retransmits);
	PUT_U(b, ",\"resets_sent\":", c->resets_sent);
	PUT_U(b, ",\"resets_received\":", c->resets_received);
	PUT_U(b, ",\"drops\":", c->drops);
	PUT_U(b, ",\"history_len\":", c->hist_len);
	PUT_BOOL(b, ",\"history_gap\":", history_gap);
	json_lifecycle(b, c, clk);
	if (view == JSON_CONN_FULL) {
		PUT_U(b, ",\"history_dropped\":", conn_hist_dropped(c));
		PUT_BOOL(b, ",\"request_socket\":", c->flags & TW_CONN_REQUEST);
		PUT_BOOL(b, ",\"reconciled\":", !(c->flags & TW_CONN_UNRECONCILED));
		json_time_fields(b, "first_seen", clk, c->first_seen_ns);
		json_time_fields(b, "last_change", clk, c->last_change_ns);
		if (c->flags & TW_CONN_CLOSED)
			json_time_fields(b, "closed_at", clk, conn_closed_ns(c));
		json_tcpinfo(b, &c->info, conn_sample_ns(c), clk);
		json_state_times(b, c, end_ns);
		json_drop_counts(b, "drops_by_reason", drops);
		json_history(b, c, clk);
	}
	buf_puts(b, "}");
}

void json_event(struct tw_buf *b, const struct tw_conn *c, uint32_t hist_index,
		const struct tw_clock *clk)
{
	char laddr[TW_ADDR_STRLEN], raddr[TW_ADDR_STRLEN], text[TW_RFC3339_LEN];
	struct tw_hist e = conn_hist(c, hist_index), *h = &e;
	uint64_t wall = clock_to_wall(clk, h->time_ns), prev = c->first_seen_ns;

	/* Time in the state just left: since the state entry before h. */
	for (uint32_t i = hist_index; i > 0; i--) {
		struct tw_hist p = conn_hist(c, i - 1);

		if (p.kind == TW_HIST_STATE) {
			prev = p.time_ns;
			break;
		}
	}
	tw_addr_format(c->family, c->local_addr, laddr, sizeof(laddr));
	tw_addr_format(c->family, c->remote_addr, raddr, sizeof(raddr));
	clock_format_rfc3339(wall, text, sizeof(text));
	/* No printf: a stream formats every event it sends (at peak churn a
	 * million a run), and vfprintf was most of the daemon's time. */
	BUF_LIT(b, "{\"kind\":\"");
	buf_puts(b, hist_kind_name(h->kind));
	if (h->kind == TW_HIST_STATE) {
		BUF_LIT(b, "\",\"from\":\"");
		buf_puts(b, tcpstate_name(h->from));
		BUF_LIT(b, "\",\"to\":\"");
		buf_puts(b, tcpstate_name(h->to));
	} else {
		BUF_LIT(b, "\",\"state\":\"");
		buf_puts(b, tcpstate_name(h->from));
	}
	BUF_LIT(b, "\",\"time_ns\":");
	buf_put_u64(b, wall);
	BUF_LIT(b, ",\"time\":\"");
	buf_puts(b, text);
	BUF_LIT(b, "\",\"derived\":");
	buf_puts(b, h->flags & TW_HIST_DERIVED ? "true" : "false");
	BUF_LIT(b, ",\"in_state_us\":");
	buf_put_u64(b, h->time_ns > prev ? (h->time_ns - prev) / 1000 : 0);
	BUF_LIT(b, ",\"cookie\":");
	buf_put_u64(b, c->cookie);
	BUF_LIT(b, ",\"netns\":");
	buf_put_u64(b, c->netns);
	BUF_LIT(b, ",\"family\":\"");
	buf_puts(b, c->family == AF_INET6 ? "inet6" : "inet");
	BUF_LIT(b, "\",\"local_addr\":\"");
	buf_puts(b, laddr);
	BUF_LIT(b, "\",\"local_port\":");
	buf_put_u64(b, c->local_port);
	BUF_LIT(b, ",\"remote_addr\":\"");
	buf_puts(b, raddr);
	BUF_LIT(b, "\",\"remote_port\":");
	buf_put_u64(b, c->remote_port);
	if (c->flags & TW_CONN_HAS_TASK) {
		BUF_LIT(b, ",\"pid\":");
		buf_put_u64(b, c->pid);
		BUF_LIT(b, ",\"comm\":");
		json_string(b, c->comm);
	} else {
		BUF_LIT(b, ",\"pid\":null,\"comm\":null");
	}
	json_string_field(b, "role", lifecycle_role_name(c->role));
	json_string_field(b, "end_reason", lifecycle_end_name(c->end_reason));
	buf_puts(b, "}");
}

void json_error(struct tw_buf *b, int status, const char *message)
{
	json_error_at(b, status, message, -1);
}

void json_error_at(struct tw_buf *b, int status, const char *message, int offset)
{
	buf_puts(b, "{\"error\":");
	json_string(b, message);
	buf_printf(b, ",\"status\":%d", status);
	if (offset >= 0)
		buf_printf(b, ",\"offset\":%d", offset);
	buf_puts(b, "}");
}

void json_findings(struct tw_buf *b, const struct tw_findings *f,
		   const struct tw_findings_config *cfg)
{
	buf_puts(b, "{\"findings\":[");
	for (size_t i = 0; i < f->n; i++) {
		const struct tw_finding *grp = f->list[i];
		char addr[TW_ADDR_STRLEN], summary[512];

		findings_summary(grp, cfg, summary, sizeof(summary));
		buf_printf(b, "%s{\"kind\":\"%s\",\"severity\":\"warning\"", i ? "," : "",
			   findings_kind_name(grp->kind));
		json_string_field(b, "summary", summary);
		json_string_field(b, "explanation", findings_explanation(grp->kind));
		buf_printf(b, ",\"netns\":%u", grp->netns);
		tw_addr_format(grp->family, grp->addr, addr, sizeof(addr));
		if (findings_kind_listener(grp->kind)) {
			buf_printf(
				b,
				",\"listener_cookie\":%llu,\"family\":\"%s\",\"local_addr\":\"%s\","
				"\"local_port\":%u,\"value\":%llu,\"limit\":%llu,\"delta\":%llu",
				(unsigned long long)grp->listener_cookie,
				grp->family == AF_INET6 ? "inet6" : "inet", addr, grp->port,
				(unsigned long long)grp->value, (unsigned long long)grp->limit,
				(unsigned long long)grp->delta);
			json_string_field(b, "detail", grp->detail[0] ? grp->detail : NULL);
		} else if (grp->kind != TW_FINDING_CLOSE_WAIT) {
			buf_printf(b,
				   ",\"family\":\"%s\",\"remote_addr\":\"%s\",\"remote_port\":%u",
				   grp->family == AF_INET6 ? "inet6" : "inet", addr, grp->port);
			if (grp->kind == TW_FINDING_HANDSHAKE_SLOW)
				buf_printf(b,
					   ",\"probe_id\":%llu,\"handshake_p50_us\":%llu,"
					   "\"probe_rtt_p50_us\":%llu",
					   (unsigned long long)grp->listener_cookie,
					   (unsigned long long)grp->value,
					   (unsigned long long)grp->limit);
		}
		buf_printf(b, ",\"count\":%u,\"oldest_ms\":%llu,\"connections\":[", grp->count,
			   (unsigned long long)(grp->oldest_ns / NSEC_PER_MSEC));
		for (uint32_t k = 0; k < grp->n_cookies; k++)
			buf_printf(b, "%s%llu", k ? "," : "", (unsigned long long)grp->cookies[k]);
		buf_puts(b, "],\"processes\":[");
		for (uint32_t k = 0; k < grp->n_procs; k++) {
			buf_printf(b, "%s{\"pid\":%u,\"comm\":", k ? "," : "", grp->procs[k].pid);
			json_string(b, grp->procs[k].comm);
			buf_puts(b, "}");
		}
		buf_puts(b, "]}");
	}
	buf_printf(
		b,
		"],\"truncated\":%s,\"thresholds\":{\"close_wait_ms\":%u,\"time_wait_pileup\":%u,"
		"\"fin_wait2_pileup\":%u,\"connect_failures\":%u,\"peer_resets\":%u,"
		"\"accept_queue_pct\":%u,\"accept_wait_ms\":%u,\"window_ms\":%u,"
		"\"handshake_ratio\":%u}}",
		f->truncated ? "true" : "false", cfg->close_wait_threshold_ms,
		cfg->time_wait_pileup, cfg->fin_wait2_pileup, cfg->connect_failures,
		cfg->peer_resets, cfg->accept_queue_pct, cfg->accept_wait_ms, cfg->window_ms,
		cfg->handshake_ratio);
}

void json_stats(struct tw_buf *b, const struct tw_stats *s)
{
	buf_puts(b, "{");
	for (size_t i = 0; i < s->n; i++) {
		const struct tw_stat *st = &s->v[i];

		buf_printf(b, "%s\"%s\":", i ? "," : "", st->name);
		switch (st->type) {
		case TW_STAT_COUNTER:
		case TW_STAT_GAUGE:
			buf_printf(b, "%llu", (unsigned long long)st->u);
			break;
		case TW_STAT_REAL:
			buf_printf(b, "%.3f", st->d);
			break;
		case TW_STAT_TEXT:
			json_string(b, st->s);
			break;
		}
	}
	buf_puts(b, "}");
}
