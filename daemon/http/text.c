#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "fmt.h"
#include "lifecycle.h"
#include "tcpstate.h"
#include "text.h"

#define W_STATE  11
#define W_ADDR   27
#define W_AGE    8
#define W_HSHAKE 8
#define W_END    18
#define W_COOKIE 12
#define W_QUEUE  6

static size_t put_str(char *out, const char *s)
{
	size_t n = strlen(s);

	memcpy(out, s, n);
	return n;
}

/* "95us", "1.2ms", "1.25s" */
static size_t put_us(char *out, uint32_t us)
{
	size_t n = 0;

	if (us < 1000) {
		n += tw_fmt_u64(out, us);
		out[n++] = 'u';
		out[n++] = 's';
	} else if (us < 1000000) {
		n += tw_fmt_u64(out, us / 1000);
		out[n++] = '.';
		out[n++] = (char)('0' + us % 1000 / 100);
		out[n++] = 'm';
		out[n++] = 's';
	} else {
		n += tw_fmt_u64(out, us / 1000000);
		out[n++] = '.';
		out[n++] = (char)('0' + us % 1000000 / 100000);
		out[n++] = (char)('0' + us % 100000 / 10000);
		out[n++] = 's';
	}
	return n;
}

static size_t pad_left(char *out, size_t have, size_t width)
{
	/* Right-align the have bytes at out within width. */
	if (have >= width)
		return have;
	memmove(out + width - have, out, have);
	memset(out, ' ', width - have);
	return width;
}

static size_t pad_right(char *out, size_t have, size_t width)
{
	if (have >= width)
		return have;
	memset(out + have, ' ', width - have);
	return width;
}

void text_header(struct tw_buf *b, unsigned columns)
{
	buf_printf(b, "%-*s ", W_STATE, "State");
	if (columns & TEXT_COL_QUEUES)
		buf_printf(b, "%*s %*s ", W_QUEUE, "Recv-Q", W_QUEUE, "Send-Q");
	buf_printf(b, "%-*s %-*s %*s %*s", W_ADDR, "Local Address:Port", W_ADDR,
		   "Peer Address:Port", W_AGE, "Age", W_HSHAKE, "Hshake");
	if (columns & TEXT_COL_END)
		buf_printf(b, " %-*s", W_END, "End");
	buf_printf(b, " %*s%s\n", W_COOKIE, "Cookie", columns & TEXT_COL_PROCESS ? " Process" : "");
}

/* ss's print_ms_timer: 1min25sec, 45sec, 200ms. */
static void put_timer_ms(struct tw_buf *b, uint64_t ms)
{
	uint64_t secs = ms / 1000, mins = secs / 60;

	ms %= 1000;
	if (mins)
		buf_printf(b, "%llumin", (unsigned long long)mins);
	if (secs % 60 || (!mins && !ms))
		buf_printf(b, "%llusec", (unsigned long long)(secs % 60));
	if (ms && !mins)
		buf_printf(b, "%llums", (unsigned long long)ms);
}

/* The optional columns, as ss -o, -e and -i print them (from the last
 * sock_diag sample: a reconcile's). Not the fast path: printf is fine. */
static void text_extra(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
		       unsigned columns)
{
	static const char *const timers[] = {"off", "on", "keepalive", "timewait", "persist"};
	const struct tw_tcpinfo *ti = &c->info;

	uint64_t sampled = conn_sample_ns(c);

	if (columns & TEXT_COL_TIMER && sampled && ti->timer && ti->timer < TW_TIMER_KINDS) {
		uint64_t since = clk->now_mono_ns > sampled
					 ? (clk->now_mono_ns - sampled) / NSEC_PER_MSEC
					 : 0;

		buf_printf(b, " timer:(%s,", timers[ti->timer]);
		put_timer_ms(b, ti->timer_expires_ms > since ? ti->timer_expires_ms - since : 0);
		buf_printf(b, ",%u)", ti->timer_retrans);
	}
	if (columns & TEXT_COL_EXT)
		buf_printf(b, " uid:%u ino:%u sk:%llx", c->uid, c->inode,
			   (unsigned long long)c->cookie);
	if (!(columns & TEXT_COL_MEM && ti->has_mem) && !(columns & TEXT_COL_INFO && ti->has_info))
		return;
	/* ss's second line: memory first, then tcp_info. */
	buf_put(b, "\n\t", 2);
	if (columns & TEXT_COL_MEM && ti->has_mem)
		buf_printf(b, " skmem:(r%u,rb%u,t%u,tb%u,f%u,w%u,o%u,bl%u,d%u)",
			   ti->mem.rmem_alloc_bytes, ti->mem.rcvbuf_bytes, ti->mem.wmem_alloc_bytes,
			   ti->mem.sndbuf_bytes, ti->mem.fwd_alloc_bytes, ti->mem.wmem_queued_bytes,
			   ti->mem.optmem_bytes, ti->mem.backlog_bytes, ti->mem.drops);
	if (columns & TEXT_COL_INFO && ti->has_info)
		buf_printf(b,
			   " rtt:%.3f/%.3f cwnd:%u bytes_acked:%llu bytes_received:%llu "
			   "retrans:0/%u lost:%u delivery_rate:%llubps lastsnd:%u lastrcv:%u",
			   ti->rtt_us / 1000.0, ti->rttvar_us / 1000.0, ti->snd_cwnd,
			   (unsigned long long)ti->bytes_acked,
			   (unsigned long long)ti->bytes_received, ti->total_retrans, ti->lost,
			   (unsigned long long)ti->delivery_rate_bps * 8, ti->last_data_sent_ms,
			   ti->last_data_recv_ms);
}

