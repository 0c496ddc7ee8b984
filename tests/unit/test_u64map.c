/* Unit tests for daemon/table/u64map.c: the u64 -> u64 map with linear
 * probing and backward-shift deletion. Key 0 is reserved, the bound is
 * kept, the map grows and stays at most half full, and a removal never
 * hides another key: checked on crafted collisions (including a probe
 * run that wraps past the last slot) and against a reference model under
 * random operations. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "u64map.h"

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The map's home slot of a key (the same mix as u64map.c), to build keys
 * that collide. Should the hash change, the tests below still check the
 * same properties, only on fewer collisions. */
static size_t home_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

/* n keys, all with home slot want in a map of cap slots. */
static void colliding_keys(size_t cap, size_t want, uint64_t *keys, size_t n)
{
	size_t found = 0;

	for (uint64_t k = 1; found < n; k++)
		if (home_of(k, cap) == want)
			keys[found++] = k;
}

static void test_empty(void **state)
{
	struct tw_u64map m;

	(void)state;
	u64map_init(&m, 100);
	assert_null(u64map_get(&m, 1));
	assert_null(u64map_get(&m, 0));
	assert_false(u64map_del(&m, 1));
	assert_int_equal(m.count, 0);
	assert_int_equal(u64map_bytes(&m), 0);
	u64map_fini(&m);
	/* fini twice (and on an empty map) is harmless. */
	u64map_fini(&m);
}

static void test_put_get_overwrite(void **state)
{
	struct tw_u64map m;
	uint64_t *v;

	(void)state;
	u64map_init(&m, 100);
	assert_int_equal(u64map_put(&m, 42, 4200), 0);
	assert_int_equal(u64map_put(&m, UINT64_MAX, 7), 0);
	assert_int_equal(m.count, 2);
	v = u64map_get(&m, 42);
	assert_non_null(v);
	assert_int_equal(*v, 4200);
	assert_int_equal(*u64map_get(&m, UINT64_MAX), 7);
	assert_null(u64map_get(&m, 43));
	/* Setting an existing key changes its value, not the count. */
	assert_int_equal(u64map_put(&m, 42, 0), 0);
	assert_int_equal(m.count, 2);
	assert_int_equal(*u64map_get(&m, 42), 0);
	/* The value pointer writes through. */
	*u64map_get(&m, UINT64_MAX) = 99;
	assert_int_equal(*u64map_get(&m, UINT64_MAX), 99);
	u64map_fini(&m);
	assert_null(u64map_get(&m, 42));
	assert_int_equal(m.count, 0);
}

/* Key 0 marks an empty slot: refused, never found, never removed. */
static void test_key_zero(void **state)
{
	struct tw_u64map m;

	(void)state;
	u64map_init(&m, 100);
	assert_int_equal(u64map_put(&m, 0, 5), -EINVAL);
	assert_int_equal(m.count, 0);
	assert_int_equal(u64map_put(&m, 1, 5), 0);
	assert_int_equal(u64map_put(&m, 0, 6), -EINVAL);
	assert_null(u64map_get(&m, 0));
	assert_false(u64map_del(&m, 0));
	assert_int_equal(m.count, 1);
	assert_int_equal(*u64map_get(&m, 1), 5);
	u64map_fini(&m);
}

/* Past max an insertion is refused; updates and re-insertions after a
 * removal are not. */
static void test_bound(void **state)
{
	struct tw_u64map m;

	(void)state;
	u64map_init(&m, 3);
	assert_int_equal(u64map_put(&m, 10, 1), 0);
	assert_int_equal(u64map_put(&m, 20, 2), 0);
	assert_int_equal(u64map_put(&m, 30, 3), 0);
	assert_int_equal(u64map_put(&m, 40, 4), -ENOSPC);
	assert_null(u64map_get(&m, 40));
	assert_int_equal(m.count, 3);
	assert_int_equal(u64map_put(&m, 20, 22), 0);
	assert_int_equal(*u64map_get(&m, 20), 22);
	assert_true(u64map_del(&m, 10));
	assert_int_equal(u64map_put(&m, 40, 4), 0);
	assert_int_equal(*u64map_get(&m, 40), 4);
	u64map_fini(&m);

	/* max 0 holds nothing. */
	u64map_init(&m, 0);
	assert_int_equal(u64map_put(&m, 1, 1), -ENOSPC);
	assert_int_equal(u64map_bytes(&m), 0);
	u64map_fini(&m);
}

