#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "lifecycle.h"
#include "table.h"
#include "tcpstate.h"

#define W_STATE 11
#define W_ADDR 27
#define W_AGE 8
#define W_HSHAKE 8
#define W_END 18
#define W_COOKIE 12

static size_t put_str(char *out, const char *s)
{
	size_t n = strlen(s);

	memcpy(out, s, n);
	return n;
}

static size_t put_v4(char *out, const uint8_t a[4])
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		if (i)
			out[n++] = '.';
		n += tw_fmt_u64(out + n, a[i]);
	}
	return n;
}

static size_t put_endpoint(char *out, int family, const uint8_t addr[16], uint16_t port,
			   bool any_port)
{
	size_t n = 0;

	if (family == AF_INET6) {
		char text[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, addr, text, sizeof(text));
		out[n++] = '[';
		n += put_str(out + n, text);
		out[n++] = ']';
	} else {
		n += put_v4(out, addr);
	}
	out[n++] = ':';
	if (any_port)
		out[n++] = '*';
	else
		n += tw_fmt_u64(out + n, port);
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

void table_header(struct tw_buf *b, unsigned columns)
{
	buf_printf(b, "%-*s %-*s %-*s %*s %*s", W_STATE, "State", W_ADDR, "Local Address:Port",
		   W_ADDR, "Peer Address:Port", W_AGE, "Age", W_HSHAKE, "Hshake");
	if (columns & TABLE_COL_END)
		buf_printf(b, " %-*s", W_END, "End");
	buf_printf(b, " %*s%s\n", W_COOKIE, "Cookie", columns & TABLE_COL_PROCESS ? " Process" : "");
}

void table_row(struct tw_buf *b, const struct tw_conn *c, const struct tw_clock *clk,
	       unsigned columns)
{
	char row[512];
	size_t n = 0, k;
	uint64_t end_ns = c->flags & TW_CONN_CLOSED ? c->closed_ns : clk->now_mono_ns;
	const char *end;

	k = put_str(row, c->flags & TW_CONN_CLOSED ? "CLOSED" : tcpstate_ss_name(c->state));
	n = pad_right(row, k, W_STATE);
	row[n++] = ' ';
	k = put_endpoint(row + n, c->family, c->local_addr, c->local_port, false);
	n += pad_right(row + n, k, W_ADDR);
	row[n++] = ' ';
	k = put_endpoint(row + n, c->family, c->remote_addr, c->remote_port, !c->remote_port);
	n += pad_right(row + n, k, W_ADDR);
	row[n++] = ' ';
	k = tw_fmt_age(row + n, end_ns > c->first_seen_ns ? (end_ns - c->first_seen_ns) / 1000000 : 0);
	n += pad_left(row + n, k, W_AGE);
	row[n++] = ' ';
	k = c->handshake_us ? put_us(row + n, c->handshake_us) : put_str(row + n, "-");
	n += pad_left(row + n, k, W_HSHAKE);
	if (columns & TABLE_COL_END) {
		end = lifecycle_end_name(c->end_reason);
		row[n++] = ' ';
		k = put_str(row + n, end ? end : "-");
		n += pad_right(row + n, k, W_END);
	}
	row[n++] = ' ';
	k = tw_fmt_u64(row + n, c->cookie);
	n += pad_left(row + n, k, W_COOKIE);
	if (columns & TABLE_COL_PROCESS && c->flags & TW_CONN_HAS_TASK) {
		n += put_str(row + n, " users:((\"");
		/* comm is at most 15 bytes; quotes and controls would break
		 * the column, as in ss, they are printed as '?'. */
		for (size_t i = 0; i < sizeof(c->comm) && c->comm[i]; i++)
			row[n++] = (c->comm[i] < 0x20 || c->comm[i] == '"') ? '?' : c->comm[i];
		n += put_str(row + n, "\",pid=");
		n += tw_fmt_u64(row + n, c->pid);
		n += put_str(row + n, "))");
	}
	row[n++] = '\n';
	buf_put(b, row, n);
}

int table_parse_columns(const char *text, unsigned *ret)
{
	unsigned cols = 0;
	const char *p = text;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == 7 && !strncmp(p, "process", 7))
			cols |= TABLE_COL_PROCESS;
		else if (len == 3 && !strncmp(p, "end", 3))
			cols |= TABLE_COL_END;
		else if (len)
			return -EINVAL;
		p += len;
		if (*p == ',')
			p++;
	}
	*ret = cols;
	return 0;
}
