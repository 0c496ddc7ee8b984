/* The record slab: objects are zeroed, cache-line aligned and distinct;
 * the last released is handed out next; chunks are added as needed and
 * given back once empty while another has room. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "slab.h"

static void test_bad_sizes(void **state)
{
	(void)state;
	assert_null(slab_new(0));
	assert_null(slab_new(TW_SLAB_CHUNK));
	slab_free(NULL);
}

static void test_zeroed_aligned_reused(void **state)
{
	struct tw_slab *s = slab_new(100);
	uint8_t *a, *b, *c;

	(void)state;
	assert_non_null(s);
	a = slab_alloc(s);
	b = slab_alloc(s);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal((uintptr_t)a % 64, 0);
	assert_int_equal((uintptr_t)b % 64, 0);
	/* 100 bytes take two lines each. */
	assert_int_equal(b - a, 128);
	for (int i = 0; i < 100; i++)
		assert_int_equal(a[i], 0);
	memset(a, 0xee, 100);
	memset(b, 0xdd, 100);
	assert_int_equal(slab_in_use(s), 2);
	slab_release(s, a);
	assert_int_equal(slab_in_use(s), 1);
	/* The last released comes back first, zeroed again. */
	c = slab_alloc(s);
	assert_ptr_equal(c, a);
	for (int i = 0; i < 100; i++)
		assert_int_equal(c[i], 0);
	assert_int_equal(b[99], 0xdd);
	slab_release(s, NULL);
	assert_int_equal(slab_bytes(s), TW_SLAB_CHUNK);
	slab_free(s); /* with objects still out */
}

/* Three chunks' worth, each object tagged; all distinct and intact. Then
 * everything released: all chunks but one go back. */
static void test_many_chunks(void **state)
{
	enum { SIZE = 320 };
	struct tw_slab *s = slab_new(SIZE);
	size_t per_chunk = s ? slab_per_chunk(s) : 1, n = 3 * per_chunk + 7;
	uint32_t **v = calloc(n, sizeof(*v));

	(void)state;
	assert_non_null(s);
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i] = slab_alloc(s);
		assert_non_null(v[i]);
		v[i][0] = (uint32_t)i;
		v[i][SIZE / 4 - 1] = (uint32_t)~i;
	}
	assert_int_equal(slab_bytes(s), 4 * (size_t)TW_SLAB_CHUNK);
	assert_int_equal(slab_in_use(s), n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i][0], i);
		assert_int_equal(v[i][SIZE / 4 - 1], (uint32_t)~i);
	}
	/* Release every other one, then the rest. */
	for (size_t i = 0; i < n; i += 2)
		slab_release(s, v[i]);
	assert_int_equal(slab_bytes(s), 4 * (size_t)TW_SLAB_CHUNK);
	for (size_t i = 1; i < n; i += 2)
		slab_release(s, v[i]);
	assert_int_equal(slab_in_use(s), 0);
	assert_int_equal(slab_bytes(s), TW_SLAB_CHUNK);
	/* And it still works. */
	for (size_t i = 0; i < n; i++) {
		v[i] = slab_alloc(s);
		assert_non_null(v[i]);
	}
	assert_int_equal(slab_bytes(s), 4 * (size_t)TW_SLAB_CHUNK);
	free(v);
	slab_free(s);
}

/* Handles name objects across chunks, both ways; a chunk given back frees
 * its number for the next one. */
static void test_handles(void **state)
{
	enum { SIZE = 320 };
	struct tw_slab *s = slab_new(SIZE);
	size_t per_chunk = s ? slab_per_chunk(s) : 1, n = 3 * per_chunk + 7;
	void **v = calloc(n, sizeof(*v));
	uint32_t *h = calloc(n, sizeof(*h));

	(void)state;
	assert_non_null(s);
	assert_non_null(v);
	assert_non_null(h);
	for (size_t i = 0; i < n; i++) {
		v[i] = slab_alloc(s);
		assert_non_null(v[i]);
		h[i] = slab_handle(s, v[i]);
		assert_true(h[i] != 0 && h[i] != UINT32_MAX);
		assert_ptr_equal(slab_at(s, h[i]), v[i]);
		for (size_t j = i > 8 ? i - 8 : 0; j < i; j++)
			assert_true(h[j] != h[i]);
	}
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(slab_at(s, h[i]), v[i]);
	/* The second chunk emptied: given back, its number free again. */
	for (size_t i = per_chunk; i < 2 * per_chunk; i++)
		slab_release(s, v[i]);
	assert_int_equal(slab_bytes(s), 3 * (size_t)TW_SLAB_CHUNK);
	for (size_t i = 0; i < n; i++)
		if (i < per_chunk || i >= 2 * per_chunk)
			assert_ptr_equal(slab_at(s, h[i]), v[i]);
	for (size_t i = per_chunk; i < 2 * per_chunk; i++) {
		v[i] = slab_alloc(s);
		assert_non_null(v[i]);
		h[i] = slab_handle(s, v[i]);
		assert_ptr_equal(slab_at(s, h[i]), v[i]);
	}
	assert_int_equal(slab_bytes(s), 4 * (size_t)TW_SLAB_CHUNK);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(slab_at(s, h[i]), v[i]);
	free(h);
	free(v);
	slab_free(s);
}