/* It grows by doubling, from 64 slots, at most half full; bytes is what
 * the slots take. */
static void test_growth_and_bytes(void **state)
{
	struct tw_u64map m;
	size_t last_cap = 0;

	(void)state;
	u64map_init(&m, 1u << 20);
	assert_int_equal(u64map_put(&m, 1, 1), 0);
	assert_int_equal(m.cap, 64);
	assert_int_equal(u64map_bytes(&m), 64 * sizeof(struct tw_u64map_slot));
	for (uint64_t k = 2; k <= 5000; k++) {
		assert_int_equal(u64map_put(&m, k * 2654435761u, k), 0);
		assert_true(m.count * 2 <= m.cap);
		assert_true((m.cap & (m.cap - 1)) == 0);
		if (m.cap != last_cap) {
			assert_true(!last_cap || m.cap == 2 * last_cap);
			last_cap = m.cap;
		}
		assert_int_equal(u64map_bytes(&m), m.cap * sizeof(struct tw_u64map_slot));
	}
	assert_int_equal(m.count, 5000);
	/* 5000 entries, at most half full: 16384 slots. */
	assert_int_equal(m.cap, 16384);
	/* Everything survived the rehashes. */
	assert_int_equal(*u64map_get(&m, 1), 1);
	for (uint64_t k = 2; k <= 5000; k++) {
		uint64_t *v = u64map_get(&m, k * 2654435761u);

		assert_non_null(v);
		assert_int_equal(*v, k);
	}
	u64map_fini(&m);
	assert_int_equal(u64map_bytes(&m), 0);
}

/* 200,000 keys in, every one found; every other one out, the rest still
 * found, the removed ones gone. */
static void test_many_keys(void **state)
{
	enum { N = 200000 };
	struct tw_u64map m;
	uint64_t *keys = malloc(N * sizeof(*keys)), s = 0x12345678abcdefull;

	(void)state;
	assert_non_null(keys);
	u64map_init(&m, N);
	for (size_t i = 0; i < N; i++) {
		/* Distinct: the low bits are i, the high bits random. */
		keys[i] = (xorshift(&s) << 20) | (uint64_t)(i + 1);
		assert_int_equal(u64map_put(&m, keys[i], i), 0);
	}
	assert_int_equal(m.count, N);
	for (size_t i = 0; i < N; i++) {
		uint64_t *v = u64map_get(&m, keys[i]);

		assert_non_null(v);
		assert_int_equal(*v, i);
	}
	for (size_t i = 0; i < N; i += 2)
		assert_true(u64map_del(&m, keys[i]));
	assert_int_equal(m.count, N / 2);
	for (size_t i = 0; i < N; i++) {
		uint64_t *v = u64map_get(&m, keys[i]);

		if (i % 2) {
			assert_non_null(v);
			assert_int_equal(*v, i);
		} else {
			assert_null(v);
			assert_false(u64map_del(&m, keys[i]));
		}
	}
	u64map_fini(&m);
	free(keys);
}

/* Keys sharing one home slot sit in a run; removing any of them must
 * move the later ones back so that each is still found. */
