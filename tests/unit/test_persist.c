/* Unit tests for daemon/table/persist.c: the table saved and read back,
 * and files that are truncated, corrupted or of another version or boot. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntable.h"
#include "lifecycle.h"
#include "persist.h"

#define SEC 1000000000ull

static const struct tw_conntable_limits limits = {
	.max_live = 1000,
	.retain_count = 1000,
	.retain_age_ns = UINT64_MAX / 2,
	.history_max = 32,
};

static const struct tw_persist_clock saved_at = {
	.realtime_ns = 1700000000 * SEC,
	.monotonic_ns = 500 * SEC,
	.boot_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
};

/* The same boot, 30 s later. */
static const struct tw_persist_clock loaded_at = {
	.realtime_ns = 1700000030 * SEC,
	.monotonic_ns = 530 * SEC,
	.boot_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
};

static void hist(struct tw_conntable *t, struct tw_conn *c, uint64_t time_ns, uint8_t from,
		 uint8_t to)
{
	struct tw_hist h = {.time_ns = time_ns, .kind = TW_HIST_STATE, .from = from, .to = to};

	assert_int_equal(conntable_hist_append(t, c, &h), 0);
	c->state = to;
	c->last_change_ns = time_ns;
}

static struct tw_conn *conn(struct tw_conntable *t, uint64_t cookie, uint16_t lport, uint16_t rport,
			    uint64_t born_ns)
{
	bool created;
	struct tw_conn *c = conntable_get_or_add(t, cookie, &created);

	assert_non_null(c);
	assert_true(created);
	c->family = AF_INET;
	c->local_addr[0] = 127;
	c->local_addr[3] = 1;
	c->remote_addr[0] = 127;
	c->remote_addr[3] = 1;
	c->local_port = lport;
	c->remote_port = rport;
	c->netns = 4026531840u;
	c->first_seen_ns = born_ns;
	c->uid = 1000;
	c->pid = 4242;
	c->inode = 777;
	c->flags |= TW_CONN_HAS_TASK;
	memcpy(c->comm, "curl", 5);
	return c;
}

/*
 * A table of each kind: a listener, an accepted connection with a history
 * longer than the inline one, an active one with tcp_info, three closed
 * ones (closed in the order 12, 10, 11), and a request socket, which is
 * not saved.
 */
static struct tw_conntable *sample_table(void)
{
	struct tw_conntable *t = conntable_new(&limits);
	struct tw_conn *c;
	bool created;

	assert_non_null(t);
	c = conn(t, 1, 8080, 0, 100 * SEC);
	hist(t, c, 100 * SEC, TW_TCP_CLOSE, TW_TCP_LISTEN);
	c->role = TW_ROLE_LISTENER;
	memset(c->remote_addr, 0, 16);
	conntable_update_listener(t, c);

	c = conn(t, 2, 8080, 40000, 200 * SEC);
	c->role = TW_ROLE_PASSIVE;
	c->listener_cookie = 1;
	c->flags |= TW_CONN_ACCEPTED | TW_CONN_HANDSHAKE_SRTT;
	c->accept_wait_us = 12;
	c->handshake_us = 345;
	hist(t, c, 200 * SEC, TW_TCP_LISTEN, TW_TCP_SYN_RECV);
	hist(t, c, 200 * SEC + 1, TW_TCP_SYN_RECV, TW_TCP_ESTABLISHED);
	for (int i = 0; i < 10; i++) {
		struct tw_hist h = {.time_ns = 210 * SEC + (uint64_t)i,
				    .kind = TW_HIST_RETRANSMIT,
				    .from = TW_TCP_ESTABLISHED,
				    .value = (uint32_t)i};

		assert_int_equal(conntable_hist_append(t, c, &h), 0);
	}
	c->retransmits = 10;

	c = conn(t, 3, 40001, 443, 300 * SEC);
	c->role = TW_ROLE_ACTIVE;
	hist(t, c, 300 * SEC, TW_TCP_CLOSE, TW_TCP_SYN_SENT);
	hist(t, c, 300 * SEC + 5, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED);
	conn_set_sample_ns(c, 400 * SEC);
	c->info = (struct tw_tcpinfo){.bytes_acked = 123456789012ull,
				      .rtt_us = 55,
				      .snd_cwnd = 10,
				      .mem = {.rcvbuf_bytes = 131072, .drops = 3},
				      .timer = TW_TIMER_KEEPALIVE,
				      .has_info = 1,
				      .has_mem = 1};

