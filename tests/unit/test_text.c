/* Unit tests for daemon/http/text.c: the ss-like text table of
 * `tcpwatch list`, column by column. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lifecycle.h"
#include "text.h"

static struct tw_conn *conn(int family, const char *local, uint16_t lport, const char *remote,
			    uint16_t rport, uint8_t state)
{
	static struct tw_conn c;

	memset(&c, 0, sizeof(c));
	c.cookie = 123456789;
	c.family = (uint8_t)family;
	c.state = state;
	assert_int_equal(inet_pton(family, local, c.local_addr), 1);
	assert_int_equal(inet_pton(family, remote, c.remote_addr), 1);
	c.local_port = lport;
	c.remote_port = rport;
	c.first_seen_ns = 1000 * NSEC_PER_SEC;
	return &c;
}

/* The row as text, without its newline; the fields split on spaces. */
static char *row(const struct tw_conn *c, unsigned columns, char *out, size_t len)
{
	struct tw_clock clk = {.now_mono_ns = 1001500 * NSEC_PER_MSEC};
	struct tw_buf b;

	buf_init(&b);
	text_row(&b, c, &clk, columns);
	assert_false(b.oom);
	assert_true(b.len > 0 && b.data[b.len - 1] == '\n');
	assert_null(memchr(b.data, '\n', b.len - 1));
	snprintf(out, len, "%.*s", (int)b.len - 1, b.data);
	buf_free(&b);
	return out;
}

static void test_ipv4_row(void **state)
{
	struct tw_conn *c = conn(AF_INET, "127.0.0.1", 40000, "10.0.0.2", 443, TW_TCP_ESTABLISHED);
	char out[512], f[8][64];

	(void)state;
	c->handshake_us = 95;
	row(c, 0, out, sizeof(out));
	assert_int_equal(
		sscanf(out, "%63s %63s %63s %63s %63s %63s", f[0], f[1], f[2], f[3], f[4], f[5]),
		6);
	assert_string_equal(f[0], "ESTAB");
	assert_string_equal(f[1], "127.0.0.1:40000");
	assert_string_equal(f[2], "10.0.0.2:443");
	assert_string_equal(f[3], "1.5s");
	assert_string_equal(f[4], "95us");
	assert_string_equal(f[5], "123456789");
	/* Columns line up with the header's. */
	{
		struct tw_buf h;

		buf_init(&h);
		text_header(&h, 0);
		assert_non_null(h.data);
		assert_int_equal(strstr(h.data, "Local") - h.data, strstr(out, "127.") - out);
		assert_int_equal(strstr(h.data, "Peer") - h.data, strstr(out, "10.0") - out);
		assert_int_equal(strchr(h.data, '\n') - h.data, strlen(out));
		buf_free(&h);
	}
}

static void test_ipv6_listener_and_closed(void **state)
{
	struct tw_conn *c = conn(AF_INET6, "fd00::1", 8080, "::", 0, TW_TCP_LISTEN);
	char out[512], f[8][64];

	(void)state;
	row(c, TEXT_COL_END, out, sizeof(out));
	assert_int_equal(
		sscanf(out, "%63s %63s %63s %63s %63s %63s", f[0], f[1], f[2], f[3], f[4], f[5]),
		6);
	assert_string_equal(f[0], "LISTEN");
	assert_string_equal(f[1], "[fd00::1]:8080");
	assert_string_equal(f[2], "[::]:*");
	assert_string_equal(f[4], "-"); /* no handshake */
	assert_string_equal(f[5], "-"); /* open: no end reason */
	/* A retained connection shows CLOSED and its end reason. */
	c = conn(AF_INET, "127.0.0.1", 40000, "127.0.0.1", 80, TW_TCP_CLOSE);
	c->flags |= TW_CONN_CLOSED;
	conn_set_closed_ns(c, c->first_seen_ns + 2500 * NSEC_PER_MSEC);
	c->end_reason = TW_END_REFUSED;
	c->handshake_us = 1250000;
	row(c, TEXT_COL_END, out, sizeof(out));
	assert_int_equal(
		sscanf(out, "%63s %63s %63s %63s %63s %63s", f[0], f[1], f[2], f[3], f[4], f[5]),
		6);
	assert_string_equal(f[0], "CLOSED");
	assert_string_equal(f[3], "2.5s"); /* until it closed, not now */
	assert_string_equal(f[4], "1.25s");
	assert_string_equal(f[5], "refused");
}

static void test_process_column_escaped(void **state)
{
	struct tw_conn *c = conn(AF_INET, "127.0.0.1", 1, "127.0.0.1", 2, TW_TCP_ESTABLISHED);
	char out[640];

	(void)state;
	c->pid = 4242;
	c->flags |= TW_CONN_HAS_TASK;
	memcpy(c->comm, "ev\x1b[2J\"il\x07", 11);
	row(c, TEXT_COL_PROCESS, out, sizeof(out));
	assert_non_null(strstr(out, " users:((\"ev\\x1b[2J\\x22il\\x07\",pid=4242))"));
	assert_null(strchr(out, '\x1b'));
	/* Unknown owner: no column. */
	c->flags &= ~TW_CONN_HAS_TASK;
	row(c, TEXT_COL_PROCESS, out, sizeof(out));
	assert_null(strstr(out, "users:"));
	/* A comm of 15 control bytes still fits the row. */
	c->flags |= TW_CONN_HAS_TASK;
	memset(c->comm, '\x1b', 15);
	c->comm[15] = '\0';
	row(c, TEXT_COL_PROCESS | TEXT_COL_END, out, sizeof(out));
	assert_non_null(strstr(out, "\",pid=4242))"));
}