static void test_collisions_removal(void **state)
{
	enum { K = 8 };
	uint64_t keys[K];

	(void)state;
	/* A fresh map of 64 slots, kept small: at most 31 entries. */
	colliding_keys(64, 17, keys, K);
	for (size_t victim = 0; victim < K; victim++) {
		struct tw_u64map m;

		u64map_init(&m, 31);
		for (size_t i = 0; i < K; i++)
			assert_int_equal(u64map_put(&m, keys[i], 100 + i), 0);
		assert_int_equal(m.cap, 64);
		assert_true(u64map_del(&m, keys[victim]));
		assert_false(u64map_del(&m, keys[victim]));
		for (size_t i = 0; i < K; i++) {
			uint64_t *v = u64map_get(&m, keys[i]);

			if (i == victim) {
				assert_null(v);
				continue;
			}
			assert_non_null(v);
			assert_int_equal(*v, 100 + i);
		}
		/* Its slot is free again for a new colliding key. */
		assert_int_equal(u64map_put(&m, keys[victim], 7), 0);
		assert_int_equal(*u64map_get(&m, keys[victim]), 7);
		u64map_fini(&m);
	}
}

/* A run that starts at the last slot wraps to slot 0, mixed with keys
 * whose home is slot 0 and 1: removals keep both groups found. */
static void test_collisions_wrap(void **state)
{
	uint64_t last[4], first[3], second[2];
	struct tw_u64map m;

	(void)state;
	colliding_keys(64, 63, last, 4);
	colliding_keys(64, 0, first, 3);
	colliding_keys(64, 1, second, 2);
	u64map_init(&m, 31);
	/* Slots 63, 0, 1, 2 taken by "last"; "first" and "second" land after. */
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(u64map_put(&m, last[i], i), 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(u64map_put(&m, first[i], 10 + i), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(u64map_put(&m, second[i], 20 + i), 0);
	assert_int_equal(m.cap, 64);
	/* Take out the one at slot 63: every later one shifts across the
	 * wrap. */
	assert_true(u64map_del(&m, last[0]));
	for (size_t i = 1; i < 4; i++)
		assert_int_equal(*u64map_get(&m, last[i]), i);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(*u64map_get(&m, first[i]), 10 + i);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(*u64map_get(&m, second[i]), 20 + i);
	/* And one of the middle group. */
	assert_true(u64map_del(&m, first[1]));
	assert_null(u64map_get(&m, first[1]));
	assert_int_equal(*u64map_get(&m, first[0]), 10);
	assert_int_equal(*u64map_get(&m, first[2]), 12);
	for (size_t i = 1; i < 4; i++)
		assert_int_equal(*u64map_get(&m, last[i]), i);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(*u64map_get(&m, second[i]), 20 + i);
	assert_int_equal(m.count, 7);
	u64map_fini(&m);
}

/* Random puts, overwrites and removals over a small key space (many
 * collisions, many shifts), checked after each step against a plain
 * array: the map holds exactly the model's keys with their values. */
static void test_against_model(void **state)
{
	enum { KEYS = 300, STEPS = 60000 };
	static uint64_t model[KEYS + 1];
	static bool present[KEYS + 1];
	struct tw_u64map m;
	uint64_t s = 0xdeadbeefcafef00dull;
	size_t count = 0;

	(void)state;
	u64map_init(&m, KEYS);
	for (int step = 0; step < STEPS; step++) {
		uint64_t r = xorshift(&s);
		uint64_t key = 1 + r % KEYS;

		if ((r >> 32) % 3) {
			assert_int_equal(u64map_put(&m, key, r), 0);
			if (!present[key])
				count++;
			present[key] = true;
			model[key] = r;
		} else {
			assert_int_equal(u64map_del(&m, key), present[key]);
			if (present[key])
				count--;
			present[key] = false;
		}
		assert_int_equal(m.count, count);
		if (step % 97 == 0 || step > STEPS - 50) {
			for (uint64_t k = 1; k <= KEYS; k++) {
				uint64_t *v = u64map_get(&m, k);

				if (present[k]) {
					assert_non_null(v);
					assert_int_equal(*v, model[k]);
				} else {
					assert_null(v);
				}
			}
		}
	}
	u64map_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_put_get_overwrite),
		cmocka_unit_test(test_key_zero),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_growth_and_bytes),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_collisions_removal),
		cmocka_unit_test(test_collisions_wrap),
		cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
