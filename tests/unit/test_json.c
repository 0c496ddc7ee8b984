/* Unit tests for daemon/json.c: the growable buffer, string escaping and
 * the connection encoder, checked by parsing the output with cJSON. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "conntable.h"
#include "json.h"
#include "lifecycle.h"

/* Monotonic 1,000 s after boot is wall-clock 2023-11-14T22:13:20Z. */
#define WALL_OFFSET_NS (1700000000ull * 1000000000ull - 1000ull * 1000000000ull)
static const struct tw_clock test_clock = {
	.mono_to_wall_ns = (int64_t)WALL_OFFSET_NS,
	.now_mono_ns = 2000ull * 1000000000ull,
};

static cJSON *parse(const struct tw_buf *b)
{
	cJSON *j;

	assert_false(b->oom);
	assert_non_null(b->data);
	assert_int_equal(strlen(b->data), b->len);
	j = cJSON_ParseWithLength(b->data, b->len);
	if (!j)
		fail_msg("not JSON: %s", b->data);
	return j;
}

/* Encodes s with json_string() and returns what a JSON parser reads back. */
static void assert_string_round_trip(const char *s)
{
	struct tw_buf b;
	cJSON *j;

	buf_init(&b);
	json_string(&b, s);
	j = parse(&b);
	assert_true(cJSON_IsString(j));
	assert_string_equal(j->valuestring, s);
	/* No raw control character may reach the output. */
	for (size_t i = 0; i < b.len; i++)
		assert_true((unsigned char)b.data[i] >= 0x20);
	cJSON_Delete(j);
	buf_free(&b);
}

static void test_json_string_escaping(void **state)
{
	struct tw_buf b;

	(void)state;
	buf_init(&b);
	json_string(&b, "a\"b\\c");
	assert_non_null(b.data);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\"");
	buf_reset(&b);
	json_string(&b, "");
	assert_string_equal(b.data, "\"\"");
	buf_reset(&b);
	json_string(&b, NULL);
	assert_string_equal(b.data, "null");
	buf_reset(&b);
	json_string(&b, "\x01");
	assert_string_equal(b.data, "\"\\u0001\"");
	buf_free(&b);

	assert_string_round_trip("plain");
	assert_string_round_trip("quote \" backslash \\ slash /");
	assert_string_round_trip("tab\tnewline\ncr\rbell\a\x1f end");
	assert_string_round_trip("\x7f del");
}

static void test_json_string_utf8_passes(void **state)
{
	const char *s = "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"; /* héllo ✓ 😀 */
	struct tw_buf b;

	(void)state;
	buf_init(&b);
	json_string(&b, s);
	/* Byte for byte, only the quotes added. */
	assert_int_equal(b.len, strlen(s) + 2);
	assert_memory_equal(b.data + 1, s, strlen(s));
	buf_free(&b);
	assert_string_round_trip(s);
}

static void test_buf_growth(void **state)
{
	enum { CHUNKS = 4096 };
	char chunk[257], *big;
	struct tw_buf b;
	size_t cap;
	cJSON *j;

	(void)state;
	buf_init(&b);
	for (int i = 0; i < 256; i++)
		chunk[i] = (char)('a' + i % 26);
	chunk[256] = '\0';
	for (int i = 0; i < CHUNKS; i++)
		buf_puts(&b, chunk);
	assert_false(b.oom);
	assert_int_equal(b.len, CHUNKS * 256);
	assert_true(b.cap > b.len);
	for (int i = 0; i < CHUNKS; i++)
		assert_memory_equal(b.data + (size_t)i * 256, chunk, 256);
	assert_int_equal(b.data[b.len], '\0');

	/* printf longer than any first guess. */
	big = malloc(100001);
	assert_non_null(big);
	memset(big, 'x', 100000);
	big[100000] = '\0';
	cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap); /* the memory is kept */
	buf_printf(&b, "[%d,\"%s\",%d]", 1, big, 2);
	assert_int_equal(b.len, 100000 + 8);
	j = parse(&b);
	assert_int_equal(cJSON_GetArraySize(j), 3);
	assert_string_equal(cJSON_GetArrayItem(j, 1)->valuestring, big);
	assert_int_equal(cJSON_GetArrayItem(j, 2)->valueint, 2);
	cJSON_Delete(j);

	/* A long string that must be escaped all along. */
	for (int i = 0; i < 100000; i += 2)
		big[i] = '"';
	buf_reset(&b);
	json_string(&b, big);
	j = parse(&b);
	assert_string_equal(j->valuestring, big);
	cJSON_Delete(j);
	free(big);
	buf_free(&b);
	buf_free(&b); /* freeing twice is harmless */
}