	for (uint64_t k = 10; k <= 12; k++) {
		c = conn(t, k, (uint16_t)(41000 + k), 80, 100 * SEC + k);
		c->role = TW_ROLE_ACTIVE;
		hist(t, c, 100 * SEC + k, TW_TCP_CLOSE, TW_TCP_SYN_SENT);
		hist(t, c, 101 * SEC + k, TW_TCP_SYN_SENT, TW_TCP_ESTABLISHED);
	}
	/* Closed in the order 12, 10, 11. */
	for (uint64_t k = 12, n = 0; n < 3; k = k == 12 ? 10 : k + 1, n++) {
		c = conntable_get(t, k);
		hist(t, c, 150 * SEC + n, TW_TCP_ESTABLISHED, TW_TCP_CLOSE);
		c->end_reason = TW_END_RESET_RECEIVED;
		c->closed_first = TW_CLOSER_PEER;
		conntable_retire(t, c, 150 * SEC + n);
	}

	c = conntable_add_request(t, 99, &created);
	assert_non_null(c);
	c->state = TW_TCP_SYN_RECV;
	c->first_seen_ns = 450 * SEC;
	return t;
}

/* persist_save's bytes at clock; *ret_len set. */
static uint8_t *save_bytes_at(struct tw_conntable *t, const struct tw_persist_clock *clock,
			      size_t *ret_len)
{
	struct tw_persist_save_stats st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(persist_save(t, f, clock, &st), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(st.records, 6);
	assert_int_equal(st.retained, 3);
	*ret_len = len;
	return (uint8_t *)buf;
}

static uint8_t *save_bytes(struct tw_conntable *t, size_t *ret_len)
{
	return save_bytes_at(t, &saved_at, ret_len);
}

static int load_bytes(struct tw_conntable *t, const uint8_t *b, size_t len,
		      const struct tw_persist_clock *now, struct tw_persist_load_stats *st)
{
	char err[256] = "";
	/* fmemopen of 0 bytes fails: an empty file is a file with a byte
	 * too few, read from a stream at its end. */
	static uint8_t one;
	FILE *f = fmemopen(len ? (void *)b : &one, len ? len : 1, "r");
	int r;

	assert_non_null(f);
	if (!len)
		fgetc(f);
	r = persist_load(t, f, now, st, err, sizeof(err));
	fclose(f);
	if (r < 0)
		assert_true(err[0]); /* every refusal says why */
	return r;
}

static void assert_empty(struct tw_conntable *t)
{
	struct tw_conntable_stats st;

	conntable_get_stats(t, &st);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.retained, 0);
	assert_false(conntable_history_gap(t, &(struct tw_conn){.first_seen_ns = 1}, 10000 * SEC));
}

static void assert_same_conn(const struct tw_conn *a, const struct tw_conn *b)
{
	assert_int_equal(a->cookie, b->cookie);
	assert_int_equal(a->first_seen_ns, b->first_seen_ns);
	assert_int_equal(a->last_change_ns, b->last_change_ns);
	assert_int_equal(conn_closed_ns(a), conn_closed_ns(b));
	assert_int_equal(a->listener_cookie, b->listener_cookie);
	assert_int_equal(a->accept_wait_us, b->accept_wait_us);
	assert_int_equal(a->handshake_us, b->handshake_us);
	assert_memory_equal(a->local_addr, b->local_addr, 16);
	assert_memory_equal(a->remote_addr, b->remote_addr, 16);
	assert_int_equal(a->local_port, b->local_port);
	assert_int_equal(a->remote_port, b->remote_port);
	assert_int_equal(a->netns, b->netns);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->inode, b->inode);
	assert_int_equal(a->retransmits, b->retransmits);
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->role, b->role);
	assert_int_equal(a->closed_first, b->closed_first);
	assert_int_equal(a->end_reason, b->end_reason);
	assert_string_equal(a->comm, b->comm);
	assert_int_equal(conn_sample_ns(a), conn_sample_ns(b));
	assert_int_equal(a->info.bytes_acked, b->info.bytes_acked);
	assert_int_equal(a->info.rtt_us, b->info.rtt_us);
	assert_int_equal(a->info.mem.rcvbuf_bytes, b->info.mem.rcvbuf_bytes);
	assert_int_equal(a->info.mem.drops, b->info.mem.drops);
	assert_int_equal(a->info.timer, b->info.timer);
	assert_int_equal(a->info.has_info, b->info.has_info);
	assert_int_equal(a->info.has_mem, b->info.has_mem);
	/* The flags that describe the connection; the table's own marks
	 * (indexes) are rebuilt. */
	assert_int_equal(a->flags & (TW_CONN_CLOSED | TW_CONN_HAS_TASK | TW_CONN_ACCEPTED |
				     TW_CONN_HANDSHAKE_SRTT),
			 b->flags & (TW_CONN_CLOSED | TW_CONN_HAS_TASK | TW_CONN_ACCEPTED |
				     TW_CONN_HANDSHAKE_SRTT));
	assert_int_equal(a->hist_len, b->hist_len);
	assert_int_equal(conn_hist_dropped(a), conn_hist_dropped(b));
	for (uint16_t i = 0; i < a->hist_len; i++) {
		assert_int_equal(conn_hist(a, i).time_ns, conn_hist(b, i).time_ns);
		assert_int_equal(conn_hist(a, i).kind, conn_hist(b, i).kind);
		assert_int_equal(conn_hist(a, i).flags, conn_hist(b, i).flags);
		assert_int_equal(conn_hist(a, i).from, conn_hist(b, i).from);
		assert_int_equal(conn_hist(a, i).to, conn_hist(b, i).to);
		assert_int_equal(conn_hist(a, i).value, conn_hist(b, i).value);
	}
}