/* -m: skmem on the second line, as ss -m prints it, before -i's fields;
 * nothing when the record has no memory sample. */
static void test_mem_line(void **state)
{
	struct tw_conn *c = conn(AF_INET, "127.0.0.1", 40000, "127.0.0.1", 80, TW_TCP_ESTABLISHED);
	struct tw_clock clk = {.now_mono_ns = 1001500 * NSEC_PER_MSEC};
	struct tw_buf b;

	(void)state;
	buf_init(&b);
	text_row(&b, c, &clk, TEXT_COL_MEM);
	assert_null(memchr(b.data, '\t', b.len));
	buf_reset(&b);
	c->info.has_mem = 1;
	c->info.mem = (struct tw_skmem){.rmem_alloc_bytes = 2304,
					.rcvbuf_bytes = 131072,
					.wmem_alloc_bytes = 0,
					.sndbuf_bytes = 2626560,
					.fwd_alloc_bytes = 1792,
					.wmem_queued_bytes = 5,
					.optmem_bytes = 6,
					.backlog_bytes = 7,
					.drops = 8};
	c->info.has_info = 1;
	c->info.rtt_us = 1500;
	text_row(&b, c, &clk, TEXT_COL_MEM | TEXT_COL_INFO);
	buf_put(&b, "", 1);
	assert_non_null(b.data);
	assert_non_null(strstr(b.data,
			       "\n\t skmem:(r2304,rb131072,t0,tb2626560,f1792,w5,o6,bl7,d8) "
			       "rtt:1.500/"));
	buf_reset(&b);
	text_row(&b, c, &clk, TEXT_COL_INFO);
	buf_put(&b, "", 1);
	assert_non_null(b.data);
	assert_non_null(strstr(b.data, "\n\t rtt:1.500/"));
	assert_null(strstr(b.data, "skmem"));
	buf_free(&b);
}

/* The sock_diag view (daemon-less list): queues after the state, and an
 * age nobody knows printed as "-". */
static void test_queues_and_unknown_age(void **state)
{
	struct tw_conn *c = conn(AF_INET, "127.0.0.1", 40000, "127.0.0.1", 80, TW_TCP_ESTABLISHED);
	struct tw_clock clk = {.now_mono_ns = 1001500 * NSEC_PER_MSEC};
	struct tw_buf b;
	char f[8][64];

	(void)state;
	c->first_seen_ns = 0;
	buf_init(&b);
	text_header(&b, TEXT_COL_QUEUES);
	text_row_queues(&b, c, &clk, TEXT_COL_QUEUES, 12, 345);
	buf_put(&b, "", 1);
	assert_non_null(b.data);
	assert_non_null(strstr(b.data, "State       Recv-Q Send-Q Local Address:Port"));
	assert_int_equal(sscanf(strchr(b.data, '\n') + 1, "%63s %63s %63s %63s %63s %63s %63s",
				f[0], f[1], f[2], f[3], f[4], f[5], f[6]),
			 7);
	assert_string_equal(f[0], "ESTAB");
	assert_string_equal(f[1], "12");
	assert_string_equal(f[2], "345");
	assert_string_equal(f[3], "127.0.0.1:40000");
	assert_string_equal(f[5], "-");
	/* text_row never shows queues it does not have. */
	buf_reset(&b);
	text_row(&b, c, &clk, TEXT_COL_QUEUES);
	buf_put(&b, "", 1);
	assert_int_equal(strncmp(b.data, "ESTAB       127.0.0.1:40000", 27), 0);
	buf_free(&b);
}

static void test_parse_columns(void **state)
{
	unsigned cols = 99;

	(void)state;
	assert_int_equal(text_parse_columns("", &cols), 0);
	assert_int_equal(cols, 0);
	assert_int_equal(text_parse_columns("process,end", &cols), 0);
	assert_int_equal(cols, TEXT_COL_PROCESS | TEXT_COL_END);
	assert_int_equal(text_parse_columns("end,,process", &cols), 0);
	assert_int_equal(text_parse_columns("bogus", &cols), -EINVAL);
	assert_int_equal(text_parse_columns("processx", &cols), -EINVAL);
	assert_int_equal(text_parse_columns("mem,info", &cols), 0);
	assert_int_equal(cols, TEXT_COL_MEM | TEXT_COL_INFO);
	assert_int_equal(text_parse_columns("queues", &cols), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_row),
		cmocka_unit_test(test_ipv6_listener_and_closed),
		cmocka_unit_test(test_process_column_escaped),
		cmocka_unit_test(test_mem_line),
		cmocka_unit_test(test_queues_and_unknown_age),
		cmocka_unit_test(test_parse_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
