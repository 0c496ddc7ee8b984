/* The in-place merge of the per-CPU rings: records come back in time
 * order, only once older than the watermark, across the end of a ring,
 * past discarded records and never past one still being written; the
 * consumer position moves past exactly what was released. The rings are
 * built in ordinary memory with the kernel's layout (ringmerge.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ringmerge.h"

struct rec {
	uint64_t time_ns;
	uint32_t ring;
	uint32_t seq;
};

/* A fake ring: data is 2 * size bytes and every write is mirrored into
 * the second half, as the kernel's double mapping shows it. */
struct fake {
	uint64_t consumer, producer;
	uint8_t *data;
	uint64_t size;
};

static void fake_init(struct fake *f, uint64_t size)
{
	f->consumer = f->producer = 0;
	f->size = size;
	f->data = calloc(2, size);
	assert_non_null(f->data);
}

static void put(struct fake *f, uint64_t pos, const void *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t at = (pos + i) & (f->size - 1);

		f->data[at] = f->data[at + f->size] = ((const uint8_t *)src)[i];
	}
}

/* Writes a record of len bytes with header bits; returns its position. */
static uint64_t write_raw(struct fake *f, const void *rec, uint32_t len, uint32_t bits)
{
	uint64_t pos = f->producer;
	uint32_t hdr[2] = {len | bits, 0};

	put(f, pos, hdr, sizeof(hdr));
	put(f, pos + 8, rec, len);
	f->producer += (len + 8 + 7) & ~7u;
	return pos;
}

static uint64_t write_rec(struct fake *f, uint32_t ring, uint64_t t, uint32_t seq)
{
	struct rec r = {.time_ns = t, .ring = ring, .seq = seq};

	return write_raw(f, &r, sizeof(r), 0);
}

static void set_bits(struct fake *f, uint64_t pos, uint32_t len, uint32_t bits)
{
	uint32_t hdr = len | bits;

	put(f, pos, &hdr, sizeof(hdr));
}

static struct tw_ringmerge *merge_of(struct fake *f, unsigned n)
{
	struct tw_ringmerge *m = ringmerge_new(n);

	assert_non_null(m);
	for (unsigned i = 0; i < n; i++)
		ringmerge_set(m, i,
			      &(struct tw_ring_map){
				      .consumer_pos = &f[i].consumer,
				      .producer_pos = &f[i].producer,
				      .data = f[i].data,
				      .size = f[i].size,
			      });
	return m;
}

struct got {
	struct rec v[8192];
	size_t lens[8192];
	size_t n;
};

static void collect(const void *r, size_t len, void *data)
{
	struct got *g = data;

	assert_true(g->n < 8192);
	g->lens[g->n] = len;
	memset(&g->v[g->n], 0, sizeof(g->v[0]));
	memcpy(&g->v[g->n], r, len < sizeof(struct rec) ? len : sizeof(struct rec));
	g->n++;
}

static void fakes_free(struct fake *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(f[i].data);
}

static void test_merges_in_time_order(void **state)
{
	struct fake f[3];
	struct got *g = calloc(1, sizeof(*g));
	struct tw_ringmerge *m;

	(void)state;
	for (int i = 0; i < 3; i++)
		fake_init(&f[i], 4096);
	m = merge_of(f, 3);
	/* Each ring in order; across rings interleaved. */
	write_rec(&f[0], 0, 10, 0);
	write_rec(&f[0], 0, 40, 1);
	write_rec(&f[1], 1, 20, 2);
	write_rec(&f[1], 1, 30, 3);
	write_rec(&f[2], 2, 5, 4);
	write_rec(&f[2], 2, 50, 5);
	assert_int_equal(ringmerge_pending_bytes(m), 6 * 24);
	assert_int_equal(ringmerge_release(m, 1000, collect, g), 6);
	assert_int_equal(g->n, 6);
	for (size_t i = 0; i < g->n; i++)
		assert_int_equal(g->lens[i], sizeof(struct rec));
	for (size_t i = 1; i < g->n; i++)
		assert_true(g->v[i - 1].time_ns < g->v[i].time_ns);
	assert_int_equal(g->v[0].seq, 4);
	assert_int_equal(g->v[5].seq, 5);
	/* Everything released is handed back to the producers. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(f[i].consumer, f[i].producer);
	assert_int_equal(ringmerge_pending_bytes(m), 0);
	assert_int_equal(ringmerge_release(m, 1000, collect, g), 0);
	ringmerge_free(m);
	fakes_free(f, 3);
	free(g);
}

static void test_watermark_holds_back(void **state)
{
	struct fake f[2];
	struct got *g = calloc(1, sizeof(*g));
	struct tw_ringmerge *m;
	uint64_t after_first;

	(void)state;
	fake_init(&f[0], 4096);
	fake_init(&f[1], 4096);
	m = merge_of(f, 2);
	write_rec(&f[0], 0, 100, 0);
	after_first = f[0].producer;
	write_rec(&f[0], 0, 300, 1);
	write_rec(&f[1], 1, 200, 2);
	/* Only what is older than the watermark; the rest stays in the
	 * ring, and the consumer position stops in front of it. */
	assert_int_equal(ringmerge_oldest_held_ns(m), 0);
	assert_int_equal(ringmerge_release(m, 150, collect, g), 1);
	assert_int_equal(g->v[0].seq, 0);
	assert_int_equal(f[0].consumer, after_first);
	assert_int_equal(f[1].consumer, 0);
	/* What it held back: two records, the older at 200. */
	assert_int_equal(ringmerge_oldest_held_ns(m), 200);
	assert_int_equal(ringmerge_pending_bytes(m), 2 * 24);
	/* Exactly at the watermark: still held. */
	assert_int_equal(ringmerge_release(m, 200, collect, g), 0);
	/* A record that shows up later but is older than what is held is
	 * still released first. */
	write_rec(&f[1], 1, 250, 3);
	assert_int_equal(ringmerge_release(m, 1000, collect, g), 3);
	assert_int_equal(g->v[1].seq, 2);
	assert_int_equal(g->v[2].seq, 3);
	assert_int_equal(g->v[3].seq, 1);
	assert_int_equal(ringmerge_oldest_held_ns(m), 0);
	assert_int_equal(ringmerge_pending_bytes(m), 0);
	ringmerge_free(m);
	fakes_free(f, 2);
	free(g);
}