static void test_round_trip(void **state)
{
	struct tw_conntable *t = sample_table(), *u = conntable_new(&limits);
	struct tw_persist_load_stats st;
	struct tw_conntable_stats ts;
	size_t len;
	uint8_t *b = save_bytes(t, &len);
	const uint64_t cookies[] = {1, 2, 3, 10, 11, 12};
	struct tw_conn *l;

	(void)state;
	assert_non_null(u);
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), 0);
	assert_int_equal(st.live, 3);
	assert_int_equal(st.retained, 3);
	assert_int_equal(st.refused + st.duplicates + st.other_boot, 0);
	assert_int_equal(st.saved_mono_ns, saved_at.monotonic_ns);
	assert_int_equal(st.saved_real_ns, saved_at.realtime_ns);
	conntable_get_stats(u, &ts);
	assert_int_equal(ts.live, 3);
	assert_int_equal(ts.retained, 3);
	assert_int_equal(ts.listeners, 1);
	for (size_t i = 0; i < sizeof(cookies) / sizeof(cookies[0]); i++) {
		struct tw_conn *a = conntable_get(t, cookies[i]), *c = conntable_get(u, cookies[i]);

		assert_non_null(c);
		assert_same_conn(a, c);
	}
	assert_null(conntable_get(u, 99));                   /* the request socket */
	assert_int_equal(conntable_get(u, 2)->hist_len, 12); /* out of line */

	/* The listener is indexed again: its children find it. */
	l = conntable_find_listener(u, 4026531840u, AF_INET, conntable_get(u, 2)->local_addr, 8080);
	assert_non_null(l);
	assert_int_equal(l->cookie, 1);

	/* Alive across the restart: a gap; closed before the save: none. */
	assert_true(conntable_history_gap(u, conntable_get(u, 2), loaded_at.monotonic_ns));
	assert_false(conntable_history_gap(u, conntable_get(u, 10), loaded_at.monotonic_ns));

	/* Retention kept its order: the oldest closed (12) leaves first. */
	conntable_set_retention(u, 2, UINT64_MAX / 2);
	assert_int_equal(conntable_expire(u, loaded_at.monotonic_ns), 1);
	assert_null(conntable_get(u, 12));
	assert_non_null(conntable_get(u, 10));
	conntable_set_retention(u, 1, UINT64_MAX / 2);
	assert_int_equal(conntable_expire(u, loaded_at.monotonic_ns), 1);
	assert_null(conntable_get(u, 10));
	assert_non_null(conntable_get(u, 11));

	free(b);
	conntable_free(t);
	conntable_free(u);
}

/* A save of the restored table is the same file, but for the gap the
 * restart added and the save time. */
static void test_save_again_keeps_gaps(void **state)
{
	struct tw_conntable *t = sample_table(), *u = conntable_new(&limits),
			    *v = conntable_new(&limits);
	struct tw_persist_clock later = loaded_at, last = loaded_at;
	struct tw_persist_load_stats st;
	size_t len, len2;
	uint8_t *b = save_bytes(t, &len), *b2;

	(void)state;
	later.monotonic_ns += 10 * SEC;
	last.monotonic_ns += 20 * SEC;
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), 0);
	b2 = save_bytes_at(u, &later, &len2);
	assert_int_equal(len2, len + 16); /* one gap window more */
	/* Loaded into a third table: the first restart's gap still marks
	 * the connection, which was alive then, and not one closed before. */
	assert_int_equal(load_bytes(v, b2, len2, &last, &st), 0);
	assert_int_equal(st.live, 3);
	assert_true(conntable_history_gap(v, conntable_get(v, 3), last.monotonic_ns));
	assert_false(conntable_history_gap(v, conntable_get(v, 11), last.monotonic_ns));
	free(b);
	free(b2);
	conntable_free(t);
	conntable_free(u);
	conntable_free(v);
}