static void test_format_rfc3339(void **state)
{
	char out[40];

	(void)state;
	clock_format_rfc3339(0, out, sizeof(out));
	assert_string_equal(out, "1970-01-01T00:00:00.000000Z");
	clock_format_rfc3339(1700000000123456789ull, out, sizeof(out));
	assert_string_equal(out, "2023-11-14T22:13:20.123456Z");
	clock_format_rfc3339(951782400000001000ull, out, sizeof(out)); /* leap day 2000 */
	assert_string_equal(out, "2000-02-29T00:00:00.000001Z");
	/* A short buffer gets what fits. */
	clock_format_rfc3339(951782400000001000ull, out, 11);
	assert_string_equal(out, "2000-02-29");
	clock_format_rfc3339(951782400000001000ull, out, TW_RFC3339_LEN);
	assert_string_equal(out, "2000-02-29T00:00:00.000001Z");
	/* The second's text is kept for the next time of the same second:
	 * the next second, and one long before, are their own. */
	clock_format_rfc3339(951782400999999999ull, out, sizeof(out));
	assert_string_equal(out, "2000-02-29T00:00:00.999999Z");
	clock_format_rfc3339(951782401000000000ull, out, sizeof(out));
	assert_string_equal(out, "2000-02-29T00:00:01.000000Z");
	clock_format_rfc3339(951782401000000000ull, out, 11);
	assert_string_equal(out, "2000-02-29");
	clock_format_rfc3339(1700000000123456789ull, out, sizeof(out));
	assert_string_equal(out, "2023-11-14T22:13:20.123456Z");
	clock_format_rfc3339(951782401500000000ull, out, sizeof(out));
	assert_string_equal(out, "2000-02-29T00:00:01.500000Z");
	for (uint64_t t = 0; t < 3000; t++) { /* across midnight, minute by minute */
		uint64_t ns = 951868800000000000ull - 1500 * 60 * 1000000000ull +
			      t * 60 * 1000000000ull + t * 7;
		char want[96];
		time_t sec = (time_t)(ns / 1000000000ull);
		struct tm tm;

		gmtime_r(&sec, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (unsigned)(ns % 1000000000ull / 1000));
		clock_format_rfc3339(ns, out, sizeof(out));
		assert_string_equal(out, want);
		clock_format_rfc3339(ns, out, sizeof(out)); /* again, from the cache */
		assert_string_equal(out, want);
	}
}

static void test_json_error(void **state)
{
	struct tw_buf b;
	cJSON *j;

	(void)state;
	buf_init(&b);
	json_error(&b, 400, "limit: invalid value 'x\"y'");
	j = parse(&b);
	assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring,
			    "limit: invalid value 'x\"y'");
	assert_int_equal(cJSON_GetObjectItem(j, "status")->valueint, 400);
	cJSON_Delete(j);
	buf_free(&b);
}

static void make_conn(struct tw_conn *c)
{
	static const uint8_t l[16] = {10, 1, 2, 3};
	static const uint8_t r[16] = {93, 184, 216, 34};

	memset(c, 0, sizeof(*c));
	c->cookie = 4503599627370497ull; /* 2^52 + 1: exact in a double */
	c->netns = 4026531840u;
	c->family = AF_INET;
	c->state = TW_TCP_ESTABLISHED;
	memcpy(c->local_addr, l, 16);
	memcpy(c->remote_addr, r, 16);
	c->local_port = 51000;
	c->remote_port = 443;
	c->uid = 1000;
	c->first_seen_ns = 1000ull * 1000000000ull;
	c->last_change_ns = 1001ull * 1000000000ull;
}

static cJSON *encode(const struct tw_conn *c, enum json_conn_view view, struct tw_buf *b)
{
	buf_init(b);
	json_conn(b, c, &test_clock, view, NULL);
	return parse(b);
}

static const char *str_field(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (!cJSON_IsString(v))
		fail_msg("field %s missing or not a string", key);
	return v->valuestring;
}

static double num_field(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (!cJSON_IsNumber(v))
		fail_msg("field %s missing or not a number", key);
	return v->valuedouble;
}