/* Thousands of records through a small ring: positions wrap, records
 * straddle the end of the data area, and each release frees the space
 * the next writes need. */
static void test_wraps_around(void **state)
{
	struct fake f[1];
	struct got *g = calloc(1, sizeof(*g));
	struct tw_ringmerge *m;
	uint32_t seq = 0;
	uint8_t big[40];

	(void)state;
	fake_init(&f[0], 256);
	m = merge_of(f, 1);
	for (int round = 0; round < 200; round++) {
		g->n = 0;
		/* 24- and 48-byte records alternate: the ends drift. */
		for (int k = 0; k < 3; k++) {
			struct rec r = {.time_ns = 1 + seq, .ring = 0, .seq = seq};

			memset(big, 0xab, sizeof(big));
			memcpy(big, &r, sizeof(r));
			if (seq % 2)
				write_raw(&f[0], big, sizeof(big), 0);
			else
				write_raw(&f[0], &r, sizeof(r), 0);
			seq++;
			assert_true(f[0].producer - f[0].consumer <= f[0].size);
		}
		assert_int_equal(ringmerge_release(m, UINT64_MAX, collect, g), 3);
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(g->v[i].seq, seq - 3 + i);
			assert_int_equal(g->lens[i],
					 g->v[i].seq % 2 ? sizeof(big) : sizeof(struct rec));
		}
		assert_int_equal(f[0].consumer, f[0].producer);
	}
	assert_true(f[0].producer > 10 * f[0].size);
	ringmerge_free(m);
	fakes_free(f, 1);
	free(g);
}

/* Discarded records are stepped over; nothing is read past a record still
 * being written (the busy bit), even committed records behind it. */
static void test_discard_and_busy(void **state)
{
	struct fake f[1];
	struct got *g = calloc(1, sizeof(*g));
	struct tw_ringmerge *m;
	uint64_t busy;

	(void)state;
	fake_init(&f[0], 4096);
	m = merge_of(f, 1);
	write_rec(&f[0], 0, 10, 0);
	set_bits(&f[0], write_rec(&f[0], 0, 11, 1), sizeof(struct rec), TW_RING_DISCARD_BIT);
	busy = write_rec(&f[0], 0, 12, 2);
	set_bits(&f[0], busy, sizeof(struct rec), TW_RING_BUSY_BIT);
	write_rec(&f[0], 0, 13, 3);
	assert_int_equal(ringmerge_release(m, 1000, collect, g), 1);
	assert_int_equal(g->v[0].seq, 0);
	assert_int_equal(f[0].consumer, busy);
	/* Committed: the rest follows. */
	set_bits(&f[0], busy, sizeof(struct rec), 0);
	assert_int_equal(ringmerge_release(m, 1000, collect, g), 2);
	assert_int_equal(g->v[1].seq, 2);
	assert_int_equal(g->v[2].seq, 3);
	assert_int_equal(f[0].consumer, f[0].producer);
	ringmerge_free(m);
	fakes_free(f, 1);
	free(g);
}

/* A record too short to carry a time is released at once (the callback
 * rejects it); a length beyond the ring stops that ring, not the others. */
static void test_short_and_bad_length(void **state)
{
	struct fake f[2];
	struct got *g = calloc(1, sizeof(*g));
	struct tw_ringmerge *m;
	uint8_t tiny[3] = {1, 2, 3};

	(void)state;
	fake_init(&f[0], 4096);
	fake_init(&f[1], 4096);
	m = merge_of(f, 2);
	write_rec(&f[0], 0, 500, 0);
	write_raw(&f[1], tiny, sizeof(tiny), 0);
	assert_int_equal(ringmerge_release(m, 100, collect, g), 1);
	assert_int_equal(g->lens[0], 3);
	assert_int_equal(f[1].consumer, f[1].producer);
	set_bits(&f[1], write_rec(&f[1], 1, 20, 1), 5000, 0);
	assert_int_equal(ringmerge_release(m, 1000, collect, g), 1);
	assert_int_equal(g->v[1].seq, 0);
	ringmerge_free(m);
	fakes_free(f, 2);
	free(g);
}

/* A ring that was never set (a CPU without one) is simply empty. */
static void test_unset_ring(void **state)
{
	struct tw_ringmerge *m = ringmerge_new(4);
	struct got *g = calloc(1, sizeof(*g));

	(void)state;
	assert_null(ringmerge_new(0));
	assert_non_null(m);
	assert_int_equal(ringmerge_release(m, UINT64_MAX, collect, g), 0);
	assert_int_equal(ringmerge_pending_bytes(m), 0);
	ringmerge_free(m);
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merges_in_time_order),
		cmocka_unit_test(test_watermark_holds_back),
		cmocka_unit_test(test_wraps_around),
		cmocka_unit_test(test_discard_and_busy),
		cmocka_unit_test(test_short_and_bad_length),
		cmocka_unit_test(test_unset_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