void text_row(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
	      unsigned columns)
{
	text_row_queues(b, c, clk, columns & ~(unsigned)TEXT_COL_QUEUES, 0, 0);
}

void text_row_queues(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
		     unsigned columns, uint32_t rqueue, uint32_t wqueue)
{
	char row[640];
	size_t n = 0, k;
	uint64_t end_ns = c->flags & TW_CONN_CLOSED ? conn_closed_ns(c) : clk->now_mono_ns;
	const char *end;

	k = put_str(row, c->flags & TW_CONN_CLOSED ? "CLOSED" : tcpstate_ss_name(c->state));
	n = pad_right(row, k, W_STATE);
	row[n++] = ' ';
	if (columns & TEXT_COL_QUEUES) {
		k = tw_fmt_u64(row + n, rqueue);
		n += pad_left(row + n, k, W_QUEUE);
		row[n++] = ' ';
		k = tw_fmt_u64(row + n, wqueue);
		n += pad_left(row + n, k, W_QUEUE);
		row[n++] = ' ';
	}
	k = tw_endpoint_put(row + n, c->family, c->local_addr, c->local_port, false);
	n += pad_right(row + n, k, W_ADDR);
	row[n++] = ' ';
	k = tw_endpoint_put(row + n, c->family, c->remote_addr, c->remote_port, !c->remote_port);
	n += pad_right(row + n, k, W_ADDR);
	row[n++] = ' ';
	if (!c->first_seen_ns)
		k = put_str(row + n, "-");
	else
		k = tw_fmt_age(row + n, end_ns > c->first_seen_ns
						? (end_ns - c->first_seen_ns) / NSEC_PER_MSEC
						: 0);
	n += pad_left(row + n, k, W_AGE);
	row[n++] = ' ';
	k = c->handshake_us ? put_us(row + n, c->handshake_us) : put_str(row + n, "-");
	n += pad_left(row + n, k, W_HSHAKE);
	if (columns & TEXT_COL_END) {
		end = lifecycle_end_name(c->end_reason);
		row[n++] = ' ';
		k = put_str(row + n, end ? end : "-");
		n += pad_right(row + n, k, W_END);
	}
	row[n++] = ' ';
	k = tw_fmt_u64(row + n, c->cookie);
	n += pad_left(row + n, k, W_COOKIE);
	if (columns & TEXT_COL_PROCESS && c->flags & TW_CONN_HAS_TASK) {
		char comm[sizeof(c->comm)];

		n += put_str(row + n, " users:((\"");
		/* comm is at most 15 bytes (each at most 4 escaped), chosen by
		 * the process: controls and quotes would break the column and
		 * the terminal showing it. */
		memcpy(comm, c->comm, sizeof(comm));
		comm[sizeof(comm) - 1] = '\0';
		n += tw_fmt_escaped(row + n, sizeof(row) - n - 40, comm, 1);
		n += put_str(row + n, "\",pid=");
		n += tw_fmt_u64(row + n, c->pid);
		n += put_str(row + n, "))");
	}
	buf_put(b, row, n);
	if (columns & (TEXT_COL_TIMER | TEXT_COL_EXT | TEXT_COL_INFO | TEXT_COL_MEM))
		text_extra(b, c, clk, columns);
	buf_put(b, "\n", 1);
}

int text_parse_columns(const char *text, unsigned *ret)
{
	unsigned cols = 0;
	const char *p = text;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == 7 && !strncmp(p, "process", 7))
			cols |= TEXT_COL_PROCESS;
		else if (len == 3 && !strncmp(p, "end", 3))
			cols |= TEXT_COL_END;
		else if (len == 5 && !strncmp(p, "timer", 5))
			cols |= TEXT_COL_TIMER;
		else if (len == 3 && !strncmp(p, "ext", 3))
			cols |= TEXT_COL_EXT;
		else if (len == 4 && !strncmp(p, "info", 4))
			cols |= TEXT_COL_INFO;
		else if (len == 3 && !strncmp(p, "mem", 3))
			cols |= TEXT_COL_MEM;

		else if (len)
			return -EINVAL;
		p += len;
		if (*p == ',')
			p++;
	}
	*ret = cols;
	return 0;
}
