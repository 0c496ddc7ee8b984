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
	size_t per_chunk = (TW_SLAB_CHUNK - 64) / SIZE, n = 3 * per_chunk + 7;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_zeroed_aligned_reused),
		cmocka_unit_test(test_many_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