/* Tags: 1 when handed out, 0 once released, the caller's in between; a
 * scan visits exactly the objects whose tag it asks for, each once, in
 * slices from a cursor, over chunks that come and go. */
struct seen {
	uint8_t **v;
	size_t n;
};

static void see(void *obj, void *data)
{
	struct seen *x = data;

	x->v[x->n++] = obj;
}

static void test_tags_and_scan(void **state)
{
	enum { SIZE = 320 };
	struct tw_slab *s = slab_new(SIZE);
	size_t per_chunk = s ? slab_per_chunk(s) : 1, n = 3 * per_chunk + 11, want = 0;
	uint8_t **v = calloc(n, sizeof(*v));
	struct seen x = {.v = calloc(n, sizeof(*x.v))};
	uint32_t cursor = 0, slices = 0;

	(void)state;
	assert_non_null(s);
	assert_non_null(v);
	assert_non_null(x.v);
	assert_true(per_chunk > 6000); /* 320 bytes and a tag: 6,532 a chunk */
	for (size_t i = 0; i < n; i++) {
		v[i] = slab_alloc(s);
		assert_non_null(v[i]);
		assert_int_equal(*slab_tag(s, v[i]), 1);
		memset(v[i], 0xab, SIZE); /* the tag is not the object's */
		assert_int_equal(*slab_tag(s, v[i]), 1);
		*slab_tag(s, v[i]) = (uint8_t)(2 + i % 5);
		v[i][0] = (uint8_t)(i % 5);
	}
	/* The second chunk given back whole: its tags go with it. */
	for (size_t i = per_chunk; i < 2 * per_chunk; i++) {
		slab_release(s, v[i]);
		v[i] = NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i] && i % 5 == 3)
			want++;
	while (!slab_scan(s, &cursor, 1u << 5, see, &x, 100))
		slices++;
	assert_true(slices > 10);
	assert_int_equal(x.n, want);
	for (size_t i = 0; i < x.n; i++) {
		assert_int_equal(x.v[i][0], 3);
		assert_int_equal(*slab_tag(s, x.v[i]), 5);
		if (i)
			assert_true(slab_handle(s, x.v[i - 1]) < slab_handle(s, x.v[i]));
	}
	/* Released: tag 0, never scanned for tags 2 to 31. */
	slab_release(s, v[0]);
	x.n = 0;
	cursor = 0;
	assert_true(slab_scan(s, &cursor, ~3u, see, &x, UINT32_MAX));
	assert_int_equal(x.n, n - per_chunk - 1);
	free(x.v);
	free(v);
	slab_free(s);
}

/* Random tags, random masks of one to seven tags: a scan in random
 * slices finds exactly what looking at every object finds. */
static void test_scan_masks(void **state)
{
	enum { SIZE = 320, N = 15000 };
	struct tw_slab *s = slab_new(SIZE);
	uint8_t **v = calloc(N, sizeof(*v));
	struct seen x = {.v = calloc(N, sizeof(*x.v))};
	uint64_t r = 0x2545f4914f6cdd1dull;

	(void)state;
	assert_non_null(s);
	assert_non_null(v);
	assert_non_null(x.v);
	for (size_t i = 0; i < N; i++) {
		v[i] = slab_alloc(s);
		assert_non_null(v[i]);
		*slab_tag(s, v[i]) = (uint8_t)(2 + i * 7919 % 14);
	}
	for (size_t i = 0; i < N; i += 3) { /* holes */
		slab_release(s, v[i]);
		v[i] = NULL;
	}
	for (int round = 0; round < 200; round++) {
		uint32_t tags = 0, cursor = 0;
		size_t want = 0;
		int bits;

		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		bits = 1 + (int)(r % 7);
		while (__builtin_popcount(tags) < bits) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			tags |= 1u << (r % 18);
		}
		for (size_t i = 0; i < N; i++)
			if (v[i] && tags >> *slab_tag(s, v[i]) & 1)
				want++;
		x.n = 0;
		while (!slab_scan(s, &cursor, tags, see, &x, 1 + (uint32_t)(r % 777)))
			;
		assert_int_equal(x.n, want);
		for (size_t i = 0; i < x.n; i++) {
			assert_true(tags >> *slab_tag(s, x.v[i]) & 1);
			if (i)
				assert_true(slab_handle(s, x.v[i - 1]) < slab_handle(s, x.v[i]));
		}
	}
	free(x.v);
	free(v);
	slab_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_sizes),     cmocka_unit_test(test_zeroed_aligned_reused),
		cmocka_unit_test(test_many_chunks),   cmocka_unit_test(test_handles),
		cmocka_unit_test(test_tags_and_scan), cmocka_unit_test(test_scan_masks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