static void test_every_truncation_refused(void **state)
{
	struct tw_conntable *t = sample_table(), *u = conntable_new(&limits);
	struct tw_persist_load_stats st;
	size_t len;
	uint8_t *b = save_bytes(t, &len);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		assert_int_equal(load_bytes(u, b, n, &loaded_at, &st), -EBADMSG);
		assert_empty(u);
	}
	free(b);
	conntable_free(t);
	conntable_free(u);
}

static void test_trailing_bytes_refused(void **state)
{
	struct tw_conntable *t = sample_table(), *u = conntable_new(&limits);
	struct tw_persist_load_stats st;
	size_t len;
	uint8_t *b = save_bytes(t, &len), *longer = calloc(1, len + 1);

	(void)state;
	assert_non_null(longer);
	memcpy(longer, b, len);
	assert_int_equal(load_bytes(u, longer, len + 1, &loaded_at, &st), -EBADMSG);
	assert_empty(u);
	free(longer);
	free(b);
	conntable_free(t);
	conntable_free(u);
}

/* Every bit of the file is checked: by a CRC, the magic or the version. */
static void test_every_flipped_bit_detected(void **state)
{
	struct tw_conntable *t = sample_table(), *u = conntable_new(&limits);
	struct tw_persist_load_stats st;
	size_t len;
	uint8_t *b = save_bytes(t, &len);

	(void)state;
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			int r;

			b[i] ^= (uint8_t)(1u << bit);
			r = load_bytes(u, b, len, &loaded_at, &st);
			b[i] ^= (uint8_t)(1u << bit);
			if (r != -EBADMSG && r != -ENOTSUP)
				fail_msg("byte %zu bit %d flipped: %d", i, bit, r);
			assert_empty(u);
		}
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), 0);
	free(b);
	conntable_free(t);
	conntable_free(u);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header changed and its CRC made right again: only the field's own
 * check stands between it and the table. */
static void reseal_header(uint8_t *b)
{
	put32(b + 60, persist_crc32(0, b, 60));
}

static void test_future_version_refused(void **state)
{
	struct tw_conntable *t = sample_table(), *u = conntable_new(&limits);
	struct tw_persist_load_stats st;
	size_t len;
	uint8_t *b = save_bytes(t, &len);

	(void)state;
	put32(b + 8, PERSIST_VERSION + 1);
	reseal_header(b);
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), -ENOTSUP);
	assert_empty(u);
	put32(b + 8, 0);
	reseal_header(b);
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), -EBADMSG);
	assert_empty(u);
	free(b);
	conntable_free(t);
	conntable_free(u);
}

static void test_counts_bounded(void **state)
{
	struct tw_conntable *t = sample_table(), *u = conntable_new(&limits);
	struct tw_persist_load_stats st;
	size_t len;
	uint8_t *b = save_bytes(t, &len);

	(void)state;
	put32(b + 48, PERSIST_RECORDS_MAX + 1); /* records */
	reseal_header(b);
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), -EBADMSG);
	put32(b + 48, UINT32_MAX);
	reseal_header(b);
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), -EBADMSG);
	put32(b + 48, 6);
	put32(b + 52, 65); /* gap windows */
	reseal_header(b);
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), -EBADMSG);
	assert_empty(u);
	/* A record's length beyond any record's: refused before reading it. */
	free(b);
	b = save_bytes(t, &len);
	put32(b + 64 + 12, UINT32_MAX); /* the first record's length */
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), -EBADMSG);
	assert_empty(u);
	free(b);
	conntable_free(t);
	conntable_free(u);
}

/* After a reboot no socket of the file exists and its times are of
 * another clock: nothing is restored, and that is no error. */