static void test_conn_row_fields(void **state)
{
	struct tw_conn c;
	struct tw_buf b;
	cJSON *j;

	(void)state;
	make_conn(&c);
	c.flags |= TW_CONN_HAS_TASK;
	c.pid = 4321;
	strcpy(c.comm, "we\"ird\\name");
	j = encode(&c, JSON_CONN_ROW, &b);
	assert_true(num_field(j, "cookie") == 4503599627370497.0);
	assert_non_null(strstr(b.data, "\"cookie\":4503599627370497"));
	assert_true(num_field(j, "netns") == 4026531840.0);
	assert_string_equal(str_field(j, "family"), "inet");
	assert_string_equal(str_field(j, "state"), "ESTABLISHED");
	assert_string_equal(str_field(j, "local_addr"), "10.1.2.3");
	assert_true(num_field(j, "local_port") == 51000);
	assert_string_equal(str_field(j, "remote_addr"), "93.184.216.34");
	assert_true(num_field(j, "remote_port") == 443);
	assert_true(num_field(j, "pid") == 4321);
	assert_string_equal(str_field(j, "comm"), "we\"ird\\name");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "closed")));
	/* The history is only in the full view. */
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "history"));
	cJSON_Delete(j);
	buf_free(&b);
}

static void test_conn_unknown_owner_is_null(void **state)
{
	struct tw_conn c;
	struct tw_buf b;
	cJSON *j;

	(void)state;
	make_conn(&c);
	c.pid = 77; /* stale: not valid without TW_CONN_HAS_TASK */
	strcpy(c.comm, "stale");
	j = encode(&c, JSON_CONN_ROW, &b);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "pid")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "comm")));
	cJSON_Delete(j);
	buf_free(&b);
}

static void test_conn_ipv6_closed(void **state)
{
	static const uint8_t l[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	struct tw_conn c;
	struct tw_buf b;
	cJSON *j;

	(void)state;
	make_conn(&c);
	c.family = AF_INET6;
	memcpy(c.local_addr, l, 16);
	memset(c.remote_addr, 0, 16);
	c.remote_addr[15] = 1;
	c.state = TW_TCP_CLOSE;
	c.flags |= TW_CONN_CLOSED;
	conn_set_closed_ns(&c, 1500ull * 1000000000ull);
	j = encode(&c, JSON_CONN_FULL, &b);
	assert_string_equal(str_field(j, "family"), "inet6");
	assert_string_equal(str_field(j, "local_addr"), "2001:db8::1");
	assert_string_equal(str_field(j, "remote_addr"), "::1");
	assert_string_equal(str_field(j, "state"), "CLOSE");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "closed")));
	cJSON_Delete(j);
	buf_free(&b);
}

/* An entry kept as the table keeps it: in the record, then in store
 * (the heap's part) past TW_HIST_INLINE. */
static void push_hist(struct tw_conn *c, uint64_t *store, const struct tw_hist *h)
{
	uint64_t w = tw_hist_pack(c->first_seen_ns, h);

	if (c->hist_len < TW_HIST_INLINE) {
		c->hist_inline[c->hist_len++] = w;
		return;
	}
	if (c->hist_len == TW_HIST_INLINE) {
		memcpy(store, c->hist_inline, sizeof(c->hist_inline));
		c->hist_heap.v = store;
		c->hist_heap.cap = 16;
		c->hist_heap.dropped = 0;
	}
	store[c->hist_len++] = w;
}

static void add_hist(struct tw_conn *c, uint64_t *store, uint64_t time_ns, uint8_t from, uint8_t to,
		     uint8_t flags)
{
	struct tw_hist h = {
		.time_ns = time_ns,
		.kind = TW_HIST_STATE,
		.from = from,
		.to = to,
		.flags = flags,
	};

	push_hist(c, store, &h);
}