static void test_other_boot_restores_nothing(void **state)
{
	struct tw_conntable *t = sample_table(), *u = conntable_new(&limits);
	struct tw_persist_clock rebooted = {
		.realtime_ns = 1700001000 * SEC, .monotonic_ns = 20 * SEC, .boot_id = {9}};
	struct tw_persist_load_stats st;
	size_t len;
	uint8_t *b = save_bytes(t, &len);

	(void)state;
	assert_int_equal(load_bytes(u, b, len, &rebooted, &st), 0);
	assert_int_equal(st.other_boot, 6);
	assert_int_equal(st.live + st.retained, 0);
	assert_empty(u);
	free(b);
	conntable_free(t);
	conntable_free(u);
}

/* Same boot, but saved after now: the clock is not this boot's. */
static void test_saved_in_the_future_refused(void **state)
{
	struct tw_conntable *t = sample_table(), *u = conntable_new(&limits);
	struct tw_persist_clock earlier = saved_at;
	struct tw_persist_load_stats st;
	size_t len;
	uint8_t *b = save_bytes(t, &len);

	(void)state;
	earlier.monotonic_ns -= SEC;
	assert_int_equal(load_bytes(u, b, len, &earlier, &st), -EBADMSG);
	assert_empty(u);
	free(b);
	conntable_free(t);
	conntable_free(u);
}

/* A table with smaller bounds than the one that saved: it applies its
 * own (the oldest closed leave, histories keep their ends). */
static void test_smaller_bounds_apply(void **state)
{
	struct tw_conntable_limits small = limits;
	struct tw_conntable *t = sample_table(), *u;
	struct tw_persist_load_stats st;
	struct tw_conntable_stats ts;
	struct tw_conn *c;
	size_t len;
	uint8_t *b = save_bytes(t, &len);

	(void)state;
	small.retain_count = 2;
	small.history_max = 8;
	u = conntable_new(&small);
	assert_non_null(u);
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), 0);
	conntable_get_stats(u, &ts);
	assert_int_equal(ts.retained, 2);
	assert_null(conntable_get(u, 12)); /* the oldest closed */
	c = conntable_get(u, 2);
	assert_int_equal(c->hist_len, 8);
	assert_int_equal(conn_hist_dropped(c), 4);
	assert_int_equal(conn_hist(c, 0).to, TW_TCP_SYN_RECV); /* the first kept */
	assert_int_equal(conn_hist(c, 7).value, 9);            /* and the latest */
	free(b);
	conntable_free(t);
	conntable_free(u);
}

/* A full table refuses the live records it cannot take, and counts them. */
static void test_full_table_refuses(void **state)
{
	struct tw_conntable_limits tiny = limits;
	struct tw_conntable *t = sample_table(), *u;
	struct tw_persist_load_stats st;
	size_t len;
	uint8_t *b = save_bytes(t, &len);
	bool created;

	(void)state;
	tiny.max_live = 2;
	u = conntable_new(&tiny);
	assert_non_null(u);
	assert_non_null(conntable_get_or_add(u, 2, &created)); /* already there */
	assert_int_equal(load_bytes(u, b, len, &loaded_at, &st), 0);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.retained, 3);
	assert_int_equal(st.live, 1);
	assert_int_equal(st.refused, 1);
	free(b);
	conntable_free(t);
	conntable_free(u);
}

static void test_empty_table(void **state)
{
	struct tw_conntable *t = conntable_new(&limits), *u = conntable_new(&limits);
	struct tw_persist_save_stats ss;
	struct tw_persist_load_stats st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(persist_save(t, f, &saved_at, &ss), 0);
	fclose(f);
	assert_int_equal(ss.records, 0);
	assert_int_equal(len, 64 + 12);
	assert_int_equal(load_bytes(u, (uint8_t *)buf, len, &loaded_at, &st), 0);
	assert_int_equal(st.live + st.retained, 0);
	free(buf);
	conntable_free(t);
	conntable_free(u);
}

static void test_crc32_known_value(void **state)
{
	(void)state;
	/* The check value of CRC-32/ISO-HDLC (zlib's crc32). */
	assert_int_equal(persist_crc32(0, "123456789", 9), 0xCBF43926u);
	assert_int_equal(persist_crc32(persist_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_known_value),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_save_again_keeps_gaps),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_trailing_bytes_refused),
		cmocka_unit_test(test_every_flipped_bit_detected),
		cmocka_unit_test(test_future_version_refused),
		cmocka_unit_test(test_counts_bounded),
		cmocka_unit_test(test_other_boot_restores_nothing),
		cmocka_unit_test(test_saved_in_the_future_refused),
		cmocka_unit_test(test_smaller_bounds_apply),
		cmocka_unit_test(test_full_table_refuses),
		cmocka_unit_test(test_empty_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