static void test_conn_full_history(void **state)
{
	uint64_t store[16];
	const cJSON *hist, *e;
	struct tw_conn c;
	struct tw_buf b;
	cJSON *j;

	(void)state;
	make_conn(&c);
	add_hist(&c, store, 1000ull * 1000000000ull, TW_TCP_CLOSE, TW_TCP_SYN_SENT, 0);
	add_hist(&c, store, 1000ull * 1000000000ull + 5000, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED, 0);
	add_hist(&c, store, 1001ull * 1000000000ull, TW_TCP_FIN_WAIT2, TW_TCP_TIME_WAIT,
		 TW_HIST_DERIVED);
	push_hist(&c, store,
		  &(struct tw_hist){
			  .time_ns = 1001ull * 1000000000ull + 1,
			  .kind = TW_HIST_RETRANSMIT,
			  .from = TW_TCP_ESTABLISHED,
			  .value = 0,
		  });
	j = encode(&c, JSON_CONN_FULL, &b);
	hist = cJSON_GetObjectItemCaseSensitive(j, "history");
	assert_true(cJSON_IsArray(hist));
	assert_int_equal(cJSON_GetArraySize(hist), 4);

	e = cJSON_GetArrayItem(hist, 0);
	assert_string_equal(str_field(e, "from"), "CLOSE");
	assert_string_equal(str_field(e, "to"), "SYN_SENT");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e, "derived")));
	/* time_ns is wall-clock: 1700000000 s exactly. */
	assert_non_null(strstr(b.data, "\"time_ns\":1700000000000000000"));
	assert_true(num_field(e, "time_ns") == 1.7e18);

	e = cJSON_GetArrayItem(hist, 1);
	assert_string_equal(str_field(e, "from"), "SYN_SENT");
	assert_string_equal(str_field(e, "to"), "ESTABLISHED");
	assert_non_null(strstr(b.data, "\"time_ns\":1700000000000005000"));

	e = cJSON_GetArrayItem(hist, 2);
	assert_string_equal(str_field(e, "from"), "FIN_WAIT2");
	assert_string_equal(str_field(e, "to"), "TIME_WAIT");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "derived")));

	e = cJSON_GetArrayItem(hist, 3);
	assert_null(cJSON_GetObjectItemCaseSensitive(e, "to"));

	/* No gap marker when nothing was dropped. */
	assert_null(strstr(b.data, "\"dropped\""));
	cJSON_Delete(j);
	buf_free(&b);
}

static void test_conn_history_dropped_marker(void **state)
{
	uint64_t store[16];
	const cJSON *hist, *e;
	struct tw_conn c;
	struct tw_buf b;
	int n, marker = -1;
	cJSON *j;

	(void)state;
	make_conn(&c);
	for (int i = 0; i < 7; i++)
		add_hist(&c, store, 1000ull * 1000000000ull + (uint64_t)i, TW_TCP_ESTABLISHED,
			 TW_TCP_ESTABLISHED, 0);
	c.hist_heap.dropped = 9; /* only a history on the heap drops entries */
	j = encode(&c, JSON_CONN_FULL, &b);
	hist = cJSON_GetObjectItemCaseSensitive(j, "history");
	n = cJSON_GetArraySize(hist);
	assert_int_equal(n, 8); /* seven entries and the gap */
	for (int i = 0; i < n; i++) {
		e = cJSON_GetArrayItem(hist, i);
		if (!strcmp(str_field(e, "kind"), "dropped")) {
			marker = i;
			assert_true(num_field(e, "count") == 9);
		}
	}
	/* Between the kept first entries and the latest ones. */
	assert_int_equal(marker, TW_HIST_KEEP_FIRST);
	cJSON_Delete(j);
	buf_free(&b);
}

/* A listing: many rows in one buffer, each a valid object. */
/* An event, byte for byte (it is written without printf): a state
 * change with the time spent in the state before, and a retransmit of an
 * IPv6 connection with an owner and the largest numbers. */
static void test_event_exact(void **state)
{
	const struct tw_hist hist[2] = {
		{.time_ns = 1000ull * 1000000000ull,
		 .kind = TW_HIST_STATE,
		 .from = TW_TCP_CLOSE,
		 .to = TW_TCP_SYN_SENT},
		{.time_ns = 1000ull * 1000000000ull + 1500000ull,
		 .kind = TW_HIST_STATE,
		 .from = TW_TCP_SYN_SENT,
		 .to = TW_TCP_ESTABLISHED},
	};
	struct tw_hist rt = {.time_ns = 1000ull * 1000000000ull + 7ull,
			     .kind = TW_HIST_RETRANSMIT,
			     .from = TW_TCP_ESTABLISHED,
			     .flags = TW_HIST_DERIVED};
	static const uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	struct tw_conn c;
	struct tw_buf b;
	char want[1024];

	(void)state;
	make_conn(&c);
	push_hist(&c, NULL, &hist[0]);
	push_hist(&c, NULL, &hist[1]);
	buf_init(&b);
	json_event(&b, &c, 1, &test_clock);
	assert_false(b.oom);
	assert_non_null(b.data);
	snprintf(want, sizeof(want),
		 "{\"kind\":\"state\",\"from\":\"SYN_SENT\",\"to\":\"ESTABLISHED\","
		 "\"time_ns\":1700000000001500000,\"time\":\"2023-11-14T22:13:20.001500Z\","
		 "\"derived\":false,\"in_state_us\":1500,\"cookie\":4503599627370497,"
		 "\"netns\":4026531840,\"family\":\"inet\",\"local_addr\":\"10.1.2.3\","
		 "\"local_port\":51000,\"remote_addr\":\"93.184.216.34\",\"remote_port\":443,"
		 "\"pid\":null,\"comm\":null,\"role\":\"%s\",\"end_reason\":null}",
		 lifecycle_role_name(c.role));
	assert_string_equal(b.data, want);
	buf_free(&b);

	c.family = AF_INET6;
	memcpy(c.local_addr, v6, 16);
	memset(c.remote_addr, 0xff, 16);
	c.cookie = UINT64_MAX;
	c.netns = UINT32_MAX;
	c.local_port = 0;
	c.remote_port = 65535;
	c.flags |= TW_CONN_HAS_TASK;
	c.pid = 4294967295u;
	strcpy(c.comm, "a\"b");
	c.role = 1;
	c.end_reason = 1;
	assert_non_null(lifecycle_end_name(c.end_reason));
	c.hist_len = 0;
	push_hist(&c, NULL, &rt);
	buf_init(&b);
	json_event(&b, &c, 0, &test_clock);
	assert_false(b.oom);
	assert_non_null(b.data);
	snprintf(want, sizeof(want),
		 "{\"kind\":\"retransmit\",\"state\":\"ESTABLISHED\","
		 "\"time_ns\":1700000000000000007,\"time\":\"2023-11-14T22:13:20.000000Z\","
		 "\"derived\":true,\"in_state_us\":0,\"cookie\":18446744073709551615,"
		 "\"netns\":4294967295,\"family\":\"inet6\",\"local_addr\":\"fd00::1\","
		 "\"local_port\":0,\"remote_addr\":\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\","
		 "\"remote_port\":65535,\"pid\":4294967295,\"comm\":\"a\\\"b\",\"role\":\"%s\","
		 "\"end_reason\":\"%s\"}",
		 lifecycle_role_name(c.role), lifecycle_end_name(c.end_reason));
	assert_string_equal(b.data, want);
	buf_free(&b);
}

/* Addresses as inet_ntop writes them, IPv4 without it. */
static void test_addr_format_v4(void **state)
{
	static const uint8_t cases[][4] = {
		{0, 0, 0, 0},   {255, 255, 255, 255}, {10, 0, 100, 9},
		{127, 0, 0, 1}, {1, 20, 199, 250},
	};
	char got[64], ref[64];

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t a[16] = {0};

		memcpy(a, cases[i], 4);
		assert_non_null(inet_ntop(AF_INET, a, ref, sizeof(ref)));
		assert_string_equal(tw_addr_format(AF_INET, a, got, sizeof(got)), ref);
	}
	for (unsigned v = 0; v < 256; v++) {
		uint8_t a[16] = {(uint8_t)v, (uint8_t)(255 - v), (uint8_t)(v * 7),
				 (uint8_t)(v / 3)};

		assert_non_null(inet_ntop(AF_INET, a, ref, sizeof(ref)));
		assert_string_equal(tw_addr_format(AF_INET, a, got, sizeof(got)), ref);
	}
}

static void test_many_rows(void **state)
{
	struct tw_conn c;
	struct tw_buf b;
	cJSON *j;

	(void)state;
	make_conn(&c);
	buf_init(&b);
	buf_puts(&b, "[");
	for (int i = 0; i < 2000; i++) {
		c.cookie = (uint64_t)i + 1;
		if (i)
			buf_puts(&b, ",");
		json_conn(&b, &c, &test_clock, JSON_CONN_ROW, NULL);
	}
	buf_puts(&b, "]");
	j = parse(&b);
	assert_int_equal(cJSON_GetArraySize(j), 2000);
	assert_true(num_field(cJSON_GetArrayItem(j, 1999), "cookie") == 2000);
	cJSON_Delete(j);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_string_escaping),
		cmocka_unit_test(test_json_string_utf8_passes),
		cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_format_rfc3339),
		cmocka_unit_test(test_json_error),
		cmocka_unit_test(test_conn_row_fields),
		cmocka_unit_test(test_conn_unknown_owner_is_null),
		cmocka_unit_test(test_conn_ipv6_closed),
		cmocka_unit_test(test_conn_full_history),
		cmocka_unit_test(test_conn_history_dropped_marker),
		cmocka_unit_test(test_many_rows),
		cmocka_unit_test(test_event_exact),
		cmocka_unit_test(test_addr_format_v4),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
